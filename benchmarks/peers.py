"""Peer columns of the benchmark table: Numba's njit primal and JAX's jit(grad).

Numba runs the very same plain-Python workloads (it has no gradients: it stands
for the speed of the primal on LLVM). JAX cannot jit Python loops without
unrolling them, so it gets `lax` rewrites, written the way a JAX user would
(det by its nonrecursive permutation expansion; ht has none).
Both are optional (`pip install ".[bench]"`); a missing one leaves its column empty.
"""
from __future__ import annotations

import math
import time
import types
from typing import Any, Dict

import numpy as np

from . import workloads as w


def columns(name: str, size, fn, args, wrt, row: Dict[str, Any]) -> None:
    from .run import best_time
    try:
        fresh = fn not in _NUMBA
        nb = numba_version(fn)
        t0 = time.perf_counter()
        nb(*args)
        if fresh:  # later sizes reuse the compiled function
            row["numba compile"] = time.perf_counter() - t0
        row["numba primal"] = best_time(lambda: nb(*args))
    except ImportError:
        pass
    except Exception as e:  # record why, keep the other columns
        row["numba note"] = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
    try:
        jax_columns(name, args, wrt, row)
    except ImportError:
        pass
    except Exception as e:
        row["jax note"] = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"


_NUMBA: Dict[Any, Any] = {}


def numba_version(fn):
    """`fn` compiled by numba.njit, with the workload functions it calls compiled too."""
    import numba
    if fn in _NUMBA:
        return _NUMBA[fn]
    g = dict(fn.__globals__)
    for k, v in list(g.items()):
        if isinstance(v, types.FunctionType) and v.__module__ == fn.__module__:
            g[k] = numba.njit(types.FunctionType(v.__code__, g, v.__name__))
    _NUMBA[fn] = numba.njit(types.FunctionType(fn.__code__, g, fn.__name__))
    return _NUMBA[fn]


# -- JAX rewrites -------------------------------------------------------------------------------


def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)
    return jax


def llsq_jax(x, n):
    jnp, lax = _jax().numpy, _jax().lax
    t = -1.0 + 2.0 * jnp.arange(n) / (n - 1)
    s = jnp.sign(t)

    def body(j, carry):
        acc, p = carry
        return acc + x[j] * p, p * t
    acc, _ = lax.fori_loop(0, x.shape[0], body, (jnp.zeros(n), jnp.ones(n)))
    return 0.5 * jnp.sum((s - acc) ** 2)


def ode_jax(x, s):
    jnp, lax = _jax().numpy, _jax().lax
    h = 2.0 / s

    def rhs(y):
        return jnp.concatenate([x[:1], x[1:] * y[:-1]])

    def step(_, y):
        k1 = rhs(y)
        k2 = rhs(y + h / 2 * k1)
        k3 = rhs(y + h / 2 * k2)
        k4 = rhs(y + h * k3)
        return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return jnp.sum(lax.fori_loop(0, s, step, jnp.zeros_like(x)))


def lstm_jax(main, extra, state, seq):
    jax = _jax()
    jnp, lax = jax.numpy, jax.lax
    layers, b = main.shape[0] // 2, seq.shape[1]

    def step(st, t):
        x = seq[t] * extra[0]
        rows = []
        for layer in range(layers):
            w, bias = main[2 * layer], main[2 * layer + 1]
            h, c = st[2 * layer], st[2 * layer + 1]
            f = jax.nn.sigmoid(x * w[:b] + bias[:b])
            i = jax.nn.sigmoid(h * w[b:2 * b] + bias[b:2 * b])
            o = jax.nn.sigmoid(x * w[2 * b:3 * b] + bias[2 * b:3 * b])
            g = jnp.tanh(h * w[3 * b:] + bias[3 * b:])
            c = c * f + i * g
            h = o * jnp.tanh(c)
            rows += [h, c]
            x = h
        yhat = x * extra[1] + extra[2]
        lse = jnp.log(jnp.sum(jnp.exp(yhat)) + 2.0)
        return jnp.stack(rows), jnp.sum(seq[t + 1] * (yhat - lse))
    _, terms = lax.scan(step, state, jnp.arange(seq.shape[0] - 1))
    return -jnp.sum(terms) / ((seq.shape[0] - 1) * b)


