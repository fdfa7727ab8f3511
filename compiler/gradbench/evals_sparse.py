"""Adapters for GradBench's evals with structured Jacobians: ba and ht.

Assumes: the input layouts of the ba and ht READMEs (ba: one camera, point, weight and
feature, repeated n, m, p times, observation i = (i mod n, i mod m); ht: a hand model of
row-major 4x4 bone matrices, vertex rows, weight rows, and `us` empty or one (u1, u2) row
per correspondence).
Guarantees:
  * ba `objective`: {"reproj_error": {"elements": e[0:2], "repeated": p}, "w_err":
    {"element": w_err[0], "repeated": p}}; `jacobian`: the compressed-row Jacobian of all
    residuals (reprojection rows first, 15 non-zeros each in camera, point, weight column
    order; then one -2w per weight row), sent as the first 30 entries and the last of
    `rows`, `cols` and `vals`. The blocks come from one adjoin vjp forward pass and two
    pullbacks over per-observation copies of cameras and points; all p observations are
    computed, the repetition of the data is not exploited.
  * ht `objective`: the 3N residuals, row-major; `jacobian`: 3N rows of 26 columns (d/dtheta)
    or 28 when `us` is given (d/du1, d/du2 of the row's own correspondence first), by one
    adjoin jvp per column.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import models_vision as mv
from .evals_common import (Eval, InputError, Prepared, as_list, compiled, field, floats,
                           integer, jvp, number, vjp)


def _ba_inputs(inp: Mapping[str, Any]):
    n, m, p = (integer(inp, k, "ba", 1) for k in ("n", "m", "p"))
    cam, x, feat = (floats(inp, k, "ba", 1) for k in ("cam", "x", "feat"))
    if cam.shape != (11,) or x.shape != (3,) or feat.shape != (2,):
        raise InputError(f"ba: cam, x, feat must have 11, 3, 2 elements, got {cam.shape}, "
                         f"{x.shape}, {feat.shape}")
    obs = np.stack([np.arange(p) % n, np.arange(p) % m], axis=1).astype(np.int64)
    return (np.tile(cam, (n, 1)), np.tile(x, (m, 1)), np.full(p, number(inp, "w", "ba")),
            obs, np.tile(feat, (p, 1)))


def _ba_objective(inp: Mapping[str, Any]) -> Prepared:
    cams, X, w, obs, feats = _ba_inputs(inp)
    f, g = compiled("primal", mv.ba_objective), compiled("primal", mv.ba_weight_error)

    def output(result):
        reproj, w_err = result
        return {"reproj_error": {"elements": as_list(reproj[0]), "repeated": len(w)},
                "w_err": {"element": float(w_err[0]), "repeated": len(w)}}
    return Prepared(lambda: (f(cams, X, w, obs, feats), g(w)), output)


def ba_jacobian_arrays(cams, X, w, obs, feats):
    """The full compressed-row arrays (rows, cols, vals) of the ba Jacobian."""
    n, m, p = len(cams), len(X), len(w)
    _, pullback = vjp(mv.ba_observed, cams[obs[:, 0]], X[obs[:, 1]], w, feats)
    blocks = []
    for comp in range(2):
        cot = np.zeros((p, 2))
        cot[:, comp] = 1.0
        dcam, dx, dw, _ = pullback(cot)
        blocks.append(np.concatenate([dcam, dx, dw[:, None]], axis=1))
    _, w_pullback = vjp(mv.ba_weight_error, w)
    dw_err = w_pullback(np.ones(p))[0]
    block_cols = np.concatenate([11 * obs[:, :1] + np.arange(11), 11 * n + 3 * obs[:, 1:] +
                                 np.arange(3), (11 * n + 3 * m + np.arange(p))[:, None]], axis=1)
    cols = np.concatenate([np.repeat(block_cols, 2, axis=0).ravel(), 11 * n + 3 * m +
                           np.arange(p)])
    vals = np.concatenate([np.stack(blocks, axis=1).reshape(-1), dw_err])
    rows = np.concatenate([np.arange(2 * p + 1) * 15, 30 * p + 1 + np.arange(p)])
    return rows, cols, vals


def _ba_jacobian(inp: Mapping[str, Any]) -> Prepared:
    args = _ba_inputs(inp)

    def output(result):
        rows, cols, vals = (np.concatenate([a[:30], a[-1:]]) for a in result)
        return {"rows": rows.astype(int).tolist(), "cols": cols.astype(int).tolist(),
                "vals": as_list(vals)}
    return Prepared(lambda: ba_jacobian_arrays(*args), output)


def _ht_inputs(inp: Mapping[str, Any]):
    """(theta, us or None, model arrays..., triangles, correspondences, points)."""
    theta = floats(inp, "theta", "ht", 1)
    data = field(inp, "data", "ht")
    model = field(data, "model", "ht")
    parents = np.asarray(field(model, "parents", "ht"), dtype=np.int64)
    mats = [floats(model, k, "ht", 3) for k in ("base_relatives", "inverse_base_absolutes")]
    positions, weights = floats(model, "base_positions", "ht", 2), floats(model, "weights", "ht", 2)
    points = floats(data, "points", "ht", 2)
    corr = np.asarray(field(data, "correspondences", "ht"), dtype=np.int64)
    us_value = field(inp, "us", "ht")
    us = floats(inp, "us", "ht", 2) if len(us_value) else None
    triangles = np.asarray(field(model, "triangles", "ht"), dtype=np.int64).reshape(-1, 3)
    b = len(parents)
    if theta.shape != (26,) or b < 22 or any(a.shape != (b, 4, 4) for a in mats) or \
            positions.shape[1] != 4 or weights.shape != (len(positions), b) or \
            points.shape != (len(corr), 3) or (us is not None and us.shape != (len(corr), 2)):
        raise InputError("ht: inconsistent shapes (theta 26, B >= 22 parents and 4x4 bone "
                         "matrices, M x 4 positions, M x B weights, N x 3 points, N x 2 us)")
    mirrored = bool(field(model, "is_mirrored", "ht"))
    return theta, us, (parents, *mats, positions, weights, mirrored), triangles, corr, points


def _ht_call(inp: Mapping[str, Any], kind: str):
    theta, us, model, triangles, corr, points = _ht_inputs(inp)
    if us is None:
        fn, args = mv.ht_objective, (theta, *model, corr, points)
    else:
        fn, args = mv.ht_objective_us, (theta, us, *model, triangles, corr, points)
    if kind == "primal":
        f = compiled("primal", fn)
        return Prepared(lambda: f(*args), lambda e: as_list(np.ravel(e)))
    rest = (None,) * (len(args) - (1 if us is None else 2))

    def call():
        columns = []
        if us is not None:
            for j in range(2):
                du = np.zeros_like(us)
                du[:, j] = 1.0  # each residual row reads its own u only
                columns.append(jvp(fn, args, (np.zeros(26), du) + rest)[1].ravel())
        for j in range(26):
            dtheta = np.zeros(26)
            dtheta[j] = 1.0
            tangents = (dtheta,) + (() if us is None else (np.zeros_like(us),)) + rest
            columns.append(jvp(fn, args, tangents)[1].ravel())
        return np.stack(columns, axis=1)
    return Prepared(call, as_list)


def synthetic_ht_input(seed: int = 0, vertices: int = 40, points: int = 10,
                       with_us: bool = False) -> dict:
    """A small hand: 22 bones in a chain per finger, random near-identity transforms."""
    rng = np.random.default_rng(seed)
    bones = 22
    parents = [-1] + [0 if i % 4 == 1 else i - 1 for i in range(1, 21)] + [0]

    def transforms():
        t = np.tile(np.eye(4), (bones, 1, 1))
        t[:, :3, :] += 0.1 * rng.standard_normal((bones, 3, 4))
        return t.tolist()
    weights = rng.uniform(size=(vertices, bones))
    triangles = rng.integers(0, vertices, (2 * vertices, 3))
    corr = rng.integers(0, len(triangles) if with_us else vertices, points)
    return {"theta": (0.3 * rng.standard_normal(26)).tolist(),
            "data": {"model": {"bone_count": bones, "bone_names": [f"b{i}" for i in range(bones)],
                               "parents": parents, "base_relatives": transforms(),
                               "inverse_base_absolutes": transforms(),
                               "base_positions": np.concatenate(
                                   [rng.standard_normal((vertices, 3)), np.ones((vertices, 1))],
                                   axis=1).tolist(),
                               "weights": (weights / weights.sum(1, keepdims=True)).tolist(),
                               "triangles": triangles.tolist(), "is_mirrored": False},
                     "correspondences": corr.tolist(),
                     "points": rng.standard_normal((points, 3)).tolist()},
            "us": rng.uniform(0.0, 0.5, (points, 2)).tolist() if with_us else []}


EVALS = {
    "ba": Eval("ba", {"objective": _ba_objective, "jacobian": _ba_jacobian},
               [{"n": 2, "m": 3, "p": 4, "cam": [0.1, -0.2, 0.05, 0.3, 0.1, -0.4, 1.2, 0.1, -0.1,
                                                0.01, 0.001],
                "x": [0.5, -0.3, 4.0], "w": 0.8, "feat": [0.2, -0.1]}]),
    "ht": Eval("ht", {"objective": lambda inp: _ht_call(inp, "primal"),
                      "jacobian": lambda inp: _ht_call(inp, "jvp")},
               [synthetic_ht_input(0, 24, 4), synthetic_ht_input(1, 24, 4, with_us=True)]),
}
