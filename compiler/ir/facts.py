"""Cheap proofs about run-time values: integer lower bounds, nonzero divisors, indices
in range. Used to show that an op cannot raise (`ops.may_raise`) and by backends that
pick a plain operator where the raising case cannot occur.

Assumes: SSA values of verified IR; optionally a `passes.shapes.Shapes` of the function
(anything with `shape(v)` and `atom(v)`), for proofs about array dimensions.
Guarantees: every answer is sound and conservative: `int_lower_bound(v) == k` means
`v >= k` on every run; `nonzero(v)` means `v != 0` on every run; `index_in_range`
means the index lies in `[-n, n)` for the axis length `n`; `size_ok`, `indices_ok`,
`contractible` mean an allocation, an indexing op, a product cannot fail;
`checked_before` means a checked op on the value surely ran earlier. "Unknown" is
never wrong.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple

from .core import BlockArg, Op, Value
from .types import ArrayType

MAX_DEPTH = 8
MAX_SAFE_ELEMENTS = 2 ** 20  # a constant allocation at most this big raises no MemoryError


def const_of(v: Value) -> Tuple[bool, Any]:
    """(True, value) for a constant, else (False, None)."""
    op = getattr(v, "op", None)
    if op is not None and op.name == "const":
        return True, op.attrs["value"]
    return False, None


def _int_const(v: Value) -> Optional[int]:
    ok, c = const_of(v)
    return c if ok and type(c) in (int, bool) else None


def loop_of(index: Value) -> Optional[Op]:
    """The `for` op whose induction variable `index` is, or None."""
    if isinstance(index, BlockArg) and index.index == 0 and index.block.parent is not None:
        owner = index.block.parent.parent
        if isinstance(owner, Op) and owner.name == "for":
            return owner
    return None


def int_lower_bound(v: Value, depth: int = 0) -> Optional[int]:
    """A k with v >= k on every run (integers), or None."""
    c = _int_const(v)
    if c is not None:
        return int(c)
    if depth > MAX_DEPTH:
        return None
    loop = loop_of(v)
    if loop is not None:  # range(lo, hi, step) with step > 0 never goes below lo
        step = _int_const(loop.operands[2])
        return int_lower_bound(loop.operands[0], depth + 1) if step and step > 0 else None
    op = getattr(v, "op", None)
    if op is None:
        return None
    if op.name in ("dim", "size"):
        return 0
    if op.name == "convert" and str(op.operands[0].type) == "bool":
        return 0
    bounds = [int_lower_bound(x, depth + 1) for x in op.operands[:2]]
    if op.name in ("add", "minimum") and None not in bounds:
        return bounds[0] + bounds[1] if op.name == "add" else min(bounds)
    if op.name == "maximum" and any(b is not None for b in bounds):
        return max(b for b in bounds if b is not None)
    if op.name == "sub" and bounds[0] is not None and _int_const(op.operands[1]) is not None:
        return bounds[0] - int(_int_const(op.operands[1]))
    if op.name == "mul" and None not in bounds and min(bounds) >= 0:
        return bounds[0] * bounds[1]
    return None


def nonzero(v: Value) -> bool:
    """Whether `v` is never zero (a nonzero constant, or a positive integer)."""
    ok, c = const_of(v)
    if ok:
        return c is not None and c != 0
    lb = int_lower_bound(v)
    return lb is not None and lb > 0


def index_in_range(index: Value, array: Value, axis: int, shapes) -> bool:
    """Whether `array[..., index, ...]` at `axis` is a valid Python index on every run:
    a constant within a constant length, or a loop index (plus a constant) running over
    a `range` bounded by that length."""
    if shapes is None or shapes.shape(array) is None:
        return False
    n = shapes.shape(array)[axis]
    c = _int_const(index)
    if c is not None:
        return n[0] == "const" and -n[1] <= c < n[1]
    base, offset = _split_offset(index)
    loop = loop_of(base)
    if loop is None:
        return False
    lo, hi, step = loop.operands[:3]
    st, lb = _int_const(step), int_lower_bound(lo)
    if not st or st <= 0 or lb is None or lb + offset < 0:
        return False
    return _at_most(hi, n, -offset, shapes)


def _split_offset(v: Value) -> Tuple[Value, int]:
    """(base, c) with v = base + c for an integer constant c (c = 0 otherwise)."""
    op = getattr(v, "op", None)
    if op is not None and op.name in ("add", "sub"):
        c = _int_const(op.operands[1])
        if c is not None:
            return op.operands[0], int(c) if op.name == "add" else -int(c)
        if op.name == "add" and _int_const(op.operands[0]) is not None:
            return op.operands[1], int(_int_const(op.operands[0]))
    return v, 0


def _at_most(hi: Value, n, slack: int, shapes) -> bool:
    """Whether hi <= n + slack, where n is a shape atom of `shapes`."""
    if shapes.atom(hi) == n and slack >= 0:
        return True
    c = _int_const(hi)
    if c is not None and n[0] == "const":
        return c <= n[1] + slack
    op = getattr(hi, "op", None)
    if op is not None and op.name == "minimum":
        return any(_at_most(x, n, slack, shapes) for x in op.operands)
    return False


def size_ok(dims) -> bool:
    """Sizes that are never negative and never too large to allocate: constants up to
    MAX_SAFE_ELEMENTS in all, and at most one length of an existing array."""
    total, lengths = 1, 0
    for d in dims:
        ok, c = const_of(d)
        if ok and type(c) in (int, bool) and c >= 0:
            total *= c
        elif getattr(d, "op", None) is not None and d.op.name in ("dim", "size"):
            lengths += 1
        else:
            return False
    return total <= MAX_SAFE_ELEMENTS and lengths <= 1


def indices_ok(op, shapes) -> bool:
    """An indexing op whose indices are in range and slice steps nonzero, and which
    stores a scalar (an array value might not broadcast)."""
    spec, array = op.attrs["index"], op.operands[0]
    k, axis = 1, 0
    for e in spec:
        if e == "i":
            if not index_in_range(op.operands[k], array, axis, shapes):
                return False
            k += 1
        else:
            flags = e[1:]
            k += flags.count("1")
            if flags[2] == "1" and not nonzero(op.operands[k - 1]):
                return False
        axis += 1
    if op.name == "getitem":
        return True
    value = op.operands[-1]
    return not isinstance(value.type, ArrayType)


def contractible(a, b, shapes) -> bool:
    """dot/matmul: the contracted lengths are provably equal."""
    if shapes is None or a.type.ndim > 2 or b.type.ndim > 2:
        return False  # batched: the batch dimensions must broadcast too
    sa, sb = shapes.shape(a), shapes.shape(b)
    return sa is not None and sb is not None and sa[-1] == sb[0]


def math_accepts(name: str, args) -> bool:
    """Whether the math function `name` accepts these constant arguments."""
    fn = getattr(math, name, None) if name != "pow" else math.pow
    if fn is None:
        return False
    try:
        fn(*args)
    except (ValueError, OverflowError, ZeroDivisionError):
        return False
    return True


def checked_before(v: Value, op: Op, names) -> bool:
    """Whether a `checked` op named in `names` with operand `v` surely runs before `op`:
    an earlier op of a block enclosing `op` (not inside a branch or loop of its own).
    Then `v` is a value that op accepts, or the function raises there (a `math.sin(v)`
    rules out an infinite `v`)."""
    at = op
    while at is not None and at.parent is not None:
        for o in at.parent.ops:
            if o is at:
                break
            if o.name in names and o.attrs.get("checked") and o.operands and o.operands[0] is v:
                return True
        at = at.parent_op()
    return False
