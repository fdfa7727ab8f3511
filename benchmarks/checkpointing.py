"""`python -m benchmarks.checkpointing`: memory and time of checkpointed gradients.

The ode workload with s steps (benchmarks/workloads.py) against the same loop marked
`adjoin.checkpointed(range(s), snapshots=k)`. Each configuration runs in a fresh process
(so its peak resident memory is its own): the gradient through `adjoin.vjp`, timed after a
warm-up call, with the bytes the pullback holds (`tape_nbytes`: on llvm the call's whole
context, arrays included) and the growth of the peak resident set during the call.
Ratios are against the unchecked gradient measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import adjoin
import numpy as np

from .workloads import ode, ode_rhs


def ode_checkpointed(x, s, k):
    h = 2.0 / s
    y = np.zeros(len(x))
    for _ in adjoin.checkpointed(range(s), snapshots=k):
        k1 = ode_rhs(x, y)
        k2 = ode_rhs(x, y + h / 2 * k1)
        k3 = ode_rhs(x, y + h / 2 * k2)
        k4 = ode_rhs(x, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.sum(y)


def measure(backend: str, n: int, s: int, k: int, repeats: int) -> dict:
    import resource
    import time
    x = np.random.default_rng(0).uniform(0.0, 1.0, n)
    fn, args = (ode, (x, s)) if k == 0 else (ode_checkpointed, (x, s, k))
    f = adjoin.differentiable(fn, backend=backend)
    small = (x, 4) if k == 0 else (x, 4, k)
    adjoin.vjp(f, *small)[1](1.0)  # compile
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best, held, grad = float("inf"), 0, None
    for _ in range(repeats):
        t = time.perf_counter()
        _, pb = adjoin.vjp(f, *args)
        grad = pb(1.0)[0]
        best = min(best, time.perf_counter() - t)
        held = pb.tape_nbytes
        del pb
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"time": best, "held": held, "rss": (peak - before) * 1024,
            "grad": [float(v) for v in grad[:8]]}


def _run_one(backend, n, s, k, repeats) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.checkpointing", "--one",
                          f"{backend},{n},{s},{k},{repeats}"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mb(b: float) -> str:
    return f"{b / 1e6:.2f} MB"


def table(backend: str, n: int, s: int, snapshots, repeats: int) -> str:
    base = _run_one(backend, n, s, 0, repeats)
    rows = [f"| {backend} | unchecked | {base['time']:.3f} s | 1.00 | {_mb(base['held'])} | "
            f"{_mb(base['rss'])} | 1 | - |"]
    for k in snapshots:
        r = _run_one(backend, n, s, k, repeats)
        same = np.allclose(r["grad"], base["grad"], rtol=1e-12, atol=0)
        rows.append(f"| {backend} | k = {k} | {r['time']:.3f} s | {r['time'] / base['time']:.2f} "
                    f"| {_mb(r['held'])} | {_mb(r['rss'])} | "
                    f"1/{base['held'] / max(r['held'], 1):.0f} | {'equal' if same else 'DIFFERS'} |")
    head = (f"ode, n = {n}, s = {s}\n\n| backend | gradient | time | time / unchecked | held "
            "| peak RSS growth | held / unchecked | gradient |\n|---|---|---|---|---|---|---|---|")
    return head + "\n" + "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", default="llvm")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--snapshots", default="4,16,64")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--one", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        backend, n, s, k, rep = a.one.split(",")
        print(json.dumps(measure(backend, int(n), int(s), int(k), int(rep))))
        return 0
    ks = [int(k) for k in a.snapshots.split(",")]
    for backend in a.backends.split(","):
        print(table(backend, a.n, a.steps, ks, a.repeats), flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
