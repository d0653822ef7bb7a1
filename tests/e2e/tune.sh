# tests/e2e/tune.sh - tune(1) and `make tune`: a search that runs, writes
# its leaderboard, best flags and plot; the same leaderboard at -j 1 and
# -j 2; an interrupted search resumed without running a finished trial
# twice; the test set never read (make tune with a test set that is
# garbage still tunes, and tunes the same); make train then uses the
# best flags and says so.  The sampler itself: tests/unit/test_search.c.
. "$TOP/tests/e2e/lib.sh"

csv2bin < "$DATA/ratings.csv" | encode-ids | split --test test.bin --ratio 0.2 --seed 42 > train.bin

t_run "tune als, 6 trials" 0 "tune --algo als --trials 6 -j 2 -q -o t1 < train.bin"
t_true "a table of the best on stdout" "head -n 1 out | grep -q '^trial *rung *epochs *k *reg *reg_bias *rmse'"
t_true "leaderboard.csv: 6 trials at rung 1, the best 2 at rung 2" \
	"test \$(grep -c ',1,5,' t1/leaderboard.csv) -eq 6 && test \$(grep -c ',2,15,' t1/leaderboard.csv) -eq 2"
t_true "trial 0 is the defaults" "grep -q '^0,1,5,64,1.2,2,' t1/leaderboard.csv"
t_true "best.flags: mf-fit's flags" "grep -Eq '^--algo als -k [0-9]+ --reg [0-9.e-]+ --reg-bias [0-9.e-]+ --epochs 15$' t1/best.flags"
t_true "... which mf-fit takes" "mf-fit -q \$(cat t1/best.flags) < train.bin > best.bin"
t_true "progress.png" "test -s t1/progress.png || ! command -v gnuplot"
t_run "the same search at -j 1" 0 "tune --algo als --trials 6 -j 1 -q -o t2 < train.bin"
t_true "the same leaderboard at -j 1 and -j 2" "cmp t1/leaderboard.csv t2/leaderboard.csv"
t_run "a search in a directory that has one" 1 "tune --algo als --trials 6 -q -o t1 < train.bin"
t_err_line "a search in a directory that has one" tune "--resume"

# The item-neighbour models: one fit a trial, their own spaces, ranked.
t_run "tune rp3b, 4 trials" 0 "tune --algo rp3b --trials 4 -j 2 -q -o t6 < train.bin"
t_true "rp3b: alpha and beta searched, NDCG the objective" "head -n 1 out | grep -q '^trial *rung *epochs *alpha *beta *ndcg'"
t_true "rp3b: trial 0 is the defaults, one epoch" "grep -q '^0,1,1,0.5,0.5,0\\.[0-9]*$' t6/leaderboard.csv"
t_true "rp3b: best.flags" "grep -Eq '^--algo rp3b --alpha [0-9.e-]+ --beta [0-9.e-]+ --epochs 1$' t6/best.flags"
t_run "tune ease, 2 trials" 0 "tune --algo ease --trials 2 -j 2 -q -o t7 < train.bin"
t_true "ease: its lambda searched, trial 0 the default" "grep -q '^0,1,1,700,0\\.[0-9]*$' t7/leaderboard.csv"

# Interrupted, then resumed: no finished trial runs again.
tune --algo als --trials 6 --eta 1 -j 1 -o t3 < train.bin > /dev/null 2> t3.err &
pid=$!
i=0
while [ $i -lt 300 ] && [ "$(ls t3/res 2>/dev/null | wc -l)" -lt 2 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $pid
wait $pid
t_true "interrupted: says how to go on" "grep -q 'resume' t3.err"
t_true "interrupted before the end" "test \$(ls t3/res | wc -l) -lt 6"
t_run "resumed" 0 "tune --algo als --trials 6 --eta 1 -j 2 -q -o t3 --resume < train.bin"
t_true "every trial finished once (the joblog)" \
	"test \$(awk -F'\t' 'NR > 1 && \$7 == 0 { print \$9 }' t3/joblog-0.txt | sort | uniq -d | wc -l) -eq 0 && test \$(awk -F'\t' 'NR > 1 && \$7 == 0' t3/joblog-0.txt | wc -l) -eq 6"
tune --algo als --trials 6 --eta 1 -j 2 -q -o t4 < train.bin > /dev/null
t_true "the resumed search's leaderboard is the uninterrupted one's" "cmp t3/leaderboard.csv t4/leaderboard.csv"

# A failing trial is recorded as failed, not scored.
t_run "a space where some trials fail" 0 "tune --algo sgd --trials 4 -q -o t5 --space 'lr=0.01:1000:log,k=8,reg_bias=3,reg=0.1,lr_decay=0' --max-epochs 3 < train.bin"
t_true "failed trials are 'failed' in the leaderboard" "grep -q ',failed$' t5/leaderboard.csv"

t_run "bad space" 2 "tune --space 'nope=1:2:lin' < train.bin"
t_run "popular has nothing to tune" 2 "tune --algo popular < train.bin"
t_run "a rating metric for a ranking model" 2 "tune --algo ials --metric rmse < train.bin"

# make tune: from the split's train set only.
OUTD=$T_DIR/pipe
MK="make -s --no-print-directory -C '$TOP' BUILD='${BUILD:-build}' BIN='$BIN' OUT='$OUTD'"
sh -c "$MK prep" > /dev/null 2>&1
printf 'garbage, not a frame' > "$OUTD/test.bin"
touch "$OUTD/test.bin"
t_run "make tune with a test set that cannot be read" 0 "$MK tune ALGO=baseline TRIALS=4 JOBS=2"
t_true "make tune: best flags" "grep -q '^--algo baseline --reg-bias' '$OUTD/tune-baseline/best.flags'"
t_true "make train then uses them and says so" \
	"$MK '$OUTD/model-baseline.bin' > mk.out 2>&1 && head -n 1 mk.out | grep -q 'flags from make tune'"
t_true "... and trains on them" "test -s '$OUTD/model-baseline.bin'"

# A second host: an sshd on 127.0.0.1 with keys made here, started and
# stopped by this test, runs the trials (GNU parallel --sshlogin; the
# programs and the cuts are sent as --basefile, results come back).
if t_sshd_start; then
	t_run "tune on a second host (ssh to 127.0.0.1)" 0 "tune --algo baseline --trials 4 -j 2 -q --sshlogin root@127.0.0.1 -o tssh < train.bin"
	t_true "every trial ran on that host" "test \$(awk -F'\t' 'NR > 1 && \$2 == \"root@127.0.0.1\" && \$7 == 0' tssh/joblog-0.txt | wc -l) -eq 4"
	tune --algo baseline --trials 4 -j 2 -q -o tloc < train.bin > /dev/null
	t_true "the same leaderboard as on this host" "cmp tssh/leaderboard.csv tloc/leaderboard.csv"
	t_sshd_stop
elif [ "${CI:-}" = true ]; then
	t_record fail "tune on a second host" "no sshd, ssh or rsync, or not root: .ci/run installs them (tools/deps.sh)"
else
	echo "tune.sh: no sshd/ssh/rsync or not root: the second-host case is skipped" >&2
fi
