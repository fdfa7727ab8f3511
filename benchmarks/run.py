"""Benchmark runner: every workload, every contender, side by side in one process.

    python -m benchmarks                 # the default sizes
    python -m benchmarks --full          # the workload notes' full sizes (slow)
    python -m benchmarks --only llsq,ode --write docs/benchmarks.md
    python -m benchmarks --backends llvm --error-models python,numpy   # cost of the checks
    python -m benchmarks --only vmap     # per-example gradients: benchmarks/vmap.py

Each row times, on the same inputs: CPython running the undecorated function,
adjoin's primal and gradient on each backend (and, with --error-models, the llvm
backend under each error model: "llvm" raises as CPython, "llvm numpy" follows
IEEE; a third table gives the ratio, the cost of the checks), and the peers that are installed
(torch eager autograd on the same code via adjoin.testing.torch_eager; Numba's
njit primal; jax.jit(jax.grad) of a lax rewrite). Times are the best of several
repeats; the machine is noisy, so read the ratios, which are measured side by
side. Compile time (parsing, IR, AD, code generation; fresh caches, the disk cache
off) is reported apart from run time, beside "cached compile": getting the same code
from a warm disk cache, as a repeat run of a program does.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import workloads as w

QUICK = {
    "llsq": [(16,), (256,), (1024,)],
    "ode": [(1000, 10)],
    "lstm": [(2, 256), (4, 256)],
    "gmm": [(2, 5), (10, 5)],
    "kmeans": [(200, 5)],
    "det": [(5,)],
    "ba": [(5, 20, 100)],
    "ht": [(60, 20)],
}
FULL = {
    "llsq": [(16,), (256,), (4096,)],
    "ode": [(1000, 10), (1000, 100), (10000, 10)],
    "lstm": [(2, 256), (2, 1024), (4, 1024), (2, 4096)],
    "gmm": [(2, 5), (10, 5), (20, 10), (64, 25)],
    "kmeans": [(1000, 10), (2000, 20)],
    "det": [(6,), (8,), (9,)],
    "ba": [(10, 100, 1000), (21, 11315, 36455)],
    "ht": [(200, 50), (544, 1000), (544, 10000)],
}
MAKERS = {"llsq": w.make_llsq, "ode": w.make_ode, "lstm": w.make_lstm, "gmm": w.make_gmm,
          "kmeans": w.make_kmeans, "det": w.make_det, "ba": w.make_ba, "ht": w.make_ht}


def best_time(fn: Callable[[], Any], budget: float = 0.5, repeats: int = 3) -> float:
    """Best per-call time: calls are batched so that each repeat takes ~budget/repeats."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    if once > budget:
        return once
    number = max(1, int(budget / repeats / max(once, 1e-7)))
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def paired_best(fa: Callable[[], Any], fb: Callable[[], Any], samples: int = 300,
                batch: float = 1e-3) -> Tuple[float, float]:
    """Best per-call times of two functions timed in alternation over many short
    batches: the load of a shared machine hits both alike, and the best batch of each
    is one that nothing interrupted (for differences of a few percent)."""
    fa(), fb()
    t0 = time.perf_counter()
    fa(), fb()
    number = max(1, int(2 * batch / max(time.perf_counter() - t0, 1e-7)))
    best = [float("inf"), float("inf")]
    for _ in range(samples):
        for k, fn in enumerate((fa, fb)):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t0) / number)
    return best[0], best[1]


def copies(args: Sequence[Any]) -> List[Any]:
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


# -- contenders ----------------------------------------------------------------------


def _warm_up(backend: str) -> None:
    """Compile a small function once, so that compile times exclude one-time imports."""
    import adjoin
    adjoin.grad(w.llsq, backend=backend)(np.ones(3), 4)


def adjoin_compile_time(fn, args, wrt, backend: str, error_model: str) -> float:
    """Seconds to compile the gradient from source, with every cache empty (the disk
    cache off)."""
    from adjoin import cache_store
    from adjoin.calls import bind_arguments, signature_of
    from adjoin.primal import check_backend
    from adjoin.derivatives import compiled_gradient, reset_caches
    _warm_up(backend)
    reset_caches()
    types = signature_of(fn, bind_arguments(fn, args, {}))
    cache_store.set_cache_dir(None)
    try:
        t0 = time.perf_counter()
        compiled_gradient(fn, types, tuple(wrt), False, check_backend(backend, error_model))
        return time.perf_counter() - t0
    finally:
        cache_store.reset_cache_dir()


