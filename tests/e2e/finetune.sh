# tests/e2e/finetune.sh - fine-tuning a model with new ratings (mf-fit
# --init) keeps what was learned: the pipeline's split and default als
# model, fine-tuned with the reference /train body (Moovier's 20 ratings),
# keeps its test RMSE within 0.002; each of the 20 pairs' predictions moves
# toward its new rating; every user and item outside the batch keeps its
# bias and factors bit for bit (checked by the independent reader); the
# seen table is the old ratings plus the new.  The same for sgd and ials
# (ials: ranking, so no RMSE).  POST /train is checked in serve.sh.
. "$TOP/tests/e2e/lib.sh"
TOOLS=$TOP/tests/tools

csv2bin < "$DATA/ratings.csv" | encode-ids | split --test test.bin --ratio 0.2 --seed 42 > train.bin
python3 -c "
u = [498,389,456,203,446,252,214,268,115,333,594,395,218,436,520,301,130,387,174,596]
m = [5268,3699,4617,2702,2437,1298,241,569,3787,7103,2521,6478,1988,2651,421,6597,6732,1984,1583,8265]
r = [1,4,5,3,2,2,3,4,3,5,1,3,5,5,4,4,1,2,4,5]
print('user,item,rating')
for a in zip(u, m, r): print('%d,%d,%g' % a)" > batch.csv
csv2bin < batch.csv > batch.bin

rmse() {	# rmse MODEL: its RMSE on the test set
	mf-score --pairs test.bin < "$1" 2>/dev/null | metrics --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rmse"])'
}

for a in als sgd ials; do
	t_run "$a: trains" 0 "mf-fit -q --algo $a < train.bin > $a.bin"
	t_run "$a: fine-tunes with the reference body" 0 "mf-fit -q --init $a.bin < batch.bin > $a-ft.bin"
	t_true "$a: the fine-tuned model says so" "bin2csv --list < $a-ft.bin | head -n 1 | grep -q 'warm_start=1'"
	python3 "$TOOLS/cfdump.py" --json $a.bin > before.json
	python3 "$TOOLS/cfdump.py" --json $a-ft.bin > after.json
	t_true "$a: untouched users and items bit for bit, the seen table merged" \
		"python3 '$TOOLS/finetune.py' before.json after.json batch.csv"
	t_true "$a: byte-identical at 1 and 2 threads" \
		"mf-fit -q --init $a.bin --threads 1 < batch.bin | cmp -s - $a-ft.bin && mf-fit -q --init $a.bin --threads 2 < batch.bin | cmp -s - $a-ft.bin"
	[ $a = ials ] && continue
	b=$(rmse $a.bin) f=$(rmse $a-ft.bin)
	t_true "$a: test RMSE $b -> $f, within 0.002" \
		"python3 -c 'import sys; sys.exit(abs($b - $f) > 0.002)'"
	mf-score --pairs batch.bin < $a.bin 2>/dev/null | bin2csv --no-header > p0.csv
	mf-score --pairs batch.bin < $a-ft.bin 2>/dev/null | bin2csv --no-header > p1.csv
	t_true "$a: each of the 20 new pairs moves toward its new rating" "python3 -c '
import csv
p0 = list(csv.reader(open(\"p0.csv\"))); p1 = list(csv.reader(open(\"p1.csv\")))
assert len(p0) == len(p1) == 20
for a, b in zip(p0, p1):
    r, x, y = float(a[3]), float(a[2]), float(b[2])
    assert abs(y - r) < abs(x - r) or (x == y == r), (a, b)'"
done

t_run "fine-tuning keeps the algorithm" 1 "mf-fit -q --init als.bin --algo sgd < batch.bin > x.bin"
t_err_line "fine-tuning keeps the algorithm" mf-fit "fine-tuning keeps its algorithm"
t_run "fine-tuning keeps k" 1 "mf-fit -q --init als.bin -k 8 < batch.bin > x.bin"
t_err_line "fine-tuning keeps k" mf-fit "k=64"

# ---- the same through POST /train (the reference call) --------------------
# validation_split=0.2 keeps the last 4 of the 20 ratings for validation, as
# Keras does: the first 16 are the batch the new version is fine-tuned on.
mkdir models
cp als.bin models/als.bin
echo 'tok-123' > token
head -n 17 batch.csv > batch16.csv
serve --port 0 --models models --default als --token-file token --quiet 2>srv.err &
SRV=$!
trap 'kill -KILL $SRV 2>/dev/null; rm -rf "$T_DIR"' EXIT
i=0 port=
while [ $i -lt 200 ] && [ -z "$port" ]; do
	port=$(sed -n 's/^serve: listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' srv.err)
	sleep 0.1
	i=$((i + 1))
done
URL=http://127.0.0.1:$port
BODY=$(python3 -c "
import csv; rows = list(csv.DictReader(open('batch.csv')))
import json; print(json.dumps({'users': [int(r['user']) for r in rows], 'movies': [int(r['item']) for r in rows], 'ratings': [float(r['rating']) for r in rows]}))")
t_run "POST /train (the reference call)" 0 "curl -s --max-time 20 -X POST -H 'Authorization: Bearer tok-123' -d '$BODY' '$URL/train?model_name=als&validation_split=0.2&patience=10'"
t_out_is "POST /train names the new version" '"als_1"'
i=0
while [ $i -lt 300 ] && ! curl -s --max-time 5 "$URL/models" | grep -q als_1; do sleep 0.1; i=$((i + 1)); done
kill -TERM $SRV 2>/dev/null
wait $SRV
t_true "/train: the new version is published" "test -s models/als_1.bin"
python3 "$TOOLS/cfdump.py" --json models/als.bin > before.json
python3 "$TOOLS/cfdump.py" --json models/als_1.bin > after.json
t_true "/train: untouched users and items bit for bit, the 16 trained ratings merged" \
	"python3 '$TOOLS/finetune.py' before.json after.json batch16.csv"
b=$(rmse models/als.bin) f=$(rmse models/als_1.bin)
t_true "/train: test RMSE $b -> $f, within 0.002" \
	"python3 -c 'import sys; sys.exit(abs($b - $f) > 0.002)'"
