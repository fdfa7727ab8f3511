"""Writes tests/data/gradbench/<module>.jsonl: one recorded GradBench session per eval.

Each session is what an eval sends: start, define, evaluates of every function (small
inputs, min_runs 2), an analysis and a kind the protocol does not know. Run from the
repository root: python tests/scripts/make_gradbench_sessions.py
"""
import json
import os

import numpy as np

from adjoin.gradbench.evals_sparse import synthetic_ht_input

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "gradbench")
RUNS = {"min_runs": 2, "min_seconds": 0}


def rows(a):
    return np.round(a, 6).tolist()


def inputs(rng):
    """(module, [(function, input), ...]) for every eval."""
    k, d, n = 3, 3, 6
    yield "hello", [("square", 1.5), ("double", -2.25)]
    yield "llsq", [(f, {"x": rows(0.3 * rng.standard_normal(5)), "n": 9, **RUNS})
                   for f in ("primal", "gradient")]
    yield "ode", [(f, {"x": rows(rng.uniform(0, 1, 6)), "s": 5, **RUNS})
                  for f in ("primal", "gradient")]
    yield "lse", [(f, {"x": rows(rng.standard_normal(7)), **RUNS}) for f in ("primal", "gradient")]
    yield "det", [(f, {"A": rows(rng.standard_normal(25)), "ell": 5, **RUNS})
                  for f in ("primal", "gradient")]
    points = rng.standard_normal((12, 2))
    centroids = points[:3] + 0.01  # every centroid is the nearest of at least one point
    yield "kmeans", [(f, {"points": rows(points), "centroids": rows(centroids)})
                     for f in ("cost", "dir")]
    lstm = {"main_params": rows(rng.standard_normal((4, 12))),
            "extra_params": rows(rng.standard_normal((3, 3))),
            "state": rows(rng.standard_normal((4, 3))),
            "sequence": (rng.uniform(size=(5, 3)) > 0.5).astype(float).tolist(), **RUNS}
    yield "lstm", [("objective", lstm), ("jacobian", lstm)]
    gmm = {"d": d, "k": k, "n": n, "x": rows(rng.standard_normal((n, d))), "m": 1,
           "gamma": 0.8, "alpha": rows(rng.standard_normal(k)),
           "mu": rows(rng.standard_normal((k, d))), "q": rows(0.2 * rng.standard_normal((k, d))),
           "l": [[rows(0.3 * rng.standard_normal(r)) for r in range(d)] for _ in range(k)],
           **RUNS}
    flat = dict(gmm, l=[[x for r in range(1, d) for x in gmm["l"][kk][r]] for kk in range(k)])
    yield "gmm", [("objective", gmm), ("jacobian", gmm), ("jacobian", flat)]
    ba = {"n": 3, "m": 4, "p": 10, "cam": rows(np.r_[0.2 * rng.standard_normal(6),
                                                     1.5, 0.1, -0.1, 0.01, 0.002]),
          "x": rows(np.r_[rng.standard_normal(2), 5.0]), "w": 0.9,
          "feat": rows(rng.standard_normal(2)), **RUNS}
    yield "ba", [("objective", ba), ("jacobian", ba)]
    simple, us = synthetic_ht_input(3, 30, 5), synthetic_ht_input(4, 30, 5, with_us=True)
    yield "ht", [(f, dict(i, **RUNS)) for i in (simple, us) for f in ("objective", "jacobian")]


def session(module, calls):
    msgs = [{"kind": "start", "eval": module}, {"kind": "define", "module": module}]
    msgs += [{"kind": "evaluate", "module": module, "function": f, "input": i} for f, i in calls]
    msgs += [{"kind": "analysis", "of": 2, "valid": True, "error": None},
             {"kind": "end-of-the-line"}]
    return [dict(id=i, **m) for i, m in enumerate(msgs)]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2024)
    for module, calls in inputs(rng):
        with open(os.path.join(OUT, f"{module}.jsonl"), "w") as fh:
            for msg in session(module, calls):
                fh.write(json.dumps(msg) + "\n")


if __name__ == "__main__":
    main()
