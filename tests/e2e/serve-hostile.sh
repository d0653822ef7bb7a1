# serve-hostile.sh - serve against hostile and broken clients (the red-team
# run of issue 9), on 127.0.0.1: /predict's cost bounded (users x top_k,
# duplicates merged, memory flat), slowloris (9,000 sockets dripping a
# header byte every 3 s, from 10 loopback addresses, for 30 s: normal
# requests keep being answered; their p99 is printed) and the total cap,
# SIGTERM with /train jobs queued and running, temp versions left by a
# kill -9, %00 in paths and values, the errors libmicrohttpd makes itself
# (JSON, sent once), conflicting Content-Length headers, and messages.
#
# Sanitizer builds (CF_ASAN=1, or a serve binary with ASan in it) are
# slower and keep freed memory in quarantine: the slowloris runs are
# scaled down (2,000 sockets, 10 s and 6 s) and RSS is not checked.
. "$TOP/tests/e2e/lib.sh"
. "$TOP/tests/e2e/serve-lib.sh"

SAN=0
if [ "${CF_ASAN:-0}" = 1 ] || grep -qa '__asan_init' "$BIN/serve"; then
	SAN=1
fi
say() { echo "serve-hostile: $*"; }

mkdir models tmodels
csv2bin < "$DATA/ratings.csv" > ratings.bin 2>/dev/null
mf-fit --algo als -k 16 --epochs 4 --quiet -o models/als.bin < ratings.bin
mf-fit --algo als -k 32 --epochs 2 --quiet -o tmodels/als.bin < ratings.bin

# ---- flags and start-up failures ----------------------------------------
# (bounded: a server that starts instead of failing is killed after 20 s)
t_run "serve --help" 0 "serve --help"
t_true "--help: the connection flags and their defaults" \
	"grep -q -- '--request-timeout S' out && grep -q -- '--max-conns N' out &&
	 grep -q -- '--max-conns-per-ip N' out && grep -q 'default 256' out && grep -q 'default 10)' out"
t_true "--help: /predict's and /train's limits" "grep -q 'at most 20000' out && grep -q 'epochs 1..200' out"
t_run "--request-timeout 0" 2 "timeout 20 serve --models models --request-timeout 0"
t_run "--max-conns 0" 2 "timeout 20 serve --models models --max-conns 0"
t_run "--max-conns-per-ip -1" 2 "timeout 20 serve --models models --max-conns-per-ip -1"
t_run "--token-file on a directory" 1 "timeout 20 serve --models models --token-file . --port 0"
t_err_line "--token-file on a directory" serve "--token-file \\.: is a directory"
t_run "--movies /dev/null" 1 "timeout 20 serve --models models --movies /dev/null --port 0"
t_err_line "--movies /dev/null" serve "/dev/null"
: > empty.csv
t_run "--movies on an empty file" 1 "timeout 20 serve --models models --movies empty.csv --port 0"
t_err_line "--movies on an empty file" serve "empty.csv"

# ---- temp versions left by a server killed while writing one ------------
printf 'half a model' > models/.als_2.bin.tmp-AbC123
printf 'not ours' > models/.keep
start_server tmp --models models --quiet || exit 1
t_true "a leftover temp version is removed at start" "! test -e models/.als_2.bin.tmp-AbC123"
t_true "... and stderr says so" "grep -q '^serve: removed models/.als_2.bin.tmp-AbC123: .*killed' tmp.err"
t_true "other dot files stay" "test -e models/.keep"
stop_server tmp TERM
# One a server is writing now (it holds a shared lock on the directory) stays.
printf 'being written' > models/.als_3.bin.tmp-QwErTy
flock -s models sleep 3 &
BG_PIDS="$BG_PIDS $!"
sleep 0.2
start_server tmp2 --models models --quiet || exit 1
t_true "a temp version being written by another server is left alone" \
	"test -e models/.als_3.bin.tmp-QwErTy && ! grep -q removed tmp2.err"
stop_server tmp2 TERM
rm -f models/.als_3.bin.tmp-QwErTy models/.keep

# ---- the main server ----------------------------------------------------
start_server main --models models --movies "$MOVIES" --links "$LINKS" || exit 1
MAIN_PID=$PID
PORT=$port

# raw NAME STATUS FILE: FILE's bytes sent as they are; the answer must be one
# status line STATUS, JSON, a body of its Content-Length ({"error": "..."}
# unless STATUS is 2xx), and the connection closed after it.
cat > raw.py <<'EOF'
import json, socket, sys, time
port, want, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(open(path, "rb").read())
d = b""
t0 = time.time()
while time.time() - t0 < 10:
    b = s.recv(65536)
    if not b:
        break
    d += b
