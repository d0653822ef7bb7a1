#!/bin/sh
# bench/run.sh BINDIR - `make bench`: throughput and memory of the data-prep
# stages on generated MovieLens-25M-shaped data (25,000,000 ratings,
# 162,541 users, 59,047 items), figures printed, nothing asserted.
#
# Each figure is the median of RUNS runs (default 3); these machines are
# noisy, so compare figures measured in one run of this script.
# BENCH_ROWS overrides the size (e.g. BENCH_ROWS=1000000 for a quick look).
set -eu
bindir=$1
RUNS=${RUNS:-3}
ROWS=${BENCH_ROWS:-25000000}
dir=${BENCH_DIR:-build/bench}
mkdir -p "$dir"
csv=$dir/ratings-$ROWS.csv

if [ ! -s "$csv" ]; then
	echo "bench: generating $ROWS ratings (once; kept in $csv)"
	"$bindir"/gen-ratings -u 162541 -i 59047 -n "$ROWS" -k 16 > "$csv.tmp"
	mv "$csv.tmp" "$csv"
fi
bytes=$(wc -c < "$csv")

# run NAME CMD: runs CMD (sh -c) RUNS times; prints the median wall time
# and the median peak RSS, and sets $med_s.
run() {
	name=$1
	shift
	: > "$dir/times"
	i=0
	while [ $i -lt "$RUNS" ]; do
		/usr/bin/time -f '%e %M' -o "$dir/t1" sh -c "$*"
		cat "$dir/t1" >> "$dir/times"
		i=$((i + 1))
	done
	med_s=$(sort -n -k1,1 "$dir/times" | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
	med_kb=$(sort -n -k2,2 "$dir/times" | awk '{a[NR]=$2} END{print a[int((NR+1)/2)]}')
	printf '%-34s %8.2f s  %8.1f MB peak RSS' "$name" "$med_s" "$(echo "$med_kb / 1024" | bc -l)"
}

mbps() { printf '  %7.1f MB/s' "$(echo "$bytes / 1000000 / $1" | bc -l)"; }
rps()  { printf '  %7.2f M rows/s' "$(echo "$ROWS / 1000000 / $1" | bc -l)"; }

echo "bench: $ROWS rows, $(echo "$bytes / 1000000" | bc) MB of CSV, median of $RUNS runs"
run "csv2bin --dups keep (streaming)" "$bindir/csv2bin --dups keep < $csv > $dir/keep.bin"; mbps "$med_s"; echo
run "csv2bin (default: --dups latest)" "$bindir/csv2bin < $csv > $dir/raw.bin"; mbps "$med_s"; echo
run "encode-ids" "$bindir/encode-ids < $dir/raw.bin > $dir/enc.bin"; rps "$med_s"; echo
run "split --ratio 0.2" "$bindir/split --test $dir/test.bin --ratio 0.2 --seed 42 < $dir/enc.bin > $dir/train.bin"; rps "$med_s"; echo
run "split --per-user 0.2" "$bindir/split --test $dir/test.bin --per-user 0.2 --seed 42 < $dir/enc.bin > $dir/train.bin"; rps "$med_s"; echo
run "split --last 5" "$bindir/split --test $dir/test.bin --last 5 < $dir/enc.bin > $dir/train.bin"; rps "$med_s"; echo
run "bin2csv" "$bindir/bin2csv < $dir/raw.bin > /dev/null"; rps "$med_s"; echo
rm -f "$dir"/*.bin "$dir/t1" "$dir/times"
