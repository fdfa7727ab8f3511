"""What every GradBench eval adapter shares: the `Eval` record, field access, compiled calls.

Assumes: inputs are the decoded JSON objects of GradBench's evaluate messages.
Guarantees: `Eval.functions[name](input)` converts the input once and returns a `Prepared`
whose `call()` runs the compiled function alone (this is what gets timed) and whose
`output(result)` turns its result into the eval's JSON output; a missing or malformed
field raises `InputError` naming the eval and the field. `compiled(kind, fn, wrt)` builds
each adjoin wrapper once per process; adjoin itself keeps the machine code per input
signature, so repeated evaluates reuse it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field as dc_field
from typing import Any, Callable, Dict, List, Mapping, Sequence

import numpy as np

BACKEND = {"name": "llvm"}  # set once by the command line (`--backend`)


class InputError(ValueError):
    """An evaluate input that lacks a field or has one of the wrong shape or type."""


@dataclass
class Prepared:
    call: Callable[[], Any]
    output: Callable[[Any], Any]


@dataclass
class Eval:
    name: str
    functions: Dict[str, Callable[[Mapping[str, Any]], Prepared]]
    examples: List[Any] = dc_field(default_factory=list)  # small inputs compiled at define


def field(inp: Mapping[str, Any], name: str, module: str) -> Any:
    if not isinstance(inp, Mapping):
        raise InputError(f"{module}: the input must be an object, got {type(inp).__name__}")
    if name not in inp:
        raise InputError(f"{module}: the input has no field {name!r}")
    return inp[name]


def floats(inp: Mapping[str, Any], name: str, module: str, ndim: int) -> np.ndarray:
    """Field `name` as a float64 array of `ndim` dimensions (rectangular)."""
    value = field(inp, name, module)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{module}: field {name!r} is not a rectangular array of numbers "
                         f"({e})") from None
    if arr.ndim != ndim:
        raise InputError(f"{module}: field {name!r} must have {ndim} dimension(s), "
                         f"got shape {arr.shape}")
    return arr


def integer(inp: Mapping[str, Any], name: str, module: str, low: int = 0) -> int:
    value = field(inp, name, module)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise InputError(f"{module}: field {name!r} must be an integer, got {value!r}")
    if int(value) < low:
        raise InputError(f"{module}: field {name!r} must be at least {low}, got {value}")
    return int(value)


def number(inp: Mapping[str, Any], name: str, module: str) -> float:
    value = field(inp, name, module)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{module}: field {name!r} must be a number, got {value!r}")
    return float(value)


def compiled(kind: str, fn: Callable, wrt: Any = None) -> Callable:
    """adjoin's wrapper for `fn` on the chosen backend: "primal", "grad" or "hvp"."""
    return _compiled(kind, fn, wrt, BACKEND["name"])


@functools.lru_cache(maxsize=None)
def _compiled(kind: str, fn: Callable, wrt: Any, backend: str) -> Callable:
    import adjoin
    if kind == "primal":
        return adjoin.differentiable(fn, backend=backend)
    if kind == "grad":
        return adjoin.grad(fn, wrt=wrt if wrt is not None else 0, backend=backend)
    if kind == "hvp":
        return adjoin.hvp(fn, wrt=wrt if wrt is not None else 0, backend=backend)
    raise ValueError(kind)


def vjp(fn: Callable, *args: Any):
    import adjoin
    return adjoin.vjp(fn, *args, backend=BACKEND["name"])


def jvp(fn: Callable, primals: Sequence[Any], tangents: Sequence[Any]):
    import adjoin
    return adjoin.jvp(fn, primals, tangents, backend=BACKEND["name"])


def as_float(value: Any) -> float:
    return float(value)


def as_list(value: Any) -> list:
    return np.asarray(value, dtype=np.float64).tolist()