else:
    sys.exit("the connection was not closed after the answer")
open("out", "wb").write(d)
assert d.count(b"HTTP/1.") == 1, "status line %d times: %r" % (d.count(b"HTTP/1."), d[:300])
head, _, body = d.partition(b"\r\n\r\n")
lines = head.split(b"\r\n")
assert lines[0].split()[1].decode() == want, lines[0]
h = {k.strip().lower(): v.strip() for k, _, v in (l.partition(b":") for l in lines[1:])}
assert h.get(b"content-type") == b"application/json", h
assert int(h[b"content-length"]) == len(body), (h, body)
e = json.loads(body)
if not want.startswith("2"):
    assert list(e) == ["error"] and isinstance(e["error"], str) and e["error"], e
    assert b"<" not in body, body
EOF
raw() {
	t_true "$1: $2, JSON, status line once, closed" "python3 raw.py $PORT $2 $3"
}
rq() {	# rq FILE 'request line and headers' [body]: CRLF line ends
	{ printf '%s\r\n' "$2" | sed 's/|/\r\n/g'; printf '\r\n%s' "${3:-}"; } > "$1"
}
rq cl-neg.req 'POST /predict HTTP/1.1|Host: x|Content-Length: -1' '[1]'
raw "Content-Length: -1" 400 cl-neg.req
t_true "... says which header" "grep -q 'Content-Length' out"
rq cl-abc.req 'POST /predict HTTP/1.1|Host: x|Content-Length: abc' '[1]'
raw "Content-Length: abc" 400 cl-abc.req
rq cl-264.req 'POST /predict HTTP/1.1|Host: x|Content-Length: 18446744073709551616' '[1]'
raw "Content-Length: 2^64" 413 cl-264.req
rq cl-big.req 'POST /predict HTTP/1.1|Host: x|Content-Length: 99999999999999999999999' '[1]'
raw "Content-Length: 10^23" 413 cl-big.req
rq cl-two.req 'POST /predict HTTP/1.1|Host: x|Content-Length: 3|Content-Length: 4' '[1]5'
raw "two different Content-Length headers" 400 cl-two.req
t_true "... says so" "grep -q 'more than one Content-Length' out"
rq cl-same.req 'POST /predict HTTP/1.1|Host: x|Content-Length: 3|Content-Length: 3' '[1]'
raw "two Content-Length headers" 400 cl-same.req
rq cl-te.req 'POST /predict HTTP/1.1|Host: x|Content-Length: 3|Transfer-Encoding: chunked' '[1]'
raw "Content-Length and Transfer-Encoding" 400 cl-te.req
rq te-gzip.req 'POST /predict HTTP/1.1|Host: x|Transfer-Encoding: gzip' '[1]'
raw "Transfer-Encoding: gzip" 501 te-gzip.req
rq chunk.req 'POST /predict HTTP/1.1|Host: x|Transfer-Encoding: chunked' 'zz'
raw "a malformed chunk" 400 chunk.req
python3 -c "
import sys
q = '&'.join('a%d=1' % i for i in range(5000))
sys.stdout.write('GET /healthz?' + q + ' HTTP/1.1\r\nHost: x\r\n\r\n')" > params.req
raw "5,000 query parameters" 414 params.req
python3 -c "
import sys
sys.stdout.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a' * 40000 + '\r\n\r\n')" > header.req
raw "a 40 KB header" 431 header.req
rq nul-path.req 'GET /healthz%00 HTTP/1.1|Host: x'
raw "/healthz%00" 400 nul-path.req
rq nul-k.req 'GET /recommendations?user_id=18&k=10%00junk HTTP/1.1|Host: x'
raw "k=10%00junk" 400 nul-k.req
t_true "... says %00" "grep -q '%00' out"
rq nul-key.req 'GET /recommendations?user%00_id=18 HTTP/1.1|Host: x'
raw "%00 in a key" 400 nul-key.req
rq ok.req 'GET /healthz HTTP/1.1|Host: x|Connection: close'
raw "a plain request on a raw socket" 200 ok.req
req "/healthz%00 (curl)" GET "/healthz%00" 400; is_error "/healthz%00 (curl)"
req "user_id=18%00 (curl)" GET "/recommendations?user_id=18%00" 400; is_error "user_id=18%00"
req "%2500 is a literal %00, not a NUL" GET "/recommendations?user_id=%2500" 404
long=$(python3 -c "print('&'.join('a%d=1' % i for i in range(5000)))")
req "414 through curl" GET "/healthz?$long" 414; is_error "414 through curl"
req "still healthy after all that" GET /healthz 200

