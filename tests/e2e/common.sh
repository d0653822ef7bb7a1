# common.sh - what every program promises: --help, --version, usage errors,
# one-line errors on corrupt or truncated frames, quiet early pipe close.
. "$TOP/tests/e2e/lib.sh"

PROGS="csv2bin bin2csv encode-ids split gen-ratings mf-fit mf-step mf-score topk metrics join-meta blend"
# Programs that read a frame stream on stdin.
FRAME_READERS="bin2csv encode-ids split mf-fit mf-score topk metrics join-meta"

for p in $PROGS; do
	t_run "$p --help" 0 "$p --help"
	t_true "$p --help prints usage on stdout" "grep -q '^usage: $p' out"
	t_true "$p --help says nothing on stderr" "test ! -s err"
	t_run "$p --version" 0 "$p --version"
	t_true "$p --version names the program" "grep -q '^$p (cinefilter) [0-9]' out"
	t_run "$p unknown flag" 2 "$p --no-such-flag < /dev/null"
	t_true "$p unknown flag: the error and one hint line, not the help" \
		"test \$(wc -l < err) -eq 2 && grep -qx \"$p: unrecognized option '--no-such-flag'\" err && tail -n 1 err | grep -qx \"try '$p --help'\""
	t_run "$p flag without its value, called by a path" 2 "'$BIN/$p' --help=x < /dev/null"
	t_true "$p flag misuse: one prefix, the program's name" "test \$(wc -l < err) -eq 2 && head -n 1 err | grep -q '^$p: ' && ! grep -q '/' err"
	t_true "$p unknown flag: nothing on stdout" "test ! -s out"
done

# A good stream to damage: the shipped ratings through csv2bin.
csv2bin < "$DATA/ratings.csv" > good.bin 2>/dev/null
size=$(wc -c < good.bin)
head -c $((size / 2)) good.bin > half.bin
head -c 5000 good.bin > short.bin
# A flipped byte inside the first block's payload.
cp good.bin flip.bin
printf '\377' | dd of=flip.bin bs=1 seek=3000 conv=notrunc 2>/dev/null
printf 'userId,movieId,rating\n1,2,3\n' > text.csv
: > empty.bin

for p in $FRAME_READERS; do
	case $p in
	split) args="--test t.bin" ;;
	mf-fit) args="-o t.bin" ;;
	mf-score) args="--all --top 5" ;;
	topk) args=5 ;;
	*) args= ;;
	esac
	for f in half short flip; do
		t_run "$p on $f.bin" 1 "$p $args < $f.bin > o.bin"
		t_err_line "$p on $f.bin" "$p" "stdin: byte [0-9]+: "
	done
	t_run "$p on CSV text" 1 "$p $args < text.csv > o.bin"
	t_err_line "$p on CSV text" "$p" "not a cinefilter frame stream.*csv2bin"
	t_run "$p on empty input" 1 "$p $args < empty.bin > o.bin"
	t_err_line "$p on empty input" "$p" "stdin: .*empty"
	t_true "$p on a bad stream leaves no test file" "test ! -e t.bin"
done
t_true "half.bin: error names truncation" \
	"bin2csv < half.bin 2>&1 >/dev/null | grep -q 'truncated'"
t_true "flip.bin: error names the checksum" \
	"bin2csv < flip.bin 2>&1 >/dev/null | grep -q 'checksum mismatch'"

# Closing the pipe early is a quiet exit, not a crash or a stream of errors.
for cmd in "bin2csv < good.bin" "csv2bin < $DATA/ratings.csv" "gen-ratings -n 200000 -u 1000" \
           "encode-ids < good.bin"; do
	t_run "quiet early close: $cmd" 0 "$cmd 2>err2 | head -c 10 > /dev/null; test ! -s err2 || { cat err2 >&2; exit 1; }"
done
