"""Dead code elimination.

Assumes: verified IR.
Guarantees: removes pure ops whose results are unused, `if` results nobody
reads (with their yields), loop-carried values that feed only themselves and
are unused after the loop, and control-flow ops left with no results and no
effects. Ops with effects (tape, assert, effectful calls) always stay, and so do
ops that may raise (`ops.may_raise`, with the function's symbolic shapes), unused
or not: CPython evaluates them and may raise there. Iterates to a fixpoint; the
result verifies whenever the input did.
"""
from __future__ import annotations

from typing import Dict

from ..ir.core import Block, Function, Op, ops_using, use_counts
from ..ir.ops import is_pure, may_raise
from .shapes import Shapes


def dce(f: Function) -> None:
    shapes = Shapes(f)
    while _sweep(f, shapes):
        pass


def _sweep(f: Function, shapes: Shapes) -> bool:
    counts = use_counts(f.body.block)
    return _block(f.body.block, counts, shapes)


def _removable(op: Op, shapes: Shapes) -> bool:
    return is_pure(op) and not may_raise(op, shapes)


def _used(counts: Dict[int, int], op: Op) -> bool:
    return any(counts.get(id(r), 0) for r in op.results)


def _block(b: Block, counts: Dict[int, int], shapes: Shapes) -> bool:
    changed = False
    for op in reversed(list(b.ops)):
        for region in op.regions:
            changed |= _block(region.block, counts, shapes)
        if op.name == "if":
            changed |= _prune_if(op, counts)
        elif op.name in ("for", "while"):
            changed |= _prune_loop(op, counts, shapes)
        if not _used(counts, op) and _removable(op, shapes) and \
                op.name not in ("yield", "condition"):
            for x in op.walk():
                for v in x.operands:
                    counts[id(v)] = counts.get(id(v), 1) - 1
            op.erase()
            changed = True
    return changed


def _prune_if(op: Op, counts: Dict[int, int]) -> bool:
    dead = [r.index for r in op.results if not counts.get(id(r), 0)]
    if not dead:
        return False
    for region in op.regions:
        y = region.block.ops[-1]
        for i in dead:
            v = y.operands[i]
            counts[id(v)] = counts.get(id(v), 1) - 1
        y.operands = [v for i, v in enumerate(y.operands) if i not in dead]
    keep = [r for r in op.results if r.index not in dead]
    op.results = keep
    for i, r in enumerate(op.results):
        r.index = i
    return True


def _prune_loop(op: Op, counts: Dict[int, int], shapes: Shapes) -> bool:
    offset = 3 if op.name == "for" else 0
    dead = [r.index for r in op.results
            if not counts.get(id(r), 0) and _feeds_only_itself(op, r.index, shapes)]
    if not dead:
        return False
    _remove_carried(op, dead, offset, counts)
    return True


def _feeds_only_itself(op: Op, k: int, shapes: Shapes) -> bool:
    """Whether loop-carried value k only flows, through removable ops, into its own
    yield. Taint follows nested loops' carried values into their next iterations; a
    nested loop that it enters (through a carried value or a `while` condition) must
    itself be removable, so that the loop goes once its results are unused: a kept
    loop would go on reading the removed value."""
    body = op.regions[-1].block
    arg = body.args[k + (1 if op.name == "for" else 0)]
    if op.name == "while" and ops_using(op.regions[0].block, op.regions[0].block.args[k]):
        return False
    tainted = {id(arg)}
    inner = [o for top in body.ops for o in top.walk() if o is not body.ops[-1]]
    changed = True
    while changed:
        changed = False
        for o in inner:
            for v in _tainted_by(o, tainted):
                if id(v) not in tainted:
                    tainted.add(id(v))
                    changed = True
    for o in inner:
        if not any(id(v) in tainted for v in o.operands):
            continue
        owner = o.parent_op() if o.name in ("yield", "condition") else o
        if (o.name != "yield" or owner.name != "if") and not _removable(owner, shapes):
            return False
    y = body.ops[-1]
    return all(i == k or id(v) not in tainted for i, v in enumerate(y.operands))


def _tainted_by(o: Op, tainted) -> list:
    """The values that op `o` makes depend on a tainted operand."""
    hit = [i for i, v in enumerate(o.operands) if id(v) in tainted]
    if not hit:
        return []
    if o.name == "condition":
        return list(o.parent_op().results)
    if o.name != "yield":
        return list(o.results)
    owner = o.parent_op()
    out = [owner.results[i] for i in hit]
    if owner.name == "for":
        out += [owner.regions[0].block.args[i + 1] for i in hit]
    elif owner.name == "while":
        out += [r.block.args[i] for r in owner.regions for i in hit]
    return out


def _remove_carried(op: Op, dead, offset: int, counts: Dict[int, int]) -> None:
    body = op.regions[-1].block
    for k in sorted(dead, reverse=True):
        init = op.operands[offset + k]
        counts[id(init)] = counts.get(id(init), 1) - 1
        del op.operands[offset + k]
        if op.name == "for":
            body.remove_arg(k + 1)
        else:
            op.regions[0].block.remove_arg(k)
            body.remove_arg(k)
        y = body.ops[-1]
        counts[id(y.operands[k])] = counts.get(id(y.operands[k]), 1) - 1
        del y.operands[k]
        del op.results[k]
    for i, r in enumerate(op.results):
        r.index = i
