"""Four columns timed in alternation: llvm primal, Numba primal, llvm gradient, JAX gradient.

    python -m benchmarks.alternate --only gmm --sizes 2x5,10x5,20x10,64x25 --rounds 5
    python -m benchmarks.alternate --only ode --sizes 1000x10,1000x100,10000x10

On a shared machine the load changes within seconds; `python -m benchmarks` times one
column after the other, so one column of a row can catch a busy moment the others did
not. Here every round times each column once (batches of about 30 ms), and each column
keeps its best round, so the ratios compare columns measured under the same load.
Prints one markdown row per size. Numba and JAX are optional: their columns read "-".
"""
from __future__ import annotations

import argparse
import time
from typing import Callable, Dict

from . import workloads as w


def _columns(name: str, size, fn, args, wrt) -> Dict[str, Callable]:
    import adjoin
    primal = adjoin.differentiable(fn, backend="llvm")
    grad = adjoin.grad(fn, wrt=tuple(wrt), backend="llvm")
    out = {"llvm primal": lambda: primal(*args), "llvm grad": lambda: grad(*args)}
    from . import peers
    try:
        nb = peers.numba_version(fn)
        out["numba primal"] = lambda: nb(*args)
    except ImportError:
        pass
    try:
        jax = peers._jax()
        jf, static = peers.JAX_VERSIONS[name]
        jg = jax.jit(jax.grad(jf, argnums=tuple(wrt)), static_argnums=static)
        out["jax grad"] = lambda: jax.block_until_ready(jg(*args))
    except ImportError:
        pass
    return out


def best_rounds(columns: Dict[str, Callable], rounds: int, batch: float = 0.03):
    for f in columns.values():
        f(), f()
    best = {k: float("inf") for k in columns}
    for _ in range(rounds):
        for k, f in columns.items():
            t0 = time.perf_counter()
            f()
            number = max(1, int(batch / max(time.perf_counter() - t0, 1e-7)))
            t0 = time.perf_counter()
            for _ in range(number):
                f()
            best[k] = min(best[k], (time.perf_counter() - t0) / number)
    return best


def _fmt(t: float) -> str:
    return "-" if t != t else (f"{t * 1e6:.0f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", required=True, choices=["llsq", "ode", "lstm", "gmm"])
    p.add_argument("--sizes", required=True, help="comma-separated, e.g. 64x25,20x10")
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args(argv)
    print("| workload | size | llvm primal | numba primal | primal / numba | llvm grad | "
          "grad / primal | jax grad | jax grad / llvm grad |")
    print("|---|---|---|---|---|---|---|---|---|")
    nan = float("nan")
    for s in a.sizes.split(","):
        size = tuple(int(v) for v in s.split("x"))
        fn, args, wrt = getattr(w, "make_" + a.only)(*size)
        b = best_rounds(_columns(a.only, size, fn, args, wrt), a.rounds)
        nb, jx = b.get("numba primal", nan), b.get("jax grad", nan)
        print(f"| {a.only} | {s} | {_fmt(b['llvm primal'])} | {_fmt(nb)} | "
              f"{b['llvm primal'] / nb:.2f} | {_fmt(b['llvm grad'])} | "
              f"{b['llvm grad'] / b['llvm primal']:.2f} | {_fmt(jx)} | "
              f"{jx / b['llvm grad']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
