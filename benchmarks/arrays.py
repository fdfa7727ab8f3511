"""Array-form workloads: GradBench's ode, gmm and a batched lstm written with whole-array
NumPy operations (loops only over time steps, components and layers), at sizes where the
device matters. The same code runs on the torch backend, under PyTorch eager autograd
(`adjoin.testing.torch_eager`) and, for CPython, on NumPy.

Definitions follow benchmarks/workloads.py; where the array form differs it says so:
gmm takes the lower triangles of Q as a (K, D, D) array with a mask (instead of packed
vectors), and the lstm runs B sequences side by side.
"""
from __future__ import annotations

import math

import numpy as np


def ode_rhs(x, y):
    """f(y)_0 = x_0, f(y)_i = x_i * y_{i-1}, as a shifted copy."""
    z = np.ones_like(y)
    z[1:] = y[:-1]
    return x * z


def ode(x, s):
    y = np.zeros_like(x)
    h = 2.0 / s
    for _ in range(s):
        k1 = ode_rhs(x, y)
        k2 = ode_rhs(x, y + (h / 2) * k1)
        k3 = ode_rhs(x, y + (h / 2) * k2)
        k4 = ode_rhs(x, y + h * k3)
        y = y + (h / 6) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return np.sum(y)


def make_ode(n, s, seed=0):
    rng = np.random.default_rng(seed)
    return ode, [rng.uniform(0.0, 1.0, n), s], [0]


def gmm(alpha, mu, q, L, X, mask, eye):
    n, d = X.shape
    k_count = alpha.shape[0]
    beta = np.zeros((n, k_count))
    for k in range(k_count):
        Q = L[k] * mask + eye * np.exp(q[k])
        diff = X - mu[k]
        t = diff @ Q.T
        beta[:, k] = alpha[k] + np.sum(q[k]) - 0.5 * np.sum(t * t, axis=1)
    top = np.amax(beta, axis=1)
    lse = top + np.log(np.sum(np.exp(beta - top.reshape(n, 1)), axis=1))
    atop = np.amax(alpha)
    alse = atop + np.log(np.sum(np.exp(alpha - atop)))
    prior = 0.5 * (np.sum(np.exp(q) ** 2) + np.sum((L * mask) ** 2)) - 0.0 * np.sum(q)
    const = -n * d * 0.5 * math.log(2.0 * math.pi)
    return const + np.sum(lse) - n * alse - prior


def make_gmm(d, k, n, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.tril(np.ones((d, d)), -1)
    args = [rng.standard_normal(k), rng.standard_normal((k, d)), 0.1 * rng.standard_normal((k, d)),
            0.1 * rng.standard_normal((k, d, d)) * mask, rng.standard_normal((n, d)), mask,
            np.eye(d)]
    return gmm, args, [0, 1, 2, 3]


def lstm_batched(main, extra, state, seq):
    """B sequences at once: seq (C, B, b), state (2L, B, b); weights as in benchmarks/workloads.py."""
    layers = state.shape[0] // 2
    c_count = seq.shape[0]
    b = seq.shape[2]
    hs = np.copy(state)
    total = 0.0
    for t in range(c_count - 1):
        x = seq[t] * extra[0]
        for l in range(layers):
            w = main[2 * l]
            bias = main[2 * l + 1]
            h = hs[2 * l]
            c = hs[2 * l + 1]
            f = 1.0 / (1.0 + np.exp(-(x * w[0:b] + bias[0:b])))
            i = 1.0 / (1.0 + np.exp(-(h * w[b:2 * b] + bias[b:2 * b])))
            o = 1.0 / (1.0 + np.exp(-(x * w[2 * b:3 * b] + bias[2 * b:3 * b])))
            g = np.tanh(h * w[3 * b:4 * b] + bias[3 * b:4 * b])
            c = c * f + i * g
            h = o * np.tanh(c)
            hs[2 * l] = h
            hs[2 * l + 1] = c
            x = h
        yhat = x * extra[1] + extra[2]
        lse = np.log(np.sum(np.exp(yhat), axis=1) + 2.0)
        total += np.sum(seq[t + 1] * (yhat - lse.reshape(seq.shape[1], 1)))
    return -total / ((c_count - 1) * b * seq.shape[1])


def lstm_batched_lists(main, extra, state, seq):
    """`lstm_batched` with the states in a Python list: PyTorch eager autograd refuses the
    in-place state writes of the array version (adjoin runs either)."""
    layers = state.shape[0] // 2
    c_count = seq.shape[0]
    b = seq.shape[2]
    hs = [state[k] for k in range(2 * layers)]
    total = 0.0
    for t in range(c_count - 1):
        x = seq[t] * extra[0]
        for l in range(layers):
            w = main[2 * l]
            bias = main[2 * l + 1]
            h = hs[2 * l]
            c = hs[2 * l + 1]
            f = 1.0 / (1.0 + np.exp(-(x * w[0:b] + bias[0:b])))
            i = 1.0 / (1.0 + np.exp(-(h * w[b:2 * b] + bias[b:2 * b])))
            o = 1.0 / (1.0 + np.exp(-(x * w[2 * b:3 * b] + bias[2 * b:3 * b])))
            g = np.tanh(h * w[3 * b:4 * b] + bias[3 * b:4 * b])
            c = c * f + i * g
            h = o * np.tanh(c)
            hs[2 * l] = h
            hs[2 * l + 1] = c
            x = h
        yhat = x * extra[1] + extra[2]
        lse = np.log(np.sum(np.exp(yhat), axis=1) + 2.0)
        total += np.sum(seq[t + 1] * (yhat - lse.reshape(seq.shape[1], 1)))
    return -total / ((c_count - 1) * b * seq.shape[1])


#: where PyTorch eager cannot run a workload's code, the variant it runs instead
EAGER_VARIANT = {lstm_batched: lstm_batched_lists}


def make_lstm_batched(layers, chars, batch, b=14, seed=0):
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal((2 * layers, 4 * b)), rng.standard_normal((3, b)),
            rng.standard_normal((2 * layers, batch, b)),
            (rng.random((chars, batch, b)) < 0.5).astype(np.float64)]
    return lstm_batched, args, [0, 1]


MAKERS = {"ode": make_ode, "gmm": make_gmm, "lstm": make_lstm_batched}
SIZES = {
    "small": [("ode", (1000, 10)), ("gmm", (8, 5, 200)), ("lstm", (2, 16, 32))],
    "full": [("ode", (10 ** 5, 10)), ("ode", (10 ** 6, 10)),
             ("gmm", (64, 25, 10 ** 4)), ("gmm", (64, 25, 10 ** 5)),
             ("lstm", (2, 64, 1024))],
}