def adjoin_cached_compile_time(fn, args, wrt, backend: str, error_model: str) -> float:
    """Seconds to get the gradient's code from a warm disk cache (what a repeat run of a
    program pays: no frontend, AD or code generation), in a temporary cache folder."""
    import tempfile
    from adjoin import cache_store, persist
    from adjoin.derivatives import _checked_gradient, reset_caches
    from adjoin.primal import check_backend
    target = check_backend(backend, error_model)
    what = ("grad", tuple(wrt), False)

    def compile(c):
        return _checked_gradient(fn, c, tuple(wrt), False, target)
    with tempfile.TemporaryDirectory() as folder:
        cache_store.set_cache_dir(folder)
        try:
            reset_caches()
            persist.compiled_call(fn, args, {}, what, target, compile)  # fills the cache
            reset_caches()
            t0 = time.perf_counter()
            persist.compiled_call(fn, args, {}, what, target, compile)
            return time.perf_counter() - t0
        finally:
            cache_store.reset_cache_dir()


def contenders(backends: Sequence[str], error_models: Sequence[str]) -> List[Tuple[str, str]]:
    """(backend, error model) pairs; error models other than CPython's only on llvm."""
    return [(b, m) for b in backends for m in error_models if b == "llvm" or m == "python"]


def label(backend: str, error_model: str) -> str:
    return backend if error_model == "python" else f"{backend} {error_model}"


def adjoin_columns(fn, args, wrt, backend: str, error_model: str, row: Dict[str, Any]) -> None:
    import adjoin
    name, where = label(backend, error_model), {"backend": backend, "error_model": error_model}
    try:
        row[f"{name} compile"] = adjoin_compile_time(fn, args, wrt, backend, error_model)
        row[f"{name} cached"] = adjoin_cached_compile_time(fn, args, wrt, backend, error_model)
        primal = adjoin.differentiable(fn, **where)
        grad = adjoin.grad(fn, wrt=tuple(wrt), **where)
        row[f"{name} primal"] = best_time(lambda: primal(*args))
        row[f"{name} grad"] = best_time(lambda: grad(*args))
        row[f"{name} tape"] = adjoin.vjp(fn, *args, **where)[1].tape_nbytes
    except Exception as e:  # a backend that cannot run this row says why
        row[f"{name} note"] = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"


def check_cost_columns(fn, args, wrt, row: Dict[str, Any]) -> None:
    """llvm times with and without CPython's checks, measured in alternation."""
    import adjoin
    for kind in ("primal", "grad"):
        pair = [adjoin.differentiable(fn, backend="llvm", error_model=m) if kind == "primal"
                else adjoin.grad(fn, wrt=tuple(wrt), backend="llvm", error_model=m)
                for m in ("python", "numpy")]
        try:
            on, off = paired_best(lambda: pair[0](*args), lambda: pair[1](*args))
        except Exception:  # the row's note already says why
            continue
        row[f"llvm {kind}"], row[f"llvm numpy {kind}"] = on, off


def torch_columns(fn, args, wrt, row: Dict[str, Any], limit: float) -> None:
    try:
        import torch
    except ImportError:
        return
    from adjoin.testing import torch_eager
    tfn = torch_eager(fn)

    def run():
        targs = [torch.tensor(a, dtype=torch.float64 if a.dtype.kind == "f" else None,
                              requires_grad=i in wrt)
                 if isinstance(a, np.ndarray) else a for i, a in enumerate(args)]
        out = tfn(*targs)
        torch.autograd.grad(out, [targs[i] for i in wrt])
    try:
        t0 = time.perf_counter()
        run()
        if time.perf_counter() - t0 > limit:
            row["torch grad"] = time.perf_counter() - t0
            return
        row["torch grad"] = best_time(run, budget=1.0)
    except Exception as e:
        row["torch note"] = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"


def measure(name: str, size: Tuple, backends: Sequence[str], torch_limit: float,
            error_models: Sequence[str] = ("python",)) -> Dict[str, Any]:
    fn, args, wrt = MAKERS[name](*size)
    row: Dict[str, Any] = {"workload": name, "size": size}
    row["cpython primal"] = best_time(lambda: fn(*copies(args)))
    for backend, model in contenders(backends, error_models):
        adjoin_columns(fn, args, wrt, backend, model, row)
    if "llvm" in backends and {"python", "numpy"} <= set(error_models):
        check_cost_columns(fn, args, wrt, row)
    torch_columns(fn, args, wrt, row, torch_limit)
    try:
        from . import peers
        peers.columns(name, size, fn, args, wrt, row)
    except ImportError:
        pass
    return row


# -- report -----------------------------------------------------------------------------


