"""Activity analysis: which values carry a derivative.

Assumes: verified IR; `wrt` names the parameters being differentiated.
Guarantees: a value is *active* when it is varied (depends differentiably on a
`wrt` parameter), useful (the function's result depends on it) and of a float
type (or a tuple holding floats). In gradient code being differentiated again,
what goes on the tape counts as an output and what comes off it as varied. Integers and booleans are never active. Loops
and branches are handled by iterating to a fixpoint over their block arguments,
yields and results. Only active values get adjoints or tangents.
"""
from __future__ import annotations

from typing import Iterable, Set

from ..ir.core import Function, Op, Value
from .registry import ZERO_DERIVATIVE


def differentiable(v: Value) -> bool:
    return v.type.differentiable()


class Activity:
    def __init__(self, f: Function, wrt: Iterable[int], result: Value = None):
        self.f = f
        self.varied: Set[int] = {id(f.params[i]) for i in wrt if differentiable(f.params[i])}
        self.useful: Set[int] = set()
        self._forward()
        ret = result if result is not None else _returned(f)
        if ret is not None and differentiable(ret):
            self.useful.add(id(ret))
        self._backward()

    def active(self, v: Value) -> bool:
        return id(v) in self.varied and id(v) in self.useful and differentiable(v)

    def any_active(self, op: Op) -> bool:
        return any(self.active(r) for r in op.results)

    def alias(self, new: Value, old: Value) -> None:
        """`new` replaces `old` in the code: it has the same activity."""
        for s in (self.varied, self.useful):
            if id(old) in s:
                s.add(id(new))

    # -- varied: forward ----------------------------------------------------------------

    def _mark(self, s: Set[int], v: Value) -> bool:
        if id(v) in s or not differentiable(v):
            return False
        s.add(id(v))
        return True

    def _forward(self) -> None:
        changed = True
        while changed:
            changed = False
            for op in self.f.walk():
                changed |= self._forward_op(op)

    def _forward_op(self, op: Op) -> bool:
        v = self.varied
        changed = False
        if op.name == "if":
            for r in op.results:
                if any(id(rg.block.ops[-1].operands[r.index]) in v for rg in op.regions):
                    changed |= self._mark(v, r)
        elif op.name in ("for", "while"):
            for init, args, y, r in _carried(op):
                if id(init) in v or id(y) in v:
                    changed |= self._mark(v, r)
                    for a in args:
                        changed |= self._mark(v, a)
        elif op.name == "pop" or (op.name == "call" and op.attrs.get("effects")):
            # Values coming back through the tape carry whatever varied when pushed.
            for r in op.results:
                changed |= self._mark(v, r)
        elif op.name not in ZERO_DERIVATIVE and any(id(x) in v for x in op.operands):
            for r in op.results:
                changed |= self._mark(v, r)
        return changed

    # -- useful: backward -------------------------------------------------------------------

    def _backward(self) -> None:
        changed = True
        while changed:
            changed = False
            for op in reversed(list(self.f.walk())):
                changed |= self._backward_op(op)

    def _backward_op(self, op: Op) -> bool:
        u = self.useful
        changed = False
        if op.name == "if":
            for r in op.results:
                if id(r) in u:
                    for rg in op.regions:
                        changed |= self._mark(u, rg.block.ops[-1].operands[r.index])
        elif op.name in ("for", "while"):
            for init, args, y, r in _carried(op):
                if id(r) in u or any(id(a) in u for a in args):
                    changed |= self._mark(u, init) | self._mark(u, y)
                    for a in args:
                        changed |= self._mark(u, a)
        elif op.name in ("return", "push") or (op.name == "call" and op.attrs.get("effects")) \
                or any(id(r) in u for r in op.results):
            # What is pushed on the tape (directly or by a callee) is read back later.
            if op.name not in ZERO_DERIVATIVE:
                for x in op.operands:
                    changed |= self._mark(u, x)
        return changed


def _carried(op: Op):
    """(initial value, block arguments, yielded value, result) of each loop-carried value."""
    offset, shift = (3, 1) if op.name == "for" else (0, 0)
    body = op.regions[-1].block
    y = body.ops[-1]
    for r in op.results:
        k = r.index
        args = [body.args[k + shift]]
        if op.name == "while":
            args.append(op.regions[0].block.args[k])
        yield op.operands[offset + k], args, y.operands[k], r


def _returned(f: Function):
    for op in f.body.block.ops:
        if op.name == "return" and op.operands:
            return op.operands[0]
    return None
