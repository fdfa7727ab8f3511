"""The benchmark workloads, written the way a Python user writes them.

Plain loops, NumPy arrays, element writes; no special types. Definitions follow
the workload notes (GradBench's llsq, ode, lstm, gmm). Each `make_*` returns
the function, its arguments for a size, and the indices to differentiate.
"""
from __future__ import annotations

import math

import numpy as np


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


def ode_rhs(x, y):
    n = len(x)
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = x[i] * y[i - 1]
    return out


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


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm(main, extra, state, seq):
    n_layers = main.shape[0] // 2
    b = seq.shape[1]
    count = seq.shape[0]
    st = np.copy(state)
    total = 0.0
    for t in range(count - 1):
        x = seq[t] * extra[0]
        for layer in range(n_layers):
            w = main[2 * layer]
            bias = main[2 * layer + 1]
            h = st[2 * layer]
            c = st[2 * layer + 1]
            f = sigmoid(x * w[0:b] + bias[0:b])
            i = sigmoid(h * w[b:2 * b] + bias[b:2 * b])
            o = sigmoid(x * w[2 * b:3 * b] + bias[2 * b:3 * b])
            g = np.tanh(h * w[3 * b:4 * b] + bias[3 * b:4 * b])
            c = c * f + i * g
            h = o * np.tanh(c)
            st[2 * layer] = h
            st[2 * layer + 1] = c
            x = h
        yhat = x * extra[1] + extra[2]
        lse = np.log(np.sum(np.exp(yhat)) + 2.0)
        total += np.sum(seq[t + 1] * (yhat - lse))
    return -total / ((count - 1) * b)


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
