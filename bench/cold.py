#!/usr/bin/env python3
"""cold.py TRAIN.csv MAXN PAIRS.csv... - RMSE of each model's `mf-score
--pairs` output (bin2csv'd: user,item,score,rating) over all pairs and over
the pairs whose item has at most MAXN ratings in TRAIN.csv (bin2csv
--decode of the train set: user,item,rating,...).  Prints per file:
  FILE n rmse n_cold rmse_cold
Stdlib only."""
import csv
import math
import sys


def main(train, maxn, files):
    count = {}
    with open(train) as f:
        for r in csv.DictReader(f):
            count[r["item"]] = count.get(r["item"], 0) + 1
    for path in files:
        n = nc = 0
        s = sc = 0.0
        with open(path) as f:
            for r in csv.DictReader(f):
                d = (float(r["score"]) - float(r["rating"])) ** 2
                n += 1
                s += d
                if count.get(r["item"], 0) <= maxn:
                    nc += 1
                    sc += d
        print(path, n, "%.4f" % math.sqrt(s / n), nc, "%.4f" % math.sqrt(sc / max(nc, 1)))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
