#!/usr/bin/env python3
"""pyreader_check.py - checks python/cinefilter.py (the NumPy reader)
against independent sources: cfdump.py (the stdlib reader written from
the spec), bin2csv's CSV and mf-score's output.  Needs NumPy.

usage:
  pyreader_check.py same STREAM          every table, column and attribute
                                         as cfdump.py --json reads them
  pyreader_check.py model MODEL IDS.csv SCORES.csv
        IDS.csv: `bin2csv --ids -t item_factors`; SCORES.csv: `mf-score
        --user U | bin2csv`: the factor rows beside their ids, and
        Model.scores(U) for the items in SCORES.csv
  pyreader_check.py bad STREAM OFFSET    reading fails: FrameError at OFFSET
Exit 0 when everything agrees; else one line per disagreement, exit 1.
"""
import csv
import json
import math
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import cinefilter  # noqa: E402

bad = []


def same_value(tname, got, want):
    if tname == "f32":
        w = np.float32(want)
        return (math.isnan(got) and math.isnan(w)) or np.float32(got).tobytes() == w.tobytes()
    if tname == "f64":
        return (math.isnan(got) and math.isnan(want)) or float(got) == float(want)
    if tname == "str":
        return got == want
    return int(got) == int(want)


def check_same(path):
    ref = json.loads(subprocess.run([sys.executable, os.path.join(HERE, "cfdump.py"), "--json", path],
                                    check=True, capture_output=True).stdout)
    got = cinefilter.read(path)
    if len(got) != len(ref):
        bad.append("%d tables, cfdump read %d" % (len(got), len(ref)))
        return
    want_dtype = {"u8": "uint8", "i32": "int32", "u32": "uint32", "i64": "int64",
                  "u64": "uint64", "f32": "float32", "f64": "float64", "str": "object"}
    for t, r in zip(got, ref):
        if t.name != r["name"] or t.attrs != r["attrs"] or t.nrows != len(r["rows"]):
            bad.append("table %s: name, attributes or row count differ" % t.name)
            continue
        if list(t.columns) != [c["name"] for c in r["columns"]]:
            bad.append("table %s: columns %s" % (t.name, list(t.columns)))
            continue
        for ci, c in enumerate(r["columns"]):
            a = t[c["name"]]
            shape = (t.nrows, c["width"]) if c["width"] > 1 else (t.nrows,)
            if a.shape != shape or a.dtype != np.dtype(want_dtype[c["type"]]) or \
               t.types[c["name"]] != (c["type"], c["width"]):
                bad.append("%s.%s: shape %s dtype %s" % (t.name, c["name"], a.shape, a.dtype))
                continue
            for ri, row in enumerate(r["rows"]):
                cell = row[ci]
                vals = cell if c["width"] > 1 else [cell]
                gots = a[ri] if c["width"] > 1 else [a[ri]]
                for g, w in zip(gots, vals):
                    if not same_value(c["type"], g, w):
                        bad.append("%s.%s row %d: %r, cfdump %r" % (t.name, c["name"], ri, g, w))
                        break


def check_model(path, ids_csv, scores_csv):
    m = cinefilter.read_model(path)
    with open(ids_csv, newline="") as f:
        rows = list(csv.reader(f))
    if rows[0][:2] != ["id", "bias"] or len(rows) - 1 != len(m.items):
        bad.append("ids csv: header %s, %d rows for %d items" % (rows[0][:2], len(rows) - 1, len(m.items)))
        return
    for i, row in enumerate(rows[1:]):
        if row[0] != m.items[i] or m.item_index[row[0]] != i or \
           np.float32(row[1]) != m.item_bias[i] or \
           not np.array_equal(np.array(row[2:], dtype=np.float32), m.item_factors[i]):
            bad.append("item row %d (%s): differs from bin2csv --ids" % (i, row[0]))
            break
    with open(scores_csv, newline="") as f:
        sc = list(csv.DictReader(f))
    user = sc[0]["user"]
    s = m.scores(user)
    worst = max(abs(float(r["score"]) - float(s[m.item_index[r["item"]]])) for r in sc)
    # mf-score sums in its own order (BLAS): agreement to float32 rounding.
    if worst > 1e-5:
        bad.append("scores of user %s: off mf-score's by up to %g" % (user, worst))


def check_bad(path, offset):
    try:
        cinefilter.read(path)
    except cinefilter.FrameError as e:
        if e.offset != offset or not str(e).startswith("%s: byte %d: " % (path, offset)):
            bad.append("error at byte %d, wanted %d: %s" % (e.offset, offset, e))
        return
    bad.append("%s read without an error" % path)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "same":
        check_same(sys.argv[2])
    elif mode == "model":
        check_model(*sys.argv[2:5])
    elif mode == "bad":
        check_bad(sys.argv[2], int(sys.argv[3]))
    for b in bad:
        print(b, file=sys.stderr)
    sys.exit(1 if bad else 0)
