"""The builder derivative rules write with: `ad.mul(g, ad.cos(x))`.

Assumes: a `Builder` positioned where derivative code goes, with its location set
to the primal op's (role "grad" or "tangent").
Guarantees: any op name is a method (`ad.sin(x)`, `ad.sum(x, axis=0)`) that
builds the op and returns its result; helpers treat None as an exact zero
(`plus(None, y) is y`), so rules never build arithmetic on zeros.
"""
from __future__ import annotations

from typing import Any, Optional

from ..ir.builder import Builder
from ..ir.core import Value
from ..ir.ops import OPS
from ..ir.types import ArrayType, F64, I64, ScalarType, TupleType, Type


def float_type(t: Type) -> ScalarType:
    s = t.dtype if isinstance(t, ArrayType) else t
    return s if isinstance(s, ScalarType) and s.is_float else F64


class Emitter:
    first_writes: frozenset = frozenset()  # ids of setitem ops (first_writes.py)

    def __init__(self, b: Builder, shapes=None):
        self.b = b
        self.shapes = shapes    # passes.shapes.Shapes of the function being differentiated
        self.current = None     # the primal op whose rule is running

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def build(*operands: Value, **attrs: Any) -> Value:
            return self.b.emit(name.rstrip("_"), *operands, **attrs)
        return build

    # -- constants and zeros -----------------------------------------------------

    def const(self, value: float, like: Value) -> Value:
        """A float constant of `like`'s float type."""
        return self.b.const(float(value), float_type(like.type))

    def zero(self, like: Value) -> Value:
        """An exact zero shaped like `like`."""
        if isinstance(like.type, ArrayType):
            return self.b.emit("zeros_like", like)
        return self.const(0.0, like)

    def zero_tangent(self, like: Value) -> Value:
        """An exact zero tangent (or adjoint) for any primal value: a tuple part by part,
        a placeholder for non-float parts."""
        if isinstance(like.type, TupleType):
            parts = [self.zero_tangent(self.b.op("tuple_get", [like], {"index": k}).result)
                     for k in range(len(like.type.elts))]
            return self.b.emit("tuple", *parts)
        if like.type.differentiable():
            return self.zero(like)
        return self.b.const(0, I64) if like.type == I64 else self.b.undef(like.type)

    # -- None-as-zero arithmetic ----------------------------------------------------

    def plus(self, a: Optional[Value], b: Optional[Value]) -> Optional[Value]:
        if a is None:
            return b
        if b is None:
            return a
        return self.b.emit("add", a, b)

    def minus(self, a: Optional[Value], b: Optional[Value]) -> Optional[Value]:
        if b is None:
            return a
        if a is None:
            return self.b.emit("neg", b)
        return self.b.emit("sub", a, b)

    def scale(self, a: Optional[Value], b: Value) -> Optional[Value]:
        return None if a is None else self.b.emit("mul", a, b)

    def choose(self, cond: Value, a: Value, b: Value) -> Value:
        """`a if cond else b`, elementwise for arrays."""
        if any(isinstance(v.type, ArrayType) for v in (cond, a, b)):
            return self.b.emit("where", cond, a, b)
        return self.b.emit("select", cond, a, b)

    # -- shapes -----------------------------------------------------------------------

    def same_shape(self, v: Value, like: Value) -> bool:
        """Whether array `v` provably has `like`'s shape on every run."""
        if v is like or (self.shapes is not None and self.shapes.same(v, like)):
            return True
        op = getattr(like, "op", None)  # the only array operand of an elementwise op
        if op is None or "elementwise" not in OPS[op.name].tags:
            return False
        arrays = {id(x) for x in op.operands if isinstance(x.type, ArrayType)}
        return arrays == {id(v)}

    def unbroadcast(self, c: Optional[Value], like: Value) -> Optional[Value]:
        """Reduce a contribution computed at the current op's result shape to `like`'s."""
        if c is None:
            return None
        if not isinstance(c.type, ArrayType):
            return c
        if not isinstance(like.type, ArrayType):
            return self.b.emit("sum", c)
        op = self.current
        if op is not None and op.results and self.same_shape(like, op.results[0]):
            return c  # like has the result's shape: nothing was broadcast
        return self.b.emit("sum_to", c, like)

    def broadcast(self, d: Optional[Value], like: Value, covers=()) -> Optional[Value]:
        """A tangent `d` expanded to `like`'s shape (for forward rules). `d`'s shape is the
        broadcast of the shapes of the primal values `covers`: when they include every
        array operand of the elementwise op computing `like`, or one of them provably has
        `like`'s shape, `d` has that shape already."""
        if d is None or not isinstance(like.type, ArrayType):
            return d
        if not isinstance(d.type, ArrayType):
            return self.b.emit("full_like", like, self.b.convert(d, like.type.dtype))
        if self.covers(covers, like):
            return d
        return self.b.emit("add", self.b.emit("zeros_like", like), d)

    def covers(self, values, like: Value) -> bool:
        """Whether the broadcast of the shapes of `values` is provably `like`'s shape."""
        ids = {id(v) for v in values}
        op = getattr(like, "op", None)
        if op is not None and "elementwise" in OPS[op.name].tags and all(
                id(x) in ids for x in op.operands if isinstance(x.type, ArrayType)):
            return True
        return any(self.same_shape(v, like) for v in values)