def gmm_jax(alpha, mu, q, l, X):
    jax = _jax()
    jnp = jax.numpy
    n_points, d = X.shape
    k_count = alpha.shape[0]
    rows, cols = np.tril_indices(d, -1)
    order = np.lexsort((rows, cols))  # the strictly lower part, column by column
    qs = jnp.zeros((k_count, d, d)).at[:, rows[order], cols[order]].set(l)
    qs = qs + jax.vmap(jnp.diag)(jnp.exp(q))
    diff = X[:, None, :] - mu[None, :, :]
    y = jnp.einsum("kij,nkj->nki", qs, diff)
    beta = alpha[None, :] + jnp.sum(q, axis=1)[None, :] - 0.5 * jnp.sum(y * y, axis=2)
    total = jnp.sum(jax.scipy.special.logsumexp(beta, axis=1))
    lse_alpha = jax.scipy.special.logsumexp(alpha)
    reg = 0.5 * (jnp.sum(jnp.exp(q) ** 2) + jnp.sum(l ** 2))
    n = d + 1
    log_gamma_d = 0.25 * d * (d - 1) * math.log(math.pi) + sum(
        math.lgamma(0.5 * n - 0.5 * j) for j in range(d))
    const = -n_points * d * 0.5 * np.log(2 * np.pi) + \
        k_count * (n * d * np.log(1.0 / np.sqrt(2.0)) - log_gamma_d)
    return const + total - n_points * lse_alpha - reg


def kmeans_jax(points, centroids):
    jnp = _jax().numpy
    dist = jnp.sum((points[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    return jnp.sum(jnp.min(dist, axis=1))


def _permutations(ell: int):
    """Every permutation of range(ell) as rows, and its sign (the nonrecursive expansion
    GradBench's det notes suggest for tools that cannot recurse)."""
    import itertools
    perms = np.array(list(itertools.permutations(range(ell))), dtype=np.intp)
    inversions = sum((perms[:, i] > perms[:, j]).astype(int)
                     for i in range(ell) for j in range(i + 1, ell))
    return perms, np.where(inversions % 2 == 0, 1.0, -1.0)


def det_jax(a, ell):
    jnp = _jax().numpy
    perms, signs = _permutations(ell)
    A = a.reshape(ell, ell)
    return jnp.sum(signs * jnp.prod(A[np.arange(ell), perms], axis=1))


def ba_jax(cams, X, w, obs, feats):
    jnp = _jax().numpy
    cam, pt = cams[obs[:, 0]], X[obs[:, 1]]
    rot, x = cam[:, 0:3], pt - cam[:, 3:6]
    theta = jnp.sqrt(jnp.sum(rot * rot, axis=1, keepdims=True))
    v = rot / theta  # the data have no zero rotation
    xcam = x * jnp.cos(theta) + jnp.cross(v, x) * jnp.sin(theta) + \
        v * jnp.sum(v * x, axis=1, keepdims=True) * (1 - jnp.cos(theta))
    uv = xcam[:, 0:2] / xcam[:, 2:3]
    rsq = jnp.sum(uv * uv, axis=1, keepdims=True)
    proj = uv * (1 + cam[:, 9:10] * rsq + cam[:, 10:11] * rsq * rsq) * cam[:, 6:7] + cam[:, 7:9]
    err = w[:, None] * (proj - feats)
    return jnp.sum(err * err) + jnp.sum((1 - w * w) ** 2)


JAX_VERSIONS = {"llsq": (llsq_jax, (1,)), "ode": (ode_jax, (1,)), "lstm": (lstm_jax, ()),
                "gmm": (gmm_jax, ()), "kmeans": (kmeans_jax, ()), "det": (det_jax, (1,)),
                "ba": (ba_jax, ())}


def jax_columns(name: str, args, wrt, row: Dict[str, Any]) -> None:
    from .run import best_time
    jax = _jax()
    if name not in JAX_VERSIONS:  # no rewrite: the column stays empty
        return
    fn, static = JAX_VERSIONS[name]
    g = jax.jit(jax.grad(fn, argnums=tuple(wrt)), static_argnums=static)
    t0 = time.perf_counter()
    out = g(*args)
    jax.block_until_ready(out)
    row["jax compile"] = time.perf_counter() - t0
    row["jax grad"] = best_time(lambda: jax.block_until_ready(g(*args)))
    check = w.__dict__[name]
    import adjoin
    ref = adjoin.grad(check, wrt=tuple(wrt))(*args)
    got = [np.asarray(x) for x in out]
    if not all(np.allclose(a, b, rtol=1e-8, atol=1e-10) for a, b in zip(got, ref)):
        row["jax note"] = "the JAX rewrite's gradient differs from adjoin's"
