"""Where a fresh llvm gradient compile spends its time, phase by phase.

    python -m benchmarks.compile_phases            # llsq, ode, lstm, gmm
    python -m benchmarks.compile_phases lstm gmm

Each workload's gradient is compiled with every cache empty and the disk cache off; the
phases are timed one after the other (frontend, AD, lowering to llvmlite IR, IR to text,
LLVM parse and verify, LLVM O3, machine code), and the whole compile once more.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from . import workloads as w

SIZES = {"llsq": (256,), "ode": (1000, 10), "lstm": (2, 256), "gmm": (2, 5)}


def phases(name: str) -> str:
    import adjoin
    from adjoin import cache_store
    from adjoin.backends import llvm as backend
    from adjoin.backends.llvm import jit
    from adjoin.calls import bind_arguments, signature_of
    from adjoin.derivatives import compiled_gradient, gradient_ir, reset_caches
    from adjoin.primal import check_backend, specialize
    adjoin.grad(w.llsq, backend="llvm")(np.ones(3), 4)  # one-time imports
    fn, args, wrt = getattr(w, "make_" + name)(*SIZES[name])
    reset_caches()
    types = signature_of(fn, bind_arguments(fn, args, {}))
    cache_store.set_cache_dir(None)
    try:
        ms = []

        def timed(fn):
            t0 = time.perf_counter()
            out = fn()
            ms.append(1e3 * (time.perf_counter() - t0))
            return out
        primal = timed(lambda: specialize(fn, types))
        g, module = timed(lambda: gradient_ir(fn, types, tuple(wrt), False, primal))
        ml, _ = timed(lambda: backend.build(module, [g.name], shared_runtime=True))
        text = timed(lambda: str(ml.m))
        tm = jit.target_machine()
        timed(lambda: jit.parse(text))
        optimized = timed(lambda: jit.optimize(text, tm))
        ms[-1] -= ms[-2]  # optimize parses again: counted once, above
        timed(lambda: tm.emit_object(optimized))
        reset_caches()
        timed(lambda: compiled_gradient(fn, types, tuple(wrt), False, check_backend("llvm")))
    finally:
        cache_store.reset_cache_dir()
    names = ["frontend", "AD", "lower", "text", "parse", "O3", "machine code"]
    return (f"{name:5s} " + " ".join(f"{n} {v:.0f}" for n, v in zip(names, ms)) +
            f" | compile {ms[-1]:.0f} ms, LLVM IR {len(text) // 1024} KB")


def main(argv=None) -> int:
    for name in (argv if argv is not None else sys.argv[1:]) or list(SIZES):
        print(phases(name), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
