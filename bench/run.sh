#!/bin/sh
# bench/run.sh BINDIR - `make bench`: throughput and memory of every stage
# on generated MovieLens-25M-shaped data (25,000,000 ratings, 162,541
# users, 59,047 items), figures printed, nothing asserted.
#
#   BENCH=prep|train|score|fm|all (default all) picks a section.
#
# Each figure is the median of RUNS runs (default 3); these machines are
# noisy, so compare figures measured in one run of this script.
# BENCH_ROWS overrides the size (e.g. BENCH_ROWS=1000000 for a quick look).
set -eu
bindir=$1
RUNS=${RUNS:-3}
ROWS=${BENCH_ROWS:-25000000}
USERS=${BENCH_USERS:-162541}
ITEMS=${BENCH_ITEMS:-59047}
dir=${BENCH_DIR:-build/bench}
mkdir -p "$dir"
# fm's figures are on the shipped data: no generated set needed.
if [ "${BENCH:-all}" = fm ]; then
	exec sh bench/fm.sh "$bindir"
fi
csv=$dir/ratings-$ROWS.csv

if [ ! -s "$csv" ]; then
	echo "bench: generating $ROWS ratings (once; kept in $csv)"
	"$bindir"/gen-ratings -u "$USERS" -i "$ITEMS" -n "$ROWS" -k 16 > "$csv.tmp"
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

BENCH=${BENCH:-all}
want() { [ "$BENCH" = all ] || [ "$BENCH" = "$1" ]; }

if want prep; then
echo "bench: $ROWS rows, $(echo "$bytes / 1000000" | bc) MB of CSV, median of $RUNS runs"
run "csv2bin --dups keep (streaming)" "$bindir/csv2bin --dups keep < $csv > $dir/keep.bin"; mbps "$med_s"; echo
run "csv2bin (default: --dups latest)" "$bindir/csv2bin < $csv > $dir/raw.bin"; mbps "$med_s"; echo
run "encode-ids" "$bindir/encode-ids < $dir/raw.bin > $dir/enc.bin"; rps "$med_s"; echo
run "split --ratio 0.2" "$bindir/split --test $dir/test.bin --ratio 0.2 --seed 42 < $dir/enc.bin > $dir/train.bin"; rps "$med_s"; echo
run "split --per-user 0.2" "$bindir/split --test $dir/test.bin --per-user 0.2 --seed 42 < $dir/enc.bin > $dir/train.bin"; rps "$med_s"; echo
run "split --last 5" "$bindir/split --test $dir/test.bin --last 5 < $dir/enc.bin > $dir/train.bin"; rps "$med_s"; echo
run "bin2csv" "$bindir/bin2csv < $dir/raw.bin > /dev/null"; rps "$med_s"; echo
rm -f "$dir"/keep.bin "$dir"/train.bin "$dir"/test.bin
fi

# ---- training: k = 64, 2 threads, 90/10 split of the generated data ----
# Seconds per epoch are the median of the epochs' own timings (mf-fit
# --log); whole-run wall time and peak RSS come from /usr/bin/time.
epoch_med() {	# median of column $2 (seconds) of a --log CSV, header skipped
	tail -n +2 "$1" | cut -d, -f"$2" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'
}
if want train || want score; then
	[ -s "$dir/raw.bin" ] || "$bindir/csv2bin" < "$csv" > "$dir/raw.bin"
	"$bindir/gen-ratings" -u "$USERS" -i "$ITEMS" -n "$ROWS" -k 16 --format frame \
		2> "$dir/floor.txt" > /dev/null
	floor=$(sed -n 's/.*noise floor RMSE \([0-9.]*\).*/\1/p' "$dir/floor.txt")
	"$bindir/encode-ids" < "$dir/raw.bin" | "$bindir/split" --ratio 0.1 --seed 1 \
		--test "$dir/test.bin" > "$dir/train.bin"
	ntrain=$("$bindir/bin2csv" --list < "$dir/train.bin" | head -n 1 | cut -f 2)
