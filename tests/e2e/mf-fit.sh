# mf-fit.sh - training: every algorithm on the shipped data split gives a
# well-formed model stream; the accuracy bar with default flags (test RMSE
# from --valid, the final summary line); raw input; duplicates; warm start
# with new users; early stopping; one-line errors for bad inputs.
. "$TOP/tests/e2e/lib.sh"

csv2bin < "$DATA/ratings.csv" > raw.bin
csv2bin < "$DATA/movies.csv" > movies.bin
encode-ids < raw.bin | split --test test.bin --ratio 0.2 --seed 42 > train.bin

# Each algorithm trains (few epochs: the stream's shape is what is tested).
for a in sgd als ials baseline popular; do
	t_run "$a trains" 0 "mf-fit --algo $a --epochs 2 -k 8 --threads 2 < train.bin > m_$a.bin"
	t_run "$a model lists" 0 "bin2csv --list < m_$a.bin | cut -f 1,2"
	t_out_is "$a model tables" "model	0
user_factors	610
item_factors	9724
users	610
items	9724
seen	80669"
	t_true "$a model records algo and hyper-parameters" \
		"bin2csv --list < m_$a.bin | head -n 1 | grep 'algo=$a' | grep -q 'seed=42'"
done
t_true "als records its figures" \
	"bin2csv --list < m_als.bin | head -n 1 | grep 'train_rmse=' | grep 'reg=' | grep -q 'best_epoch=2'"
t_true "popular scores are counts" \
	"bin2csv --list < m_popular.bin | head -n 1 | grep -q 'k=0'"
t_true "progress rows on stderr" "mf-fit --algo sgd --epochs 3 -k 4 < train.bin 2>&1 >/dev/null | grep -Eq '^ +3 +[0-9.]+ '"
t_run "--quiet says nothing" 0 "mf-fit --algo sgd --epochs 2 -k 4 -q < train.bin > /dev/null"
t_true "--quiet: stderr empty" "test ! -s err"

# Determinism: ALS byte-identical at any thread count, SGD at one thread.
t_true "als: same bytes at 1 and 2 threads" \
	"mf-fit -q --epochs 2 -k 8 --threads 1 < train.bin > a1.bin && mf-fit -q --epochs 2 -k 8 --threads 2 < train.bin > a2.bin && cmp a1.bin a2.bin"
t_true "sgd: same bytes twice at 1 thread" \
	"mf-fit -q --algo sgd --epochs 3 -k 8 --threads 1 < train.bin > s1.bin && mf-fit -q --algo sgd --epochs 3 -k 8 --threads 1 < train.bin > s2.bin && cmp s1.bin s2.bin"

# The accuracy bar, with default flags: test RMSE <= 0.85 and at least
# 0.015 better than the bias baseline (the summary line's valid RMSE is
# the test set's when --valid is the test set).
rmse() { sed -n 's/.*done: .*valid RMSE \([0-9.]*\).*/\1/p' "$1"; }
mf-fit --algo baseline --valid test.bin < train.bin > /dev/null 2> base.err
for a in als sgd; do
	t_run "$a default flags with --valid" 0 "mf-fit --algo $a --valid test.bin -o m.bin train.bin"
	cp err $a.err
	t_true "$a: test RMSE <= 0.850 and 0.015 below baseline" \
		"awk -v m=\$(sed -n 's/.*done: .*valid RMSE \([0-9.]*\).*/\1/p' $a.err) -v b=\$(sed -n 's/.*done: .*valid RMSE \([0-9.]*\).*/\1/p' base.err) 'BEGIN { exit !(m > 0 && m <= 0.85 && m <= b - 0.015) }'"
done
t_true "baseline summary has a valid RMSE" "test -n \"$(rmse base.err)\""

# Raw input straight from csv2bin; -o writes atomically.
t_run "raw ratings" 0 "mf-fit -q --algo sgd --epochs 2 -k 4 -o raw.model raw.bin"
t_true "raw: dictionaries of the raw ids" \
	"bin2csv --list < raw.model | grep -q '^users	610'"

# Duplicates (csv2bin --dups keep leaves them in): the latest by timestamp
# wins, reported on stderr.
printf 'userId,movieId,rating,timestamp\n1,10,1.0,100\n1,10,5.0,300\n1,10,2.0,200\n2,10,3.0,100\n2,11,4.0,100\n' | csv2bin --dups keep > dup.bin
t_run "duplicates" 0 "mf-fit --algo baseline --epochs 1 < dup.bin > dup.model"
t_err_has "duplicates reported" "2 duplicate"
t_true "the latest rating kept" \
	"bin2csv --table seen --no-header < dup.model | grep -c . | grep -qx 3 && bin2csv --table seen --no-header < dup.model | grep -q ',300\$'"

