# progress.sh - progress on long work (src/lib/progress.c): on a terminal
# (script(1) gives the programs a pty) one status line rewritten in place,
# its figures the ones the plain rows give; not on a terminal the rows as
# before, no escape codes; --quiet nothing; make cv's folds; the
# pipeline's first line.
. "$TOP/tests/e2e/lib.sh"

ESC=$(printf '\033')
CR=$(printf '\r')
csv2bin < "$DATA/ratings.csv" > r.bin 2>/dev/null
encode-ids < r.bin 2>/dev/null | split --ratio 0.1 --seed 1 --test v.bin > t.bin 2>/dev/null

# mf-fit: the plain rows (not a terminal), then the same run on a pty.
t_run "mf-fit, not on a terminal" 0 "mf-fit -k 8 --epochs 3 --seed 7 -o m1.bin t.bin"
cp err plain.err
t_true "not on a terminal: a header and a row per epoch" "grep -q '^ *epoch  *train_rmse' err && test \$(grep -cE '^ +[123] +[0-9.]+ +[0-9.]+\$' err) -eq 3"
t_true "not on a terminal: no escape codes, no CR" "! grep -q '$ESC' err && ! grep -q '$CR' err"
t_run "mf-fit on a terminal" 0 "script -qec 'mf-fit -k 8 --epochs 3 --seed 7 -o m2.bin t.bin' ts > /dev/null 2>&1 < /dev/null"
t_true "on a terminal: the same model" "cmp m1.bin m2.bin"
tr '\r' '\n' < ts | sed "s/$ESC\\[K//g" > ts.lines
t_true "on a terminal: 'epoch 3/3  S s/epoch  ETA N s  train rmse X'" \
	"grep -Eq '^epoch 3/3  [0-9.e+-]+ s/epoch  ETA [0-9]+ s  train rmse [0-9]+\\.[0-9]{4}\$' ts.lines"
# Epoch 3's status shows epoch 2's training figure: the plain run's row 2.
r2=$(awk '$1 == 2 { printf "%.4f", $2 }' plain.err)
t_true "on a terminal: the figure is the plain run's (epoch 2: $r2)" "grep -q 'epoch 3/3 .*train rmse $r2\$' ts.lines"
t_true "on a terminal: rewritten in place, no epoch rows" "grep -q \"${CR}epoch 2/3\" ts && ! grep -q '^ *epoch  *train_rmse' ts.lines"
t_true "on a terminal: reading the file says how far" "grep -Eq '^reading ratings [0-9.]+k/[0-9.]+k\$' ts.lines"
t_true "on a terminal: the line is erased before the summary" "grep -q \"${CR}${ESC}\\[Kmf-fit: done: \" ts"
t_run "mf-fit --valid on a terminal" 0 "script -qec 'mf-fit -k 8 --epochs 3 --seed 7 --valid v.bin --log log.csv -o m3.bin t.bin' ts2 > /dev/null 2>&1 < /dev/null"
v2=$(awk -F, 'NR == 3 { printf "%.4f", $3 }' log.csv)
t_true "--valid: 'valid rmse' of the epoch before ($v2, from --log)" "tr '\\r' '\\n' < ts2 | grep -q \"^epoch 3/3 .*  valid rmse $v2\""
t_run "mf-fit --quiet on a terminal" 0 "script -qec 'mf-fit -q -k 8 --epochs 3 -o m4.bin t.bin' ts3 > /dev/null 2>&1 < /dev/null"
t_true "--quiet: nothing at all" "! grep -q '$ESC' ts3 && ! grep -q 'reading\\|done:' ts3"

# gen-ratings on a terminal; not on one, its one line as before.
t_run "gen-ratings on a terminal" 0 "script -qec 'gen-ratings --format frame -n 200000 -u 2000 -i 500 > g.bin' ts4 > /dev/null 2>&1 < /dev/null"
t_true "gen-ratings: 'generating ratings N/200k'" "tr '\\r' '\\n' < ts4 | grep -Eq '^generating ratings [0-9.]+k?/200k'"
t_run "gen-ratings, not on a terminal" 0 "gen-ratings --format frame -n 200000 -u 2000 -i 500 > g2.bin"
t_true "gen-ratings: the same ratings, one plain line" "cmp g.bin g2.bin && test \$(wc -l < err) -eq 1 && ! grep -q '$ESC' err"

# make cv: folds done, in place, on a terminal only.
mkdir -p small
head -n 5001 "$DATA/ratings.csv" > small/ratings.csv
cp "$DATA/movies.csv" small/
MK="make -s --no-print-directory -C $TOP BIN=$BIN DATA=$T_DIR/small OUT=$T_DIR/pipe"
t_run "make cv on a terminal" 0 "script -qec \"$MK cv FOLDS=3 ALGO=baseline JOBS=2\" ts5 > /dev/null 2>&1 < /dev/null"
t_true "make cv: 'cv: 3/3 folds done' in place" "grep -q \"${CR}cv: 3/3 folds done, [0-9]* s\" ts5 && grep -q 'cv: RMSE mean' ts5"
rm -rf pipe
t_run "make cv, not on a terminal" 0 "$MK cv FOLDS=3 ALGO=baseline JOBS=2"
t_true "make cv: no status line" "! grep -q 'folds done' out && ! grep -q '$ESC' out && grep -q 'cv: RMSE mean' out"

# The pipeline's first line: what it will do, roughly how long.
t_run "make pipeline" 0 "$MK pipeline ALGOS='baseline popular' USER=1"
t_true "pipeline: the first line says what and how long" \
	"head -n 1 out | grep -Eq '^pipeline: $T_DIR/small \\(5000 ratings\\): split 80/20 \\(seed 42\\), train baseline popular, evaluate them on the test set, recommend for user 1; from scratch about [0-9]+ s on 2 cores\$'"
