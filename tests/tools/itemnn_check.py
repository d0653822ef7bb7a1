#!/usr/bin/env python3
"""itemnn_check.py - item-neighbour models (ease, rp3b) checked from outside the C code.

usage:
  itemnn_check.py weights MODEL.json
      prints the model's weights as "item neighbor weight" lines (raw ids,
      weight to 7 significant digits), sorted by (item, neighbor)
  itemnn_check.py ease MODEL.json LAMBDA TOL
      EASE recomputed with NumPy in double precision from the model's own
      training ratings (its 'seen' table, binary): G = X'X + LAMBDA I,
      P = inv(G) (a dense inverse, not a Cholesky), B = I - P diag(1/P_jj),
      diag 0; with the model's time kernel (attributes time_window T and
      time_weight w), G also sums w exp(-|t_ui - t_uj| / T) over each user's
      pairs of items, from the seen table's timestamps.  Every stored weight must match B to TOL times max|B|, and
      every weight of B above that must be stored (a model fitted with
      --keep >= the number of items)
  itemnn_check.py rp3b MODEL.json ALPHA BETA TOL
      RP3beta recomputed with NumPy: W = (D_I^-1 X')^alpha (D_U^-1 X)^alpha
      / pop^beta, diag 0; the same comparison
  itemnn_check.py explain MODEL.json EXPLAIN.json TOL
      for every recommendation of mf-score --explain --because 0: the score
      is the sum over the user's history of w(j, i) (computed here from
      the neighbors table), and so is the sum of the contributions, each
      history item once, to TOL relative

MODEL.json, EXPLAIN.json: cfdump.py --json output.  NumPy: Debian's
python3-numpy (tools/deps.sh).  Exit 1 with a message on any mismatch.
"""
import json
import math
import os
import sys

try:
    import numpy  # noqa: F401  (Debian's python3-numpy)
except ImportError:
    # A python3 first on PATH that is not Debian's (pyenv, a venv) lacks it:
    # run under the system interpreter that has it.
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and \
            os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("itemnn_check.py: NumPy is missing: apt-get install python3-numpy (make deps)")


def tables(path):
    with open(path) as f:
        return {t["name"]: t for t in json.load(f)}


def seen_matrix(m):
    import numpy as np
    nu, ni = len(m["users"]["rows"]), len(m["items"]["rows"])
    X = np.zeros((nu, ni))
    for r in m["seen"]["rows"]:
        X[r[0], r[1]] = 1.0
    return X


def stored(m):
    import numpy as np
    ni = len(m["items"]["rows"])
    W = np.zeros((ni, ni))
    for j, i, w in m["neighbors"]["rows"]:
        W[j, i] = w
    return W


def compare(name, W, ref, tol):
    import numpy as np
    scale = np.abs(ref).max()
    err = np.abs(W - ref).max() / scale
    if not err <= tol:
        j, i = np.unravel_index(np.argmax(np.abs(W - ref)), W.shape)
        sys.exit("itemnn_check.py: %s: w(%d -> %d) is %.9g, the reference %.9g "
                 "(error %.3g of max|w| > %g)" % (name, j, i, W[j, i], ref[j, i], err, tol))
    print("%s: %d x %d weights match the NumPy reference, worst error %.3g of max|w| %.4g"
          % (name, W.shape[0], W.shape[1], err, scale))


def time_gram(m, ni):
    """The co-rating time kernel's part of G, from the model's own attributes
    (time_window T, time_weight w): sum over users of w exp(-|t_i - t_j| / T)
    over each pair of their items (the pair i, i included: w on the diagonal)."""
    import numpy as np
    a = m["model"]["attrs"]
    T, w = float(a.get("time_window", 0)), float(a.get("time_weight", 0))
    K = np.zeros((ni, ni))
    if T <= 0 or w <= 0:
        return K
    by = {}
    for r in m["seen"]["rows"]:
        by.setdefault(r[0], []).append((r[1], float(r[3])))
    for rows in by.values():
        it = np.array([x[0] for x in rows])
        t = np.array([x[1] for x in rows])
        K[np.ix_(it, it)] += w * np.exp(-np.abs(t[:, None] - t[None, :]) / T)
    return K


