# serve-lib.sh - sourced by the serve*.sh tests (after lib.sh): starting
# and stopping servers on free ports, one request with its status checked,
# the shape of an error answer.  Every server started is killed on exit;
# every wait is bounded.  tests/run.sh runs every tests/e2e/*.sh: run by
# itself, this file does nothing.
case $0 in *serve-lib.sh) exit 0 ;; esac
SRV_PIDS=
MK_PID=
BG_PIDS=
cleanup() {
	for p in $SRV_PIDS $MK_PID $BG_PIDS; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T_DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

MOVIES=$DATA/movies.csv
LINKS=$DATA/links.csv
C="curl -s --max-time 20"

# start_server NAME ARGS...: serve in the background on a free port; sets
# URL and PID (also NAME.pid), stderr in NAME.err.  Fails the case if it
# does not say it is listening within 20 s.
start_server() {
	name=$1
	shift
	: >"$name.err"
	serve --port 0 "$@" 2>"$name.err" &
	PID=$!
	SRV_PIDS="$SRV_PIDS $PID"
	echo "$PID" >"$name.pid"
	i=0
	while [ $i -lt 200 ]; do
		port=$(sed -n 's/^serve: listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$name.err")
		[ -n "$port" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	if [ -z "$port" ]; then
		t_record fail "$name: starts and listens" "$(head -c 300 "$name.err")"
		return 1
	fi
	t_record pass "$name: starts and listens on a free port"
	URL=http://127.0.0.1:$port
}

# stop_server NAME SIGNAL: the server exits 0 within 20 s.
stop_server() {
	pid=$(cat "$1.pid")
	kill "-$2" "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$pid" 2>/dev/null; then
		t_record fail "$1: exits on SIG$2" "still running after 20 s"
		return
	fi
	wait "$pid"
	st=$?
	[ $st -eq 0 ] && t_record pass "$1: SIG$2 -> exit 0" ||
		t_record fail "$1: SIG$2 -> exit 0" "exit $st"
}

# req NAME METHOD PATH STATUS [curl args...]: one request; body in out.
req() {
	n=$1 m=$2 p=$3 want=$4
	shift 4
	got=$($C -o out -w '%{http_code}' -X "$m" "$@" "$URL$p")
	if [ "$got" = "$want" ]; then
		t_record pass "$n: $want"
	else
		t_record fail "$n: $want" "got $got: $(head -c 200 out)"
	fi
}

# An error response: {"error": "..."} and nothing else.
is_error() {
	t_true "$1: {\"error\": ...}" "python3 -c '
import json; d = json.load(open(\"out\")); assert list(d) == [\"error\"] and isinstance(d[\"error\"], str) and d[\"error\"]'"
}

