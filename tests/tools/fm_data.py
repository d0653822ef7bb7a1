#!/usr/bin/env python3
"""fm_data.py - generated ratings with a known model for the fm tests.

  fm_data.py gen DIR      writes DIR/train.csv, DIR/test.csv, DIR/movies.csv
                          and DIR/truth.csv (each test pair's noise-free mean)
  fm_data.py genusers DIR writes DIR/utrain.csv, DIR/utest.csv and
                          DIR/users.csv (userId, age, gender, occupation)
  fm_data.py gentime DIR  writes DIR/ttrain.csv, DIR/ttest.csv (with
                          timestamps) and DIR/ttest-nots.csv (the same
                          rows without)
  fm_data.py ucheck DIR PAIRS_A.csv PAIRS_B.csv
                          prints, over the test ratings of cold users (<= 3
                          training ratings): n_cold rmse_a rmse_b
  fm_data.py check DIR PAIRS_FM.csv PAIRS_ALS.csv
                          prints: n floor fm als  and, over the test ratings
                          of cold items (<= 3 training ratings):
                          n_cold fm_cold als_cold

The true model: r = 3.5 + bu + bi + pu.qi + N(0, 0.8^2), rank 4, where an
item's bias and factors are the mean of its genres' (1 to 3 of 10 genres)
plus a small item-specific part, so that genres tell a cold item's
ratings.  Item popularity is Zipf-like: many items have few ratings.
For genusers: r = 3.5 + bu + bi + pu.qi + N(0, 0.5^2), rank 3, where a
user's bias and factors are mostly its occupation's (8 of them) and its
age's (a bias of 0.02 per year from 40); gender carries nothing.  A
third of the users are cold: 2 training ratings and 10 test ones.
For gentime: r = 3.5 + bu + bi + pu.qi + b_{u,day} + b_week + N(0, 0.4^2),
rank 3, each user rating on 6 days of a 20-week span, a user-day's bias
N(0, 0.6^2) (timeSVD++'s b_{u,t}), a week's N(0, 0.2^2); a random fifth of
the ratings is the test set (its user-days mostly seen in training).
Stdlib only; the same bytes on every run (seeded).
"""
import csv
import math
import random
import sys

NU, NI, NG, RANK, PER_USER, NOISE = 400, 2000, 10, 4, 200, 0.8


def gen(d):
    rnd = random.Random(20261201)
    gv = [[rnd.gauss(0, 0.55) for _ in range(RANK)] for _ in range(NG)]
    gb = [rnd.gauss(0, 0.45) for _ in range(NG)]
    genres, q, bi = [], [], []
    for _ in range(NI):
        gs = rnd.sample(range(NG), rnd.randint(1, 3))
        genres.append(gs)
        q.append([sum(gv[g][f] for g in gs) / len(gs) + rnd.gauss(0, 0.15)
                  for f in range(RANK)])
        bi.append(sum(gb[g] for g in gs) / len(gs) + rnd.gauss(0, 0.1))
    p = [[rnd.gauss(0, 0.7) for _ in range(RANK)] for _ in range(NU)]
    bu = [rnd.gauss(0, 0.3) for _ in range(NU)]
    weight = [(r + 3) ** -1.3 for r in range(NI)]
    order = list(range(NI))
    rnd.shuffle(order)           # popularity rank -> item
    rows = []
    for u in range(NU):
        seen = set()
        while len(seen) < PER_USER:
            seen.update(order[r] for r in rnd.choices(range(NI), weight, k=PER_USER - len(seen)))
        for i in sorted(seen):
            mean = 3.5 + bu[u] + bi[i] + sum(a * b for a, b in zip(p[u], q[i]))
            rows.append((u, i, mean, min(5.0, max(0.5, mean + rnd.gauss(0, NOISE)))))
    rnd.shuffle(rows)
    cut = len(rows) // 5
    with open(d + "/test.csv", "w") as te, open(d + "/train.csv", "w") as tr, \
            open(d + "/truth.csv", "w") as th:
        te.write("userId,movieId,rating,timestamp\n")
        tr.write("userId,movieId,rating,timestamp\n")
        th.write("user,item,mean\n")
        for n, (u, i, mean, r) in enumerate(rows):
            line = "%d,%d,%.4f,%d\n" % (u + 1, i + 1, r, 1000000 + n)
            (te if n < cut else tr).write(line)
            if n < cut:
                th.write("%d,%d,%.6f\n" % (u + 1, i + 1, mean))
    with open(d + "/movies.csv", "w") as m:
        m.write("movieId,title,genres\n")
        for i in range(NI):
            m.write("%d,Movie %d (%d),%s\n" % (i + 1, i + 1, 1980 + i % 30,
                                               "|".join("G%d" % g for g in genres[i])))


