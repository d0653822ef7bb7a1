#!/bin/sh
# bench/serve.sh BIN MODELS DEFAULT MOVIES [SECONDS] [CONNS] - load test of
# serve (`make bench-serve`): wrk against GET /recommendations for random
# users (a Lua script picks each request's user from the model's users),
# on 127.0.0.1, the server with one thread per core and its request log
# on; resident memory sampled from /proc every second.  Prints
# requests/s, p50/p99 latency, errors and RSS at the start and end; the
# figures are for README, not pass/fail.
set -eu
bin=$1 models=$2 dflt=$3 movies=$4 secs=${5:-60} conns=${6:-16}
cores=$(nproc)
command -v wrk >/dev/null || { echo "bench-serve: wrk is not installed (make deps)" >&2; exit 1; }
tmp=$(mktemp -d)
srv=
sampler=
cleanup() {
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$bin/serve" --models "$models" --default "$dflt" --movies "$movies" --port 0 \
	--threads "$cores" 2>"$tmp/serve.log" &
srv=$!
port=
i=0
while [ -z "$port" ] && [ $i -lt 100 ] && kill -0 $srv 2>/dev/null; do
	sleep 0.1
	port=$(sed -n 's/^serve: listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$tmp/serve.log")
	i=$((i + 1))
done
[ -n "$port" ] || { cat "$tmp/serve.log" >&2; exit 1; }
url=http://127.0.0.1:$port
sed -n 's/^serve: listening on [^ ]* (\(.*\))$/bench-serve: server: \1/p' "$tmp/serve.log"

# The users to pick from: all of the default model's.
curl -s --max-time 10 "$url/users?k=100000" | python3 -c '
import json, sys
ids = json.load(sys.stdin)["users"]
print("local users = {" + ",".join(json.dumps(u) for u in ids) + "}")
print("local n = #users")
print("math.randomseed(42)")
print("request = function()")
print("  return wrk.format(\"GET\", \"/recommendations?user_id=\" .. users[math.random(n)])")
print("end")' > "$tmp/random.lua"

# RSS every second, in kB.
( while kill -0 $srv 2>/dev/null; do
	awk '/^VmRSS/ { print $2 }' /proc/$srv/status
	sleep 1
  done > "$tmp/rss" ) &
sampler=$!

# CPU seconds the server has used (user + system), from /proc.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' /proc/$srv/stat; }

echo "bench-serve: wrk, 1 thread, $conns connections, ${secs} s, random users; server: $cores threads on $cores cores"
c0=$(cpu)
/usr/bin/time -f '%U %S' -o "$tmp/wrk.time" \
	wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$tmp/random.lua" "$url/" > "$tmp/wrk.out" 2>&1
c1=$(cpu)
kill $sampler 2>/dev/null || true
sampler=

rps=$(awk '/^Requests\/sec/ { print $2 }' "$tmp/wrk.out")
p50=$(awk '$1 == "50%" { print $2 }' "$tmp/wrk.out")
p90=$(awk '$1 == "90%" { print $2 }' "$tmp/wrk.out")
p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.out")
total=$(awk '/requests in/ { print $1 }' "$tmp/wrk.out")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$tmp/wrk.out")
sockerr=$(awk '/Socket errors/ { sub(/.*Socket errors: /, ""); print }' "$tmp/wrk.out")
logged=$(grep -c 'GET /recommendations 200' "$tmp/serve.log" || true)
echo "bench-serve: $total requests, $rps requests/s; latency p50 $p50, p90 $p90, p99 $p99"
echo "bench-serve: errors: ${non2xx:-0} non-2xx; socket errors: ${sockerr:-none}; $logged requests logged 200"
# CPU per request, which other load on the machine does not change: what
# two idle cores would sustain is 2 s / (server + wrk CPU per request).
awk -v c0="$c0" -v c1="$c1" -v n="$total" -v cores="$cores" '{ w = $1 + $2 }
     END { s = (c1 - c0) / n * 1e6; k = w / n * 1e6;
	   printf "bench-serve: CPU per request: server %.0f us, wrk %.0f us (%d cores: at most %.0f requests/s with both)\n",
	   s, k, cores, cores * 1e6 / (s + k) }' "$tmp/wrk.time"
awk 'NR == 1 { first = $1 } { if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1; last = $1; n++ }
     NR == 6 { warm = $1 }
     END { printf "bench-serve: RSS over %d samples: start %.1f MB, after 5 s %.1f MB, min %.1f, max %.1f, end %.1f MB\n",
	   n, first / 1024, warm / 1024, min / 1024, max / 1024, last / 1024 }' "$tmp/rss"
