#!/usr/bin/env python3
"""newitem_check.py - fm's scores of new items, computed from outside the C code.

usage: newitem_check.py MODEL.json MOVIES.csv SCORES.csv [TOL]

MODEL.json is an fm model with its 'item_features' table (cfdump.py
--json); SCORES.csv is mf-score --pairs --items MOVIES.csv output as CSV
(bin2csv).  For every row whose item is not in the model's dictionary but
is in MOVIES.csv, the prediction is recomputed here in double from the
model, as docs/frame-format.md defines the table: the item's features
("genre:G" for each genre, x = 1/sqrt(its genres), "year:Y" for its
title's year rounded down to 5, x = 1, and "raters", x = 1, where the
model has it), unknown ones dropped;
    mu + bu + sum_j x_j bias_j + sum_{j<l} x_j x_l pair_jl
       + P[u] . sum_j x_j factors_j
clipped to the rating scale; it must match the score to TOL (default
1e-4).  Prints: rows checked, the worst absolute difference.  Exit 1 on a
mismatch or if no row was checked.
"""
import csv
import json
import math
import re
import sys


def main(argv):
    with open(argv[1]) as f:
        m = {t["name"]: t for t in json.load(f)}
    tol = float(argv[4]) if len(argv) > 4 else 1e-4
    attrs = m["model"]["attrs"]
    mu = float(attrs["mu"])
    lo, hi = float(attrs["rating_min"]), float(attrs["rating_max"])
    users = {r[0]: j for j, r in enumerate(m["users"]["rows"])}
    items = {r[0] for r in m["items"]["rows"]}
    uf = m["user_factors"]["rows"]
    feats = {r[0]: j for j, r in enumerate(m["item_features"]["rows"])}
    frows = m["item_features"]["rows"]
    movies = {}
    with open(argv[2]) as f:
        for r in csv.DictReader(f):
            y = re.search(r"\((\d{4})\)\s*$", r["title"])
            movies[r["movieId"]] = (r["genres"].split("|") if r["genres"] else [],
                                    int(y.group(1)) if y else 0)
    worst, n = 0.0, 0
    with open(argv[3]) as f:
        for r in csv.DictReader(f):
            if r["item"] in items or r["item"] not in movies:
                continue
            genres, year = movies[r["item"]]
            fx = [("genre:" + g, 1 / math.sqrt(len(genres))) for g in genres]
            if year > 0:
                fx.append(("year:%d" % (year - year % 5), 1.0))
            fx.append(("raters", 1.0))
            fx = [(feats[k], x) for k, x in fx if k in feats]
            b = math.fsum(x * frows[j][1] for j, x in fx)
            b += math.fsum(fx[a][1] * fx[c][1] * frows[fx[a][0]][3][fx[c][0]]
                           for a in range(len(fx)) for c in range(a + 1, len(fx)))
            y = mu + b
            u = users.get(r["user"])
            if u is not None:
                q = [math.fsum(x * frows[j][2][c] for j, x in fx)
                     for c in range(len(uf[u][1]))]
                y += uf[u][0] + math.fsum(p * v for p, v in zip(uf[u][1], q))
            y = min(hi, max(lo, y))
            d = abs(y - float(r["score"]))
            if d > tol:
                sys.exit("newitem_check.py: %s -> %s: score %s, computed %.7g" %
                         (r["user"], r["item"], r["score"], y))
            worst, n = max(worst, d), n + 1
    if n == 0:
        sys.exit("newitem_check.py: no new item was scored")
    print(n, "%.3g" % worst)


main(sys.argv)
