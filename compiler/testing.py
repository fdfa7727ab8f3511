"""Reference derivatives for checking adjoin: finite differences and torch autograd.

Assumes: functions of floats, ints and NumPy arrays, written with `math` and
`numpy` as adjoin accepts them.
Guarantees: `numeric_grad` gives central differences for every float argument
(each element of an array argument). `torch_eager(fn)` returns the same Python
function running on torch tensors: its module's `math` and `numpy` (and the
other functions of that module) are swapped for torch equivalents, so torch's
eager autograd differentiates exactly the code adjoin compiled. It is a
reference for tests and a baseline for benchmarks; a NumPy call with no torch
equivalent raises AttributeError naming it.
"""
from __future__ import annotations

import math
import types
from typing import Any, Callable, Dict, List, Sequence

import numpy as np


def _perturbed(args: Sequence[Any], i: int, k: Any, delta: float) -> List[Any]:
    out = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    if isinstance(out[i], np.ndarray):
        out[i][k] += delta
    else:
        out[i] = out[i] + delta
    return out


def numeric_grad(fn: Callable, args: Sequence[Any], wrt: Sequence[int],
                 eps: float = 1e-6, cotangent: Callable[[Any], float] = None) -> List[Any]:
    """Central differences of `fn` (of `cotangent(fn(...))` for non-scalar outputs)."""
    reduce = cotangent or (lambda v: v)
    grads = []
    for i in wrt:
        a = args[i]
        if isinstance(a, np.ndarray):
            g = np.zeros_like(a, dtype=np.float64)
            for k in np.ndindex(a.shape):
                hi = reduce(fn(*_perturbed(args, i, k, eps)))
                lo = reduce(fn(*_perturbed(args, i, k, -eps)))
                g[k] = (hi - lo) / (2 * eps)
            grads.append(g)
        else:
            hi = reduce(fn(*_perturbed(args, i, None, eps)))
            lo = reduce(fn(*_perturbed(args, i, None, -eps)))
            grads.append((hi - lo) / (2 * eps))
    return grads


# ---------------------------------------------------------------------------
# Running the same code under torch


def _torch():
    import torch
    return torch


class _MathShim:
    """`math` with torch functions for tensor arguments."""

    pi, e, tau, inf, nan = math.pi, math.e, math.tau, math.inf, math.nan

    def __getattr__(self, name):
        torch = _torch()
        special = {"fabs": torch.abs, "pow": torch.pow, "atan2": torch.atan2,
                   "asin": torch.asin, "acos": torch.acos, "atan": torch.atan,
                   "asinh": torch.asinh, "acosh": torch.acosh, "atanh": torch.atanh,
                   "lgamma": torch.lgamma, "isnan": torch.isnan}
        if name == "log":
            return lambda x, base=None: torch.log(_t(x)) if base is None else \
                torch.log(_t(x)) / math.log(base)
        fn = special.get(name) or getattr(torch, name, None)
        if fn is None:
            raise AttributeError(f"no torch equivalent of math.{name}")
        return lambda *a: fn(*[_t(x) for x in a])


def _stack(xs):
    torch = _torch()
    return torch.stack([_stack(v) if isinstance(v, (list, tuple)) else _t(v) for v in xs])


def _t(x):
    torch = _torch()
    return x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=torch.float64)


class _LinalgShim:
    def norm(self, x):
        return _torch().linalg.norm(x)

    def __getattr__(self, name):
        if name not in ("solve", "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh"):
            raise AttributeError(f"no torch equivalent of numpy.linalg.{name}")
        fn = getattr(_torch().linalg, name)
        return lambda *a: fn(*[_t(x) for x in a])


