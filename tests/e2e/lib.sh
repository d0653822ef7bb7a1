# tests/e2e/lib.sh - sourced by every end-to-end test.
#
# Each test script runs in its own temp dir with LC_ALL=C; the programs
# under test come from $BIN, the repository from $TOP.  A case is
#   t_run NAME EXPECTED_EXIT CMD...     (runs CMD with sh -c, output in out/err)
# followed by assertions that record "pass NAME"/"fail NAME" in $RESULTS:
#   t_ok NAME             the last t_run's exit status matched
#   t_out_is NAME TEXT    stdout equals TEXT
#   t_err_has NAME RE     stderr matches the extended regex RE, in one line
#   t_true NAME CMD...    CMD succeeds
set -u
LC_ALL=C
export LC_ALL
: "${BIN:?}" "${TOP:?}" "${RESULTS:?}"
DATA=$TOP/data/ml-latest-small
T_DIR=$(mktemp -d)
trap 'rm -rf "$T_DIR"' EXIT INT TERM
cd "$T_DIR" || exit 1
PATH=$BIN:$PATH
T_SCRIPT=$(basename "$0" .sh)

t_record() {	# t_record pass|fail NAME [why]
	echo "$1 $T_SCRIPT: $2${3:+ ($3)}" >>"$RESULTS"
	[ "$1" = pass ] || echo "  FAIL $T_SCRIPT: $2${3:+: $3}" >&2
}

# t_run NAME EXPECTED_EXIT 'shell command'
t_run() {
	T_NAME=$1 T_WANT=$2
	shift 2
	sh -c "$*" >out 2>err
	T_GOT=$?
	if [ "$T_GOT" -eq "$T_WANT" ]; then
		t_record pass "$T_NAME: exit $T_WANT"
	else
		t_record fail "$T_NAME: exit $T_WANT" "got $T_GOT; stderr: $(head -c 300 err)"
	fi
}

# Expected one-line error: exactly one line on stderr, prefixed by the program.
t_err_line() {	# t_err_line NAME PROG REGEX
	if [ "$(wc -l <err)" -eq 1 ] && grep -Eq "^$2: .*$3" err; then
		t_record pass "$1: one-line error"
	else
		t_record fail "$1: one-line error" "stderr: $(head -c 300 err)"
	fi
}

# A usage error: exactly the error (prefixed by the program) and one hint line.
t_usage() {	# t_usage NAME PROG REGEX
	if [ "$(wc -l <err)" -eq 2 ] && head -n 1 err | grep -Eq "^$2: .*$3" &&
	   grep -qx "try '$2 --help'" err; then
		t_record pass "$1: the error and a hint"
	else
		t_record fail "$1: the error and a hint" "stderr: $(head -c 300 err)"
	fi
}

t_out_is() {	# t_out_is NAME TEXT
	if [ "$(cat out)" = "$2" ]; then
		t_record pass "$1"
	else
		t_record fail "$1" "stdout: $(head -c 200 out) / wanted: $2"
	fi
}

t_err_has() {
	if grep -Eq "$2" err; then
		t_record pass "$1"
	else
		t_record fail "$1" "stderr: $(head -c 300 err)"
	fi
}

t_true() {	# t_true NAME CMD...
	T_NAME=$1
	shift
	if sh -c "$*" >/dev/null 2>t_true.err; then
		t_record pass "$T_NAME"
	else
		t_record fail "$T_NAME" "$(head -c 300 t_true.err)"
	fi
}