fi
gemm_build() {
	[ -x "$dir/bench-gemm" ] || cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L \
		$(pkg-config --cflags openblas) -pthread -o "$dir/bench-gemm" bench/gemm.c \
		$(pkg-config --libs openblas)
}
if want train; then
	# The machine's sgemm rate at 2 threads, measured in this run: the
	# FLOP limit the als/ials figures are compared with.
	gemm_build
	gflops=$("$dir/bench-gemm" -t 2 -k 64 -b 512 -T 512 | sed 's/.*s, \([0-9.]*\) GFLOP.*/\1/')
	echo "bench: training on $ntrain ratings, k=64, 2 threads (noise floor RMSE $floor;" \
		"sgemm $gflops GFLOP/s at 2 threads)"
	for a in sgd als als-cg ials ials-cg; do
		case $a in
		# Flags for this data (more ratings per user than MovieLens-small
		# wants lighter regularization than the defaults).
		sgd) flags="--epochs 30 --lr 0.02 --lr-decay 0 --reg 0.03 --valid $dir/test.bin" ;;
		als) flags="--epochs 4 --solver exact --valid $dir/test.bin" ;;
		als-cg) flags="--epochs 4 --solver cg --valid $dir/test.bin" ;;
		ials) flags="--epochs 4 --solver exact" ;;
		ials-cg) flags="--epochs 4 --solver cg" ;;
		esac
		/usr/bin/time -f '%e %M' -o "$dir/t1" "$bindir/mf-fit" --algo ${a%-cg} -k 64 \
			--threads 2 $flags --log "$dir/log-$a.csv" -q < "$dir/train.bin" > "$dir/model-$a.bin"
		col=$(head -n 1 "$dir/log-$a.csv" | tr ',' '\n' | grep -n '^seconds$' | cut -d: -f1)
		sec=$(epoch_med "$dir/log-$a.csv" "$col")
		read -r wall kb < "$dir/t1"
		printf '%-7s %7.3f s/epoch  %6.1f M ratings/s  run %6.1f s  %7.1f MB peak RSS' \
			"$a" "$sec" "$(echo "$ntrain / 1000000 / $sec" | bc -l)" "$wall" "$(echo "$kb / 1024" | bc -l)"
		# The model's own figure: sgd's last epoch is followed by its exact
		# user step, which the per-epoch log does not see.
		case $a in ials*) ;; *)
			printf '  test RMSE %.4f' "$("$bindir/bin2csv" --list < "$dir/model-$a.bin" |
				head -n 1 | tr ' \t' '\n\n' | sed -n 's/^valid_rmse=//p')" ;;
		esac
		# An exact iteration's FLOPs: the Gram matrices (k(k+1) per rating
		# and half-step, plus the bias column for als) and the Cholesky
		# solves (d^3/3 per row): against the sgemm rate above.
		case $a in als|ials)
			d=$([ $a = als ] && echo 65 || echo 64)
			gf=$(echo "(2 * $ntrain * 64 * 65 + ($USERS + $ITEMS) * $d^3 / 3) / 1000000000" | bc -l)
			printf '  %.0f GFLOP: %.0f%% of sgemm' "$gf" "$(echo "100 * $gf / $sec / $gflops" | bc -l)" ;;
		esac
		echo
	done
	# fm: k = 16 (a sweep is O(k x ratings), its shared features' draws in
	# sequence), 1 burn-in sweep + 2 samples; s/sample is a sweep's time.
	/usr/bin/time -f '%e %M' -o "$dir/t1" "$bindir/mf-fit" --algo fm -k 16 --samples 2 \
		--burn-in 1 --threads 2 --valid "$dir/test.bin" --log "$dir/log-fm.csv" -q \
		< "$dir/train.bin" > "$dir/model-fm.bin"
	read -r wall kb < "$dir/t1"
	printf 'fm     %7.3f s/sample  run %6.1f s  %7.1f MB peak RSS  test RMSE %.4f (k = 16, 2 samples)\n' \
		"$(epoch_med "$dir/log-fm.csv" 4)" "$wall" "$(echo "$kb / 1024" | bc -l)" \
		"$("$bindir/bin2csv" --list < "$dir/model-fm.bin" | head -n 1 | tr ' \t' '\n\n' |
			sed -n 's/^valid_rmse=//p')"
fi

# ---- scoring: --all --top 20 against the bare matrix products ----------
if want score; then
	[ -s "$dir/model-sgd.bin" ] || "$bindir/mf-fit" --algo sgd -k 64 --epochs 2 -q \
		< "$dir/train.bin" > "$dir/model-sgd.bin"
	gemm_build
	echo "bench: scoring $USERS users x $ITEMS items, k=64, 1 thread"
	run "mf-score --all --top 20" "$bindir/mf-score --all --top 20 --threads 1 < $dir/model-sgd.bin > /dev/null"
	top=$med_s; echo
	run "bare cblas_sgemm, same shapes" "$dir/bench-gemm -u $USERS -i $ITEMS -k 64 -b 512 -T 512 -t 1 > /dev/null"
	gemm=$med_s; echo
	printf 'ratio mf-score / sgemm: %.2f\n' "$(echo "$top / $gemm" | bc -l)"

	# Sharded: the same work as 2 independent processes of one thread each
	# (mf-score --shard I/2, run by GNU parallel, merged by topk), against
	# one process of 2 threads; ratio measured in this run.
	run "mf-score --all --top 20, 2 threads" "$bindir/mf-score --all --top 20 --threads 2 < $dir/model-sgd.bin > /dev/null"
	two=$med_s; echo
	run "2 shards x 1 thread, then topk" "parallel -j 2 '$bindir/mf-score --all --top 20 --threads 1 --shard {}/2 < $dir/model-sgd.bin > $dir/shard{}.bin' ::: 0 1 && cat $dir/shard0.bin $dir/shard1.bin | $bindir/topk 20 > /dev/null"
	printf '\nratio 2 shards / 2 threads: %.3f\n' "$(echo "$med_s / $two" | bc -l)"
	rm -f "$dir"/shard0.bin "$dir"/shard1.bin

	# One user at a time on the shipped data: 610 users in one process.
	small=$dir/small
	mkdir -p "$small"
	"$bindir/csv2bin" < data/ml-latest-small/ratings.csv | "$bindir/encode-ids" |
		"$bindir/split" --test "$small/test.bin" > "$small/train.bin"
	"$bindir/mf-fit" -q < "$small/train.bin" > "$small/model.bin"
	users=$(seq 1 610 | sed 's/^/--user /' | tr '\n' ' ')
	run "mf-score --user x610 (ml-latest-small)" "$bindir/mf-score $users --top 20 < $small/model.bin > /dev/null"
	printf '  %.3f ms/user (load included)\n' "$(echo "$med_s * 1000 / 610" | bc -l)"
fi
# fm on ml-latest-small (README's figures): bench/fm.sh
if want fm; then
	sh bench/fm.sh "$bindir"
fi
rm -f "$dir"/*.bin "$dir/t1" "$dir/times"
