# messages.sh - what a user sees when something is wrong: frames refused
# on a terminal (under script(1)'s pty) unless -o -, an empty pipe after a
# failed stage pointing back at it, one exit status for usage errors.
. "$TOP/tests/e2e/lib.sh"

csv2bin < "$DATA/ratings.csv" > r.bin 2>/dev/null
for cmd in "csv2bin < '$DATA/links.csv'" "encode-ids < r.bin" "mf-fit -q -k 2 --epochs 1 < r.bin" \
           "gen-ratings --format frame -n 1000 -u 50 -i 40"; do
	t_run "frames to a terminal refused: $cmd" 2 "on() { script -qec \"\$1\" ts > /dev/null 2>&1 < /dev/null; }; on \"$cmd\""
	t_true "frames to a terminal: says why: $cmd" "grep -q 'stdout is a terminal: frames are binary' ts && grep -q \"try '\" ts && ! grep -q 'CFR' ts"
done
t_run "mf-fit refuses before training" 2 "script -qec 'mf-fit --epochs 1000 -k 64 < r.bin' ts > /dev/null 2>&1 < /dev/null"
t_true "mf-fit refuses at once: no training ran" "grep -q 'stdout is a terminal' ts && ! grep -q 'mf-fit: done' ts"
t_run "-o - writes frames to the terminal anyway" 0 "script -qec \"csv2bin -o - < '$DATA/links.csv'\" ts > /dev/null 2>&1 < /dev/null"
t_true "-o -: the frames are on the terminal" "grep -q 'CFR' ts && ! grep -q 'stdout is a terminal' ts"
t_run "-o - to a pipe is stdout" 0 "csv2bin -o - < '$DATA/links.csv' | bin2csv --list"
t_true "-o - to a pipe: the links table" "grep -q '^links	9742	' out"
t_run "text on a terminal is fine" 0 "script -qec 'bin2csv -t ratings < r.bin | head -n 2' ts > /dev/null 2>&1 < /dev/null"

# The design card's pipe typed at a terminal: topk, its last stage, prints
# its rows as CSV there (the bytes of | bin2csv), not frames.
mf-fit -q -k 4 --epochs 2 < r.bin > card.bin 2>/dev/null
t_run "design card on a terminal: cat ratings | mf-fit | mf-score --user 18 | topk 20" 0 \
	"script -qec 'cat r.bin | mf-fit -q -k 4 --epochs 2 2>/dev/null | mf-score --user 18 2>/dev/null | topk 20' ts > /dev/null 2>&1 < /dev/null"
mf-score --user 18 < card.bin 2>/dev/null | topk 20 | bin2csv > want.csv
t_true "design card on a terminal: topk printed bin2csv's rows" "tr -d '\\r' < ts | grep -v -e '^Script ' -e '^$' | cmp - want.csv"
t_true "design card on a terminal: 20 rows and a header" "test \$(wc -l < want.csv) -eq 21"

# A stage after a failed one: the failure's own message, then what follows
# says its input came empty from a pipe, pointing back at it.
t_run "a failed first stage" 1 "csv2bin no-such.csv | encode-ids | mf-fit -q -o m.bin"
t_true "the failure's message is there" "grep -q '^csv2bin: no-such.csv: No such file' err"
t_true "the later stages point back at it" \
	"test \$(grep -c 'empty input from a pipe: the stage before wrote nothing (if it failed, its own message says why)' err) -eq 2"
t_run "empty file (not a pipe)" 1 "mf-fit < /dev/null"
t_err_line "empty file: no pipe talk" mf-fit "stdin: empty input: expected a 'ratings' table"
t_run "empty pipe into bin2csv" 1 "true | bin2csv"
t_err_line "empty pipe into bin2csv" bin2csv "stdin: empty input from a pipe: .*no table to print"
t_run "empty pipe into csv2bin" 1 "true | csv2bin"
t_err_line "empty pipe into csv2bin" csv2bin "stdin: empty input from a pipe"

# One status for a bad flag value: 2, for split and mf-fit alike.
t_run "split --ratio 1.5" 2 "split --ratio 1.5 --test t.bin < r.bin"
t_run "mf-fit --reg -1" 2 "mf-fit --reg -1 < r.bin"
t_run "topk 0" 2 "topk 0 < r.bin"
t_run "mf-score --top 0" 2 "mf-score --all --top 0 < r.bin"
t_run "gen-ratings -n x" 2 "gen-ratings -n x"
