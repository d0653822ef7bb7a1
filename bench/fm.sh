#!/bin/sh
# bench/fm.sh BINDIR - `make bench BENCH=fm`: the factorization machine on
# ml-latest-small's seed-42 80/20 split (the README's figures): test RMSE
# of fm (defaults, genres and years from the shipped movies.csv) and als
# (defaults), overall and on cold items (<= 3 training ratings); the time
# and peak memory of k = 10, 200 samples on 2 threads (median of RUNS);
# model size and the time of mf-score --all --top 10.  Nothing asserted.
set -eu
bindir=$1
RUNS=${RUNS:-3}
dir=${BENCH_DIR:-build/bench}/fm
data=data/ml-latest-small
mkdir -p "$dir"
"$bindir"/csv2bin < $data/ratings.csv | "$bindir"/encode-ids |
	"$bindir"/split --test "$dir"/test.bin --ratio 0.2 --seed 42 > "$dir"/train.bin
"$bindir"/bin2csv --decode < "$dir"/train.bin > "$dir"/train.csv

"$bindir"/mf-fit -q --algo fm --items $data/movies.csv -o "$dir"/fm.bin "$dir"/train.bin
"$bindir"/mf-fit -q --algo fm -o "$dir"/fm-nogenres.bin "$dir"/train.bin
"$bindir"/mf-fit -q --algo als -o "$dir"/als.bin "$dir"/train.bin
for m in fm fm-nogenres als; do
	"$bindir"/mf-score --pairs "$dir"/test.bin < "$dir"/$m.bin 2>/dev/null |
		"$bindir"/bin2csv > "$dir"/pairs-$m.csv
done
echo "bench fm: model n rmse n_cold(<=3 train ratings) rmse_cold"
(cd "$dir" && python3 "$OLDPWD"/bench/cold.py train.csv 3 pairs-fm.csv pairs-fm-nogenres.csv pairs-als.csv)

med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
: > "$dir"/times
i=0
while [ $i -lt "$RUNS" ]; do
	/usr/bin/time -f '%e %M' -a -o "$dir"/times "$bindir"/mf-fit -q --algo fm -k 10 \
		--samples 200 --burn-in 20 --threads 2 --items $data/movies.csv \
		-o "$dir"/fm-k10.bin "$dir"/train.bin
	i=$((i + 1))
done
echo "bench fm: k=10, 200 samples (+20 burn-in), 2 threads: $(cut -d' ' -f1 "$dir"/times | med) s," \
	"$(cut -d' ' -f2 "$dir"/times | med) KB peak RSS (median of $RUNS)"
echo "bench fm: model sizes: defaults $(wc -c < "$dir"/fm.bin) bytes, k=10 x 200 $(wc -c < "$dir"/fm-k10.bin) bytes"
: > "$dir"/times
i=0
while [ $i -lt "$RUNS" ]; do
	/usr/bin/time -f '%e' -a -o "$dir"/times sh -c "'$bindir'/mf-score --all --top 10 --threads 2 < '$dir'/fm.bin > /dev/null"
	i=$((i + 1))
done
echo "bench fm: mf-score --all --top 10 (610 users x 9724 items, defaults' k = 800): $(med < "$dir"/times) s"
