"""Range-check elimination: innermost loops versioned on one check before the loop.

Assumes: a `for` op with step 1 (forwards or reversed) whose body holds no loop;
bounds checking on (arrays.BOUNDS).
Guarantees: `plan(op)` finds the element accesses (`getitem`, `setitem`, `addat`
with integer indices) whose index on some axis is the loop index plus a constant,
on an array whose size along that axis cannot change in the loop (defined before
it, or carried by it and only written element-wise, which keeps its shape).
`precondition(lw, ...)` emits, before the loop, the test that every such index
stays in [0, size) over the whole range (or that the loop runs zero times), and
that every such axis that is an array's last has stride 1. The loop is then
lowered twice (lower.py): where the test holds, those axes are read without
wrapping or checking, which is exactly what the checked code would do there, and
last axes with the constant stride 1, which lets LLVM vectorize; where it fails,
the checked loop runs, raising IndexError as before. The index arithmetic of those
accesses (`i + c` on Python ints, a `checked` op) cannot overflow where the test
holds, so the fast version computes it without overflow checks (`safe_ops`). The
test itself is computed without overflow for any 64-bit bounds.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

from ...ir.core import Op, Value
from ...ir.patterns import loop_offset
from ...ir.types import ArrayType

ACCESS = ("getitem", "setitem", "addat")


MAX_SHIFT = 2**62  # larger constant offsets are not planned (their test could overflow)


class Access:
    """One bounded axis: array `source` (a value before the loop) along `axis`, indexed
    by the loop index plus `shift` (computed by `offset`, an op, or the index itself)."""

    def __init__(self, op: Op, axis: int, source: Value, shift: int, offset: Optional[Op]):
        self.op, self.axis, self.source, self.shift = op, axis, source, shift
        self.offset = offset


def _has_loop(op: Op) -> bool:
    return any(inner.name in ("for", "while") for r in op.regions for blk in r.blocks
               for o in blk.ops for inner in o.walk())


def _source(v: Value, loop: Op, inside: Set[int]) -> Optional[Value]:
    """The value before the loop whose shape `v` provably has, or None."""
    blk = loop.regions[0].block
    carried = {id(a): k for k, a in enumerate(blk.args[1:])}
    while True:
        if id(v) in carried:
            k = carried[id(v)]
            if not _only_written(blk.ops[-1].operands[k], v):
                return None
            return loop.operands[3 + k]
        op = getattr(v, "op", None)
        if op is None or id(op) not in inside:
            return v if getattr(v, "block", None) is not blk else None
        if op.name not in ("setitem", "addat"):
            return None
        v = op.operands[0]


def _only_written(y: Value, arg: Value) -> bool:
    """y is arg after element-wise writes (setitem/addat chains): same shape."""
    while y is not arg:
        op = getattr(y, "op", None)
        if op is None or op.name not in ("setitem", "addat"):
            return False
        y = op.operands[0]
    return True


def same_buffer(y: Value, arg: Value) -> bool:
    """y is the carried array `arg` after in-place element writes only: the same
    descriptor (data, shape, strides), so a loop need not carry it in a phi."""
    if not isinstance(arg.type, ArrayType) or y is arg:
        return False
    from .release import accumulated_operand
    while y is not arg:
        into = accumulated_operand(y)  # a call that added into y's memory
        op = getattr(y, "op", None)
        if into is None and (op is None or op.name not in ("setitem", "addat") or
                             not op.attrs.get("inplace")):
            return False
        y = into if into is not None else op.operands[0]
    return True


def plan(loop: Op) -> List[Access]:
    if _has_loop(loop):
        return []
    blk = loop.regions[0].block
    index = blk.args[0]
    inside = {id(o) for top in blk.ops for o in top.walk()}
    out: List[Access] = []
    for top in blk.ops:
        for op in top.walk():
            if op.name not in ACCESS:
                continue
            spec = op.attrs["index"]
            k = 1
            for axis, e in enumerate(spec):
                if e != "i":
                    k += e[1:].count("1")
                    continue
                operand = op.operands[k]
                shift = loop_offset(operand, index)
                k += 1
                if shift is None or abs(shift) >= MAX_SHIFT:
                    continue
                source = _source(op.operands[0], loop, inside)
                if source is not None:
                    out.append(Access(op, axis, source, shift, getattr(operand, "op", None)))
    return out


def unit_axis(a: Access) -> bool:
    """Whether the fast version also requires (and then uses) stride 1 on the access's
    axis: the last axis, which has stride 1 in every C-contiguous array."""
    return a.axis == a.source.type.ndim - 1


def precondition(lw, accesses: List[Access], lo, hi, n):
    """An i1: every planned index is in range over the loop (or the loop is empty), and
    every planned last axis has stride 1."""
    from .arrays import unpack
    from .types import I64
    b = lw.b
    ok = b.icmp_signed("==", n, I64(0))
    last = b.sub(hi, I64(1))
    all_in = strided = None
    dims: Dict[Tuple[int, int], object] = {}
    for a in accesses:
        key = (id(a.source), a.axis)
        if key not in dims:
            arr = unpack(lw, a.source)
            dims[key] = arr.shape[a.axis]
            if unit_axis(a):
                unit = b.icmp_signed("==", arr.strides[a.axis], I64(1))
                strided = unit if strided is None else b.and_(strided, unit)
        # lo + shift >= 0 and last + shift < size, rearranged so that nothing wraps
        # (`last` is exact when the loop runs; sizes are far below 2**63 - MAX_SHIFT)
        first_ok = b.icmp_signed(">=", lo, I64(-a.shift))
        last_ok = b.icmp_signed("<", last, b.sub(dims[key], I64(a.shift)))
        both = b.and_(first_ok, last_ok)
        all_in = both if all_in is None else b.and_(all_in, both)
    ok = b.or_(ok, all_in)
    return ok if strided is None else b.and_(ok, strided)


def safe_ops(accesses: List[Access]) -> Set[int]:
    """Ids of the index computations `i + c` of planned accesses: in range, so exact."""
    return {id(a.offset) for a in accesses if a.offset is not None}


def trusted(accesses: List[Access]) -> Dict[int, Dict[int, bool]]:
    """Axes read unchecked, by op id, each with whether its stride is known to be 1."""
    out: Dict[int, Dict[int, bool]] = {}
    for a in accesses:
        out.setdefault(id(a.op), {})[a.axis] = unit_axis(a)
    return out