# ---- ids: the limit in the message ----------------------------------------
id257=$(printf '%0257d' 7)
req "/predict: a 257-byte id" POST /predict 400 -d "[\"$id257\"]"; is_error "a 257-byte id"
t_true "... says it is too long, with the limit" "grep -q '257 bytes long: an id is at most 256' out"
req "/predict: a 256-byte id is just unknown" POST /predict 404 -d "[\"x$(printf '%0255d' 7)\"]"
req "/recommend_movie: a 257-byte id" POST /recommend_movie 400 -d "{\"user_id\":\"$id257\"}"
t_true "... too long, with the limit" "grep -q 'at most 256' out"
req "fold-in: a 257-byte id" POST /recommendations 400 -d "{\"ratings\":[{\"id\":\"$id257\",\"rating\":4}]}"
t_true "... too long, with the limit" "grep -q 'at most 256' out"

# ---- /predict: bounded, merged, streamed, memory flat -------------------------
rss() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$MAIN_PID/status"; }
RSS0=$(rss)
all=$(python3 -c "print(list(range(1, 611)))")
req "/predict: users 1..610, top_k=1000" POST "/predict?top_k=1000" 400 -d "$all"
is_error "/predict over the limit"
t_true "... the limit in the message" "grep -q 'the limit is 20000' out && grep -q '610 users x top_k 1000' out"
u20=$(python3 -c "print(list(range(1, 21)))")
u21=$(python3 -c "print(list(range(1, 22)))")
req "/predict: 20 users x 1000 (at the limit)" POST "/predict?top_k=1000" 200 -d "$u20"
t_true "... 20 users, 1000 movies each" "python3 -c '
import json; d = json.load(open(\"out\")); assert len(d) == 20 and all(len(v) == 1000 for v in d.values())'"
req "/predict: 21 users x 1000" POST "/predict?top_k=1000" 400 -d "$u21"
req "/predict: 610 users x 32" POST "/predict?top_k=32" 200 -d "$all"
t_true "... every user" "python3 -c 'import json; assert len(json.load(open(\"out\"))) == 610'"
dup=$(python3 -c "print([1] * 1000)")
req "/predict: 1000 copies of one id, top_k=1000" POST "/predict?top_k=1000" 200 -d "$dup"
cp out dup.json
req "/predict: the id once" POST "/predict?top_k=1000" 200 -d "[1]"
t_true "duplicates are merged: the same answer as the id once" "cmp -s out dup.json"
req "/predict: one user in several spellings" POST "/predict?top_k=2" 200 -d '["018", 456, 18, "18", 456, 389]'
t_true "... one answer each, in the order of first appearance" "python3 -c '
import json; assert list(json.load(open(\"out\"))) == [\"18\", \"456\", \"389\"]'"
# Two bodies of 1000 copies with top_k=1000 at once, many times, while
# /healthz is asked: it waits for neither.
cat > predict-load.py <<'EOF'
import json, sys, threading, time, urllib.request
port, rounds = int(sys.argv[1]), int(sys.argv[2])
url = "http://127.0.0.1:%d" % port
def post(path, body):
    r = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as f:
            f.read(); return f.status
    except urllib.error.HTTPError as e:
        e.read(); return e.code
bad = []
def big(i):
    for j in range(rounds):
        for body, top, want in (([1] * 1000, 1000, 200), (list(range(1, 611)), 1000, 400),
                                (list(range(1 + j, 21 + j)), 1000, 200), (list(range(1, 611)), 32, 200)):
            st = post("/predict?top_k=%d" % top, body)
            if st != want: bad.append((st, want))
ths = [threading.Thread(target=big, args=(i,)) for i in range(2)]
for t in ths: t.start()
hz = []
while any(t.is_alive() for t in ths):
    t0 = time.time()
    urllib.request.urlopen(url + "/healthz", timeout=30).read()
    hz.append(time.time() - t0)
    time.sleep(0.01)
for t in ths: t.join()
print("%d %.1f %d" % (len(hz), max(hz) * 1000, len(bad)))
EOF
rounds=10
[ $SAN = 1 ] && rounds=2
python3 predict-load.py "$PORT" $rounds > predict-load.out
read -r nhz hzmax nbad < predict-load.out
RSS1=$(rss)
say "/predict abuse ($rounds rounds x 2 clients): /healthz answered $nhz times, slowest ${hzmax} ms; RSS $RSS0 MB before, $RSS1 MB after"
t_true "/predict under load: every answer as expected" "test '$nbad' = 0"
t_true "/healthz does not wait for /predict (slowest under 1 s)" "awk 'BEGIN { exit !($hzmax < 1000) }'"
if [ $SAN = 0 ]; then
	t_true "RSS stays flat under /predict abuse (at most 20 MB more)" "test $RSS1 -le $((RSS0 + 20))"
fi

# ---- /train: epochs capped ---------------------------------------------------
req "/train epochs=201" POST "/train?epochs=201" 400 -d '{}'
t_true "... the limit in the message" "grep -q 'from 1 to 200' out"
req "/train epochs=1000" POST "/train?epochs=1000" 400 -d '{}'
stop_server main TERM

# ---- SIGTERM with /train jobs queued and running ---------------------------
python3 -c "
import csv, json, random
random.seed(1)
movies = sorted({r['movieId'] for r in csv.DictReader(open('$DATA/ratings.csv'))})
n = 15000
print(json.dumps({'users': [random.randint(1, 610) for _ in range(n)],
                  'movies': [random.choice(movies) for _ in range(n)],
                  'ratings': [random.choice([1, 2, 3, 4, 5]) for _ in range(n)]}))" > train.json
start_server jobs --models tmodels || exit 1
for n in 1 2 3 4; do
	req "/train job $n of 4 (epochs=200)" POST "/train?epochs=200&validation_split=0" 200 --data-binary @train.json
done
req "a fifth job: the queue is full" POST "/train?epochs=200&validation_split=0" 503 --data-binary @train.json
sleep 1
req "/healthz: 4 jobs pending" GET /healthz 200
t_true "... training: 4" "grep -q '\"training\":4' out"
t0=$(date +%s%N)
kill -TERM "$PID"
i=0
while kill -0 "$PID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.02; i=$((i + 1)); done
kill -KILL "$PID" 2>/dev/null   # still there after 6 s: a failure below
wait "$PID"
st=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
say "SIGTERM with 1 /train job running and 3 queued (epochs=200 each): exit $st after $ms ms"
t_true "SIGTERM with jobs: exit 0 within 3 s" "test $st = 0 && test $ms -lt 3000"
t_true "the queued jobs are cancelled, by name" \
	"grep -q '^serve: cancelled 3 queued training jobs: als_2, als_3, als_4\$' jobs.err"
t_true "the running job is abandoned" "grep -q '^serve: abandoning training job als_1: nothing of it is written' jobs.err"
t_true "nothing was written: no version, no temp file" "test \"\$(ls -A tmodels)\" = als.bin"

# ---- slowloris ---------------------------------------------------------------
# loris.py PORT N SECONDS ADDRS: N sockets bound to 127.0.0.2..(ADDRS+1)
# (all of 127/8 is loopback), each sending one byte of a never-ending
# header every 3 s; one the server closes is opened again at its turn.
cat > loris.py <<'EOF'
import resource, socket, sys, time
port, n, secs, naddr = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
except (ValueError, OSError):
    hard = soft
if n > hard - 100:
    print("loris: the open-file limit (%d) allows %d sockets, not %d" % (hard, hard - 100, n), file=sys.stderr)
    n = hard - 100
addrs = ["127.0.0.%d" % (2 + i) for i in range(naddr)]
head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: y\r\n" * 1000
socks, pos = [None] * n, [0] * n
opened = closed = failed = 0
def open_one(i):
    global opened, failed
    s = socket.socket()
    s.setblocking(False)
    try:
        s.bind((addrs[i % naddr], 0))
        s.connect_ex(("127.0.0.1", port))
    except OSError:
        s.close(); socks[i] = None; failed += 1; return
    socks[i], pos[i] = s, 0
    opened += 1
t0 = time.time()
for i in range(n):
    open_one(i)
k, slices = 0, 30
while time.time() - t0 < secs:
    t1 = time.time()
    for i in range(k % slices, n, slices):
        s = socks[i]
        if s is None:
            open_one(i); continue
        try:
            if s.recv(1, socket.MSG_DONTWAIT) == b"":
                raise ConnectionResetError
        except BlockingIOError:
            pass
        except OSError:
            s.close(); closed += 1; open_one(i); continue
        try:
            s.send(head[pos[i] % len(head):pos[i] % len(head) + 1]); pos[i] += 1
        except BlockingIOError:
            pass
        except OSError:
            s.close(); closed += 1; open_one(i)
    k += 1
    time.sleep(max(0, 0.1 - (time.time() - t1)))
print("%d sockets from %d addresses for %.0f s: %d connections opened, %d closed by the server, %d not opened" % (n, naddr, secs, opened, closed, failed))
EOF
# normal.py PORT SECONDS: a request on a new connection every 50 ms.
cat > normal.py <<'EOF'
import socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
lat, bad, u = [], [], 0
t0 = time.time()
while time.time() - t0 < secs:
    u = u % 610 + 1
    t1 = time.time()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /recommendations?user_id=%d&k=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % u)
        d = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            d += b
        s.close()
        if not d.startswith(b"HTTP/1.1 200"):
            bad.append(d[:60])
    except OSError as e:
        bad.append(str(e))
    lat.append(time.time() - t1)
    time.sleep(0.05)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print("%d %d %.1f %.1f %.1f" % (len(lat), len(bad), q(0.5), q(0.99), lat[-1] * 1000))
if bad:
    print("first failures:", bad[:3], file=sys.stderr)
EOF
# fds PID SECONDS: the most file descriptors PID held, sampled every 0.5 s.
fds() {
	m=0 j=0
	while [ $j -lt $(($2 * 2)) ] && kill -0 "$1" 2>/dev/null; do
		c=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
		[ "$c" -gt $m ] && m=$c
		sleep 0.5
		j=$((j + 1))
	done
	echo $m
}
# siege NAME PORT PID SOCKETS SECONDS: loris (from NADDR addresses) and
# normal requests at once.
siege() {
	python3 loris.py "$2" "$4" "$5" $NADDR > "$1.loris" 2> "$1.loris.err" &
	lp=$!
	BG_PIDS="$BG_PIDS $lp"
	sleep 1
	fds "$3" $(($5 - 2)) > "$1.fds" &
	fp=$!
	python3 normal.py "$2" $(($5 - 2)) > "$1.normal" 2> "$1.normal.err"
	wait $lp $fp
	read -r N_REQ N_BAD P50 P99 PMAX < "$1.normal"
	MAXFD=$(cat "$1.fds")
}

LN=9000 LS=30 LS2=12 NADDR=10
if [ $SAN = 1 ]; then LN=2000 LS=10 LS2=6 NADDR=4; fi

# The per-address cap: 256 from each of the addresses, the rest refused;
# those held are closed when their request has not come whole in 10 s.
start_server loris --models models --quiet || exit 1
siege loris "$port" "$PID" $LN $LS
say "slowloris, $(cat loris.loris): normal requests: $N_REQ, $N_BAD failed, p50 $P50 ms, p99 $P99 ms, max $PMAX ms; server: at most $MAXFD fds"
t_true "slowloris: every normal request answered" "test '$N_BAD' = 0 && test '$N_REQ' -gt 50"
t_true "slowloris: normal requests' p99 under 1 s" "awk 'BEGIN { exit !($P99 < 1000) }'"
t_true "slowloris: at most 256 connections per address held" "test $MAXFD -le $((NADDR * 256 + 64))"
t_true "slowloris: the per-address cap refused connections" "grep -q 'refused: 256 open from their address (--max-conns-per-ip)' loris.err"
if [ $LS -gt 11 ]; then
	t_true "slowloris: dripping connections closed after --request-timeout" \
		"grep -q 'closed for not sending a whole request within 10 s (--request-timeout)' loris.err"
fi
stop_server loris TERM

# The total cap, with no per-address one: new connections close the ones
# waiting longest, so a client that sends its request at once gets in.
CAP=1000
[ $SAN = 1 ] && CAP=500
start_server full --models models --quiet --max-conns $CAP --max-conns-per-ip 0 || exit 1
siege full "$port" "$PID" $LN $LS2
say "total cap --max-conns $CAP, $(cat full.loris): normal requests: $N_REQ, $N_BAD failed, p50 $P50 ms, p99 $P99 ms; server: at most $MAXFD fds"
t_true "total cap: every normal request answered" "test '$N_BAD' = 0 && test '$N_REQ' -gt 20"
t_true "total cap: normal requests' p99 under 1 s" "awk 'BEGIN { exit !($P99 < 1000) }'"
t_true "total cap: the server holds at most --max-conns (+ those closing)" \
	"test $MAXFD -le $((CAP + CAP / 8 + 64 + 32))"
t_true "total cap: the longest waiting made room" "grep -q 'waiting longest closed to make room' full.err"
stop_server full TERM
