"""`python -m benchmarks.devices`: the torch backend against PyTorch eager autograd.

Each row runs, side by side in one process on one device: the torch backend's primal and
gradient (tensors on the device), PyTorch eager autograd on the same code
(`adjoin.testing.torch_eager`), and the torch backend's gradient passed to
`torch.compile`. Reported: times (context only) and the ratios the project targets,
adjoin gradient / eager gradient (at most 0.8) and adjoin gradient / adjoin primal (at
most 3). `--sizes small` is a quick check; `full` are the workloads' full sizes
(benchmarks/workloads.py) for devices; `--device cuda` where a GPU is present.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from .arrays import EAGER_VARIANT, MAKERS, SIZES


def paired(fns: Sequence[Callable[[], Any]], sync: Callable[[], None], repeats: int,
           budget: float) -> List[float]:
    """The best time of each function, run in turn (one of each per round, after a warm-up
    round) so that the machine's state drifts alike for all: side by side, not one after
    another. Fewer rounds when the budget runs out."""
    best = [float("inf")] * len(fns)
    for fn in fns:
        fn()
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            sync()
            best[k] = min(best[k], time.perf_counter() - t0)
        if time.perf_counter() - start > budget:
            break
    return best


def row_for(name: str, size, device: str, repeats: int, budget: float,
            compile_: bool) -> Dict[str, Any]:
    import torch
    import adjoin
    from adjoin.derivatives import compiled_gradient
    from adjoin.primal import check_backend
    from adjoin.testing import torch_eager
    fn, args, wrt = MAKERS[name](*size)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    targs = [torch.tensor(a, device=device) if isinstance(a, np.ndarray) else a for a in args]
    row: Dict[str, Any] = {"workload": name, "size": size, "device": device}
    f = adjoin.differentiable(fn, backend="torch")
    g = adjoin.grad(f, wrt=tuple(wrt))
    eager = torch_eager(EAGER_VARIANT.get(fn, fn))
    # The shim allocates on the default device: point it at the data (not needed on CPU,
    # where the context's per-op cost would only slow eager down).
    on_device = (lambda: torch.device(device)) if device != "cpu" else contextlib.nullcontext

    def eager_primal():
        with torch.no_grad(), on_device():
            eager(*targs)

    def eager_grad():
        leaves = [t.detach().requires_grad_(i in wrt) if isinstance(t, torch.Tensor) else t
                  for i, t in enumerate(targs)]
        with on_device():
            out = eager(*leaves)
        torch.autograd.grad(out, [leaves[i] for i in wrt])
    times = paired([lambda: f(*targs), lambda: g(*targs), eager_primal, eager_grad], sync,
                   repeats, budget)
    for key, t in zip(("adjoin primal", "adjoin grad", "eager primal", "eager grad"), times):
        row[key] = t
    if compile_:
        from adjoin.calls import signature_of
        types = signature_of(fn, args)
        code = compiled_gradient(fn, types, tuple(wrt), False, check_backend("torch"))
        compiled = torch.compile(code)
        t0 = time.perf_counter()
        try:
            compiled(*targs, 1.0)
            sync()
            row["compile s"] = time.perf_counter() - t0
            row["compiled grad"] = paired([lambda: compiled(*targs, 1.0)], sync, repeats,
                                          budget)[0]
        except Exception as e:  # noqa: BLE001 - reported in the table
            row["compile note"] = f"{type(e).__name__}: {str(e).splitlines()[0][:60]}"
    return row


def fmt(t: Optional[float]) -> str:
    if t is None:
        return "-"
    return f"{t * 1e3:.2f} ms" if t < 1.0 else f"{t:.2f} s"


def ratio(a: Optional[float], b: Optional[float]) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}"


def table(rows: List[Dict[str, Any]]) -> str:
    head = ["workload", "size", "device", "adjoin primal", "adjoin grad", "eager primal",
            "eager grad", "grad / eager grad", "grad / primal", "compiled grad",
            "compile s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["workload"], "x".join(map(str, r["size"])), r["device"],
                 fmt(r.get("adjoin primal")), fmt(r.get("adjoin grad")),
                 fmt(r.get("eager primal")), fmt(r.get("eager grad")),
                 ratio(r.get("adjoin grad"), r.get("eager grad")),
                 ratio(r.get("adjoin grad"), r.get("adjoin primal")),
                 fmt(r.get("compiled grad")) if "compiled grad" in r else
                 r.get("compile note", "-"),
                 f"{r['compile s']:.1f}" if "compile s" in r else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.devices")
    p.add_argument("--sizes", choices=sorted(SIZES), default="small")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--only", help="workloads to run, comma separated (ode,gmm,lstm)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget", type=float, default=20.0, help="seconds per measurement")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("benchmarks.devices needs torch", file=sys.stderr)
        return 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device here", file=sys.stderr)
        return 2
    only = set(args.only.split(",")) if args.only else None
    rows = []
    for name, size in SIZES[args.sizes]:
        if only and name not in only:
            continue
        rows.append(row_for(name, size, args.device, args.repeats, args.budget,
                            not args.no_compile))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
