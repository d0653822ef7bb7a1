# fm-users.sh - fm's user side features (mf-fit --users): on generated
# data where a user's occupation and age carry its bias and factors
# (tests/tools/fm_data.py genusers), fm with the profile group predicts
# cold users (2 training ratings) better than fm without it; the table's
# columns are chosen by --user-columns; the same bytes at 1 and 2
# threads; bad tables are one-line errors and leave no model.
. "$TOP/tests/e2e/lib.sh"
TOOLS=$TOP/tests/tools
W="python3 $TOOLS/cfwrite.py"

mkdir gen
python3 "$TOOLS/fm_data.py" genusers gen
csv2bin < gen/utrain.csv > tr.bin
csv2bin < gen/utest.csv > te.bin
csv2bin < gen/users.csv > users.bin
FAST="-q --algo fm -k 4 --samples 60 --burn-in 20"
t_run "fm with --users" 0 "mf-fit $FAST --users users.bin -o with.bin tr.bin"
t_run "fm without" 0 "mf-fit $FAST -o without.bin tr.bin"
t_true "the profile group recorded" \
	"bin2csv --list < with.bin | head -n 1 | grep -q 'fm_groups=user,item,implicit,raters,profile '"
mf-score --pairs te.bin < with.bin 2>/dev/null | bin2csv > with.csv
mf-score --pairs te.bin < without.bin 2>/dev/null | bin2csv > without.csv
python3 "$TOOLS/fm_data.py" ucheck gen with.csv without.csv > figures
read -r ncold rw rwo < figures
t_true "enough cold-user test ratings ($ncold)" "test $ncold -ge 1000"
t_true "cold users: fm with the profile beats fm without ($rw vs $rwo)" \
	"awk -v a=$rw -v b=$rwo 'BEGIN { exit !(a < b - 0.05) }'"
# gender carries nothing: occupation alone does about as well as all.
t_run "--user-columns occupation" 0 \
	"mf-fit $FAST --users users.bin --user-columns occupation -o occ.bin tr.bin"
mf-score --pairs te.bin < occ.bin 2>/dev/null | bin2csv > occ.csv
python3 "$TOOLS/fm_data.py" ucheck gen occ.csv without.csv > figures
read -r ncold ro rwo < figures
t_true "occupation alone beats no profile ($ro vs $rwo)" \
	"awk -v a=$ro -v b=$rwo 'BEGIN { exit !(a < b - 0.05) }'"
t_run "--groups without profile ignores --users" 0 \
	"mf-fit $FAST --users users.bin --groups user,item,implicit,raters -o np.bin tr.bin"
t_true "  ... the same model as without --users" "cmp np.bin without.bin"
t_true "same bytes at 1 and 2 threads with --users" \
	"mf-fit $FAST --users users.bin --threads 1 -o t1.bin tr.bin && mf-fit $FAST --users users.bin --threads 2 -o t2.bin tr.bin && cmp t1.bin t2.bin"
# A typed table (integer ids and ages, not strings) reads the same way.
python3 - gen/users.csv > typed.json <<'PY'
import csv, json, sys
rows = [[int(r["userId"]), int(r["age"]), r["gender"], r["occupation"]]
        for r in csv.DictReader(open(sys.argv[1]))]
print(json.dumps([{"name": "people", "columns": [["user", "i64"], ["age", "i32"],
                   ["gender", "str"], ["occupation", "str"]], "rows": rows}]))
PY
$W < typed.json > typed.bin
t_run "a typed table (i64 user, i32 age)" 0 "mf-fit $FAST --users typed.bin -o typed.model tr.bin"
t_true "  ... the same model as the str table" "cmp typed.model with.bin"

# ---- bad input --------------------------------------------------------------
t_run "--user-columns: unknown column" 1 \
	"mf-fit $FAST --users users.bin --user-columns occupation,shoe_size -o bad1.bin tr.bin"
t_err_line "--user-columns: unknown column" mf-fit "users.bin: .*no feature column 'shoe_size'"
t_true "  ... no model written" "test ! -e bad1.bin"
head -n 100 gen/users.csv | csv2bin > few.bin
t_run "a training user missing from the table" 1 "mf-fit $FAST --users few.bin -o bad2.bin tr.bin"
t_err_line "a training user missing from the table" mf-fit "few.bin: user '[0-9]+' of the training ratings is not in the table"
t_true "  ... no model written" "test ! -e bad2.bin"
printf '[{"name": "users", "columns": [["userId", "str"], ["occupation", "str"]], "rows": [["1", [116, 233]]]}]' | $W > latin1.bin
t_run "non-UTF-8 in the table" 1 "mf-fit $FAST --users latin1.bin -o bad3.bin tr.bin"
t_err_line "non-UTF-8 in the table" mf-fit "latin1.bin: 'users' row 1: invalid UTF-8 in column 'occupation', byte 2"
t_run "a CSV, not a frame" 1 "mf-fit $FAST --users gen/users.csv -o bad4.bin tr.bin"
t_err_line "a CSV, not a frame" mf-fit "users.csv: not a frame: make one of a CSV with csv2bin"
printf 'age,occupation\n20,x\n' | csv2bin > nouser.bin
t_run "no user column" 1 "mf-fit $FAST --users nouser.bin tr.bin"
t_err_line "no user column" mf-fit "nouser.bin: .*no user column"
printf 'userId,occupation\n1,x\n01,y\n' | csv2bin > rep.bin
t_run "a repeated user" 1 "mf-fit $FAST --users rep.bin tr.bin"
t_err_line "a repeated user" mf-fit "rep.bin: 'table' row 2: user '01' repeated"
head -c 200 users.bin > trunc.bin
t_run "a truncated frame" 1 "mf-fit $FAST --users trunc.bin tr.bin"
t_err_line "a truncated frame" mf-fit "trunc.bin"
t_run "--users for als" 2 "mf-fit -q --algo als --users users.bin tr.bin"
t_usage "--users for als" mf-fit "fm only"
t_run "--user-columns without --users" 2 "mf-fit $FAST --user-columns age tr.bin"
t_usage "--user-columns without --users" mf-fit "needs --users"
t_run "profile without --users" 1 "mf-fit $FAST --groups user,item,profile tr.bin"
t_err_line "profile without --users" mf-fit "needs --users"
t_run "--users: missing file" 1 "mf-fit $FAST --users nope.bin tr.bin"
t_err_line "--users: missing file" mf-fit "nope.bin"
