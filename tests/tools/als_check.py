#!/usr/bin/env python3
"""als_check.py - checks an als or ials model's last half-step from outside
the C code: every user's factors (and bias) must solve that user's
regularized least-squares problem against the model's own item factors.

usage: als_check.py MODEL.json TOL
       als_check.py --items A.json B.json TOL

MODEL.json is a model dumped by cfdump.py --json.  Its 'seen' table is the
training data; its attributes give reg, reg_bias, alpha, alpha0, nu and
the penalty weights.  The normal equations, written here from the
objective (README, mf-fit --help), in float64:

  als:  z_j = [q_j; 1], y_j = r_j - mu - b_j,
        (sum z z^T + diag(reg w(n) ..., reg_bias wb(n))) [p; b] = sum y z,
        w: none 1, sqrt sqrt(n), count n.
  ials: c_j = 1 + alpha r_j,
        (alpha0 Q^T Q + sum (c_j - alpha0) q q^T + lam I) p = sum c_j q_j,
        lam = reg w(n) (n + alpha0 n_items)^nu.

Prints the largest difference relative to the largest reference value;
exit status 1 if it exceeds TOL.  --items compares two models' item
factors instead (the largest difference relative to A's largest value):
CG training ends with an exact user step, so its item factors are where
a CG solve shows.  Python 3 standard library only.
"""
import json
import math
import sys


def weight(kind, n):
    return {"none": 1.0, "sqrt": math.sqrt(n), "count": float(n)}[kind]


def solve(A, b):
    """Gaussian elimination with partial pivoting (A is small and dense)."""
    d = len(b)
    M = [row[:] + [b[r]] for r, row in enumerate(A)]
    for c in range(d):
        p = max(range(c, d), key=lambda r: abs(M[r][c]))
        M[c], M[p] = M[p], M[c]
        for r in range(c + 1, d):
            f = M[r][c] / M[c][c]
            if f:
                for j in range(c, d + 1):
                    M[r][j] -= f * M[c][j]
    x = [0.0] * d
    for r in range(d - 1, -1, -1):
        x[r] = (M[r][d] - sum(M[r][j] * x[j] for j in range(r + 1, d))) / M[r][r]
    return x


def items(path):
    with open(path) as f:
        ts = {t["name"]: t for t in json.load(f)}
    return [r[1] if isinstance(r[1], list) else [r[1]] for r in ts["item_factors"]["rows"]]


def compare_items(a, b, tol):
    A, B = items(a), items(b)
    if len(A) != len(B):
        print("als_check: %d items against %d" % (len(A), len(B)))
        return 1
    d = max(abs(x - y) for ra, rb in zip(A, B) for x, y in zip(ra, rb))
    s = max(abs(x) for r in A for x in r) or 1.0
    print("als_check: item factors differ by %.3g of %.3g (%.3g relative)" % (d, s, d / s))
    return 0 if d / s <= tol else 1


def main(argv):
    if len(argv) == 5 and argv[1] == "--items":
        return compare_items(argv[2], argv[3], float(argv[4]))
    if len(argv) != 3:
        sys.stderr.write("usage: als_check.py MODEL.json TOL\n")
        return 2
    with open(argv[1]) as f:
        ts = {t["name"]: t for t in json.load(f)}
    tol = float(argv[2])
    a = ts["model"]["attrs"]
    algo, k, mu = a["algo"], int(a["k"]), float(a["mu"])
    reg = float(a["reg"])
    rw = a.get("reg_weight", "none")
    vec = lambda row: row[1] if isinstance(row[1], list) else [row[1]]
    Q = [vec(r) for r in ts["item_factors"]["rows"]]
    bi = [r[0] for r in ts["item_factors"]["rows"]]
    P = [vec(r) for r in ts["user_factors"]["rows"]]
    bu = [r[0] for r in ts["user_factors"]["rows"]]
    byu = {}
    for u, i, r, *_ in ts["seen"]["rows"]:
        byu.setdefault(u, []).append((i, r))
    if algo == "ials":
        alpha, alpha0, nu = float(a["alpha"]), float(a["alpha0"]), float(a["nu"])
        G = [[sum(q[r] * q[c] for q in Q) for c in range(k)] for r in range(k)]
    elif algo == "als":
        regb, rbw = float(a["reg_bias"]), a.get("reg_bias_weight", "none")
    else:
        sys.stderr.write("als_check.py: not an als or ials model: %s\n" % algo)
        return 2
    worst, scale = 0.0, 0.0
    for u, rows in sorted(byu.items()):
        n = len(rows)
        if algo == "ials":
            d = k
            lam = reg * weight(rw, n) * (n + alpha0 * len(Q)) ** nu
            A = [[alpha0 * G[r][c] + (lam if r == c else 0.0) for c in range(d)]
                 for r in range(d)]
            b = [0.0] * d
            for i, val in rows:
                c, q = 1 + alpha * val, Q[i]
                for r in range(d):
                    b[r] += c * q[r]
                    for cc in range(d):
                        A[r][cc] += (c - alpha0) * q[r] * q[cc]
            got = P[u]
        else:
            d = k + 1
            A = [[0.0] * d for _ in range(d)]
            b = [0.0] * d
            for i, val in rows:
                z, y = Q[i] + [1.0], val - mu - bi[i]
                for r in range(d):
                    b[r] += y * z[r]
                    for cc in range(d):
                        A[r][cc] += z[r] * z[cc]
            for r in range(k):
                A[r][r] += reg * weight(rw, n)
            A[k][k] += regb * weight(rbw, n)
            got = P[u] + [bu[u]]
        x = solve(A, b)
        scale = max(scale, max(abs(v) for v in x))
        worst = max(worst, max(abs(g - v) for g, v in zip(got, x)))
    rel = worst / scale if scale else worst
    print("als_check: %s, %d users: largest difference %.3g of %.3g (%.3g relative)"
          % (algo, len(byu), worst, scale, rel))
    return 0 if rel <= tol else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