def fmt_time(t: Optional[float]) -> str:
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1.0:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def ratio(a: Optional[float], b: Optional[float]) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def fmt_bytes(n: Optional[int]) -> str:
    if n is None:
        return "-"
    for unit, size in (("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def table(rows: List[Dict[str, Any]], backends: Sequence[str],
          error_models: Sequence[str] = ("python",)) -> str:
    """Two tables: adjoin's own columns, then the peers beside adjoin's fastest backend;
    a third with the cost of the checks when several error models ran."""
    names = [label(b, m) for b, m in contenders(backends, error_models)]
    head = ["workload", "size", "CPython primal"]
    for b in names:
        head += [f"{b} primal", f"{b} grad", f"{b} grad/primal", f"{b} compile",
                 f"{b} cached compile", f"{b} tape"]
    lines = _row_line(head) + [_row_line(
        [r["workload"], "x".join(map(str, r["size"])), fmt_time(r.get("cpython primal"))] +
        [c for b in names for c in (
            fmt_time(r.get(f"{b} primal")), fmt_time(r.get(f"{b} grad")),
            ratio(r.get(f"{b} grad"), r.get(f"{b} primal")), fmt_time(r.get(f"{b} compile")),
            fmt_time(r.get(f"{b} cached")), fmt_bytes(r.get(f"{b} tape")))])[0] for r in rows]
    best = "llvm" if "llvm" in backends else backends[0]
    head = ["workload", "size", f"{best} primal", "numba primal", f"{best} primal / numba",
            f"{best} grad", "jax grad", f"jax grad / {best} grad", "torch eager grad",
            f"torch / {best} grad", "numba compile", "jax compile"]
    peers = _row_line(head) + [_row_line([
        r["workload"], "x".join(map(str, r["size"])), fmt_time(r.get(f"{best} primal")),
        fmt_time(r.get("numba primal")), ratio(r.get(f"{best} primal"), r.get("numba primal")),
        fmt_time(r.get(f"{best} grad")), fmt_time(r.get("jax grad")),
        ratio(r.get("jax grad"), r.get(f"{best} grad")), fmt_time(r.get("torch grad")),
        ratio(r.get("torch grad"), r.get(f"{best} grad")), fmt_time(r.get("numba compile")),
        fmt_time(r.get("jax compile"))])[0] for r in rows]
    notes = [f"- {r['workload']} {r['size']}: {k}: {v}" for r in rows for k, v in r.items()
             if k.endswith("note")]
    return "\n".join(lines + [""] + peers + check_costs(rows, backends, error_models) +
                     ([""] + notes if notes else []))


def check_costs(rows: List[Dict[str, Any]], backends: Sequence[str],
                error_models: Sequence[str]) -> List[str]:
    """llvm time with CPython's checks over the time without (error_model="numpy")."""
    if "llvm" not in backends or not {"python", "numpy"} <= set(error_models):
        return []
    head = ["workload", "size", "llvm primal", "llvm numpy primal", "primal checks cost",
            "llvm grad", "llvm numpy grad", "grad checks cost"]
    out = [""] + _row_line(head)
    for r in rows:
        cells = [r["workload"], "x".join(map(str, r["size"]))]
        for kind in ("primal", "grad"):
            on, off = r.get(f"llvm {kind}"), r.get(f"llvm numpy {kind}")
            cost = "-" if on is None or off is None else f"{(on / off - 1) * 100:+.1f}%"
            cells += [fmt_time(on), fmt_time(off), cost]
        out += _row_line(cells)
    return out


def _row_line(cells: List[str]) -> List[str]:
    line = "| " + " | ".join(cells) + " |"
    if cells and cells[0] == "workload":
        return [line, "|" + "---|" * len(cells)]
    return [line]


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--full", action="store_true", help="the full sizes of the workload notes")
    p.add_argument("--only", help="comma-separated workloads (llsq,ode,lstm,gmm,kmeans,det,ba,"
                                  "ht,vmap)")
    p.add_argument("--backends", default="python", help="comma-separated adjoin backends")
    p.add_argument("--error-models", default="python",
                   help="comma-separated error models for the llvm backend (python,numpy "
                        "measures the cost of CPython's checks)")
    p.add_argument("--torch-limit", type=float, default=20.0,
                   help="run torch once when one run takes longer than this (seconds)")
    p.add_argument("--write", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    sizes = FULL if args.full else QUICK
    names = args.only.split(",") if args.only else list(sizes)
    backends = args.backends.split(",")
    models = args.error_models.split(",")
    rows, texts = [], []
    for name in names:
        if name == "vmap":  # a table of its own, in its own columns
            from . import vmap
            texts.append(vmap.table(*vmap.measure(vmap.FULL_B)))
            continue
        for size in sizes[name]:
            print(f"measuring {name} {size} ...", file=sys.stderr, flush=True)
            rows.append(measure(name, size, backends, args.torch_limit, models))
    text = "\n\n".join(([table(rows, backends, models)] if rows else []) + texts)
    print(text)
    if args.write:
        cmd = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
        with open(args.write, "w") as fh:
            fh.write(report(text, cmd))
    return 0


def report(text: str, cmd: str) -> str:
    import adjoin
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return (f"# Benchmarks\n\nProduced by `{cmd.strip()}` (adjoin {adjoin.__version__}; "
            f"{machine}).\n\n{text}\n")
