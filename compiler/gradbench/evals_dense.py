"""Adapters for GradBench's dense evals: hello, llsq, ode, lse, det, kmeans, lstm, gmm.

Assumes: the input layouts of each eval's README (matrices as arrays of rows).
Guarantees: every function runs adjoin-compiled code of models_scalar / models_ml on the
chosen backend; outputs have the README's types: floats, flat lists (ode's state and
gradient, det's row-major gradient, lstm's main-then-extra row-major gradient), kmeans'
dir as rows, gmm's jacobian as {"alpha", "mu", "q", "l"} with `l` in the layout it came in
(jagged rows l[k][r][c], c < r, or flat column by column).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import models_ml as ml
from . import models_scalar as sc
from .evals_common import (Eval, InputError, Prepared, as_float, as_list, compiled, field,
                           floats, integer, number)


def _hello(kind: str):
    def prepare(inp: Any) -> Prepared:
        if isinstance(inp, bool) or not isinstance(inp, (int, float)):
            raise InputError(f"hello: the input must be a number, got {inp!r}")
        x = float(inp)
        f = compiled(kind, sc.square)
        return Prepared(lambda: f(x), as_float)
    return prepare


def _llsq(kind: str):
    def prepare(inp: Mapping[str, Any]) -> Prepared:
        x, n = floats(inp, "x", "llsq", 1), integer(inp, "n", "llsq", 2)
        f = compiled(kind, sc.llsq)
        return Prepared(lambda: f(x, n), as_float if kind == "primal" else as_list)
    return prepare


def _ode(kind: str):
    def prepare(inp: Mapping[str, Any]) -> Prepared:
        x, s = floats(inp, "x", "ode", 1), integer(inp, "s", "ode", 1)
        if len(x) == 0:
            raise InputError("ode: field 'x' is empty")
        f = compiled("primal", sc.ode_solve) if kind == "primal" else compiled("grad",
                                                                                sc.ode_last)
        return Prepared(lambda: f(x, s), as_list)
    return prepare


def _lse(kind: str):
    def prepare(inp: Mapping[str, Any]) -> Prepared:
        x = floats(inp, "x", "lse", 1)
        if len(x) == 0:
            raise InputError("lse: field 'x' is empty")
        f = compiled(kind, sc.lse)
        return Prepared(lambda: f(x), as_float if kind == "primal" else as_list)
    return prepare


def _det(kind: str):
    def prepare(inp: Mapping[str, Any]) -> Prepared:
        a, ell = floats(inp, "A", "det", 1), integer(inp, "ell", "det", 1)
        if len(a) != ell * ell:
            raise InputError(f"det: 'A' has {len(a)} elements, ell * ell = {ell * ell}")
        f = compiled(kind, sc.det_flat)
        return Prepared(lambda: f(a, ell), as_float if kind == "primal" else as_list)
    return prepare


def _kmeans_inputs(inp: Mapping[str, Any]):
    points, centroids = floats(inp, "points", "kmeans", 2), floats(inp, "centroids", "kmeans", 2)
    if points.shape[1] != centroids.shape[1]:
        raise InputError(f"kmeans: points have {points.shape[1]} coordinates, centroids "
                         f"{centroids.shape[1]}")
    return points, centroids


def _kmeans_cost(inp: Mapping[str, Any]) -> Prepared:
    points, centroids = _kmeans_inputs(inp)
    f = compiled("primal", ml.kmeans_cost)
    return Prepared(lambda: f(points, centroids), as_float)


def _kmeans_dir(inp: Mapping[str, Any]) -> Prepared:
    """J / diag(H): the Hessian is diagonal (the cost is a sum over centroid coordinates of
    separate quadratics), so forward over reverse along ones gives its diagonal exactly."""
    points, centroids = _kmeans_inputs(inp)
    grad, hvp = compiled("grad", ml.kmeans_cost, 1), compiled("hvp", ml.kmeans_cost, 1)
    ones = np.ones_like(centroids)

    def call():
        return grad(points, centroids) / hvp(points, centroids, ones)
    return Prepared(call, as_list)


def _lstm(kind: str):
    def prepare(inp: Mapping[str, Any]) -> Prepared:
        args = tuple(floats(inp, k, "lstm", 2)
                     for k in ("main_params", "extra_params", "state", "sequence"))
        main, extra, state, seq = args
        b = seq.shape[1]
        if main.shape[1] != 4 * b or main.shape[0] % 2 or extra.shape != (3, b) or \
                state.shape != (main.shape[0], b) or seq.shape[0] < 2:
            raise InputError(f"lstm: inconsistent shapes main {main.shape}, extra "
                             f"{extra.shape}, state {state.shape}, sequence {seq.shape}")
        if kind == "primal":
            f = compiled("primal", ml.lstm)
            return Prepared(lambda: f(*args), as_float)
        g = compiled("grad", ml.lstm, (0, 1))

        def call():
            dm, de = g(*args)
            return np.concatenate([dm.ravel(), de.ravel()])
        return Prepared(call, as_list)
    return prepare


def _gmm_lower(l_value: Any, k: int, d: int):
    """(K, D, D) strictly lower matrices from GradBench's `l`, and a function giving a
    gradient of that array back in the same layout."""
    L = np.zeros((k, d, d))
    try:
        jagged = len(l_value) == k and all(len(row) > 0 and isinstance(row[0], list)
                                           for row in l_value)
        for kk in range(k):
            if jagged:
                for r in range(d):
                    L[kk, r, :r] = np.asarray(l_value[kk][r], dtype=np.float64).reshape(r)
            else:
                flat = np.asarray(l_value[kk], dtype=np.float64).reshape(d * (d - 1) // 2)
                L[kk][_column_order(d)] = flat
    except (TypeError, ValueError, IndexError) as e:
        raise InputError(f"gmm: field 'l' does not hold {k} strictly lower triangular "
                         f"{d} x {d} parts ({e})") from None
    if jagged:
        return L, lambda G: [[G[kk, r, :r].tolist() for r in range(d)] for kk in range(k)]
    return L, lambda G: [G[kk][_column_order(d)].tolist() for kk in range(k)]


def _column_order(d: int):
    rows = [r for c in range(d) for r in range(c + 1, d)]
    cols = [c for c in range(d) for r in range(c + 1, d)]
    return np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)


def _gmm(kind: str):
    def prepare(inp: Mapping[str, Any]) -> Prepared:
        alpha, mu = floats(inp, "alpha", "gmm", 1), floats(inp, "mu", "gmm", 2)
        q, x = floats(inp, "q", "gmm", 2), floats(inp, "x", "gmm", 2)
        k, d = alpha.shape[0], x.shape[1]
        if mu.shape != (k, d) or q.shape != (k, d):
            raise InputError(f"gmm: alpha {alpha.shape}, mu {mu.shape}, q {q.shape} and x "
                             f"{x.shape} disagree on K and D")
        L, back = _gmm_lower(field(inp, "l", "gmm"), k, d)
        args = (alpha, mu, q, L, x, integer(inp, "m", "gmm"), number(inp, "gamma", "gmm"))
        if kind == "primal":
            f = compiled("primal", ml.gmm)
            return Prepared(lambda: f(*args), as_float)
        g = compiled("grad", ml.gmm, (0, 1, 2, 3))

        def output(grads):
            da, dmu, dq, dL = grads
            return {"alpha": as_list(da), "mu": as_list(dmu), "q": as_list(dq), "l": back(dL)}
        return Prepared(lambda: g(*args), output)
    return prepare


_RNG = np.random.default_rng(7)
EVALS = {
    "hello": Eval("hello", {"square": _hello("primal"), "double": _hello("grad")}, [1.5]),
    "llsq": Eval("llsq", {"primal": _llsq("primal"), "gradient": _llsq("grad")},
                 [{"x": [0.1, -0.2, 0.3], "n": 5}]),
    "ode": Eval("ode", {"primal": _ode("primal"), "gradient": _ode("grad")},
                [{"x": [0.5, 0.4, 0.3], "s": 2}]),
    "lse": Eval("lse", {"primal": _lse("primal"), "gradient": _lse("grad")},
                [{"x": [0.1, 2.0, -1.0]}]),
    "det": Eval("det", {"primal": _det("primal"), "gradient": _det("grad")},
                [{"A": [2.0, 1.0, 0.5, 3.0], "ell": 2}]),
    "kmeans": Eval("kmeans", {"cost": _kmeans_cost, "dir": _kmeans_dir},
                   [{"points": [[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]],
                    "centroids": [[0.5, 0.5], [4.0, 4.0]]}]),
    "lstm": Eval("lstm", {"objective": _lstm("primal"), "jacobian": _lstm("grad")},
                 [{"main_params": _RNG.standard_normal((2, 8)).tolist(),
                  "extra_params": _RNG.standard_normal((3, 2)).tolist(),
                  "state": _RNG.standard_normal((2, 2)).tolist(),
                  "sequence": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]}]),
    "gmm": Eval("gmm", {"objective": _gmm("primal"), "jacobian": _gmm("grad")},
                [{"d": 2, "k": 2, "n": 3, "alpha": [0.1, -0.2], "mu": [[0.0, 1.0], [1.0, 0.0]],
                 "q": [[0.1, 0.2], [-0.1, 0.0]], "l": [[[], [0.3]], [[], [-0.2]]],
                 "x": [[0.5, 0.5], [1.0, -1.0], [0.0, 2.0]], "m": 0, "gamma": 1.0}]),
}
