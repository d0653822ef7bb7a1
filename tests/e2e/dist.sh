# tests/e2e/dist.sh - make train-dist (pipelines/dist.mk): als and ials
# trained over row shards, here and through ssh on a second host, give
# byte for byte the model mf-fit trains on one machine with the same
# flags and seed, at any shard and thread count; a broken shard stops the
# run with one line and no model.
. "$TOP/tests/e2e/lib.sh"

MK="make -s --no-print-directory -C $TOP BIN=$BIN BUILD=${BUILD:-build} OUT=$T_DIR/out"
csv2bin < "$DATA/ratings.csv" | encode-ids | split --test test.bin --ratio 0.2 --seed 42 > train.bin

# $1 name, $2 ALGO, $3 mf-fit's extra flags, $4 the one-machine model, rest: make's
dist_case() {
	name=$1 algo=$2 flags=$3 one=$4
	shift 4
	t_run "$name" 0 "$MK train-dist ALGO=$algo EPOCHS=3 FIT_FLAGS='$flags' DIST_TRAIN=$T_DIR/train.bin DIST=$T_DIR/d-$name DIST_MODEL=$T_DIR/m-$name.bin $*"
	t_true "$name: the one-machine model, byte for byte" "cmp $one m-$name.bin"
}

mf-fit -q --algo als --epochs 3 -k 16 < train.bin > als.bin
mf-fit -q --algo als --epochs 3 -k 16 --solver exact < train.bin > als-exact.bin
mf-fit -q --algo ials --epochs 3 -k 16 --threads 1 < train.bin > ials.bin
dist_case als-2 als "-k 16" als.bin SHARDS=2
dist_case als-3-threads als "-k 16" als.bin SHARDS=3 DIST_THREADS=2
dist_case als-exact als "-k 16 --solver exact" als-exact.bin SHARDS=2
dist_case ials-2 ials "-k 16" ials.bin SHARDS=2
dist_case ials-1 ials "-k 16" ials.bin SHARDS=1
# 16 shards of 610 users cut at multiples of 64 rows: some are empty.
dist_case ials-16 ials "-k 16" ials.bin SHARDS=16
t_true "every shard of every half-iteration logged, exit 0" \
	"test \$(cat d-als-3-threads/joblog-*.txt | awk -F'\t' 'NR > 1 && \$7 == 0 && \$1 != \"Seq\"' | wc -l) -eq 18"
t_run "make train-dist again: nothing to do" 0 "$MK train-dist ALGO=als EPOCHS=3 FIT_FLAGS='-k 16' DIST_TRAIN=$T_DIR/train.bin DIST=$T_DIR/d-als-2 DIST_MODEL=$T_DIR/m-als-2.bin SHARDS=2 > again.out 2>&1"
t_true "... runs no step" "! grep -q mf-step again.out"

# Batch top-N over the same shards and hosts: make score-dist equals the
# unsharded mf-score --all --top, byte for byte.
mf-score --all --top 20 < als.bin > top-als.bin
t_run "score-dist, 3 local shards" 0 "$MK score-dist SHARDS=3 TOP=20 SCORE_MODEL=$T_DIR/als.bin SCORE_OUT=$T_DIR/sd3.bin"
t_true "score-dist, 3 local shards: the unsharded top 20, byte for byte" "cmp top-als.bin sd3.bin"
t_true "score-dist: its shard files are gone" "! test -e sd3.bin.shards"
t_true "make tune takes the same host list" \
	"$MK -n tune ALGO=sgd HOSTS=2/alice@h1 2>/dev/null | grep -q -- '--sshlogin 2/alice@h1'"

# The steps refuse what is not theirs, with one line.
t_run "mf-step: a shard that is not the run's" 1 "mf-step -C d-als-2 solve items 1 7"
t_err_line "mf-step: a shard that is not the run's" mf-step "shard 7 of 2"
t_run "mf-step: no such step" 2 "mf-step -C d-als-2 fold items 1"
t_run "mf-fit --dist-model with other flags" 1 "mf-fit -q --algo als --epochs 3 -k 16 --reg 2 --dist-model d-als-2 < train.bin > x.bin"
t_err_line "mf-fit --dist-model with other flags" mf-fit "made with reg=1.2, not 2"
t_run "mf-fit --dist-init with --valid" 2 "mf-fit -q --dist-init d-als-2 --valid test.bin < train.bin"
t_run "mf-fit --dist-init: sgd" 1 "mkdir -p d-sgd && mf-fit -q --algo sgd --dist-init d-sgd < train.bin"
t_err_line "mf-fit --dist-init: sgd" mf-fit "als and ials, not sgd"
# A shard's ratings cut short: the half-iteration stops, no model.
cp -r d-als-2 d-bad && rm -f d-bad/*-[1-9]*.fac && head -c 1000 d-als-2/items-1.rows > d-bad/items-1.rows
t_run "a broken shard stops the run" 2 "$MK train-dist ALGO=als EPOCHS=3 FIT_FLAGS='-k 16' DIST_TRAIN=$T_DIR/train.bin DIST=$T_DIR/d-bad DIST_MODEL=$T_DIR/m-bad.bin SHARDS=2"
t_err_has "... naming the file" "^mf-step: .*items-1.rows"
t_true "... and leaves no model" "! test -e m-bad.bin"

# A second host: sshd on 127.0.0.1 (tests/e2e/lib.sh); the shards go
# through ssh, rsync sends the files and brings the factors back.
if t_sshd_start; then
	dist_case als-ssh als "-k 16" als.bin SHARDS=2 HOSTS=2/root@127.0.0.1
	t_true "als-ssh: every job ran on that host" \
		"test \$(cat d-als-ssh/joblog-*.txt | awk -F'\t' '\$2 == \"root@127.0.0.1\" && \$7 == 0' | wc -l) -eq 12"
	dist_case ials-ssh ials "-k 16" ials.bin SHARDS=3 "HOSTS=root@127.0.0.1,:"
	t_true "ials-ssh: the hosts' work directories are gone" "! ls -d /root/.cinefilter-dist/*d-ials-ssh* 2>/dev/null"
	t_run "score-dist through ssh" 0 "$MK score-dist SHARDS=2 TOP=20 HOSTS=root@127.0.0.1,: SCORE_MODEL=$T_DIR/als.bin SCORE_OUT=$T_DIR/sd-ssh.bin"
	t_true "score-dist through ssh: the unsharded top 20, byte for byte" "cmp top-als.bin sd-ssh.bin"
	t_true "score-dist through ssh: the host's work directory is gone" "! ls -d /root/.cinefilter-score/*sd-ssh* 2>/dev/null"
	t_sshd_stop
elif [ "${CI:-}" = true ]; then
	t_record fail "train-dist on a second host" "no sshd, ssh or rsync, or not root: .ci/run installs them (tools/deps.sh)"
else
	echo "dist.sh: no sshd/ssh/rsync or not root: the second-host case is skipped" >&2
fi
