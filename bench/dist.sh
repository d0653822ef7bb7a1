#!/bin/sh
# bench/dist.sh BIN RATINGS [ALGO] [K] [EPOCHS] [RUNS] - distributed ALS
# (make train-dist) against one machine (mf-fit), seconds per iteration:
#   one machine at 1 and 2 threads (mf-fit --log's per-epoch seconds),
#   1 and 2 local workers (GNU parallel -j; 1 thread each),
#   1 and 2 workers through ssh on 127.0.0.1 (an sshd started here, as in
#   tests/e2e/lib.sh; needs root, sshd, ssh, rsync),
# a run's iteration time being the merged users-E.fac's mtime minus
# users-1.fac's over E - 1 (the start and the model left out), medians of
# RUNS interleaved runs; then the bytes one iteration moves over ssh
# (GNU parallel's joblog: each job's Send and Receive) and the files sent
# once.  Every distributed model is checked against mf-fit's with cmp.
set -eu
BIN=$(cd "$1" && pwd)
RAT=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
ALGO=${3:-als} K=${4:-64} EP=${5:-5} RUNS=${6:-3}
TOP=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
RESULTS=$T/results
export BIN TOP RESULTS
cd "$T"
# lib.sh's sshd helper (it works in its own temp dir, removed at exit)
. "$TOP/tests/e2e/lib.sh" > /dev/null
trap 't_sshd_stop; rm -rf "$T_DIR" "$T"' EXIT INT TERM
ssh_ok=0
t_sshd_start && ssh_ok=1

med() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
MK="make -s --no-print-directory -C $TOP BIN=$BIN OUT=$T/out ALGO=$ALGO EPOCHS=$EP FIT_FLAGS=-k$K DIST_TRAIN=$RAT"
"$BIN/mf-fit" -q --algo "$ALGO" -k "$K" --epochs "$EP" -o "$T/one.bin" "$RAT"

run_dist() {	# run_dist NAME make-args...
	name=$1
	shift
	rm -rf "$T/d-$name"
	$MK train-dist DIST="$T/d-$name" DIST_MODEL="$T/m-$name.bin" "$@" > /dev/null
	cmp "$T/one.bin" "$T/m-$name.bin"
	a=$(stat -c %.9Y "$T/d-$name/users-1.fac") b=$(stat -c %.9Y "$T/d-$name/users-$EP.fac")
	echo "$a $b $EP" | awk '{printf "%.3f\n", ($2 - $1) / ($3 - 1)}' >> "$T/t-$name"
}

for r in $(seq 1 "$RUNS"); do
	for th in 1 2; do
		"$BIN/mf-fit" -q --algo "$ALGO" -k "$K" --epochs "$EP" -t $th --log "$T/log.csv" -o /dev/null "$RAT"
		awk -F, 'NR > 1 {print $NF}' "$T/log.csv" | med >> "$T/t-one$th"
	done
	run_dist local1 SHARDS=1
	run_dist local2 SHARDS=2
	if [ $ssh_ok = 1 ]; then
		run_dist ssh1 SHARDS=1 HOSTS=1/root@127.0.0.1
		run_dist ssh2 SHARDS=2 HOSTS=2/root@127.0.0.1
	fi
done

echo "$ALGO k=$K, $EP iterations, $(nproc) cores, medians of $RUNS runs: seconds per iteration"
printf '%-34s %s\n' "one machine, mf-fit -t 1" "$(med < "$T/t-one1")"
printf '%-34s %s\n' "one machine, mf-fit -t 2" "$(med < "$T/t-one2")"
printf '%-34s %s\n' "1 local worker (SHARDS=1)" "$(med < "$T/t-local1")"
printf '%-34s %s\n' "2 local workers (SHARDS=2)" "$(med < "$T/t-local2")"
if [ $ssh_ok = 1 ]; then
	printf '%-34s %s\n' "1 worker through ssh" "$(med < "$T/t-ssh1")"
	printf '%-34s %s\n' "2 workers through ssh" "$(med < "$T/t-ssh2")"
	# Bytes of iteration 2 (both halves) over ssh, as the joblogs count them.
	d=$T/d-ssh2
	awk -F'\t' 'NR > 1 && $1 != "Seq" {s += $5; r += $6} END {printf "bytes per iteration, 2 ssh shards: %d sent with the jobs, %d back\n", s, r}' \
		"$d/joblog-items-2.txt" "$d/joblog-users-2.txt"
	printf 'fixed factors per half (--basefile, per host): users %d, items %d bytes\n' \
		"$(stat -c %s "$d/users-2.fac")" "$(stat -c %s "$d/items-2.fac")"
	printf 'ratings, sent once: %d bytes (all shards, both sides)\n' \
		"$(cat "$d"/*.rows | wc -c)"
fi
echo "every distributed model equals mf-fit's (cmp)"