def gentime(d):
    rnd = random.Random(20261207)
    nu, ni, rank, t0 = 300, 400, 3, 1500000000
    p = [[rnd.gauss(0, 0.5) for _ in range(rank)] for _ in range(nu)]
    q = [[rnd.gauss(0, 0.5) for _ in range(rank)] for _ in range(ni)]
    bu = [rnd.gauss(0, 0.3) for _ in range(nu)]
    bi = [rnd.gauss(0, 0.3) for _ in range(ni)]
    bw = [rnd.gauss(0, 0.2) for _ in range(20)]
    rows = []
    for u in range(nu):
        days = rnd.sample(range(140), 6)
        bd = {day: rnd.gauss(0, 0.6) for day in days}
        for i in rnd.sample(range(ni), 90):
            day = rnd.choice(days)
            mean = 3.5 + bu[u] + bi[i] + sum(a * b for a, b in zip(p[u], q[i])) + \
                bd[day] + bw[day // 7]
            r = min(5.0, max(0.5, mean + rnd.gauss(0, 0.4)))
            rows.append((u, i, r, t0 + day * 86400 + rnd.randrange(86400)))
    rnd.shuffle(rows)
    cut = len(rows) // 5
    with open(d + "/ttest.csv", "w") as te, open(d + "/ttrain.csv", "w") as tr, \
            open(d + "/ttest-nots.csv", "w") as tn:
        te.write("userId,movieId,rating,timestamp\n")
        tr.write("userId,movieId,rating,timestamp\n")
        tn.write("userId,movieId,rating\n")
        for n, (u, i, r, ts) in enumerate(rows):
            (te if n < cut else tr).write("%d,%d,%.4f,%d\n" % (u + 1, i + 1, r, ts))
            if n < cut:
                tn.write("%d,%d,%.4f\n" % (u + 1, i + 1, r))


def genusers(d):
    rnd = random.Random(20261202)
    nu, ni, rank, nocc = 600, 300, 3, 8
    ov = [[rnd.gauss(0, 0.6) for _ in range(rank)] for _ in range(nocc)]
    ob = [rnd.gauss(0, 0.6) for _ in range(nocc)]
    q = [[rnd.gauss(0, 0.6) for _ in range(rank)] for _ in range(ni)]
    bi = [rnd.gauss(0, 0.3) for _ in range(ni)]
    tr = ["userId,movieId,rating,timestamp\n"]
    te = ["userId,movieId,rating,timestamp\n"]
    us = ["userId,age,gender,occupation\n"]
    n = 0
    for u in range(nu):
        occ, age = rnd.randrange(nocc), rnd.randint(18, 70)
        us.append("%d,%d,%s,occ%d\n" % (u + 1, age, rnd.choice("MF"), occ))
        bu = ob[occ] + 0.02 * (age - 40) + rnd.gauss(0, 0.1)
        p = [ov[occ][f] + rnd.gauss(0, 0.15) for f in range(rank)]
        cold = u % 3 == 0
        items = rnd.sample(range(ni), 12 if cold else 60)
        for j, i in enumerate(items):
            mean = 3.5 + bu + bi[i] + sum(a * b for a, b in zip(p, q[i]))
            r = min(5.0, max(0.5, mean + rnd.gauss(0, 0.5)))
            test = j >= 2 if cold else j % 5 == 0
            (te if test else tr).append("%d,%d,%.4f,%d\n" % (u + 1, i + 1, r, 1000000 + n))
            n += 1
    for name, rows in (("utrain", tr), ("utest", te), ("users", us)):
        with open("%s/%s.csv" % (d, name), "w") as f:
            f.writelines(rows)


def ucheck(d, a_path, b_path):
    count = {}
    with open(d + "/utrain.csv") as f:
        for r in csv.DictReader(f):
            count[r["userId"]] = count.get(r["userId"], 0) + 1
    a, b = scores(a_path), scores(b_path)
    assert set(a) == set(b), "the two score files have different pairs"
    cold = [k for k in a if count.get(k[0], 0) <= 3]
    sa = sum((a[k][1] - a[k][0]) ** 2 for k in cold)
    sb = sum((b[k][1] - b[k][0]) ** 2 for k in cold)
    m = max(len(cold), 1)
    print(len(cold), "%.5f" % math.sqrt(sa / m), "%.5f" % math.sqrt(sb / m))


def scores(path):
    with open(path) as f:
        return {(r["user"], r["item"]): (float(r["score"]), float(r["rating"]))
                for r in csv.DictReader(f)}


def check(d, fm_path, als_path):
    count = {}
    with open(d + "/train.csv") as f:
        for r in csv.DictReader(f):
            count[r["movieId"]] = count.get(r["movieId"], 0) + 1
    with open(d + "/truth.csv") as f:
        truth = {(r["user"], r["item"]): float(r["mean"]) for r in csv.DictReader(f)}
    fm, als = scores(fm_path), scores(als_path)
    assert set(fm) == set(truth) == set(als), "pairs differ from the test set"
    sq = {"floor": 0.0, "fm": 0.0, "als": 0.0, "fm_cold": 0.0, "als_cold": 0.0}
    cold = 0
    for key, mean in truth.items():
        s, r = fm[key]
        a = als[key][0]
        sq["floor"] += (r - mean) ** 2
        sq["fm"] += (r - s) ** 2
        sq["als"] += (r - a) ** 2
        if count.get(key[1], 0) <= 3:
            cold += 1
            sq["fm_cold"] += (r - s) ** 2
            sq["als_cold"] += (r - a) ** 2
    n = len(truth)
    print(n, *("%.5f" % math.sqrt(sq[k] / n) for k in ("floor", "fm", "als")),
          cold, *("%.5f" % math.sqrt(sq[k] / max(cold, 1)) for k in ("fm_cold", "als_cold")))


if __name__ == "__main__":
    if sys.argv[1:2] == ["gen"] and len(sys.argv) == 3:
        gen(sys.argv[2])
    elif sys.argv[1:2] == ["gentime"] and len(sys.argv) == 3:
        gentime(sys.argv[2])
    elif sys.argv[1:2] == ["genusers"] and len(sys.argv) == 3:
        genusers(sys.argv[2])
    elif sys.argv[1:2] == ["ucheck"] and len(sys.argv) == 5:
        ucheck(*sys.argv[2:])
    elif sys.argv[1:2] == ["check"] and len(sys.argv) == 5:
        check(*sys.argv[2:])
    else:
        sys.exit(__doc__)
