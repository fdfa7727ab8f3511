"""Lanes: which values of a batched function carry the batch axis, and the helpers that
move values between the two forms.

Assumes: typed IR (`ir.types`); a value is either *unbatched* (the same in every lane,
its lane type unchanged) or *batched* (its lane values stacked along a new leading axis:
a lane scalar of type `f64` becomes `array<f64, 1>`, a lane `array<f64, n>` becomes
`array<f64, n+1>`). Tuples are batched leaf by leaf, so an `Info` is a bool or a tuple
of Infos. `none` values are never batched (every lane holds the same None).
Guarantees: `batched_type(t, info)` is the type of the batched form; `Lanes` emits the
ops that broadcast an unbatched value to every lane (`spread`), that line a batched
value up against a higher-ranked one (`align`: the batch axis stays first, NumPy
broadcasting lines up the lane axes from the right) and that read one lane's value.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

from ..ir.builder import Builder
from ..ir.core import OpResult, Value
from ..ir.types import BOOL, I64, NONE, ArrayType, ScalarType, TupleType, Type

Info = Union[bool, Tuple["Info", ...]]


def full_info(t: Type, flag: bool) -> Info:
    """`flag` for every leaf of `t` (never for a `none` leaf)."""
    if isinstance(t, TupleType):
        return tuple(full_info(e, flag) for e in t.elts)
    return flag and t != NONE


def normal(t: Type, info: Info) -> Info:
    """`info` spelled out leaf by leaf for type `t`."""
    if isinstance(info, bool):
        return full_info(t, info)
    return tuple(normal(e, i) for e, i in zip(t.elts, info))


def any_batched(info: Info) -> bool:
    if isinstance(info, bool):
        return info
    return any(any_batched(i) for i in info)


def join_info(t: Type, a: Info, b: Info) -> Info:
    """Batched where either is batched."""
    a, b = normal(t, a), normal(t, b)
    if isinstance(a, bool):
        return a or b
    return tuple(join_info(e, x, y) for e, x, y in zip(t.elts, a, b))


def batched_type(t: Type, info: Info) -> Type:
    """The type of the batched form of a value of lane type `t`."""
    info = normal(t, info)
    if isinstance(t, TupleType):
        return TupleType(tuple(batched_type(e, i) for e, i in zip(t.elts, info)))
    if not info:
        return t
    if isinstance(t, ArrayType):
        return ArrayType(t.dtype, t.ndim + 1)
    assert isinstance(t, ScalarType), t
    return ArrayType(t, 1)


def lane_rank(t: Type) -> int:
    return t.ndim if isinstance(t, ArrayType) else 0


class Lanes:
    """Emits the broadcasting ops of a batched function through builder `b`, whose batch
    size is the i64 value `size` (set once the function's entry is built)."""

    def __init__(self, b: Builder):
        self.b = b
        self.size: Optional[Value] = None
        # id(new value) -> (value, Info); the value is kept so that its id is never reused
        self.info: Dict[int, Tuple[Value, Info]] = {}

    def info_of(self, v: Value) -> Info:
        hit = self.info.get(id(v))
        return hit[1] if hit is not None and hit[0] is v else False

    def mark(self, v: Value, info: Info) -> Value:
        self.info[id(v)] = (v, normal(v.type, info))
        return v

    # -- broadcasting -----------------------------------------------------------------

    def spread(self, v: Value, lane_t: Type) -> Value:
        """Unbatched `v` (lane type `lane_t`) as the same value in every lane."""
        b = self.b
        if isinstance(v, OpResult) and v.op.name == "undef":  # "no value yet" in each lane
            if isinstance(lane_t, ScalarType):
                return self.mark(b.emit("full", self.size, b.const(0, lane_t)), True)
            return self.mark(b.undef(batched_type(lane_t, True)), True)
        if isinstance(lane_t, ScalarType):
            return self.mark(b.emit("full", self.size, v), True)
        dims = [b.emit("dim", v, axis=k) for k in range(lane_t.ndim)]
        every = b.emit("full", self.size, *dims, b.const(True))
        return self.mark(b.emit("where", every, v, v), True)

    def to_info(self, v: Value, lane_t: Type, want: Info) -> Value:
        """`v` converted to the batching `want` (only ever from unbatched to batched)."""
        have = normal(lane_t, self.info_of(v))
        want = normal(lane_t, want)
        if have == want:
            return v
        if isinstance(lane_t, TupleType):
            parts = []
            for k, (e, h, w) in enumerate(zip(lane_t.elts, have, want)):
                item = self.b.emit("tuple_get", v, index=k)
                self.mark(item, h)
                parts.append(self.to_info(item, e, w))
            return self.mark(self.b.emit("tuple", *parts), want)
        assert not have and want, (have, want)
        return self.spread(v, lane_t)

    def align(self, v: Value, rank: int, to: int) -> Value:
        """Batched `v` of lane rank `rank` reshaped so that its lane axes line up with a
        lane rank of `to` (unit axes after the batch axis)."""
        for _ in range(to - rank):
            v = self.mark(self.b.emit("expand_dims", v, axis=1), True)
        return v

    def lane(self, v: Value, index: Value) -> Value:
        """The value of lane `index` of batched `v` (tuples leaf by leaf)."""
        if isinstance(v.type, TupleType):
            info = normal(v.type, self.info_of(v))
            parts = []
            for k, i in enumerate(info):
                item = self.b.emit("tuple_get", v, index=k)
                self.mark(item, i)
                parts.append(self.lane(item, index) if any_batched(i) else item)
            return self.b.emit("tuple", *parts)
        return self.b.emit("getitem", v, index, index=("i",))

    def indices(self) -> Value:
        """arange(B): lane k's index is k."""
        b = self.b
        return b.emit("arange", b.const(0), self.size, b.const(1))

    def every_lane(self) -> Value:
        return self.b.emit("full", self.size, self.b.const(True))

    def any_lane(self, mask: Value) -> Value:
        return self.b.emit("amax", mask)

    def all_lanes(self, mask: Value) -> Value:
        return self.b.emit("amin", mask)

    def masked_index(self, i: Value, mask: Optional[Value]) -> Value:
        """A batched index with 0 in the lanes `mask` leaves out: those lanes compute
        a value that is never used and must not raise."""
        if mask is None or not self.info_of(i):
            return i
        return self.mark(self.b.emit("where", mask, i, self.b.const(0)), True)


def is_int_like(t: Type) -> bool:
    return t in (I64, BOOL)
