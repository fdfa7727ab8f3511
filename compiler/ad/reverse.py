"""The reverse transform: adjoint code for a block, structurally (never unrolled).

Assumes: a forward function (a copy of the primal, which this transform may
augment) and its activity; a builder positioned where the backward code goes.
Guarantees: emits, in reverse op order, the adjoint of every active op:
  * plain ops through their VJP rule; adjoints accumulate into `x_bar` values;
    a scalar adjoint standing for every element of an array stays scalar through
    elementwise ops, and is expanded before an op whose operand wanting an adjoint
    was broadcast (that operand's adjoint sums over the elements);
  * `if`: an `if` on the same condition whose branches run the adjoints of the
    forward branches; adjoints of outside values leave it as results;
  * `for`: a `for reversed` loop over the same range, carrying the adjoints of
    the loop-carried values and of the outside values the body reads;
  * `while`: the forward loop is given an iteration counter, and the adjoint is a
    `for reversed` loop over that many iterations;
  * `call`: the forward call becomes `callee_fwd(..., tape)`, which records what
    its adjoint needs, and the adjoint is `callee_bwd(..., tape, r_bar)`.
Backward code refers to forward values directly; `residuals.py` afterwards makes
each reference legal (direct use, recomputation, or a push/pop on the tape).
An op without a rule raises NotDifferentiable at its source position.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from ..errors import NotDifferentiable
from ..ir.builder import Builder
from ..ir.core import Block, Op, OpResult, Region, Value
from ..ir.types import ArrayType, I64, TupleType, Type
from .activity import Activity, _carried
from .checkpoint_reverse import reverse_checkpoint
from .emitter import Emitter
from .first_writes import first_writes
from .naming import bar
from ..ir.ops import OPS
from .registry import VJP, Broadcast, Scatter, TuplePart, has_rules

Adjoints = Dict[int, Value]


def adjoint_type(t: Type) -> Type:
    if isinstance(t, TupleType):
        return TupleType(tuple(adjoint_type(e) for e in t.elts))
    return t


class ReverseBuilder:
    def __init__(self, ctx, act: Activity, b: Builder, tape_fwd: Value, tape_bwd: Value,
                 shapes=None):
        has_rules()
        self.ctx = ctx
        self.act = act
        self.b = b
        self.ad = Emitter(b, shapes)
        self.ad.first_writes = first_writes(act.f)
        self.tape_fwd = tape_fwd
        self.tape_bwd = tape_bwd
        self.equiv: Dict[int, Value] = {}
        self.mirror: Dict[int, Block] = {}
        self.primal: Dict[int, Value] = {}
        self.lazy: set = set()  # scalar adjoints standing for the same value at every element

    def dense(self, v: Value, a: Optional[Value]) -> Optional[Value]:
        """The adjoint `a` of array `v` as a full array (expanding a lazy scalar)."""
        if a is None or id(a) not in self.lazy or not isinstance(v.type, ArrayType) \
                or isinstance(a.type, ArrayType):
            return a
        return self.ad.full_like(_shape_witness(v), self.b.convert(a, v.type.dtype))

    # -- accumulation -------------------------------------------------------------------

    def zero_of(self, v: Value) -> Value:
        """An exact zero adjoint for primal value `v`."""
        return self.ad.zero_tangent(v)

    def accumulate(self, adj: Adjoints, v: Value, c) -> None:
        if c is None or not self.act.active(v):
            return
        self.primal[id(v)] = v
        cur = adj.get(id(v))
        if isinstance(c, Scatter):
            base = self.dense(v, cur) if cur is not None else self.ad.zeros_like(v)
            val = self.b.convert(c.value, v.type.dtype)
            new = self.b.op("addat", [base] + list(c.index) + [val], {"index": c.spec}).result
        elif isinstance(c, Broadcast) or (isinstance(v.type, ArrayType) and isinstance(c, Value)
                                          and not isinstance(c.type, ArrayType)):
            new = self.broadcast_accumulate(v, cur, getattr(c, "value", c))
        elif isinstance(c, TuplePart):
            new = self.tuple_accumulate(v, cur, c)
        else:
            c = self.match_type(c, v)
            new = c if cur is None else self.add_adjoints(self.dense(v, cur), c)
        if not new.name:
            new.name = bar(v.name)
        adj[id(v)] = new

    def add_adjoints(self, a: Value, b: Value) -> Value:
        """a + b for two adjoints of one value: part by part for a tuple (a value used
        twice: a loop over a list of layers reads each layer in every iteration)."""
        if not isinstance(a.type, TupleType):
            return _accumulating(self.ad.add(a, b))
        parts = []
        for k, t in enumerate(a.type.elts):
            pa, pb = (self.b.op("tuple_get", [x], {"index": k}).result for x in (a, b))
            parts.append(self.add_adjoints(pa, pb) if t.differentiable() else pa)
        return self.b.emit("tuple", *parts)

    def broadcast_accumulate(self, v: Value, cur: Optional[Value], val: Value) -> Value:
        """Add `val` (a scalar, or an array with reduced axes kept) to every element."""
        if isinstance(val.type, ArrayType):  # only `v`'s shape is needed: not `v` itself
            base = self.dense(v, cur) if cur is not None else \
                self.ad.zeros_like(_shape_witness(v))
            return _accumulating(self.ad.add(base, val))
        val = self.b.convert(val, v.type.dtype)
        new = val if cur is None else self.ad.add(cur, val)
        if cur is None or id(cur) in self.lazy:
            self.lazy.add(id(new))  # still one number for every element
        return new

    def match_type(self, c: Value, v: Value) -> Value:
        want = adjoint_type(v.type)
        if c.type == want:
            return c
        if isinstance(want, ArrayType) and not isinstance(c.type, ArrayType):
            return self.ad.full_like(v, self.b.convert(c, want.dtype))
        if isinstance(want, ArrayType) or getattr(want, "is_float", False):
            return self.b.convert(c, want.dtype if isinstance(want, ArrayType) else want)
        return c

    def tuple_accumulate(self, v: Value, cur: Optional[Value], c: TuplePart) -> Value:
        parts = []
        for k, et in enumerate(v.type.elts):
            old = self.b.op("tuple_get", [cur], {"index": k}).result if cur is not None else None
            if k == c.index:
                parts.append(c.value if old is None else self.add_adjoints(old, c.value))
            elif old is not None:
                parts.append(old)
            else:
                parts.append(self.zero_of(self.b.op("tuple_get", [v], {"index": k}).result))
        return self.b.emit("tuple", *parts)

    # -- blocks and ops -----------------------------------------------------------------

    def block(self, blk: Block, adj: Adjoints) -> None:
        for op in reversed(list(blk.ops)):
            if op.name in ("yield", "condition", "return") or not self.act.any_active(op):
                continue
            with self.b.at_loc(op.loc.with_role("grad")):
                handler = getattr(self, "op_" + op.name, self.op_rule)
                handler(op, adj)

    def operands_match(self, op: Op, need: List[bool]) -> bool:
        """Whether a lazy scalar adjoint may pass through `op` unexpanded: every array
        operand provably has the result's shape (so the scalar times any operand has the
        right shape) and no operand wanting an adjoint is a scalar broadcast into the
        result (its contribution is a sum over all elements, not one element's)."""
        if any(n and not isinstance(v.type, ArrayType) for v, n in zip(op.operands, need)):
            return False
        shapes = self.ad.shapes
        arrays = [v for v in op.operands if isinstance(v.type, ArrayType)]
        if len(arrays) <= 1 or all(v is arrays[0] for v in arrays):  # x * x has x's shape
            return True
        return shapes is not None and all(shapes.same(v, op.results[0]) for v in arrays)

    def op_rule(self, op: Op, adj: Adjoints) -> None:
        g = [adj.pop(id(r), None) for r in op.results]
        need = [self.act.active(v) for v in op.operands]
        if "elementwise" not in OPS[op.name].tags or not self.operands_match(op, need):
            g = [self.dense(r, x) for r, x in zip(op.results, g)]
        if all(x is None for x in g) or not any(need):
            return
        rule = VJP.get(op.name)
        if rule is None:
            raise NotDifferentiable(f"adjoin cannot differentiate '{op.name}' here (it has no "
                                    "derivative rule)", op.loc, op.name)
        self.ad.current = op
        contributions = rule(self.ad, op, g, need)
        self.ad.current = None
        for v, c, n in zip(op.operands, contributions, need):
            if n:
                self.accumulate(adj, v, c)

    # -- if ---------------------------------------------------------------------------------

    def op_if(self, op: Op, adj: Adjoints) -> None:
        gs = [adj.pop(id(r), None) for r in op.results]
        if all(g is None for g in gs):
            return
        back = self.b.insert(Op("if", [op.operands[0]], [], {},
                                [Region([Block()]), Region([Block()])], self.b.loc))
        envs = []
        for region, mirror in zip(op.regions, back.regions):
            self.mirror[id(region.block)] = mirror.block
            env = dict(adj)
            y = region.block.ops[-1]
            with self.b.at_end(mirror.block):
                for r, g in zip(op.results, gs):
                    if g is not None:
                        self.accumulate(env, y.operands[r.index], g)
                self.block(region.block, env)
            envs.append(env)
        self.merge(back, adj, envs, _defined_in(op))

    def merge(self, back: Op, adj: Adjoints, envs: List[Adjoints], inner: set) -> None:
        """Adjoints of outside values updated in some branch become results of `back`."""
        keys: List[int] = []
        for env in envs:
            keys += [k for k, v in env.items() if k not in inner and k not in keys
                     and v is not adj.get(k)]
        yields: List[List[Value]] = [[], []]
        for k in keys:
            for i, env in enumerate(envs):
                with self.b.at_end(back.regions[i].block):
                    v = self.dense(self.primal[k], env.get(k) or adj.get(k)) or \
                        self.zero_of(self.primal[k])
                yields[i].append(v)
        for i in range(2):
            with self.b.at_end(back.regions[i].block):
                self.b.yield_(yields[i])
        back.set_results([v.type for v in yields[0]],
                         [bar(self.primal[k].name) for k in keys])
        for k, r in zip(keys, back.results):
            adj[k] = r

    # -- loops ------------------------------------------------------------------------------

    def op_for(self, op: Op, adj: Adjoints) -> None:
        self.loop(op, adj, op.operands[:3])

    def op_while(self, op: Op, adj: Adjoints) -> None:
        count = self.count_iterations(op)
        zero, one = self.b.const(0), self.b.const(1)
        self.loop(op, adj, [zero, count, one])

    def count_iterations(self, op: Op) -> Value:
        """Give a forward `while` a trip counter; return the count after the loop."""
        with self.b.before(op), self.b.at_loc(op.loc):
            init = self.b.const(0)
        op.operands.append(init)
        op.regions[0].block.add_arg(I64, "trips")
        body_arg = op.regions[1].block.add_arg(I64, "trips")
        y = op.regions[1].block.ops[-1]
        with self.b.before(y), self.b.at_loc(op.loc):
            nxt = self.b.emit("add", body_arg, self.b.const(1), name_hint="trips")
        y.operands.append(nxt)
        r = OpResult(op, len(op.results), I64, "trips")
        op.results.append(r)
        return r

    def loop(self, op: Op, adj: Adjoints, bounds: List[Value]) -> None:
        carried = [c for c in _carried(op) if self.act.active(c[2]) or self.act.active(c[3])
                   or any(self.act.active(a) for a in c[1])]
        body = op.regions[-1].block
        inner = _defined_in(op)
        outer = _outer_active(op, inner, self.act)
        if not carried and not outer:
            return
        inits = [self.dense(r, adj.pop(id(r), None)) or self.zero_of(r) for _, _, _, r in carried]
        for k in outer:
            self.primal.setdefault(k, outer[k])
        inits += [self.dense(outer[k], adj.get(k)) or self.zero_of(outer[k]) for k in outer]
        names = [bar(r.name) for _, _, _, r in carried] + [bar(v.name) for v in outer.values()]
        bbody = Block([I64] + [v.type for v in inits], ["i"] + names)
        back = self.b.insert(Op("for", list(bounds) + inits, [], {"reversed": True},
                                [Region([bbody])], self.b.loc))
        if op.name == "for":
            self.equiv[id(body.args[0])] = bbody.args[0]
            bbody.args[0].name = body.args[0].name
        self.mirror[id(body)] = bbody
        env = dict(adj)
        for k, a in zip(outer, bbody.args[1 + len(carried):]):
            env[k] = a
        with self.b.at_end(bbody):
            for (_, _, y, _), a in zip(carried, bbody.args[1:]):
                self.accumulate(env, y, a)
            self.block(body, env)
            outs = [self.dense(args[0], env.get(id(args[0]))) or self.zero_of(args[0])
                    for _, args, _, _ in carried]
            outs += [self.dense(outer[k], env[k]) for k in outer]
            self.b.yield_(outs)
        back.set_results([v.type for v in inits], names)
        for k, r in zip(outer, back.results[len(carried):]):
            adj[k] = r  # first: an initial value may also be read in the body
        for (init, _, _, _), r in zip(carried, back.results):
            self.accumulate(adj, init, r)

    # -- calls --------------------------------------------------------------------------------

    def op_pycall(self, op: Op, adj: Adjoints) -> None:
        from .custom_rules import reverse_pycall
        reverse_pycall(self, op, adj)

    def op_call(self, op: Op, adj: Adjoints) -> None:
        if op.attrs.get("checkpoint"):
            reverse_checkpoint(self, op, adj)
            return
        g = self.dense(op.result, adj.pop(id(op.result), None))
        need = [self.act.active(v) for v in op.operands]
        if g is None or not any(need):
            return
        pair = self.ctx.split(op.attrs["callee"], tuple(need), op.loc)
        args = list(op.operands)
        op.attrs["callee"] = pair.fwd_name
        op.attrs["effects"] = True
        op.operands.append(self.tape_fwd)
        r = self.b.op("call", args + [self.tape_bwd, g], {"callee": pair.bwd_name, "effects": True},
                      result_types=[pair.bwd_type]).result
        active = [v for v, n in zip(args, need) if n]
        if len(active) == 1:
            self.accumulate(adj, active[0], r)
            return
        for k, v in enumerate(active):
            self.accumulate(adj, v, self.b.op("tuple_get", [r], {"index": k}).result)


def _shape_witness(v: Value) -> Value:
    """A value of `v`'s type and shape that is at hand earlier: the only array operand of
    the elementwise op computing `v`, so that no adjoint needs `x + s` only for its shape."""
    op = getattr(v, "op", None)
    while op is not None and "elementwise" in OPS[op.name].tags:
        arrays = {id(x): x for x in op.operands if isinstance(x.type, ArrayType)}
        if len(arrays) != 1:
            break
        (x,) = arrays.values()
        if x.type != v.type:
            break
        v, op = x, getattr(x, "op", None)
    return v


def _defined_in(op: Op) -> set:
    """Ids of every value defined inside `op`'s regions."""
    out = set()
    for rg in op.regions:
        for a in rg.block.args:
            out.add(id(a))
        for inner in rg.block.ops:
            for o in inner.walk():
                out.update(id(r) for r in o.results)
                for rr in o.regions:
                    out.update(id(a) for a in rr.block.args)
    return out


def _outer_active(op: Op, inner: set, act: Activity) -> Dict[int, Value]:
    """Active values defined outside loop `op` that its body reads."""
    out: Dict[int, Value] = {}
    for rg in op.regions[-1:]:
        for o in rg.block.ops:
            for x in o.walk():
                for v in x.operands:
                    if id(v) not in inner and act.active(v) and id(v) not in out:
                        out[id(v)] = v
    return out


def _accumulating(new: Value) -> Value:
    """Mark an adjoint accumulation `add(cur, c)`: its result has the shape and dtype of
    `cur` (adjoints have their primal's shape), so a backend may add into `cur` in place."""
    op = getattr(new, "op", None)
    if op is not None and op.name == "add" and isinstance(new.type, ArrayType):
        op.attrs["accumulates"] = True
    return new
