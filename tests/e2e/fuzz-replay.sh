#!/bin/sh
# fuzz-replay.sh - the fuzz corpora as regression tests: every input in
# tests/fuzz/corpus/TARGET (valid streams, and each crash reproducer the
# fuzzers found) is run through $BUILD/fuzz/replay-TARGET, the target of
# tests/fuzz/fuzz_TARGET.c linked with tests/fuzz/replay.c instead of
# libFuzzer (built by make; under `make test-asan` with the sanitizers).
# Plus the slow-input regressions the fuzzing found that need inputs too
# big to keep in the corpus.
. "$TOP/tests/e2e/lib.sh"

build=${BUILD:-build}
case $build in /*) ;; *) build=$TOP/$build ;; esac

for src in "$TOP"/tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	t=${t#fuzz_}
	rp=$build/fuzz/replay-$t
	if [ ! -x "$rp" ]; then
		t_record fail "replay $t" "$rp not built (the Makefile's fuzz replay rule is missing?)"
		continue
	fi
	if "$rp" "$TOP/tests/fuzz/corpus/$t" >replay.out 2>replay.err; then
		t_record pass "replay $t: $(sed -n 's/.*: \([0-9]* inputs passed\).*/\1/p' replay.out)"
	else
		t_record fail "replay $t" "$(grep 'FAIL' replay.err | head -n 3) $(tail -n 1 replay.out)"
	fi
done

# A table header of 500,000 attributes (8 MB): reading it took hours when
# each attribute was added with a linear search for a repeated key.
python3 - >attrs.bin <<'EOF'
import struct, sys, zlib
n = 500000
parts = [b"ratings\0"]
for c, t in ((b"user", 8), (b"item", 8), (b"rating", 6)):
    parts.append(struct.pack("<BBHI", t, 0, len(c), 1) + c + b"\0" * (-len(c) % 8))
for i in range(n):
    parts.append(struct.pack("<HHI", 7, 0, 0) + b"%07x" % i + b"\0")
body = b"".join(parts)
ln = 32 + len(body) + 8
ln += -ln % 64
h = b"\x89CFR\r\n\x1a\n" + struct.pack("<HHIIIH6x", 1, 0, ln, 3, n, 7) + body
h += b"\0" * (ln - 8 - len(h))
h += struct.pack("<II", zlib.crc32(h), 0)
end = b"CFBK" + struct.pack("<IQQQI20x", 0, 0, 0, 0, 0)
end += struct.pack("<II", zlib.crc32(end), 0)
sys.stdout.buffer.write(h + end)
EOF
t_run "500k attributes: bin2csv --list in time" 0 "timeout 60 bin2csv --list attrs.bin | wc -l"
t_out_is "500k attributes: one table listed" 1
t_run "500k attributes: split in time" 0 "timeout 60 split --test t.bin < attrs.bin > train.bin"
t_run "500k attributes: mf-fit fails at once" 1 "timeout 60 mf-fit --quiet < attrs.bin > m.bin"
t_err_line "500k attributes: mf-fit" mf-fit "empty"
