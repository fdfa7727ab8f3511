"""The IR builder: creates typed ops at an insertion point.

Assumes: ops are typed by the rules in `ops.py` unless result types are given.
Guarantees: every op created carries the builder's current source location; a
typing failure becomes `TypingError` pointing at that location.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence

from ..errors import Loc, TypingError, UNKNOWN_LOC
from . import ops as opdefs
from .core import Block, Op, Region, Value
from .types import BOOL, F32, F64, I64, NONE, ScalarType, Type


class Builder:
    """Inserts at the end of a block, or before/after an anchor op. Anchors, not
    indices, are remembered, so nested insertions elsewhere in the block never
    shift where the next op goes."""

    def __init__(self, block: Optional[Block] = None, loc: Loc = UNKNOWN_LOC):
        self.block = block
        self.anchor: Optional[Op] = None
        self.place = "end"  # "end", "before" or "after" the anchor
        self.loc = loc

    # -- insertion point ---------------------------------------------------

    @contextmanager
    def _at(self, block: Block, place: str, anchor: Optional[Op]) -> Iterator["Builder"]:
        saved = (self.block, self.place, self.anchor)
        self.block, self.place, self.anchor = block, place, anchor
        try:
            yield self
        finally:
            self.block, self.place, self.anchor = saved

    def at_end(self, block: Block):
        return self._at(block, "end", None)

    def before(self, anchor: Op):
        return self._at(anchor.parent, "before", anchor)

    def after(self, anchor: Op):
        return self._at(anchor.parent, "after", anchor)

    @contextmanager
    def at_loc(self, loc: Optional[Loc]) -> Iterator["Builder"]:
        saved = self.loc
        if loc is not None:
            self.loc = loc
        try:
            yield self
        finally:
            self.loc = saved

    def insert(self, op: Op) -> Op:
        assert self.block is not None, "builder has no insertion block"
        if self.place == "end":
            self.block.append(op)
        elif self.place == "before":
            self.block.insert_before(self.anchor, op)
        else:
            self.block.insert(self.block.ops.index(self.anchor) + 1, op)
            self.anchor = op  # the next op goes after this one
        return op

    # -- op creation -------------------------------------------------------

    def op(self, name: str, operands: Sequence[Value] = (), attrs: Optional[Dict[str, Any]] = None,
           result_types: Optional[Sequence[Type]] = None, names: Sequence[str] = (),
           regions: Sequence[Region] = (), loc: Optional[Loc] = None) -> Op:
        attrs = dict(attrs or {})
        if result_types is None:
            try:
                result_types = opdefs.infer(name, [v.type for v in operands], attrs)
            except opdefs.TypeRuleError as e:
                raise TypingError(str(e), loc or self.loc, construct=name) from None
        o = Op(name, operands, result_types, attrs, regions, loc or self.loc, names)
        return self.insert(o)

    def emit(self, name: str, *operands: Value, name_hint: str = "", **attrs: Any) -> Value:
        """Create a single-result op and return its result."""
        o = self.op(name, operands, attrs, names=(name_hint,) if name_hint else ())
        return o.result

    def const(self, value: Any, type: Optional[Type] = None, name_hint: str = "") -> Value:
        if type is None:
            type = const_type(value)
        if type == F64 or type == F32:
            value = float(value)
        elif type == I64:
            value = int(value)
        elif type == BOOL:
            value = bool(value)
        return self.op("const", (), {"value": value, "type": type},
                       names=(name_hint,) if name_hint else ()).result

    def undef(self, type: Type, name_hint: str = "") -> Value:
        return self.op("undef", (), {"type": type}, names=(name_hint,) if name_hint else ()).result

    def convert(self, v: Value, to: ScalarType) -> Value:
        """`v` converted to scalar type `to` (or arrays of it); `v` itself if already so."""
        from .types import like
        if v.type == like(v.type, to):
            return v
        return self.emit("convert", v, to=to)

    def yield_(self, values: Sequence[Value], terminator: str = "yield") -> Op:
        return self.op(terminator, values, result_types=())


def const_type(value: Any) -> Type:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return I64
    if isinstance(value, float):
        return F64
    raise TypeError(f"no IR constant for {value!r}")


def new_region(arg_types: Sequence[Type] = (), arg_names: Sequence[str] = ()) -> Region:
    return Region([Block(arg_types, arg_names)])


def results(op: Op) -> List[Value]:
    return list(op.results)
