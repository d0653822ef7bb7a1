#!/usr/bin/env python3
"""finetune.py - checks what fine-tuning must keep, from outside the C code.

usage: finetune.py BEFORE.json AFTER.json BATCH.csv

BEFORE and AFTER are models dumped by cfdump.py --json; BATCH.csv the new
ratings (header user,item,rating; raw ids).  Checks, with the independent
reader's values:
  - every user and item the batch does not name keeps its bias and factors
    bit for bit (the shortest round-trip decimals of binary32 are equal);
  - the users and items it names changed;
  - AFTER's seen table holds BEFORE's pairs plus the batch's, the batch's
    rating winning on a pair both have.
Prints one summary line; exit status 1 on the first failure.
"""
import csv
import json
import sys


def tables(path):
    with open(path) as f:
        return {t["name"]: t for t in json.load(f)}


def factors(ts, side):
    ids = [r[0] for r in ts[side + "s"]["rows"]]
    rows = ts[side + "_factors"]["rows"]
    return {i: (repr(r[0]), [repr(x) for x in (r[1] if len(r) > 1 and isinstance(r[1], list)
                                                 else r[1:])])
            for i, r in zip(ids, rows)}


def seen(ts):
    users = [r[0] for r in ts["users"]["rows"]]
    items = [r[0] for r in ts["items"]["rows"]]
    return {(users[r[0]], items[r[1]]): r[2] for r in ts["seen"]["rows"]}


def main(argv):
    before, after = tables(argv[1]), tables(argv[2])
    batch = list(csv.DictReader(open(argv[3])))
    bu = {r["user"] for r in batch}
    bi = {r["item"] for r in batch}
    for side, touched in (("user", bu), ("item", bi)):
        fb, fa = factors(before, side), factors(after, side)
        kept = changed = 0
        for i, v in fb.items():
            if i in touched:
                changed += fa[i] != v
            elif fa.get(i) != v:
                sys.exit("finetune.py: %s %s changed: %s -> %s" % (side, i, v, fa.get(i)))
            else:
                kept += 1
        known = len(touched & set(fb))
        if changed != known:
            sys.exit("finetune.py: %d of %d touched %ss changed" % (changed, known, side))
        print("%ss: %d untouched kept bit for bit, %d touched re-fitted" % (side, kept, changed))
    want = seen(before)
    for r in batch:
        want[(r["user"], r["item"])] = float(r["rating"])
    got = seen(after)
    if got != want:
        sys.exit("finetune.py: the seen table is not the old ratings plus the batch's")
    print("seen: %d ratings, the batch's %d merged" % (len(got), len(batch)))


main(sys.argv)
