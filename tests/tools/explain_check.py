#!/usr/bin/env python3
"""explain_check.py - the explanations add up, checked from outside the C code.

usage: explain_check.py MODEL.json EXPLAIN.json [TOL]

MODEL.json is a model and EXPLAIN.json mf-score --explain --because 0
output, both dumped by cfdump.py --json.  For every recommended (user,
item) of the topk table, the contributions of all the user's history items
must sum to the factor part of the score, p_u . q_i (the score minus
mu + bu + bi; for ials the score itself), computed here in double from the
model's factors, to TOL relative (default 1e-4; the dot product's scale
|p||q| / 1000 is the floor of the denominator, so a near-zero p.q from
cancellation is not judged against its own rounding).  Every history item
must appear once.  Prints the worst relative error; exit 1 on failure.
"""
import json
import math
import sys


def tables(path):
    with open(path) as f:
        return {t["name"]: t for t in json.load(f)}


def main(argv):
    m, e = tables(argv[1]), tables(argv[2])
    tol = float(argv[3]) if len(argv) > 3 else 1e-4
    users = {r[0]: i for i, r in enumerate(m["users"]["rows"])}
    items = {r[0]: i for i, r in enumerate(m["items"]["rows"])}
    P = [r[1] for r in m["user_factors"]["rows"]]
    Q = [r[1] for r in m["item_factors"]["rows"]]
    hist = {}
    for r in m["seen"]["rows"]:
        hist[r[0]] = hist.get(r[0], 0) + 1
    contrib = {}
    for r in e["explanations"]["rows"]:
        contrib.setdefault((r[0], r[1]), []).append((r[2], r[3]))
    worst, n = 0.0, 0
    for r in e["topk"]["rows"]:
        u, i = r[0], r[1]
        p, q = P[users[u]], Q[items[i]]
        pq = math.fsum(x * y for x, y in zip(p, q))
        scale = math.sqrt(math.fsum(x * x for x in p)) * math.sqrt(math.fsum(y * y for y in q))
        c = contrib.get((u, i), [])
        if len(c) != hist.get(users[u], 0) or len({b for b, _ in c}) != len(c):
            sys.exit("explain_check.py: %s -> %s: %d contributions for %d history items"
                     % (u, i, len(c), hist.get(users[u], 0)))
        rel = abs(math.fsum(x for _, x in c) - pq) / max(abs(pq), scale / 1000, 1e-30)
        if rel > tol:
            sys.exit("explain_check.py: %s -> %s: contributions sum to %.9g, p.q is %.9g "
                     "(relative error %.3g > %g)" % (u, i, math.fsum(x for _, x in c), pq, rel, tol))
        worst = max(worst, rel)
        n += 1
    if n == 0:
        sys.exit("explain_check.py: no recommendations to check")
    print("%d recommendations: contributions sum to p.q, worst relative error %.3g" % (n, worst))


main(sys.argv)
