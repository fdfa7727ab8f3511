"""In-place update marking: which array writes may reuse their target's memory.

Assumes: verified IR; arrays have value semantics (`setitem` returns a new array).
Guarantees: sets `inplace = true` on a `setitem`/`addat` exactly when writing
into the target's memory is unobservable: the target is dead after the write, no
other value that may share its memory is read later, the written value does not
share it (`a[1:] = a[:-1]`, `a += a.T`: an element-by-element write would read what
it already overwrote, and torch refuses such writes), the memory is not a
parameter's (callers own their arguments) or a popped tape value, and it was not
pushed on the tape before. Otherwise the backends copy first.
`mark_accumulations` sets `inplace = true` on an adjoint accumulation (an `add` marked
`accumulates`: the result has its first operand's shape and dtype) that may update its
first operand in place (`a += b`) under the same conditions (backends without in-place
arithmetic ignore it); there, an element read out of an array (`s = g[0]`) counts as
a view of it, as a torch element is (a 0-d tensor sharing the array's memory).
"""
from __future__ import annotations

from typing import Dict, FrozenSet, List

from ..ir.core import Function, Op, Value
from ..ir.types import ArrayType, TupleType
from .liveness import Liveness

# Results that may be (a view of) their first operand: indexing, reshaping and new axes
# give views, and sum_to returns its operand when no summing is needed.
_VIEW = ("getitem", "transpose", "reshape", "ravel", "expand_dims", "tuple_get", "sum_to")
# Results that may be (views of) any operand: compiled callees, tuples, custom rules.
_MAY_RETURN_OPERANDS = ("tuple", "call", "pycall")
_SAME_AS_TARGET = ("setitem", "addat")


def _holds_array(t) -> bool:
    if isinstance(t, ArrayType):
        return True
    return isinstance(t, TupleType) and any(_holds_array(e) for e in t.elts)


class Objects:
    """May-point-to sets of array values: which allocations each value may be."""

    PARAM, POPPED = "param", "popped"

    def __init__(self, f: Function, elements: bool = False):
        self.elements = elements  # scalars read out of arrays are views of them
        self.of: Dict[int, FrozenSet] = {}
        self.values: List[Value] = []
        for p in f.params:
            self.set(p, frozenset([(self.PARAM, p.index)]))
        for _ in range(10):  # loops: iterate until the sets settle
            self.changed = False
            for op in f.walk():
                self.visit(op)
            if not self.changed:
                break

    def get(self, v: Value) -> FrozenSet:
        return self.of.get(id(v), frozenset())

    def set(self, v: Value, s: FrozenSet) -> None:
        if not _holds_array(v.type) and not (self.elements and s):
            return
        old = self.of.get(id(v))
        if old is None:
            self.values.append(v)
        new = (old or frozenset()) | s
        if new != old:
            self.of[id(v)] = new
            self.changed = True

    def union(self, vals) -> FrozenSet:
        s: FrozenSet = frozenset()
        for v in vals:
            s |= self.get(v)
        return s

    def visit(self, op: Op) -> None:
        name = op.name
        if name == "convert" and op.operands[0].type == op.result.type:
            self.set(op.result, self.get(op.operands[0]))  # no conversion: the operand
        elif name in _VIEW or name in _SAME_AS_TARGET:
            for r in op.results:
                self.set(r, self.get(op.operands[0]))
        elif name == "select":
            for r in op.results:
                self.set(r, self.union(op.operands[1:]))
        elif name == "if":
            for r in op.results:
                self.set(r, self.union(rg.block.ops[-1].operands[r.index] for rg in op.regions))
        elif name in ("for", "while"):
            off, shift = (3, 1) if name == "for" else (0, 0)
            body = op.regions[-1].block
            for r in op.results:
                k = r.index
                s = self.get(op.operands[off + k]) | self.get(body.ops[-1].operands[k])
                self.set(r, s)
                self.set(body.args[k + shift], s)
                if name == "while":
                    self.set(op.regions[0].block.args[k], s)
        elif name == "pop":
            for r in op.results:
                if _holds_array(r.type):
                    self.set(r, frozenset([(self.POPPED, id(op), r.index)]))
        elif name in _MAY_RETURN_OPERANDS:
            for r in op.results:
                self.set(r, self.union(op.operands) | frozenset([("new", id(op))]))
        else:
            for r in op.results:
                if _holds_array(r.type):
                    self.set(r, frozenset([("new", id(op), r.index)]))