class _NumpyShim:
    """The NumPy functions adjoin supports, on torch tensors (float64)."""

    pi, e, inf, nan = np.pi, np.e, np.inf, np.nan
    float64, float32, int64 = np.float64, np.float32, np.int64
    linalg = _LinalgShim()

    def __getattr__(self, name):
        torch = _torch()
        f64 = torch.float64
        dims = (lambda s: s if isinstance(s, tuple) else (s,))
        table: Dict[str, Callable] = {
            "zeros": lambda s, dtype=None: torch.zeros(dims(s), dtype=f64),
            "ones": lambda s, dtype=None: torch.ones(dims(s), dtype=f64),
            "empty": lambda s, dtype=None: torch.zeros(dims(s), dtype=f64),
            "full": lambda s, v, dtype=None: torch.zeros(dims(s), dtype=f64) + v,
            "zeros_like": lambda x, dtype=None: torch.zeros_like(x),
            "ones_like": lambda x, dtype=None: torch.ones_like(x),
            "empty_like": lambda x, dtype=None: torch.zeros_like(x),
            "copy": lambda x: x.clone(),
            "array": lambda xs, dtype=None: _stack(xs),
            "asarray": lambda x: x,
            "sum": lambda x, axis=None: torch.sum(x) if axis is None else torch.sum(x, axis),
            "mean": lambda x, axis=None: torch.mean(x) if axis is None else torch.mean(x, axis),
            "max": lambda x, axis=None: torch.amax(x) if axis is None else torch.amax(x, axis),
            "min": lambda x, axis=None: torch.amin(x) if axis is None else torch.amin(x, axis),
            "amax": lambda x, axis=None: torch.amax(x) if axis is None else torch.amax(x, axis),
            "amin": lambda x, axis=None: torch.amin(x) if axis is None else torch.amin(x, axis),
            "dot": lambda a, b: a @ b, "matmul": lambda a, b: a @ b,
            "outer": torch.outer, "where": torch.where, "abs": torch.abs,
            "maximum": lambda a, b: torch.maximum(_t(a), _t(b)),
            "minimum": lambda a, b: torch.minimum(_t(a), _t(b)),
            "square": torch.square, "transpose": lambda x: x.T,
            "arange": lambda *a: torch.arange(*a, dtype=f64),
            "linspace": lambda a, b, n=50: torch.linspace(a, b, n, dtype=f64),
            "arcsin": torch.asin, "arccos": torch.acos, "arctan": torch.atan,
            "arctan2": torch.atan2, "clip": torch.clamp,
        }
        if name in table:
            return table[name]
        fn = getattr(torch, name, None)
        if fn is None:
            raise AttributeError(f"no torch equivalent of numpy.{name}")
        return lambda *a: fn(*[_t(x) for x in a])


def torch_eager(fn: Callable) -> Callable:
    """`fn` with `math`/`numpy` (and its module's other functions) computing on torch."""
    fn = getattr(fn, "__adjoin_function__", fn)
    shims = {id(math): _MathShim(), id(np): _NumpyShim()}
    g: Dict[str, Any] = {}
    g.update(fn.__globals__)
    for name, v in fn.__globals__.items():
        if id(v) in shims:
            g[name] = shims[id(v)]
        elif isinstance(v, types.FunctionType) and v.__module__ == fn.__module__:
            g[name] = types.FunctionType(v.__code__, g, v.__name__, v.__defaults__, v.__closure__)
        elif getattr(v, "__adjoin_function__", None) is not None:
            inner = v.__adjoin_function__
            g[name] = types.FunctionType(inner.__code__, g, inner.__name__, inner.__defaults__,
                                         inner.__closure__)
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


def torch_grad(fn: Callable, args: Sequence[Any], wrt: Sequence[int],
               cotangent: Callable[[Any], Any] = None) -> List[Any]:
    """Gradients of `fn` at `args` by torch autograd (float64) on the same code."""
    torch = _torch()
    tfn = torch_eager(fn)
    targs = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            targs.append(torch.tensor(a, dtype=torch.float64, requires_grad=i in wrt))
        elif isinstance(a, float) and i in wrt:
            targs.append(torch.tensor(a, dtype=torch.float64, requires_grad=True))
        else:
            targs.append(a)
    out = tfn(*targs)
    if cotangent is not None:
        out = cotangent(out)
    grads = torch.autograd.grad(out, [targs[i] for i in wrt], allow_unused=True)
    res = []
    for i, g in zip(wrt, grads):
        if g is None:
            g = torch.zeros_like(targs[i])
        g = g.detach().numpy()
        res.append(float(g) if g.ndim == 0 else g)
    return res


def torch_hessian(fn: Callable, args: Sequence[Any], wrt: Sequence[int]) -> List[List[Any]]:
    """Blocks H[i][j] of the Hessian of scalar `fn` by torch.autograd.functional.hessian."""
    torch = _torch()
    tfn = torch_eager(fn)
    base = [torch.tensor(a, dtype=torch.float64) if isinstance(a, np.ndarray) and
            a.dtype.kind == "f" else a for a in args]
    inputs = tuple(torch.tensor(args[i], dtype=torch.float64) for i in wrt)

    def of(*xs):
        call = list(base)
        for i, x in zip(wrt, xs):
            call[i] = x
        return tfn(*call)
    h = torch.autograd.functional.hessian(of, inputs)
    return [[np.asarray(h[i][j].detach().numpy(), dtype=np.float64) for j in range(len(wrt))]
            for i in range(len(wrt))]
