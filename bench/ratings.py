#!/usr/bin/env python3
"""bench/ratings.py URL - `make bench-ratings`: the cost of POST /ratings
(each one fsynced to the ratings log) and of GET /movies title search on
a running server.  Figures printed, nothing asserted.

  sequential: N posts one after another (one rating each): latency
              median / p90 / p99 and posts per second
  parallel:   W writers posting N/W each at once: posts per second (the
              writers are serialized by the log's mutex, one fsync each)
  search:     each query Q times: median latency per query kind
Standard library only (urllib, one connection per request)."""
import json
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request

URL = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
W = int(sys.argv[3]) if len(sys.argv) > 3 else 8
Q = 20


def post(user, movie):
    body = json.dumps({"user_id": user, "ratings": [{"id": movie, "rating": 4}]}).encode()
    req = urllib.request.Request(URL + "/ratings", data=body, method="POST")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
    return time.perf_counter() - t0


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]


movies = [1, 2, 3, 5, 6, 7, 10, 11, 16, 17, 19, 21, 25, 32, 34, 39, 44, 47, 48, 50]
t0 = time.perf_counter()
lat = [post("bench-seq-%d" % (i // 20), movies[i % 20]) for i in range(N)]
wall = time.perf_counter() - t0
print("POST /ratings sequential: %d posts, median %.2f ms, p90 %.2f ms, p99 %.2f ms, %.0f posts/s"
      % (N, 1e3 * statistics.median(lat), 1e3 * pct(lat, 0.9), 1e3 * pct(lat, 0.99), N / wall))


def writer(w):
    for i in range(N // W):
        post("bench-par-%d-%d" % (w, i // 20), movies[i % 20])


ts = [threading.Thread(target=writer, args=(w,)) for w in range(W)]
t0 = time.perf_counter()
for t in ts:
    t.start()
for t in ts:
    t.join()
wall = time.perf_counter() - t0
print("POST /ratings %d writers: %d posts in %.2f s, %.0f posts/s" % (W, W * (N // W), wall, W * (N // W) / wall))

for kind, q in [("exact", "the matrix"), ("words", "godfather part ii"), ("prefix", "godf"),
                ("typo", "shawshenk"), ("empty", "")]:
    lat = []
    for _ in range(Q):
        t0 = time.perf_counter()
        with urllib.request.urlopen(URL + "/movies?" + urllib.parse.urlencode({"q": q, "k": 20}), timeout=60) as r:
            r.read()
        lat.append(time.perf_counter() - t0)
    print("GET /movies %-6s %-20s median %.2f ms (of %d)" % (kind, repr(q), 1e3 * statistics.median(lat), Q))
