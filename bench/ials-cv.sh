#!/bin/sh
# bench/ials-cv.sh BINDIR DIR < GRID - cross-validation of ials
# configurations on ml-latest-small over splits other than the reported
# seed-42 one: for every line of mf-fit flags on stdin and every seed of
# SEEDS (default "1 2 3"), train on that seed's 80/20 split and take the
# NDCG@10 of its held-out 20% (mf-fit --valid: all unrated items ranked,
# as `make evaluate` ranks them).  Prints one line per configuration,
# best first: mean NDCG@10, the per-seed values, the flags.  The seed-42
# test set is never read.  JOBS (default 2) fits at once, 1 thread each.
#
#   printf '%s\n' '--alpha0 0.01 --nu 1 --reg 0.01 --alpha 0' |
#       sh bench/ials-cv.sh bin build/ials-cv
set -eu
bin=$1
dir=$2
SEEDS=${SEEDS:-1 2 3}
JOBS=${JOBS:-2}
ALGO=${ALGO:-ials}   # any ranking algorithm: ALGO=ease cross-validates ease's flags
mkdir -p "$dir"
for s in $SEEDS; do
	[ -s "$dir/train-$s.bin" ] ||
		"$bin/csv2bin" < data/ml-latest-small/ratings.csv 2> /dev/null | "$bin/encode-ids" |
		"$bin/split" --ratio 0.2 --seed "$s" --test "$dir/test-$s.bin" > "$dir/train-$s.bin"
done
cat > "$dir/grid.txt"
# one fit: config number, seed -> "n seed ndcg"
cat > "$dir/fit.sh" <<EOF
#!/bin/sh
n=\$1 s=\$2
flags=\$(sed -n "\${n}p" "$dir/grid.txt")
"$bin/mf-fit" -q --algo $ALGO --threads 1 \$flags --valid "$dir/test-\$s.bin" \
	-o "$dir/m-\$n-\$s.bin" < "$dir/train-\$s.bin" || { echo "\$n \$s failed"; exit 0; }
v=\$("$bin/bin2csv" --list < "$dir/m-\$n-\$s.bin" | head -n 1 | tr ' \t' '\n\n' |
	sed -n 's/^valid_ndcg10=//p')
rm -f "$dir/m-\$n-\$s.bin"
echo "\$n \$s \$v"
EOF
lines=$(wc -l < "$dir/grid.txt")
seq 1 "$lines" > "$dir/nums.txt"
parallel --will-cite -j "$JOBS" sh "$dir/fit.sh" {1} {2} :::: "$dir/nums.txt" ::: $SEEDS \
	> "$dir/results.txt"
sort -k1,1n -k2,2n "$dir/results.txt" > "$dir/results.tmp"   # per-seed values in seed order
awk -v grid="$dir/grid.txt" '
	BEGIN { while ((getline l < grid) > 0) flags[++n] = l }
	$3 != "failed" { sum[$1] += $3; cnt[$1]++; per[$1] = per[$1] sprintf(" %.4f", $3) }
	END { for (c in sum) printf "%.4f %s  %s\n", sum[c] / cnt[c], per[c], flags[c] }' \
	"$dir/results.tmp" | sort -rn
