# shard.sh - mf-score --all --shard I/N: the shards' rows in shard order
# are the unsharded output's rows (decoded, and byte for byte once topk
# merges the shards' tables into one), at any thread count, with empty
# shards when there are more shards than blocks of users; bad --shard
# values are usage errors.
. "$TOP/tests/e2e/lib.sh"

# 3,000 users: six blocks of 512, so 2 and 4 shards cut inside the range.
gen-ratings -u 3000 -i 400 -n 60000 -k 4 --format frame 2>/dev/null | encode-ids > gen.bin
mf-fit -q -k 8 --epochs 3 < gen.bin > gen.model 2>/dev/null
mf-fit -q --algo ials -k 8 --epochs 2 < gen.bin > ials.model 2>/dev/null
csv2bin < "$DATA/ratings.csv" | encode-ids | split --ratio 0.2 --seed 42 --test test.bin > train.bin
mf-fit -q -k 8 --epochs 2 < train.bin > small.model 2>/dev/null

# check NAME MODEL N MODE-FLAGS: the N shards against the whole run.
check() {
	name=$1 model=$2 n=$3
	shift 3
	mf-score --all "$@" < "$model" > whole.bin 2>/dev/null
	rm -f rows.csv
	i=0
	while [ $i -lt "$n" ]; do
		t=$(( (i % 2) + 1 ))
		mf-score --all "$@" --shard $i/$n --threads $t < "$model" > shard$i.bin 2>/dev/null ||
			t_record fail "$name: shard $i/$n runs"
		bin2csv --no-header < shard$i.bin >> rows.csv
		i=$((i + 1))
	done
	t_true "$name: $n shards' rows = the whole run's" \
		"bin2csv --no-header < whole.bin | cmp - rows.csv"
	t_true "$name: rows are there" "test \$(wc -l < rows.csv) -gt 0"
}

check "sgd top 10" gen.model 2 --top 10
check "sgd top 10" gen.model 4 --top 10
check "ials top 7" ials.model 4 --top 7
check "every score" gen.model 4
check "ml-small top 5" small.model 3 --top 5
t_true "ml-small: 3 shards of 2 blocks, one is empty" \
	"test \$(bin2csv --no-header < shard0.bin | wc -l) -eq 0"

# topk merges the shards' tables into the unsharded stream, byte for byte.
check "sgd top 20" gen.model 4 --top 20
t_true "cat shards | topk 20 = the unsharded output, byte for byte" \
	"cat shard0.bin shard1.bin shard2.bin shard3.bin | topk 20 | cmp - whole.bin"
t_run "one shard of one = the whole run" 0 "mf-score --all --top 20 --shard 0/1 < gen.model | cmp - whole.bin"

for bad in 4/4 1/0 x 1 /2 2/ -1/3 0/2000000; do
	t_run "--shard $bad" 2 "mf-score --all --top 5 --shard $bad < gen.model > /dev/null"
	t_err_has "--shard $bad: says why" "mf-score: --shard"
done
t_run "--shard needs --all" 2 "mf-score --user 1 --shard 0/2 < gen.model > /dev/null"
t_err_has "--shard needs --all: says so" "shard applies to --all"
