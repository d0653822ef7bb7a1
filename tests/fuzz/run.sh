#!/bin/sh
# tests/fuzz/run.sh [SECONDS] [TARGET...] - builds the fuzz targets with
# clang's libFuzzer (ASan + UBSan) and fuzzes each for SECONDS (default
# 60) on one core, starting from tests/fuzz/corpus/TARGET and keeping
# what it learns in build/fuzz-lf/corpus/TARGET (the seed corpus in the
# tree is not touched: minimise new finds by hand and add them).  Crash
# inputs land in build/fuzz-lf/crash/TARGET/.  Targets: frame model csv
# ratings meta (default: all).
#
# Needs clang with its fuzzer runtime (Debian: clang and libclang-rt-dev,
# e.g. libclang-rt-14-dev).  Not part of `make test`: the corpus replay
# (tests/e2e/fuzz-replay.sh) is.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-frame model csv ratings meta}
out=build/fuzz-lf
SAN="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
make -s BUILD=$out CC=clang CFLAGS="$SAN -fsanitize=fuzzer-no-link" $out/libcinefilter.a
pkgs=$(pkg-config --cflags --libs zlib openblas 2>/dev/null || echo -lz -lopenblas)
for t in $targets; do
	extra= flags= asan=${ASAN_OPTIONS:-}
	case $t in
	ratings | meta)
		# These die by design (exit 1) on bad input: exit is wrapped to
		# jump back into the target (see fuzz_ratings.c); what a jump
		# strands is not a leak worth reporting, and the one-line
		# messages are noise.
		extra="-DCF_FUZZ_WRAP_EXIT -Wl,--wrap=exit"
		[ $t = meta ] && extra="$extra,--wrap=mmap,--wrap=munmap"
		flags="-detect_leaks=0 -close_fd_mask=2"
		asan="${asan:+$asan:}detect_leaks=0"    # nor at the end of the run
		;;
	esac
	clang -std=c11 -D_DEFAULT_SOURCE $SAN -fsanitize=fuzzer -Isrc/lib $extra \
		-o $out/fuzz-$t tests/fuzz/fuzz_$t.c $out/libcinefilter.a $pkgs -lm -pthread
	mkdir -p $out/corpus/$t $out/crash/$t
	echo "== fuzz $t for ${secs}s"
	# meta strands a little memory at each jump back from exit (its
	# loader's locals), which adds up to the RSS limit over millions of
	# runs: it runs in sessions of 30 s, each from the corpus the last grew.
	slice=$secs
	[ $t = meta ] && [ "$secs" -gt 30 ] && slice=30
	end=$(($(date +%s) + secs))
	while :; do
		if ! ASAN_OPTIONS=$asan $out/fuzz-$t -max_total_time="$slice" -timeout=10 -rss_limit_mb=2048 \
			-max_len=8192 -print_final_stats=1 $flags \
			-artifact_prefix=$out/crash/$t/ $out/corpus/$t tests/fuzz/corpus/$t; then
			echo "== fuzz $t: FOUND A PROBLEM (see $out/crash/$t/)"
			break
		fi
		[ "$(date +%s)" -lt "$end" ] || break
	done
done
