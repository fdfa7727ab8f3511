"""The benchmark workloads, written the way a Python user writes them.

Plain loops, NumPy arrays, element writes; no special types. Definitions follow
the workload notes (GradBench's llsq, ode, lstm, gmm; lstm and ode's right-hand side are
the GradBench adapter's own functions); kmeans, det, ba and ht are the
models of the GradBench adapter (adjoin.gradbench), ba and ht reduced to their sum of
squared residuals. Each `make_*` returns the function, its arguments for a size, and the
indices to differentiate.
"""
from __future__ import annotations

import math

import numpy as np

from adjoin.gradbench import models_ml as _ml
from adjoin.gradbench import models_scalar as _sc
from adjoin.gradbench import models_vision as _mv


# -- llsq: linear least squares ----------------------------------------------------


def llsq(x, n):
    m = len(x)
    total = 0.0
    for i in range(n):
        t = -1.0 + 2.0 * i / (n - 1)
        s = 1.0 if t > 0.0 else (-1.0 if t < 0.0 else 0.0)
        acc = 0.0
        p = 1.0
        for j in range(m):
            acc += x[j] * p
            p *= t
        r = s - acc
        total += r * r
    return 0.5 * total


def make_llsq(n, m=128, seed=0):
    rng = np.random.default_rng(seed)
    return llsq, (rng.standard_normal(m) * 0.1, n), (0,)


# -- ode: RK4 integration ---------------------------------------------------------------


ode_rhs = _sc.ode_rhs  # the right-hand side, shared with the GradBench adapter


def ode(x, s):
    h = 2.0 / s
    y = np.zeros(len(x))
    for _ in range(s):
        k1 = ode_rhs(x, y)
        k2 = ode_rhs(x, y + h / 2 * k1)
        k3 = ode_rhs(x, y + h / 2 * k2)
        k4 = ode_rhs(x, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.sum(y)


def make_ode(n, s, seed=0):
    rng = np.random.default_rng(seed)
    return ode, (rng.uniform(0.0, 1.0, n), s), (0,)


# -- lstm: a character-level LSTM ----------------------------------------------------------


sigmoid = _ml.sigmoid
lstm = _ml.lstm  # the LSTM as the GradBench adapter writes it (plain loops, element writes)


def make_lstm(layers, chars, b=14, seed=0):
    rng = np.random.default_rng(seed)
    main = rng.standard_normal((2 * layers, 4 * b)) * 0.5
    extra = rng.standard_normal((3, b)) * 0.5
    state = rng.standard_normal((2 * layers, b)) * 0.5
    seq = (rng.uniform(size=(chars, b)) > 0.5).astype(np.float64)
    return lstm, (main, extra, state, seq), (0, 1)


# -- gmm: Gaussian mixture log-likelihood ------------------------------------------------------


def gmm(alpha, mu, q, l, X):
    n_points, d = X.shape
    k_count = alpha.shape[0]
    qs = np.zeros((k_count, d, d))
    for k in range(k_count):
        idx = 0
        for j in range(d):
            qs[k, j, j] = math.exp(q[k, j])
            for r in range(j + 1, d):
                qs[k, r, j] = l[k, idx]
                idx += 1
    sum_q = np.sum(q, axis=1)
    total = 0.0
    for i in range(n_points):
        beta = np.zeros(k_count)
        for k in range(k_count):
            y = qs[k] @ (X[i] - mu[k])
            beta[k] = alpha[k] + sum_q[k] - 0.5 * np.dot(y, y)
        top = np.max(beta)
        total += top + math.log(np.sum(np.exp(beta - top)))
    top = np.max(alpha)
    lse_alpha = top + math.log(np.sum(np.exp(alpha - top)))
    reg = 0.0
    for k in range(k_count):
        reg += 0.5 * (np.sum(np.exp(q[k]) ** 2) + np.sum(l[k] ** 2))
    n = d + 1
    log_gamma_d = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(d):
        log_gamma_d += math.lgamma(0.5 * n - 0.5 * j)
    const = -n_points * d * 0.5 * math.log(2.0 * math.pi) + \
        k_count * (n * d * math.log(1.0 / math.sqrt(2.0)) - log_gamma_d)
    return const + total - n_points * lse_alpha - reg


def make_gmm(d, k, n=1000, seed=0):
    rng = np.random.default_rng(seed)
    alpha = rng.standard_normal(k)
    mu = rng.standard_normal((k, d))
    q = rng.standard_normal((k, d)) * 0.1
    l = rng.standard_normal((k, d * (d - 1) // 2)) * 0.1
    X = rng.standard_normal((n, d))
    return gmm, (alpha, mu, q, l, X), (0, 1, 2, 3)


# -- kmeans, det, ba, ht: the GradBench adapter's plain-Python models -----------------------
# (the functions GradBench's evals run; ba and ht summed to one float, as least squares does)

kmeans = _ml.kmeans_cost
det = _sc.det_flat


def make_kmeans(n, k, d=8, seed=0):
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((n, d))
    return kmeans, (points, points[:k] + 0.01), (1,)


def make_det(ell, seed=0):
    rng = np.random.default_rng(seed)
    return det, (rng.standard_normal(ell * ell), ell), (0,)


def ba(cams, X, w, obs, feats):
    err = _mv.ba_objective(cams, X, w, obs, feats)
    w_err = _mv.ba_weight_error(w)
    return np.sum(err * err) + np.sum(w_err * w_err)


def make_ba(n, m, p, seed=0):
    rng = np.random.default_rng(seed)
    cams = np.concatenate([0.1 * rng.standard_normal((n, 6)), 1.0 + 0.1 * rng.uniform(size=(n, 1)),
                           0.1 * rng.standard_normal((n, 2)), 0.01 * rng.standard_normal((n, 2))],
                          axis=1)
    X = rng.standard_normal((m, 3)) + np.array([0.0, 0.0, 5.0])
    obs = np.stack([np.arange(p) % n, np.arange(p) % m], axis=1).astype(np.int64)
    return ba, (cams, X, rng.uniform(0.5, 1.5, p), obs, rng.standard_normal((p, 2))), (0, 1, 2)


def ht(theta, parents, base_relatives, inverse_base_absolutes, base_positions, weights,
       mirrored, correspondences, points):
    err = _mv.ht_objective(theta, parents, base_relatives, inverse_base_absolutes,
                           base_positions, weights, mirrored, correspondences, points)
    return np.sum(err * err)


def make_ht(vertices, points, seed=0):
    from adjoin.gradbench.evals_sparse import synthetic_ht_input
    inp = synthetic_ht_input(seed, vertices, points)
    model, data = inp["data"]["model"], inp["data"]
    args = (np.array(inp["theta"]), np.array(model["parents"]),
            np.array(model["base_relatives"]), np.array(model["inverse_base_absolutes"]),
            np.array(model["base_positions"]), np.array(model["weights"]), False,
            np.array(data["correspondences"]), np.array(data["points"]))
    return ht, args, (0,)
