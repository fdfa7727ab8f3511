"""Batching rules: one short rule per op, registered with `@batch_rule` where written.

Assumes: the `Batcher` of `transform` calls a rule only when some operand is batched;
`bt.lanes` knows which new values are batched; operands of the old op keep their lane
types (`op.operands[k].type`), the rule gets the new operand values `args`.
Guarantees: a rule returns the new result values, batched ones marked in `bt.lanes`;
the batch axis is axis 0 of every batched value. Shapes are the same in every lane (an
op whose result shape would differ per lane is a CompileError at the user's line). Ops
with no rule here run lane by lane (`transform.lanewise`), which is always right and
slower on the array backends.
"""
from __future__ import annotations

from typing import Callable, Dict, List

from ..errors import UnsupportedSyntax
from ..ir.core import Op, Value
from ..ir.ops import OPS
from ..ir.types import BOOL, I64
from .lanes import any_batched, lane_rank, normal

Rule = Callable[..., List[Value]]
RULES: Dict[str, Rule] = {}


def batch_rule(*names: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for n in names:
            RULES[n] = fn
        return fn
    return register


def refuse(op: Op, what: str) -> UnsupportedSyntax:
    return UnsupportedSyntax(f"vmap: {what}", op.loc, "vmap")


def _batched(bt, v: Value) -> bool:
    return any_batched(bt.lanes.info_of(v))


def lane_dtype(t):
    return getattr(t, "dtype", t)


def _axis(axis: int, rank: int) -> int:
    """A lane axis (negative counts from the end) as an axis of the batched value."""
    return (axis % rank if rank else 0) + 1


# -- elementwise ---------------------------------------------------------------------------


ELEMENTWISE = [n for n, d in OPS.items() if "elementwise" in d.tags]


@batch_rule(*ELEMENTWISE, "convert", "stop_gradient")
def _elementwise(bt, op: Op, args: List[Value]) -> List[Value]:
    to = max(lane_rank(x.type) for x in op.operands)
    new = [bt.lanes.align(a, lane_rank(x.type), to) if _batched(bt, a) else a
           for a, x in zip(args, op.operands)]
    attrs = {k: v for k, v in op.attrs.items() if k != "checked"}  # lanes compute as arrays
    return bt.emit(op.name, new, attrs)


@batch_rule("floordiv", "mod")
def _int_division(bt, op: Op, args: List[Value]) -> List[Value]:
    """Integer lanes divided by 0 give 0, as NumPy's int64 do (no backend may raise for a
    lane, masked or not)."""
    if lane_dtype(op.result.type) not in (I64, BOOL) or not _batched(bt, args[1]):
        return _elementwise(bt, op, args)
    b = bt.b
    zero = b.emit("eq", args[1], b.const(0))
    safe = bt.lanes.mark(b.emit("where", zero, b.const(1), args[1]), True)
    (r,) = _elementwise(bt, op, [args[0], safe])
    zero = bt.lanes.align(bt.lanes.mark(zero, True), lane_rank(op.operands[1].type),
                          lane_rank(op.result.type))
    return bt.emit("where", [zero, b.const(0), r])


@batch_rule("straight")
def _straight(bt, op: Op, args: List[Value]) -> List[Value]:
    lane = op.operands[0].type
    return bt.emit("straight", [bt.lanes.to_info(a, lane, True) for a in args], op.attrs)


@batch_rule("select")
def _select(bt, op: Op, args: List[Value]) -> List[Value]:
    c, a, b = args
    lane = op.result.type
    if _batched(bt, c):
        return [bt.merge(c, a, b, lane)]
    info = normal(lane, True)
    return bt.emit("select", [c, bt.lanes.to_info(a, lane, info), bt.lanes.to_info(b, lane, info)])


# -- tuples --------------------------------------------------------------------------------


@batch_rule("tuple")
def _tuple(bt, op: Op, args: List[Value]) -> List[Value]:
    r = bt.b.emit("tuple", *args)
    return [bt.lanes.mark(r, tuple(bt.lanes.info_of(a) for a in args))]


@batch_rule("tuple_get")
def _tuple_get(bt, op: Op, args: List[Value]) -> List[Value]:
    info = normal(args[0].type, bt.lanes.info_of(args[0]))[op.attrs["index"]]
    return [bt.lanes.mark(bt.b.emit("tuple_get", args[0], index=op.attrs["index"]), info)]


# -- shapes --------------------------------------------------------------------------------


@batch_rule("dim")
def _dim(bt, op: Op, args: List[Value]) -> List[Value]:
    rank = op.operands[0].type.ndim
    return [bt.b.emit("dim", args[0], axis=_axis(op.attrs["axis"], rank))]  # same in all lanes


@batch_rule("size")
def _size(bt, op: Op, args: List[Value]) -> List[Value]:
    return [bt.lane_size(args[0], op.operands[0].type.ndim)]


@batch_rule("transpose")
def _transpose(bt, op: Op, args: List[Value]) -> List[Value]:
    rank = op.operands[0].type.ndim
    axes = op.attrs.get("axes")
    axes = list(range(rank))[::-1] if axes is None else list(axes)
    return bt.emit("transpose", [args[0]], {"axes": tuple([0] + [a + 1 for a in axes])})


@batch_rule("reshape")
def _reshape(bt, op: Op, args: List[Value]) -> List[Value]:
    if any(_batched(bt, d) for d in args[1:]):
        raise refuse(op, "reshape to a shape that differs per lane")
    return bt.emit("reshape", [args[0], bt.lanes.size] + args[1:], op.attrs)


@batch_rule("ravel")
def _ravel(bt, op: Op, args: List[Value]) -> List[Value]:
    n = bt.lane_size(args[0], op.operands[0].type.ndim)
    return bt.emit("reshape", [args[0], bt.lanes.size, n])


@batch_rule("expand_dims")
def _expand_dims(bt, op: Op, args: List[Value]) -> List[Value]:
    rank = lane_rank(op.operands[0].type)
    axis = op.attrs.get("axis", 0)
    axis = axis if axis >= 0 else axis + rank + 1
    return bt.emit("expand_dims", [args[0]], {**op.attrs, "axis": axis + 1})


@batch_rule("pack")
def _pack(bt, op: Op, args: List[Value]) -> List[Value]:
    lane = op.result.type.ndim - 1
    parts = [bt.lanes.align(bt.lanes.to_info(a, x.type, True), lane_rank(x.type), lane)
             for a, x in zip(args, op.operands)]
    stacked = bt.emit("pack", parts)[0]  # (k, B, ...): the batch axis goes first
    axes = (1, 0) + tuple(range(2, lane + 2))
    return bt.emit("transpose", [stacked], {"axes": axes})


# -- allocation ----------------------------------------------------------------------------


@batch_rule("zeros", "ones", "empty", "arange")
def _sized(bt, op: Op, args: List[Value]) -> List[Value]:
    raise refuse(op, f"'{op.name}' with a size that differs per lane (every lane of a "
                     "batched array has one shape)")


@batch_rule("full")
def _full(bt, op: Op, args: List[Value]) -> List[Value]:
    dims, value = args[:-1], args[-1]
    if any(_batched(bt, d) for d in dims):
        _sized(bt, op, args)
    shape = bt.b.emit("full", bt.lanes.size, *dims, bt.b.const(True))
    v = bt.lanes.align(value, 0, len(dims))
    return bt.emit("where", [shape, v, v])


@batch_rule("zeros_like", "ones_like", "empty_like", "copy")
def _like(bt, op: Op, args: List[Value]) -> List[Value]:
    return bt.emit(op.name, args, op.attrs)


@batch_rule("full_like")
def _full_like(bt, op: Op, args: List[Value]) -> List[Value]:
    lane = op.operands[0].type
    x = bt.lanes.to_info(args[0], lane, True)
    v = bt.lanes.align(args[1], 0, lane.ndim) if _batched(bt, args[1]) else args[1]
    every = bt.emit("ones_like", [x], {"dtype": "bool"})[0]
    return bt.emit("where", [every, v, bt.emit("zeros_like", [x])[0]])


# -- reductions ----------------------------------------------------------------------------


@batch_rule("sum", "prod", "mean", "amax", "amin", "argmax", "argmin")
def _reduce(bt, op: Op, args: List[Value]) -> List[Value]:
    rank = op.operands[0].type.ndim
    x, axis = args[0], op.attrs.get("axis")
    if axis is None:  # over every lane axis: one axis of the lane's elements
        if rank > 1:
            x = bt.emit("reshape", [x, bt.lanes.size, bt.lane_size(x, rank)])[0]
        axis = 0
    return bt.emit(op.name, [x], {**op.attrs, "axis": _axis(axis, rank)})


@batch_rule("cumsum", "cumprod")
def _cumulative(bt, op: Op, args: List[Value]) -> List[Value]:
    rank = op.operands[0].type.ndim
    return bt.emit(op.name, args, {**op.attrs, "axis": _axis(op.attrs["axis"], rank)})


# -- products ------------------------------------------------------------------------------


@batch_rule("dot", "matmul")
def _product(bt, op: Op, args: List[Value]) -> List[Value]:
    (a, b), (ta, tb) = args, [x.type for x in op.operands]
    ba, bb = _batched(bt, a), _batched(bt, b)
    if ta.ndim == 1 and tb.ndim == 1:  # a number per lane
        if ba and bb:
            return bt.emit("sum", [bt.emit("mul", [a, b])[0]], {"axis": 1})
        return bt.emit("dot", [a, b] if ba else [b, a])
    if ta.ndim == 1:  # vector @ matrix: a row
        a = bt.emit("expand_dims", [a], {"axis": 1 if ba else 0})[0]
        return [bt.squeeze(bt.matmul(a, b, 2, tb.ndim, ba, bb), -2)]
    if tb.ndim == 1:  # matrix @ vector: a column
        b = bt.emit("expand_dims", [b], {"axis": 2 if bb else 1})[0]
        return [bt.squeeze(bt.matmul(a, b, ta.ndim, 2, ba, bb), -1)]
    return [bt.matmul(a, b, ta.ndim, tb.ndim, ba, bb)]


@batch_rule("outer")
def _outer(bt, op: Op, args: List[Value]) -> List[Value]:
    a, b = args
    a = bt.emit("expand_dims", [a], {"axis": 2 if _batched(bt, a) else 1})[0]
    if _batched(bt, b):
        b = bt.emit("expand_dims", [b], {"axis": 1})[0]
    return bt.emit("mul", [a, b])


# -- indexing ------------------------------------------------------------------------------


@batch_rule("getitem")
def _getitem(bt, op: Op, args: List[Value]) -> List[Value]:
    spec, x, idx = op.attrs["index"], args[0], args[1:]
    if not any(_batched(bt, i) for i in idx):
        return bt.emit("getitem", [x] + idx, {"index": ("s000",) + tuple(spec)})
    return [bt.peel_indices(op, x, list(spec), idx)]


@batch_rule("setitem")
def _setitem(bt, op: Op, args: List[Value]) -> List[Value]:
    spec, lane = op.attrs["index"], op.operands[0].type
    k = len(args) - 2
    x, idx, v = bt.lanes.to_info(args[0], lane, True), args[1:1 + k], args[-1]
    region = lane.ndim - sum(1 for e in spec if e == "i")
    if _batched(bt, v):
        v = bt.lanes.align(v, lane_rank(op.operands[-1].type), region)
    if not any(_batched(bt, i) for i in idx):
        return bt.emit("setitem", [x] + idx + [v], {"index": ("s000",) + tuple(spec)})
    if list(spec) != ["i"]:
        raise refuse(op, "an assignment at an index that differs per lane is supported for "
                         "one integer index (x[i] = v)")
    i = bt.lanes.to_info(bt.lanes.masked_index(idx[0], bt.mask), idx[0].type, True)
    lanes = bt.lanes.indices()
    return bt.emit("put", [x, lanes, i, v], {"form": "aa"})


@batch_rule("print")
def _print(bt, op: Op, args: List[Value]) -> List[Value]:
    raise refuse(op, "print of a value that differs per lane is not supported")


@batch_rule("assert")
def _assert(bt, op: Op, args: List[Value]) -> List[Value]:
    ok = args[0]
    if bt.mask is not None:
        ok = bt.b.emit("or", ok, bt.b.emit("not", bt.mask))
    bt.b.op("assert", [bt.lanes.all_lanes(ok)], op.attrs, result_types=[])
    return []


@batch_rule("push", "pop", "tape_new", "return", "yield", "condition")
def _internal(bt, op: Op, args: List[Value]) -> List[Value]:
    raise refuse(op, f"internal: '{op.name}' cannot be batched")

