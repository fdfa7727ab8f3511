"""The forward (tangent) transform: `x_dot` code interleaved with the primal.

Assumes: a copy of the function to transform (this module rewrites it in place)
and its activity; JVP rules for every active op.
Guarantees: after each active op come the ops computing its result's tangent
(named `x_dot`, with `# tangent of:` locations), of the result's shape also when
only a broadcast operand has a tangent. Structure is kept: an `if`
yields the tangents of its results too, a loop carries the tangents of its
carried values, a call to `g` becomes a call to `g_jvp` returning
`(result, result_dot)`. Tape ops (in gradient code being differentiated again)
push and pop a tangent beside every float value, so pushes and pops stay paired
whatever is active. A missing tangent means an exact zero and costs nothing.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from ..errors import NotDifferentiable
from ..ir.builder import Builder
from ..ir.core import Block, Op, OpResult, Value
from .activity import Activity, _carried
from .emitter import Emitter
from .naming import dot
from .registry import JVP, has_rules
from .reverse import adjoint_type

Tangents = Dict[int, Value]


def _floaty(v: Value) -> bool:
    return v.type.differentiable()


class ForwardBuilder:
    def __init__(self, ctx, act: Activity, b: Builder, shapes=None):
        has_rules()
        self.ctx = ctx
        self.act = act
        self.b = b
        self.ad = Emitter(b, shapes)  # shapes of the primal values, to skip broadcasts
        self.replaced: List[Value] = []

    def zero(self, v: Value) -> Value:
        """An exact zero tangent shaped like primal `v`."""
        return self.ad.zero_tangent(v)

    def tangent(self, tans: Tangents, v: Value) -> Value:
        t = tans.get(id(v))
        return t if t is not None else self.zero(v)

    def name(self, t: Optional[Value], v: Value) -> Optional[Value]:
        if t is not None and not t.name:
            t.name = dot(v.name)
        return t

    # -- blocks ------------------------------------------------------------------------

    def block(self, blk: Block, tans: Tangents) -> None:
        for op in list(blk.ops):
            if op.name in ("yield", "condition", "return"):
                continue
            handler = getattr(self, "op_" + op.name, None)
            if handler is None and not self.act.any_active(op):
                continue
            with self.b.after(op), self.b.at_loc(op.loc.with_role("tangent")):
                (handler or self.op_rule)(op, tans)

    def op_rule(self, op: Op, tans: Tangents) -> None:
        dots = [tans.get(id(v)) if self.act.active(v) else None for v in op.operands]
        if all(d is None for d in dots):
            return
        rule = JVP.get(op.name)
        if rule is None:
            raise NotDifferentiable(f"adjoin cannot take the forward derivative of "
                                    f"'{op.name}' (it has no tangent rule)", op.loc, op.name)
        outs = rule(self.ad, op, dots)
        for r, t in zip(op.results, outs):
            if t is not None and self.act.active(r):
                tans[id(r)] = self.name(t, r)

    # -- control flow ----------------------------------------------------------------------

    def op_if(self, op: Op, tans: Tangents) -> None:
        active = [r for r in op.results if self.act.active(r)]
        for region in op.regions:
            inner = dict(tans)
            self.block(region.block, inner)
            y = region.block.ops[-1]
            with self.b.before(y):
                y.operands += [self.tangent(inner, y.operands[r.index]) for r in active]
        self.extend_results(op, active, tans)

    def extend_results(self, op: Op, primals: List[Value], tans: Tangents) -> None:
        for v in primals:
            r = OpResult(op, len(op.results), adjoint_type(v.type), dot(v.name))
            op.results.append(r)
            tans[id(v)] = r

    def op_for(self, op: Op, tans: Tangents) -> None:
        self.loop(op, tans, 3, 1)

    def op_while(self, op: Op, tans: Tangents) -> None:
        self.loop(op, tans, 0, 0)

    def loop(self, op: Op, tans: Tangents, offset: int, shift: int) -> None:
        # a carried value needs a tangent where it is active on entry to the body (an
        # active start overwritten by a constant), at the yield or after the loop
        slots = [c for c in _carried(op) if self.act.active(c[3]) or self.act.active(c[2])
                 or any(self.act.active(a) for a in c[1])]
        with self.b.before(op):
            inits = [self.tangent(tans, init) for init, _, _, _ in slots]
        op.operands += inits
        body = op.regions[-1].block
        inner = dict(tans)
        for (init, args, _, r), t0 in zip(slots, inits):
            for a in args:
                blk = a.block
                inner[id(a)] = blk.add_arg(t0.type, dot(a.name))
        self.block(body, inner)
        y = body.ops[-1]
        with self.b.before(y):  # read the yields again: the transform may have replaced them
            y.operands += [self.tangent(inner, y.operands[r.index]) for _, _, _, r in slots]
        if op.name == "while":
            self.block(op.regions[0].block, dict(inner))
        self.extend_results(op, [r for _, _, _, r in slots], tans)

    # -- calls and the tape ------------------------------------------------------------------

    def op_call(self, op: Op, tans: Tangents) -> None:
        """`g(args)` becomes `g_jvp(args, dots)`; a callee using the tape is always
        transformed (its pushes carry tangents now), active arguments or not."""
        mask = tuple(self.act.active(v) for v in op.operands)
        tape = op.attrs.get("callee") in self.ctx.tape_users
        if not tape and (not any(mask) or not self.act.active(op.result)):
            return
        name, rtype = self.ctx.jvp_of(op.attrs["callee"], mask, op.loc)
        with self.b.before(op):
            dots = [self.tangent(tans, v) for v, m in zip(op.operands, mask) if m]
        new = self.b.op("call", list(op.operands) + dots,
                        {**op.attrs, "callee": name}, result_types=[rtype]).result
        value = self.b.op("tuple_get", [new], {"index": 0}).result
        t = self.b.op("tuple_get", [new], {"index": 1}).result
        self.act.alias(value, op.result)
        if self.ad.shapes is not None:
            self.ad.shapes.set(value, self.ad.shapes.shape(op.result))
        self.replace(op, value)
        if self.act.active(op.result):
            tans[id(value)] = self.name(t, op.result)

    def op_pycall(self, op: Op, tans: Tangents) -> None:
        from .custom_rules import forward_pycall
        t = forward_pycall(self, op, tans)
        if t is not None:
            tans[id(op.result)] = self.name(t, op.result)

    def replace(self, op: Op, value: Value) -> None:
        blk = op.parent
        old = op.result
        self.replaced.append(old)  # kept alive: analyses key values by id()
        for o in list(blk.ops):
            for x in o.walk():
                x.operands = [value if v is old else v for v in x.operands]
        value.name = old.name
        op.erase()

    def op_push(self, op: Op, tans: Tangents) -> None:
        with self.b.before(op):
            op.operands += [self.tangent(tans, v) for v in op.operands[1:] if _floaty(v)]

    def op_pop(self, op: Op, tans: Tangents) -> None:
        for r in list(op.results):
            if _floaty(r):
                t = OpResult(op, len(op.results), adjoint_type(r.type), dot(r.name))
                op.results.append(t)
                tans[id(r)] = t
