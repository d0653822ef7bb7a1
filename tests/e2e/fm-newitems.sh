# fm-newitems.sh - cold start of items new to an fm model (mf-score
# --pairs --items): the model keeps its genre and year features and the
# raters block a new item is expected to carry ('item_features',
# itemfeat.h); a new item's score equals an independent computation from
# the dumped model (tests/tools/newitem_check.py) and, for a model without
# the raters group, to float precision the model's own score of an item
# in its dictionaries with no ratings and the same metadata (with it, that
# score plus the raters row's terms); on generated data where genres carry
# an item's bias and factors (fm_data.py gen), items held out of training
# entirely score far better from their genres than from the fallback
# (mu + bu); bad uses are one-line errors.
. "$TOP/tests/e2e/lib.sh"
TOOLS=$TOP/tests/tools

mkdir gen
python3 "$TOOLS/fm_data.py" gen gen
# ---- held-out items: every rating of one item in ten leaves training -------
awk -F, 'NR == 1 || $2 % 10 != 0' gen/train.csv | csv2bin > tr.bin
awk -F, 'NR == 1 || $2 % 10 == 0' gen/test.csv | csv2bin > new.bin
t_run "fm with --items" 0 "mf-fit -q --algo fm -k 4 --samples 30 --burn-in 10 --items gen/movies.csv -o fm.bin tr.bin"
t_true "the model has an item_features table" \
	"bin2csv --list < fm.bin | grep -Eq '^item_features	[0-9]+	feature:str,bias:f32,factors:f32\\[120\\],pair:f32\\[[0-9]+\\]'"
t_true "  ... its last row is 'raters'" "bin2csv -t item_features < fm.bin | tail -n 1 | grep -q '^raters,'"
t_run "new items scored from their genres" 0 "mf-score --pairs new.bin --items gen/movies.csv < fm.bin > with.bin"
t_err_has "  ... says how many" "^mf-score: [0-9]+ of [0-9]+ pairs of items new to the model scored from their genres and year"
mf-score --pairs new.bin < fm.bin > without.bin 2>/dev/null
rw=$(metrics --metric rmse < with.bin)
ro=$(metrics --metric rmse < without.bin)
t_true "new items: genres beat the fallback ($rw vs $ro)" \
	"awk -v a=$rw -v b=$ro 'BEGIN { exit !(a < b - 0.15) }'"
bin2csv < with.bin > with.csv
python3 "$TOOLS/cfdump.py" --json < fm.bin > fm.json
t_run "new items' scores = an independent computation from the model" 0 \
	"python3 $TOOLS/newitem_check.py fm.json gen/movies.csv with.csv"

# ---- the same as an item in the dictionaries with no ratings ---------------
# split keeps every id: the held-out items' ratings, stamped last, all go
# to the test set, so the model has them with no ratings; renamed, the
# same items are new to it.  Without the raters group (whose expected
# block only new items get) the two scores are the same.
(cat gen/train.csv; tail -n +2 gen/test.csv) |
	awk -F, -v OFS=, 'NR > 1 { $4 = $2 % 10 == 0 ? 2 : 1 } { print }' | csv2bin | encode-ids |
	split --test st.bin --time-cut 2 > str.bin
t_run "fm on a split (all ids kept)" 0 \
	"mf-fit -q --algo fm -k 4 --samples 10 --burn-in 5 --groups user,item,implicit,genres,year --items gen/movies.csv -o sfm.bin str.bin"
t_true "  ... no 'raters' row without the raters group" \
	"! bin2csv -t item_features < sfm.bin | grep -q '^raters,'"
mf-score --pairs st.bin < sfm.bin 2>/dev/null | bin2csv > a.csv
awk -F, 'NR == 1 { print "userId,movieId,rating"; next } { print $1 "," $2 + 100000 "," $4 }' a.csv |
	csv2bin > renamed.bin
(cat gen/movies.csv; awk -F, 'NR > 1 { print $1 + 100000 "," $2 "," $3 }' gen/movies.csv) > movies2.csv
mf-score --pairs renamed.bin --items movies2.csv < sfm.bin 2>/dev/null | bin2csv > b.csv
python3 "$TOOLS/cfdump.py" --json < sfm.bin > sfm.json
python3 - sfm.json a.csv b.csv > same <<'PY'
import csv, json, sys
m = {t["name"]: t for t in json.load(open(sys.argv[1]))}
ids = [r[0] for r in m["items"]["rows"]]
rated = {ids[r[1]] for r in m["seen"]["rows"]}
a = list(csv.DictReader(open(sys.argv[2])))
b = list(csv.DictReader(open(sys.argv[3])))
assert len(a) == len(b)
n, worst = 0, 0.0
for x, y in zip(a, b):
    assert int(y["item"]) == int(x["item"]) + 100000 and x["user"] == y["user"]
    if x["item"] not in rated:
        n += 1
        worst = max(worst, abs(float(x["score"]) - float(y["score"])))
print(n, worst)
PY
read -r nsame worst < same
t_true "items with no training ratings in the split ($nsame)" "test $nsame -ge 50"
t_true "  ... a new item scores as the same item in the model ($worst)" \
	"awk -v d=$worst 'BEGIN { exit !(d < 2e-5) }'"

# ---- bad uses ---------------------------------------------------------------
mf-fit -q --algo fm -k 2 --samples 2 --burn-in 1 -o plain.bin tr.bin
t_run "--items with a model without item features" 1 \
	"mf-score --pairs new.bin --items gen/movies.csv < plain.bin"
t_err_line "--items with a model without item features" mf-score "keeps no item features"
t_run "--items without --pairs" 2 "mf-score --user 1 --items gen/movies.csv < fm.bin"
t_err_has "--items without --pairs" "applies to --pairs"
printf 'movieId,title\n1,x\n' > bad.csv
t_run "--items: a bad movies file" 1 "mf-score --pairs new.bin --items bad.csv < fm.bin"
t_err_line "--items: a bad movies file" mf-score "bad.csv"
t_run "a model with a table after item_features" 1 "cat fm.bin plain.bin | mf-score --pairs new.bin"
t_err_line "a model with a table after item_features" mf-score "a 'model' table after the model's 'item_features' table"