# Warm start: a model fine-tuned with ratings of a new user knows all users.
printf 'userId,movieId,rating,timestamp\n1,1,4.0,1\nnewuser,1,5.0,2\nnewuser,2,3.0,3\nnewuser,3,4.5,4\n' | csv2bin > new.bin
mf-fit -q --epochs 3 -k 8 < train.bin > base.model
t_run "warm start with a new user" 0 "mf-fit --init base.model --epochs 2 < new.bin > warm.model"
t_true "warm: 611 users" "bin2csv --list < warm.model | grep -q '^users	611'"
t_true "warm: k taken from the init model" "bin2csv --list < warm.model | head -n 1 | grep -q 'k=8'"
t_true "warm: the new user is in the dictionary" "bin2csv --table users --no-header < warm.model | grep -qx newuser"
t_run "warm start, wrong k" 1 "mf-fit --init base.model -k 4 < new.bin > w.bin"
t_err_line "warm start, wrong k" mf-fit "k=8"

# Early stopping: unregularized SGD with a large step overfits within a
# few epochs, so the validation RMSE turns up and training stops.
t_run "patience stops early" 0 "mf-fit --algo sgd -k 64 --epochs 40 --lr 0.05 --reg 0 --valid test.bin --patience 2 --log log.csv < train.bin > p.bin"
t_true "stopped before 40 epochs" "test \$(wc -l < log.csv) -lt 40"
t_true "log has a header and rows" "head -n 1 log.csv | grep -q '^epoch,train_rmse,valid_rmse,seconds' && test \$(wc -l < log.csv) -ge 3"
t_true "best epoch recorded" "bin2csv --list < p.bin | head -n 1 | grep 'patience=2' | grep -q 'best_epoch='"
t_true "the best epoch's model is kept" "grep -q 'best epoch [0-9]' err && ! grep -q 'best epoch 40' err"

# One-line errors, exit 1.
: > empty.bin
t_run "wrong table kind" 1 "mf-fit < movies.bin > o.bin"
t_err_line "wrong table kind" mf-fit "expected a 'ratings' table, found 'movies'"
t_run "empty input" 1 "mf-fit < empty.bin > o.bin"
t_err_line "empty input" mf-fit "empty"
# A bad value is a usage error (exit 2, as split --ratio 1.5), found
# before any input is read: stdin here is empty, which would be exit 1.
for bad in "-k 0" "--reg -1" "--lr nan --algo sgd" "--epochs 0" "--alpha -2 --algo ials" "--reg-bias inf" "--seed -1" "--patience 2"; do
	t_run "bad value: $bad" 2 "mf-fit $bad < /dev/null > o.bin"
	t_true "bad value: $bad: the error and a hint" "test \$(wc -l < err) -eq 2 && head -n 1 err | grep -Eq '^mf-fit: .*(must|needs)' && grep -qx \"try 'mf-fit --help'\" err"
done
t_run "split and mf-fit agree on a bad value's status" 2 "split --ratio 1.5 --test t.bin < train.bin > o.bin"

t_run "diverging sgd" 1 "mf-fit -q --algo sgd -k 8 --lr 1e4 --init-scale 1 --epochs 5 < train.bin > o.bin"
t_err_line "diverging sgd" mf-fit "diverged"
t_run "-o leaves no file on error" 1 "mf-fit -q -k 8 --algo sgd --lr 1e4 --init-scale 1 --epochs 5 -o never.bin < train.bin"
t_true "no output file" "test ! -e never.bin"
t_run "unknown algorithm" 2 "mf-fit --algo svd < train.bin"
t_run "not a number" 2 "mf-fit --reg abc < train.bin"

# Standard flags.
t_run "--help" 0 "mf-fit --help"
t_true "--help: usage on stdout with defaults" "grep -q '^usage: mf-fit' out && grep -q 'default' out"
t_run "--version" 0 "mf-fit --version"
t_true "--version names the program" "grep -q '^mf-fit (cinefilter) [0-9]' out"
t_run "unknown flag" 2 "mf-fit --no-such-flag < /dev/null"