def ease(m, lam, tol):
    import numpy as np
    X = seen_matrix(m)
    G = X.T @ X + time_gram(m, X.shape[1]) + lam * np.eye(X.shape[1])
    P = np.linalg.inv(G)
    B = -P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    # items nobody rated are outside the catalogue: no weights
    rated = X.sum(axis=0) > 0
    B[~rated, :] = 0
    B[:, ~rated] = 0
    compare("ease", stored(m), B, tol)


def rp3b(m, alpha, beta, tol):
    import numpy as np
    X = seen_matrix(m)
    nu_i = X.sum(axis=1)            # items per user
    nu_u = X.sum(axis=0)            # users per item
    with np.errstate(divide="ignore"):
        Piu = np.where(X.T > 0, (X.T / np.maximum(nu_u, 1)[:, None]), 0.0) ** alpha
        Pui = np.where(X > 0, (X / np.maximum(nu_i, 1)[:, None]), 0.0) ** alpha
    W = Piu @ Pui
    pen = np.where(nu_u > 0, np.maximum(nu_u, 1) ** -beta, 0.0)
    W = W * pen[None, :]
    np.fill_diagonal(W, 0.0)
    compare("rp3b", stored(m), W, tol)


def weights(m):
    ids = [r[0] for r in m["items"]["rows"]]
    for j, i, w in sorted(m["neighbors"]["rows"]):
        print("%s %s %.7g" % (ids[j], ids[i], w))


def explain(m, e, tol):
    users = {r[0]: u for u, r in enumerate(m["users"]["rows"])}
    items = {r[0]: i for i, r in enumerate(m["items"]["rows"])}
    ids = [r[0] for r in m["items"]["rows"]]
    w = {}
    for j, i, x in m["neighbors"]["rows"]:
        w[(j, i)] = x
    hist = {}
    for r in m["seen"]["rows"]:
        hist.setdefault(r[0], []).append(r[1])
    contrib = {}
    for r in e["explanations"]["rows"]:
        contrib.setdefault((r[0], r[1]), []).append((r[2], r[3]))
    worst, n = 0.0, 0
    for r in e["topk"]["rows"]:
        u, i, score = r[0], r[1], r[2]
        h = hist.get(users[u], [])
        want = math.fsum(w.get((j, items[i]), 0.0) for j in h)
        c = contrib.get((u, i), [])
        if sorted(b for b, _ in c) != sorted(ids[j] for j in h):
            sys.exit("itemnn_check.py: %s -> %s: %d contributions for %d history items"
                     % (u, i, len(c), len(h)))
        for x, what in ((score, "score"), (math.fsum(v for _, v in c), "contributions")):
            rel = abs(x - want) / max(abs(want), 1e-6)
            if rel > tol:
                sys.exit("itemnn_check.py: %s -> %s: %s %.9g, the history's weights sum to "
                         "%.9g (relative %.3g > %g)" % (u, i, what, x, want, rel, tol))
            worst = max(worst, rel)
        n += 1
    if n == 0:
        sys.exit("itemnn_check.py: no recommendations to check")
    print("%d recommendations: scores and contributions are the history's weights, worst "
          "relative error %.3g" % (n, worst))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    m = tables(argv[2])
    if argv[1] == "weights":
        weights(m)
    elif argv[1] == "ease":
        ease(m, float(argv[3]), float(argv[4]))
    elif argv[1] == "rp3b":
        rp3b(m, float(argv[3]), float(argv[4]), float(argv[5]))
    elif argv[1] == "explain":
        explain(m, tables(argv[3]), float(argv[4]))
    else:
        sys.exit(__doc__)


main(sys.argv)
