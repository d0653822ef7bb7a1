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

# A second host for GNU parallel --sshlogin: an sshd on 127.0.0.1 (a high
# port, loopback only) with a host key and a user key made here, for
# root@127.0.0.1.  t_sshd_start returns non-zero when it cannot run one
# (no sshd, ssh or rsync, not root, or it did not start); on success it
# exports PARALLEL_SSH (one multiplexed connection: ControlMaster) and
# the sshd goes with t_sshd_stop or the test's end.
t_sshd_start() {
	SSHD=$(command -v sshd || echo /usr/sbin/sshd)
	[ -x "$SSHD" ] && command -v ssh > /dev/null && command -v rsync > /dev/null &&
		[ "$(id -u)" -eq 0 ] || return 1
	ssh-keygen -q -t ed25519 -N '' -f "$T_DIR/hostkey" &&
		ssh-keygen -q -t ed25519 -N '' -f "$T_DIR/userkey" || return 1
	cp "$T_DIR/userkey.pub" "$T_DIR/authorized_keys"
	port=$((20000 + $$ % 20000))
	mkdir -p /run/sshd
	cat > "$T_DIR/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $T_DIR/hostkey
PidFile $T_DIR/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
AuthorizedKeysFile $T_DIR/authorized_keys
StrictModes no
UsePAM no
CONF
	"$SSHD" -f "$T_DIR/sshd_config" -E "$T_DIR/sshd.log" || return 1
	i=0
	while [ $i -lt 50 ] && ! [ -s "$T_DIR/sshd.pid" ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$T_DIR/sshd.pid" ] || return 1
	trap 't_sshd_stop; rm -rf "$T_DIR"' EXIT INT TERM
	PARALLEL_SSH="ssh -p $port -i $T_DIR/userkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=10 -o ControlMaster=auto -o ControlPath=$T_DIR/cm-%C -o ControlPersist=60"
	export PARALLEL_SSH
}

t_sshd_stop() {
	# The ssh master connection (ControlPersist) first, then the sshd.
	[ -n "${PARALLEL_SSH:-}" ] && $PARALLEL_SSH -O exit root@127.0.0.1 2>/dev/null
	[ -s "$T_DIR/sshd.pid" ] && kill "$(cat "$T_DIR/sshd.pid")" 2>/dev/null
	rm -f "$T_DIR/sshd.pid"
	return 0
}
