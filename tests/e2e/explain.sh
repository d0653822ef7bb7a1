# tests/e2e/explain.sh - explanations add up: for every algorithm with
# factors (als, sgd, ials; baseline and popular have none and are refused),
# 20 users x 50 recommendations, the contributions of all of a user's
# history items (--because 0) sum to the score's factor part p.q to 1e-4
# relative, computed independently from the model (tests/tools).  Default
# --because is 3: three rows per recommendation, largest first.
. "$TOP/tests/e2e/lib.sh"
TOOLS=$TOP/tests/tools

csv2bin < "$DATA/ratings.csv" | encode-ids | split --test test.bin --ratio 0.2 --seed 42 > train.bin
USERS=
for u in $(seq 1 31 610 | head -n 20); do USERS="$USERS --user $u"; done
for a in als sgd ials; do
	t_run "$a: trains" 0 "mf-fit -q --algo $a < train.bin > $a.bin"
	t_run "$a: explains every history item" 0 "mf-score $USERS --top 50 --explain --because 0 < $a.bin > ex.bin"
	python3 "$TOOLS/cfdump.py" --json $a.bin > m.json
	python3 "$TOOLS/cfdump.py" --json ex.bin > e.json
	t_true "$a: contributions sum to the score minus mu + bu + bi (1e-4)" \
		"python3 '$TOOLS/explain_check.py' m.json e.json 1e-4"
	t_run "$a: default --because" 0 "mf-score --user 18 --top 4 --explain < $a.bin | bin2csv -t explanations --no-header | wc -l"
	t_out_is "$a: 3 history items per recommendation" "12"
done
t_run "--because needs a count" 2 "mf-score --user 18 --top 4 --explain --because x < als.bin"
for a in baseline popular; do
	mf-fit -q --algo $a < train.bin > $a.bin
	t_run "$a: no factors to explain" 1 "mf-score --user 18 --top 4 --explain < $a.bin"
done