def mark_inplace(f: Function) -> None:
    _own_loop_arrays(f)
    lv = Liveness(f)
    objs = Objects(f)
    pushes = [op for op in f.walk() if op.name == "push"]
    for op in f.walk():
        if op.name in _SAME_AS_TARGET:
            op.attrs["inplace"] = _can_write(op, lv, objs, pushes)


def mark_accumulations(f: Function) -> None:
    lv = Liveness(f)
    objs = Objects(f, elements=True)
    pushes = [op for op in f.walk() if op.name == "push"]
    for op in f.walk():
        if op.name == "add" and op.attrs.get("accumulates") and \
                op.operands[0].type == op.result.type:
            op.attrs["inplace"] = _can_write(op, lv, objs, pushes)


def _own_loop_arrays(f: Function) -> None:
    """Copy a loop's initial array once, before the loop, when the loop writes into it
    but could not otherwise own it (an argument, an array still read after the loop):
    one copy on entry instead of one per iteration."""
    lv, objs = Liveness(f), Objects(f)
    pushes = [op for op in f.walk() if op.name == "push"]
    sites = _blocked_loop_writes(f, lv, objs, pushes)
    if not sites:
        return
    copies = []
    for loop, slot, writer in sites:
        init = loop.operands[slot]
        copy = Op("copy", [init], [init.type], {}, (), loop.loc, [init.name])
        loop.parent.insert_before(loop, copy)
        loop.operands[slot] = copy.result
        copies.append((loop, slot, writer, init, copy))
    lv, objs = Liveness(f), Objects(f)
    for loop, slot, writer, init, copy in copies:
        if not _can_write(writer, lv, objs, pushes):  # the copy does not help: undo it
            loop.operands[slot] = init
            copy.erase()


def _blocked_loop_writes(f, lv, objs, pushes):
    sites = []
    for op in f.walk():
        if op.name not in ("for", "while"):
            continue
        offset, shift = (3, 1) if op.name == "for" else (0, 0)
        body = op.regions[-1].block
        for k in range(len(op.results)):
            arg = body.args[k + shift]
            if not isinstance(arg.type, ArrayType):
                continue
            for w in body.ops:
                if w.name in _SAME_AS_TARGET and w.operands[0] is arg and \
                        not _can_write(w, lv, objs, pushes):
                    sites.append((op, offset + k, w))
                    break
    return sites


def _can_write(op: Op, lv: Liveness, objs: Objects, pushes: List[Op]) -> bool:
    target = op.operands[0]
    mine = objs.get(target)
    if any(o[0] in (Objects.PARAM, Objects.POPPED) for o in mine):
        return False
    if any(objs.get(v) & mine for v in op.operands[1:]):
        return False  # the value written reads the target's memory
    p = lv.pos[id(op)]
    if lv.live_after(target, p):
        return False
    own = {id(r) for r in op.results}
    for u in objs.values:
        if u is target or id(u) in own or not (objs.get(u) & mine):
            continue
        if lv.live_after(u, p):
            return False
    loops = lv.enclosing_loops(op)
    for push in pushes:
        if not any(objs.get(v) & mine for v in push.operands[1:]):
            continue
        q = lv.pos[id(push)]
        if q < p:
            return False
        for L in loops:
            if lv.pos[id(L)] <= q <= lv.end[id(L)] and not _fresh_each_iteration(mine, L,
                                                                                  lv, objs):
                return False  # pushed in one iteration, written in the next
    return True


def _fresh_each_iteration(mine, loop: Op, lv: Liveness, objs: Objects) -> bool:
    """Whether the arrays `mine` may be are allocated anew in every iteration of `loop`
    and never carried into the next: then a push later in the iteration cannot see a
    write made earlier in it."""
    start, end = lv.pos[id(loop)], lv.end[id(loop)]
    for o in mine:
        if o[0] != "new" or not start < lv.pos.get(o[1], -1) < end:
            return False
    body = loop.regions[-1].block
    return not any(objs.get(a) & mine for a in body.args)
