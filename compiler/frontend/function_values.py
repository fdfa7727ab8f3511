"""Functions as values: a function passed as an argument, compiled by specializing the
callee on the function it receives.

Assumes: the translator's function values: `Static` (a Python object known at compile
time: a plain function, a NumPy function, an adjoin custom function), `Closure` (a
nested def or lambda of the function being translated), `BoundClosure` (a closure a
caller passed in) and `StraightValue` (`adjoin.straight_through(fn)` made in the body).
Guarantees: a function argument is a signature entry `FunctionSig` whose identity is
the function (a Python object, or the nested definition with the names it reads) and
whose run-time part is an ordinary IR parameter: `none` for a Python object, a tuple of
the values a closure reads from its defining function (read when the callee is called,
as Python reads them when the closure runs). The callee binds the parameter's name to
the function again, so calling it compiles the function for the arguments given there.
A function value anywhere else (returned, stored in a tuple, chosen by a branch) stays
an UnsupportedSyntax error at the user's line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from ..ir.core import Value
from ..ir.types import NONE
from .exprs import Static
from .kinds import FunctionSig, marked
from .scope import Closure


def bind(sig: FunctionSig, param: Value) -> Any:
    """What the callee's name for the parameter `param` of signature entry `sig` means:
    the function again."""
    if isinstance(sig.payload, BoundClosure):
        return sig.payload.rebound(param)
    return sig.payload


class BoundClosure(Closure):
    """A closure passed into a function: its definition, the file it is written in,
    the names it reads from its defining function (their values are the tuple
    `captured`) and the nested functions it may call."""

    def __init__(self, closure: Closure, src: Any, frees: Tuple[str, ...],
                 statics: Dict[str, Any], captured: Optional[Value] = None):
        super().__init__(closure.node, closure.name, closure.env)
        self.src = src
        self.frees = frees
        self.statics = statics
        self.captured = captured

    def rebound(self, captured: Value) -> "BoundClosure":
        return BoundClosure(self, self.src, self.frees, self.statics, captured)

    def identity(self) -> Tuple:
        return ("closure", self.src.key, id(self.node), self.frees,
                tuple(sorted((k, id(v.node)) for k, v in self.statics.items())))


@dataclass
class StraightValue:
    """`adjoin.straight_through(fn, surrogate)` made inside a compiled function."""
    fn: Any
    surrogate: Any = None
    name: str = "straight_through"


def is_function_value(v: Any) -> bool:
    if isinstance(v, (Closure, StraightValue)):
        return True
    return isinstance(v, Static) and callable(v.obj) and not isinstance(v.obj, type)


def function_argument(ctx, tr, v: Any, node) -> Tuple[Value, FunctionSig]:
    """The run-time value and signature entry that pass the function value `v`."""
    if isinstance(v, BoundClosure) and v.captured is not None:
        return v.captured, FunctionSig(v.identity(),
                                       marked(v.captured.type, tr.kind(v.captured)), v)
    if isinstance(v, Closure):
        frees, statics = ctx.free_names(tr, ctx.desugared(v.node)[0], v, node)
        captured = tr.b.emit("tuple", *[tr.env[n] for n in frees])
        bound = BoundClosure(v, tr.src, tuple(frees), statics, captured)
        return captured, FunctionSig(bound.identity(), marked(captured.type, tr.kind(captured)),
                                     bound)
    obj = v.fn if isinstance(v, StraightValue) else v.obj
    key = ("straight", _key(v.fn), _key(v.surrogate)) if isinstance(v, StraightValue) \
        else obj
    return tr.b.const(None), FunctionSig(key, NONE, v)


def _key(v: Any) -> Any:
    if isinstance(v, BoundClosure):
        return v.identity()
    if isinstance(v, Closure):
        return ("closure", id(v.node))
    return getattr(v, "obj", v)


def api_signature(value: Any) -> Optional[FunctionSig]:
    """The signature entry of a Python function passed to a compiled function from
    Python (None for other values); it runs as None."""
    if callable(value) and not isinstance(value, type) and not hasattr(value, "shape"):
        return FunctionSig(value, NONE, Static(value, getattr(value, "__name__", "function")))
    return None
