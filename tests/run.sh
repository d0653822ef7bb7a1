#!/bin/sh
# tests/run.sh UNIT_BINARY BINDIR - runs the unit tests (Check) and every
# end-to-end test in tests/e2e/, then prints one closing summary line:
#   tests: N passed, M failed
# Exit status is non-zero if anything failed.
unit=$1
bindir=$2
top=$(cd "$(dirname "$0")/.." && pwd)
case $bindir in /*) ;; *) bindir=$top/$bindir ;; esac
case $unit in /*) ;; *) unit=$top/$unit ;; esac
results=$(mktemp)
trap 'rm -f "$results"' EXIT INT TERM

pass=0 fail=0

# Unit tests: Check prints "100%: Checks: N, Failures: F, Errors: E".
out=$(CK_FORK=yes "$unit" 2>&1)
st=$?
printf '%s\n' "$out" | grep -v '^Running suite' | sed 's/^/unit: /'
line=$(printf '%s\n' "$out" | grep -E 'Checks: [0-9]+' | tail -n 1)
if [ -n "$line" ]; then
	n=$(printf '%s' "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	f=$(printf '%s' "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
	e=$(printf '%s' "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
	pass=$((pass + n - f - e))
	fail=$((fail + f + e))
else
	fail=$((fail + 1))
fi
[ $st -eq 0 ] || [ -n "$line" ] || fail=$((fail + 1))

# End-to-end tests: each script appends "pass NAME" / "fail NAME" lines.
for t in "$top"/tests/e2e/*.sh; do
	case $t in */lib.sh) continue ;; esac
	BIN=$bindir TOP=$top RESULTS=$results sh "$t"
	st=$?
	if [ $st -ne 0 ]; then
		echo "e2e: $(basename "$t"): script exited $st"
		echo "fail $(basename "$t") (script exit $st)" >>"$results"
	fi
done
p=$(grep -c '^pass ' "$results")
f=$(grep -c '^fail ' "$results")
grep '^fail ' "$results" | sed 's/^fail /FAILED: /'
echo "e2e: $p passed, $f failed"
pass=$((pass + p))
fail=$((fail + f))
echo "tests: $pass passed, $fail failed"
[ $fail -eq 0 ]
