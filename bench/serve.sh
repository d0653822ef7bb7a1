#!/bin/sh
# bench/serve.sh BIN MODELS DEFAULT MOVIES [SECONDS] [CONNS] [SOAK_SECONDS] -
# load test of serve (`make bench-serve`): wrk against GET /recommendations
# for random users (a Lua script picks each request's user from the
# model's users), on 127.0.0.1, the server with one thread per core and
# its request log on; resident memory sampled from /proc every second.
# Prints requests/s, p50/p99 latency, errors and RSS at the start and end.
# Then a soak of SOAK_SECONDS (default 60; 0: none): good and bad clients
# at once (GET /recommendations on keep-alive connections, /predict at and
# over its limit, malformed requests of the kinds libmicrohttpd or serve
# refuse, 300 slowloris sockets from three loopback addresses), with
# p50/p99 of the good requests, the statuses of every kind, and RSS and
# open files at the start and end.  The figures are for README, not
# pass/fail.
set -eu
bin=$1 models=$2 dflt=$3 movies=$4 secs=${5:-60} conns=${6:-16} soak=${7:-60}
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

[ "$soak" -gt 0 ] || exit 0

# ---- the soak: good and bad clients at once -------------------------------
cat > "$tmp/soak.py" <<'EOF'
import http.client, json, multiprocessing as mp, random, socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
users = json.load(open(sys.argv[3]))["users"]

def good(q, seed):
    # GET /recommendations on a keep-alive connection; latency of each.
    random.seed(seed)
    lat, st = [], {}
    end = time.time() + secs
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.time() < end:
        t0 = time.time()
        try:
            c.request("GET", "/recommendations?k=10&user_id=" + random.choice(users))
            r = c.getresponse()
            r.read()
            code = r.status
        except (OSError, http.client.HTTPException):
            code = "error"
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        lat.append(time.time() - t0)
        st[code] = st.get(code, 0) + 1
    q.put(("good", st, lat))

def predict(q, seed):
    # /predict at its limit (20 x 1000, all x 32), over it, and duplicates.
    random.seed(seed)
    st = {}
    end = time.time() + secs
    while time.time() < end:
        kind = random.choice(["20 x 1000", "all x 32", "all x 1000", "1000 copies x 1000"])
        top, body = {"20 x 1000": (1000, random.sample(users, 20)), "all x 32": (32, users),
                     "all x 1000": (1000, users),
                     "1000 copies x 1000": (1000, [users[0]] * 1000)}[kind]
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            c.request("POST", "/predict?top_k=%d" % top, json.dumps(body))
            r = c.getresponse()
            r.read()
            code = r.status
        except (OSError, http.client.HTTPException):
            code = "error"
        c.close()
        k = "%s: %s" % (kind, code)
        st[k] = st.get(k, 0) + 1
    q.put(("predict", st, []))

BAD = {
    "Content-Length -1": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n[1]",
    "Content-Length 2^64": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n",
    "two Content-Length": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n[1]",
    "bad chunk": b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "%00 in the path": b"GET /healthz%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "5000 parameters": ("GET /healthz?" + "&".join("a%d=1" % i for i in range(5000)) +
                        " HTTP/1.1\r\nHost: x\r\n\r\n").encode(),
    "40 KB header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 40000 + b"\r\n\r\n",
    "bad JSON": b"POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[{",
    "unknown path": b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
}

def bad(q, seed):
    # Each malformed request on a raw socket: one JSON answer, then closed.
    random.seed(seed)
    st = {}
    end = time.time() + secs
    while time.time() < end:
        name = random.choice(sorted(BAD))
        code = "no answer"
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(BAD[name])
            d = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                d += b
            s.close()
            one = d.count(b"HTTP/1.") == 1 and b"application/json" in d and b"<html" not in d
            code = d.split(b" ", 2)[1].decode() + ("" if one else " (not one JSON answer)")
        except (OSError, IndexError):
            pass
        k = "%s: %s" % (name, code)
        st[k] = st.get(k, 0) + 1
        time.sleep(0.005)
    q.put(("bad", st, []))

def slow(q, seed):
    # 300 sockets from 127.0.0.2-4, a byte every 3 s; reopened when closed.
    n, closed = 300, 0
    end = time.time() + secs
    def one(i):
        s = socket.socket()
        s.setblocking(False)
        s.bind(("127.0.0.%d" % (2 + i % 3), 0))
        s.connect_ex(("127.0.0.1", port))
        return s
    socks = [one(i) for i in range(n)]
    while time.time() < end:
        for i, s in enumerate(socks):
            try:
                s.send(b"X")
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                closed += 1
                socks[i] = one(i)
        time.sleep(3)
    q.put(("slow", {"closed by the server, opened again": closed}, []))

q = mp.Queue()
ps = [mp.Process(target=f, args=(q, i)) for i, f in enumerate([good, good, predict, bad, slow])]
for p in ps:
    p.start()
res = [q.get() for p in ps]
for p in ps:
    p.join()
lat, st = [], {}
for kind, s, l in res:
    lat += l
    for k, v in s.items():
        st[(kind, str(k))] = st.get((kind, str(k)), 0) + v
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
print("bench-serve: soak: %d good requests (2 keep-alive clients): p50 %.2f ms, p99 %.2f ms, max %.1f ms"
      % (len(lat), pct(0.5), pct(0.99), lat[-1] * 1000 if lat else 0))
for (kind, k), v in sorted(st.items()):
    print("bench-serve: soak:   %-7s %-52s %d" % (kind, k, v))
EOF
curl -s --max-time 10 "$url/users?k=100000" > "$tmp/users.json"
fds() { ls "/proc/$srv/fd" 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$srv/status"; }
echo "bench-serve: soak, ${soak} s: good and bad clients at once (see bench/serve.sh)"
r0=$(rss)
f0=$(fds)
( while kill -0 $srv 2>/dev/null; do
	awk '/^VmRSS/ { print $2 }' /proc/$srv/status
	sleep 1
  done > "$tmp/rss2" ) &
sampler=$!
python3 "$tmp/soak.py" "$port" "$soak" "$tmp/users.json"
kill $sampler 2>/dev/null || true
sampler=
sleep 1
awk -v r0="$r0" -v f0="$f0" -v r1="$(rss)" -v f1="$(fds)" '{ if ($1 > max) max = $1 }
     END { printf "bench-serve: soak: RSS %s MB at the start, %.1f MB at most, %s MB at the end; open files %s at the start, %s at the end\n",
	   r0, max / 1024, r1, f0, f1 }' "$tmp/rss2"
grep '^serve: connections:' "$tmp/serve.log" | tail -n 2 | sed 's/^/bench-serve: soak: server: /'
