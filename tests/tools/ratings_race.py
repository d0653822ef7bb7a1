#!/usr/bin/env python3
"""ratings_race.py URL - readers never see half of a POST /ratings: two
writer threads flip user "race" between two states, each one request
changing two movies together (1 and 2 rated 5, or both removed; 3 and 4
likewise), while four reader threads read GET /features for the user and
check that each pair is present whole or absent whole.  Prints the counts
and exits 1 on a torn read or a failed request.  Standard library only."""
import json
import sys
import threading
import urllib.request

URL = sys.argv[1]
bad, reads, writes = [], [0], [0]
lock = threading.Lock()
done = threading.Event()


def post(body):
    req = urllib.request.Request(URL + "/ratings", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=20) as r:
        assert r.status == 200


def writer(a, b, n):
    try:
        for i in range(n):
            r = 5 if i % 2 == 0 else None
            post({"user_id": "race", "ratings": [{"id": a, "rating": r}, {"id": b, "rating": r}]})
            with lock:
                writes[0] += 1
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        bad.append("writer: %r" % e)


def reader():
    while not done.is_set():
        try:
            with urllib.request.urlopen(URL + "/features?user_id=race", timeout=20) as r:
                h = set(json.load(r)["features"][0]["histories"])
        except urllib.error.HTTPError as e:
            if e.code == 404:      # before the first write
                continue
            bad.append("reader: %r" % e)
            return
        for pair in (("1", "2"), ("3", "4")):
            if (pair[0] in h) != (pair[1] in h):
                bad.append("torn read: %s" % sorted(h))
        with lock:
            reads[0] += 1


ws = [threading.Thread(target=writer, args=(1, 2, 40)), threading.Thread(target=writer, args=(3, 4, 40))]
rs = [threading.Thread(target=reader) for _ in range(4)]
for t in ws + rs:
    t.start()
for t in ws:
    t.join()
done.set()
for t in rs:
    t.join()
print("writes %d, reads %d, torn or failed %d" % (writes[0], reads[0], len(bad)))
if bad or writes[0] != 80 or reads[0] == 0:
    print("\n".join(bad[:5]))
    sys.exit(1)