# Generated data from a known rank-8 model: with the rank matched and the
# regularization suited to 400 ratings a user, test RMSE comes within 5%
# of the noise floor gen-ratings computed (the RMSE of E[r | u, i] itself).
gen-ratings -u 2000 -i 3000 -n 1000000 -k 8 --format frame --floor floor.txt 2>/dev/null |
	split --ratio 0.2 --seed 42 --test gtest.bin > gtrain.bin
for cfg in "als -k 8 --reg 0.1" "sgd -k 8 --reg 0.02 --reg-bias 0.5"; do
	t_run "generated data: $cfg" 0 "mf-fit --algo $cfg -q < gtrain.bin > g.model && mf-score --pairs gtest.bin < g.model | metrics --metric rmse"
	t_true "generated data: $cfg within 5% of the noise floor" \
		"awk -v r=\"\$(cat out)\" '{ exit !(r > \$1 && r <= 1.05 * \$1) }' floor.txt"
done

# ---- one ratings stream, nothing more --------------------------------
# The input is a ratings table with its dictionaries; what follows it is
# an error naming the byte where it starts, never silently left out.
size=$(wc -c < train.bin)
t_run "two ratings streams" 1 "cat train.bin test.bin | mf-fit -q > o.bin"
t_err_line "two ratings streams: where the second starts" mf-fit \
	"stdin: byte $size: a 'ratings' table after the ratings and their 'users' and 'items' dictionaries"
t_run "bytes after the stream" 1 "{ cat train.bin; echo garbage; } | mf-fit -q > o.bin"
t_err_line "bytes after the stream" mf-fit "stdin: byte $size: .*data after the last table"
cat test.bin movies.bin > test-movies.bin
t_run "--valid with a table after it" 1 "mf-fit -q -k 2 --epochs 1 --valid test-movies.bin < train.bin > o.bin"
t_err_line "--valid with a table after it" mf-fit \
	"test-movies.bin: byte $(wc -c < test.bin): a 'movies' table after"
cat base.model base.model > two.model
t_run "--init model with another after it" 1 "mf-fit --init two.model < new.bin > o.bin"
t_err_line "--init model with another after it" mf-fit \
	"two.model: byte $(wc -c < base.model): a 'model' table after the model's 'seen' table"

# ---- signals: no temp file is left behind -------------------------------
# killmid.py SIG GLOB CMD: runs CMD with the signals at their defaults
# (a background job of a script ignores SIGINT), waits until a file
# matches GLOB (a temp file: the run is under way), sends SIG; prints
# the signal the program died of, or its exit status.
cat > killmid.py <<'PY'
import glob, os, signal, subprocess, sys, time
sig = getattr(signal, sys.argv[1])
def dfl():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(s, signal.SIG_DFL)
p = subprocess.Popen(["sh", "-c", "exec " + sys.argv[3]], preexec_fn=dfl)
end = time.time() + 60
while not glob.glob(sys.argv[2]) and p.poll() is None and time.time() < end:
    time.sleep(0.01)
if p.poll() is not None or not glob.glob(sys.argv[2]):
    print("no", sys.argv[2], "while it ran:", p.poll())
    p.kill()
    sys.exit(1)
time.sleep(0.2)
os.kill(p.pid, sig)
try:
    rc = p.wait(timeout=60)
except subprocess.TimeoutExpired:
    p.kill()
    print("still running after", sys.argv[1])
    sys.exit(1)
print(signal.Signals(-rc).name if rc < 0 else rc)
PY
for sig in SIGTERM SIGINT SIGHUP; do
	rm -f L M
	t_run "$sig mid-training (--log and -o)" 0 \
		"python3 killmid.py $sig 'L.tmp.*' 'mf-fit -q -k 8 --epochs 1000000 --log L -o M < gtrain.bin'"
	t_out_is "$sig: the program died of it" "$sig"
	t_true "$sig: no temp file, no log, no model" "! ls | grep -q '\\.tmp\\.' && test ! -e L && test ! -e M"
done
# The file size limit reached while the model is written (the log's temp
# file is pending too): one line naming the file, exit 1, nothing left.
t_run "file size limit on -o" 1 "ulimit -f 100; mf-fit -q -k 8 --epochs 1 --log L -o M < gtrain.bin"
t_err_line "file size limit on -o: says which file" mf-fit \
	"M: (file size limit exceeded|write error: File too large)$"
t_true "file size limit: no temp file, no log, no model" "! ls | grep -q '\\.tmp\\.' && test ! -e L && test ! -e M"
