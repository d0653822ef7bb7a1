#!/bin/sh
# bench/iter-cpu.sh NAME MF-FIT TRAIN [FLAGS...] - CPU seconds (user + sys,
# every thread) of one training iteration: (a 3-iteration run minus a
# 1-iteration run) / 2, so loading and building the data cancel out.  On
# a shared machine CPU time is inflated by contention far less than wall
# time; half of it is an iteration's wall time on 2 cores of its own.
#
#   sh bench/iter-cpu.sh als-cg bin/mf-fit build/bench/train.bin --algo als --solver cg
set -eu
name=$1 bin=$2 train=$3
shift 3
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
/usr/bin/time -f '%U %S %e' -o "$t/1" "$bin" -k 64 --threads 2 -q --epochs 1 "$@" < "$train" > /dev/null
/usr/bin/time -f '%U %S %e' -o "$t/3" "$bin" -k 64 --threads 2 -q --epochs 3 "$@" < "$train" > /dev/null
read -r u1 s1 e1 < "$t/1"
read -r u3 s3 e3 < "$t/3"
printf '%s cpu_s/iteration=%.3f wall_s/iteration=%.3f load=%s\n' "$name" \
	"$(echo "($u3 + $s3 - $u1 - $s1) / 2" | bc -l)" "$(echo "($e3 - $e1) / 2" | bc -l)" \
	"$(cut -d' ' -f1 /proc/loadavg)"
