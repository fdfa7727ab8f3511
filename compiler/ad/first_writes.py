"""First writes: element writes whose reverse need not clear the overwritten adjoint.

The reverse of `a2 = setitem a1[i], v` reads `a2_bar[i]` into `v_bar` and passes
`a2_bar` with element i zeroed to `a1`: the value a1 held at i was overwritten, so
no later use sees it. The zeroing costs a store per element and, when `a2_bar`
arrives as a parameter, a copy of the whole adjoint (the caller's array must not
change). It is needed only when something earlier reads the adjoint at i back:
an earlier write to the same element (its `v_bar`), or the array's origin (a
parameter's adjoint). Reads of the array only add to its adjoint.

Assumes: a function in the structured SSA form, before the reverse transform.
Guarantees: `first_writes(f)` holds the ids of `setitem` ops S, full-index element
writes, for which the zeroing provably changes nothing:
- S sits directly in the body of a `for` loop L with step 1 and a constant start
  lo, and on some axis S's index is L's index plus a constant c with lo + c >= 0
  (no wrap-around, so every iteration writes a different element);
- S writes L's carried array and yields its result in the same place, and in L's
  body that array is otherwise only read (`getitem`);
- before L, the carried array comes through element writes at constant
  non-negative indices below lo + c on that axis from a fresh allocation (`zeros`,
  `empty`, ... with no derivative), whose adjoint is dropped.
Everything else keeps the zeroing.
"""
from __future__ import annotations

from typing import Optional, Set

from ..ir.core import Function, Op, Value
from ..ir.patterns import int_const, loop_offset
from ..ir.types import ArrayType

FRESH = ("zeros", "ones", "empty", "zeros_like", "ones_like", "empty_like")


def first_writes(f: Function) -> Set[int]:
    return {id(op) for op in f.walk() if op.name == "setitem" and _first(op)}


def _element_indices(op: Op):
    spec = op.attrs.get("index", ())
    x = op.operands[0]
    if not isinstance(x.type, ArrayType) or len(spec) != x.type.ndim or \
            any(e != "i" for e in spec):
        return None
    return op.operands[1:1 + len(spec)]


def _first(op: Op) -> bool:
    idx = _element_indices(op)
    loop = op.parent_op()
    if idx is None or loop is None or loop.name != "for":
        return False
    lo, step = int_const(loop.operands[0]), int_const(loop.operands[2])
    blk = loop.regions[0].block
    if lo is None or step != 1 or op.parent is not blk:
        return False
    k = _carried_alone(op, loop)
    if k is None:
        return False
    for axis, i in enumerate(idx):
        c = loop_offset(i, blk.args[0])
        if c is not None and lo + c >= 0 and _fresh_before(loop.operands[3 + k], axis, lo + c):
            return True
    return False


def _carried_alone(op: Op, loop: Op) -> Optional[int]:
    """The position k of the carried array op writes, when op yields its result in the
    same place and the body otherwise only reads elements of either value."""
    blk = loop.regions[0].block
    arg, res = op.operands[0], op.result
    k = next((j for j, a in enumerate(blk.args[1:]) if a is arg), None)
    yields = blk.ops[-1]
    if k is None or yields.name != "yield" or yields.operands[k] is not res:
        return None
    for inner in blk.ops:
        for o in inner.walk():
            for j, v in enumerate(o.operands):
                if (v is not arg and v is not res) or (o is op and j == 0) or \
                        (o is yields and j == k):
                    continue
                if o.name == "getitem" and j == 0 and not isinstance(o.result.type, ArrayType):
                    continue
                return None
    return k


def _fresh_before(v: Value, axis: int, first: int) -> bool:
    """v comes from a fresh allocation through element writes at constant indices in
    [0, first) on `axis`."""
    while True:
        op = getattr(v, "op", None)
        if op is None:
            return False
        if op.name in FRESH:
            return True
        idx = _element_indices(op) if op.name == "setitem" else None
        if idx is None:
            return False
        c = int_const(idx[axis])
        if c is None or not 0 <= c < first:
            return False
        v = op.operands[0]
