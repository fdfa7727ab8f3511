"""The batching transform: a function of one lane becomes a function of many.

Assumes: a finished, typed function (the frontend's or a derivative's) and, per
parameter, an `Info` saying which of its leaves carry a leading batch axis; batching
rules in `rules` and control flow in `control`.
Guarantees: `Batcher(...).build(name)` returns a new function whose batched parameters
have the batch axis first and which computes, lane by lane, what the original computes
for each lane. Values that depend on no batched value stay unbatched (no broadcast is
ever made for them); an op whose operands are batched goes through its rule, or, with
no rule, runs lane by lane in a loop (`lanewise`). With `masked`, the function takes a
last parameter: the bool lanes it runs for (the others compute values nobody reads,
and never raise for them: their indices are masked). Lanes compute as NumPy arrays
do: a domain error in a lane gives nan or inf where CPython's `math` raises.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from ..errors import CompileError
from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, OpResult, Value
from ..ir.types import BOOL, I64, NONE, ArrayType, ScalarType, TupleType, Type
from .lanes import Info, Lanes, any_batched, batched_type, full_info, lane_rank, normal
from .rules import RULES, refuse

CONTROL = ("if", "for", "while", "call")


class Batcher:
    def __init__(self, ctx, f: Function, infos: List[Info], masked: bool,
                 by_lanes: bool = False):
        self.ctx = ctx
        self.src = f
        self.infos = [normal(p.type, i) for p, i in zip(f.params, infos)]
        self.masked = masked
        self.b = Builder()
        self.lanes = Lanes(self.b)
        self.env: Dict[int, Value] = {}
        self.mask: Optional[Value] = None
        self.param_mask: Optional[Value] = None  # the mask a masked function is given
        self.progress: Dict[str, object] = {}
        self.masks: List[Op] = []  # ops making masks: removed again where unused
        self.by_lanes = by_lanes  # the body is one call of `f` per lane
        self.result_info: Info = False

    # -- the function ----------------------------------------------------------------------

    def build(self, name: str) -> Function:
        f = self.src
        types = [batched_type(p.type, i) for p, i in zip(f.params, self.infos)]
        names = [p.name for p in f.params]
        if self.masked:
            types.append(ArrayType(BOOL, 1))
            names.append("lanes")
        g = Function(name, types, names, f.result_type, f.loc)
        g.attrs = {k: v for k, v in f.attrs.items() if k not in ("nothrow",)}
        with self.b.at_end(g.body.block), self.b.at_loc(f.loc):
            for old, new, info in zip(f.params, g.params, self.infos):
                self.env[id(old)] = self.lanes.mark(new, info)
            if self.masked:
                self.mask = self.param_mask = self.lanes.mark(g.params[-1], True)
            self.lanes.size = self.batch_size(g)
            if self.by_lanes:
                call = Op("call", list(f.params), [f.result_type], {"callee": f.name}, (), f.loc)
                (value,) = lanewise(self, call, [self.env[id(p)] for p in f.params])
            else:
                (value,) = self.block(f.body.block)
            self.result_info = self.ctx.result_info_for(self, self.lanes.info_of(value))
            value = self.lanes.to_info(value, f.result_type, self.result_info)
            self.b.op("return", [value], result_types=[])
        g.result_type = batched_type(f.result_type, self.result_info)
        self.drop_unused_masks(g)
        return g

    def mask_op(self, name: str, *operands: Value) -> Value:
        """A mask computed for a branch (nothing may read it: see drop_unused_masks)."""
        v = self.b.emit(name, *operands)
        self.masks.append(v.op)
        return self.lanes.mark(v, True)

    def drop_unused_masks(self, g: Function) -> None:
        """Masks no op reads (a branch with no op that needs one) are removed: passes
        keep array ops they cannot prove harmless."""
        from ..ir.core import use_counts
        while True:
            counts = use_counts(g.body.block)
            dead = [o for o in self.masks if counts.get(id(o.result), 0) == 0]
            if not dead:
                return
            for o in dead:
                o.erase()
                self.masks.remove(o)

    def batch_size(self, g: Function) -> Value:
        for p in g.params:
            v = self.first_batched_leaf(p)
            if v is not None:
                return self.b.emit("dim", v, axis=0, name_hint="lanes_n")
        raise CompileError("internal: vmap of a function with no batched argument", g.loc)

    def first_batched_leaf(self, v: Value) -> Optional[Value]:
        info = self.lanes.info_of(v)
        if info is True:
            return v
        if isinstance(info, tuple):
            for k, i in enumerate(info):
                if any_batched(i):
                    item = self.lanes.mark(self.b.emit("tuple_get", v, index=k), i)
                    return self.first_batched_leaf(item)
        return None

    # -- blocks and ops --------------------------------------------------------------------

    def block(self, blk: Block) -> List[Value]:
        """Emit the batched ops of `blk`; return the new values of its terminator."""
        for op in blk.ops[:-1]:
            self.op(op)
        term = blk.ops[-1]
        return [self.env[id(v)] for v in term.operands]

    def op(self, op: Op) -> None:
        args = [self.env[id(v)] for v in op.operands]
        with self.b.at_loc(op.loc):
            if op.name in CONTROL:
                from . import control
                outs = getattr(control, "batch_" + op.name)(self, op, args)
            elif not any(any_batched(self.lanes.info_of(a)) for a in args):
                outs = self.clone(op, args)
            else:
                outs = RULES.get(op.name, lanewise)(self, op, args)
            for old, new in zip(op.results, outs):
                self.env[id(old)] = self.fit(op, new, old)

    def clone(self, op: Op, args: List[Value]) -> List[Value]:
        new = Op(op.name, args, [r.type for r in op.results], dict(op.attrs), (), op.loc,
                 [r.name for r in op.results])
        self.b.insert(new)
        return list(new.results)

    def fit(self, op: Op, new: Value, old: Value) -> Value:
        """`new` with the dtype the lane value `old` has (a rule's NumPy promotion may
        differ from the lane's), named like `old`."""
        want = batched_type(old.type, self.lanes.info_of(new))
        if new.type != want:
            if isinstance(want, ArrayType) and isinstance(new.type, ArrayType) and \
                    want.ndim == new.type.ndim:
                new = self.lanes.mark(self.b.emit("convert", new, to=want.dtype), True)
            else:
                raise CompileError(f"internal: batching '{op.name}' gave {new.type}, "
                                   f"expected {want}", op.loc, "vmap")
        if old.name and not new.name:
            new.name = old.name
        return new

    # -- helpers the rules use -------------------------------------------------------------

    def emit(self, name: str, operands: List[Value], attrs: Optional[dict] = None
             ) -> List[Value]:
        """Emit op `name`; its results are batched."""
        o = self.b.op(name, operands, attrs or {})
        return [self.lanes.mark(r, True) for r in o.results]

    def lane_size(self, x: Value, rank: int) -> Value:
        """The number of elements of one lane of batched `x` (lane rank `rank`)."""
        n = None
        for k in range(rank):
            d = self.b.emit("dim", x, axis=k + 1)
            n = d if n is None else self.b.emit("mul", n, d)
        return n if n is not None else self.b.const(1)

    def squeeze(self, v: Value, axis: int) -> Value:
        """`v` without its unit axis `axis` (negative)."""
        n = v.type.ndim
        spec = ("s000",) * (n + axis) + ("i",)
        return self.emit("getitem", [v, self.b.const(0)], {"index": spec})[0]

    def matmul(self, a: Value, b: Value, ra: int, rb: int, ba: bool, bb: bool) -> Value:
        """Batched `a @ b` of lane ranks `ra`, `rb` (both at least 2): a batched
        operand gets unit axes after its batch axis up to the larger rank."""
        to = max(ra, rb)
        if ba:
            a = self.lanes.align(a, ra, to)
        if bb:
            b = self.lanes.align(b, rb, to)
        return self.emit("matmul", [a, b])[0]

    def merge(self, c: Value, a: Value, b: Value, lane_t: Type) -> Value:
        """Per lane: `a` where batched bool `c` holds, else `b` (tuples leaf by leaf)."""
        if a is b or _is_undef(b):
            return a
        if _is_undef(a):
            return b
        if isinstance(lane_t, TupleType):
            parts = []
            for k, e in enumerate(lane_t.elts):
                parts.append(self.merge(c, self.item(a, k), self.item(b, k), e))
            info = tuple(self.lanes.info_of(p) for p in parts)
            return self.lanes.mark(self.b.emit("tuple", *parts), info)
        if lane_t == NONE:
            return a
        rank = lane_rank(lane_t)
        sides = [self.lanes.align(v, rank if isinstance(v.type, ArrayType) and
                                  v.type.ndim > rank else 0, rank)
                 if any_batched(self.lanes.info_of(v)) else v for v in (a, b)]
        r = self.emit("where", [self.lanes.align(c, 0, rank)] + sides)[0]
        dtype = lane_t.dtype if isinstance(lane_t, ArrayType) else lane_t
        if r.type.dtype != dtype:
            r = self.lanes.mark(self.b.emit("convert", r, to=dtype), True)
        return r

    def item(self, v: Value, k: int) -> Value:
        info = normal(v.type, self.lanes.info_of(v))
        return self.lanes.mark(self.b.emit("tuple_get", v, index=k), info[k])

    def peel_indices(self, op: Op, x: Value, spec: List[str], idx: List[Value]) -> Value:
        """x[i, j, ..., slices] with some integer index per lane: each leading integer
        index is taken in turn (a batched one with one index per lane, NumPy's
        x[arange(B), i]); the slices after them apply to every lane."""
        k = 0
        while k < len(spec) and spec[k] == "i":
            i, xb = idx[k], any_batched(self.lanes.info_of(x))
            if any_batched(self.lanes.info_of(i)):
                i = self.b.convert(self.lanes.masked_index(i, self.mask), I64)
                if xb:
                    lanes = self.lanes.indices()
                    x = self.emit("take", [x, lanes, i], {"form": "aa"})[0]
                else:
                    x = self.emit("take", [x, i], {"form": "a"})[0]
            else:
                x = self.b.op("getitem", [x, i], {"index": ("s000", "i") if xb else ("i",)}
                              ).result
                self.lanes.mark(x, xb)
            k += 1
        rest = idx[k:]
        if any(any_batched(self.lanes.info_of(i)) for i in rest):
            raise refuse(op, "an index that differs per lane is supported before any slice "
                             "(x[i, 1:3], not x[1:3, i])")
        if k < len(spec):
            x = self.emit("getitem", [x] + rest, {"index": ("s000",) + tuple(spec[k:])})[0]
        return x


def _is_undef(v: Value) -> bool:
    return isinstance(v, OpResult) and v.op.name == "undef"


def lanewise(bt: Batcher, op: Op, args: List[Value]) -> List[Value]:
    """An op with no batching rule, run once per lane in a loop: lane 0 (the first
    active lane under a mask) gives the shape of the results, every lane writes its row."""
    if op.regions or len(op.results) != 1:
        raise refuse(op, f"'{op.name}' cannot be batched")
    b, lanes = bt.b, bt.lanes
    lane_t = op.result.type
    first = b.emit("argmax", bt.mask) if bt.mask is not None else b.const(0)
    row0 = _lane_op(bt, op, args, first)
    out = _rows_like(bt, row0, lane_t)
    zero, one = b.const(0), b.const(1)
    start = zero
    if bt.mask is None:  # lane 0 is done
        out, start = _store(bt, out, row0, zero, lane_t), one
    loop = b.op("for", [start, lanes.size, one, out], {},
                result_types=[out.type], regions=[_region([I64, out.type])])
    body = loop.regions[0].block
    i, acc = body.args
    with b.at_end(body):
        if bt.mask is None:
            b.yield_([_store(bt, acc, _lane_op(bt, op, args, i), i, lane_t)])
        else:
            live = b.op("getitem", [bt.mask, i], {"index": ("i",)}).result
            branch = b.op("if", [live], {}, result_types=[acc.type],
                          regions=[_region([]), _region([])])
            with b.at_end(branch.regions[0].block):
                b.yield_([_store(bt, acc, _lane_op(bt, op, args, i), i, lane_t)])
            with b.at_end(branch.regions[1].block):
                b.yield_([acc])
            b.yield_([branch.result])
    return [lanes.mark(loop.result, True)]


def _region(types):
    from ..ir.builder import new_region
    return new_region(types)


def _lane_op(bt: Batcher, op: Op, args: List[Value], i: Value) -> Value:
    lane_args = [bt.lanes.lane(a, i) if any_batched(bt.lanes.info_of(a)) else a for a in args]
    new = Op(op.name, lane_args, [op.result.type], dict(op.attrs), (), op.loc)
    bt.b.insert(new)
    return new.result


def _rows_like(bt: Batcher, row: Value, lane_t: Type) -> Value:
    """A batched array (tuple of them) of lane type `lane_t`, shaped like `row`."""
    b = bt.b
    if isinstance(lane_t, TupleType):
        parts = [_rows_like(bt, b.emit("tuple_get", row, index=k), e)
                 for k, e in enumerate(lane_t.elts)]
        return b.emit("tuple", *parts)
    if not isinstance(lane_t, (ArrayType, ScalarType)) or lane_t == NONE:
        raise CompileError(f"internal: no per-lane rows of {lane_t}")
    dims = [b.emit("dim", row, axis=k) for k in range(lane_rank(lane_t))]
    dtype = lane_t.dtype if isinstance(lane_t, ArrayType) else lane_t
    return b.emit("zeros", bt.lanes.size, *dims, dtype=str(dtype))


def _store(bt: Batcher, acc: Value, row: Value, i: Value, lane_t: Type) -> Value:
    b = bt.b
    if isinstance(lane_t, TupleType):
        parts = [_store(bt, b.emit("tuple_get", acc, index=k), b.emit("tuple_get", row, index=k),
                        i, e) for k, e in enumerate(lane_t.elts)]
        return b.emit("tuple", *parts)
    if isinstance(lane_t, ArrayType):  # a lane of another size raises NumPy's ValueError
        dims = [b.emit("dim", acc, axis=k + 1) for k in range(lane_t.ndim)]
        b.emit("reshape", row, *dims)  # (broadcasting a row into the others' shape is wrong)
    return b.emit("setitem", acc, i, row, index=("i",))


def batched_result_info(t: Type) -> Info:
    return full_info(t, True)
