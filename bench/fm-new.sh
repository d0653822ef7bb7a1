#!/bin/sh
# bench/fm-new.sh BINDIR - fm on items new to the model (README's figures):
# every ml-latest-small rating of a movie whose id is a multiple of 10
# leaves training; the rest trains fm (defaults, genres and years from the
# shipped movies.csv), and fm without its raters group; the left-out
# ratings are scored with `mf-score --pairs --items movies.csv` (from the
# movies' genres, years and, with the raters group, the raters block a new
# item is expected to carry) and without --items (the fallback mu + bu).
# Prints each RMSE and mean error (score - rating).  Nothing asserted.
set -eu
bindir=$1
dir=${BENCH_DIR:-build/bench}/fm-new
data=data/ml-latest-small
mkdir -p "$dir"
awk -F, 'NR == 1 || $2 % 10 != 0' $data/ratings.csv | "$bindir"/csv2bin > "$dir"/train.bin
awk -F, 'NR == 1 || $2 % 10 == 0' $data/ratings.csv | "$bindir"/csv2bin > "$dir"/new.bin
echo "bench fm-new: $(($(wc -l < $data/ratings.csv) - 1)) ratings, $("$bindir"/bin2csv < "$dir"/new.bin | tail -n +2 | wc -l) of them of new items"
"$bindir"/mf-fit -q --algo fm --items $data/movies.csv -o "$dir"/fm.bin "$dir"/train.bin
"$bindir"/mf-fit -q --algo fm --groups user,item,implicit,genres,year --items $data/movies.csv \
	-o "$dir"/fm-noraters.bin "$dir"/train.bin
"$bindir"/mf-fit -q --algo als -o "$dir"/als.bin "$dir"/train.bin
fig() {	# label PAIRS: RMSE and mean error
	"$bindir"/bin2csv < "$2" | awk -F, -v l="$1" 'NR == 1 { for (c = 1; c <= NF; c++) col[$c] = c; next }
		{ d = $col["score"] - $col["rating"]; s += d; q += d * d; n++ }
		END { printf "%-44s n %d  RMSE %.4f  mean error %+.3f\n", l, n, sqrt(q / n), s / n }'
}
for m in fm fm-noraters; do
	"$bindir"/mf-score --pairs "$dir"/new.bin --items $data/movies.csv < "$dir"/$m.bin \
		> "$dir"/with.bin 2>/dev/null
	fig "$m, from genres and year (--items)" "$dir"/with.bin
	"$bindir"/mf-score --pairs "$dir"/new.bin < "$dir"/$m.bin > "$dir"/without.bin 2>/dev/null
	fig "$m, fallback mu + bu" "$dir"/without.bin
done
"$bindir"/mf-score --pairs "$dir"/new.bin < "$dir"/als.bin > "$dir"/without.bin 2>/dev/null
fig "als, fallback mu + bu" "$dir"/without.bin
