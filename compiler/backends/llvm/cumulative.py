"""Cumulative sums and products in LLVM IR: cumsum and cumprod along one axis.

Assumes: the descriptor helpers of `arrays.py`; the op's axis is a constant in range (the
frontend ravels for axis=None).
Guarantees: NumPy's results, each lane accumulated in order from the first element (the
same order as NumPy's), in the result's element type (int64 for bool and int arrays).
"""
from __future__ import annotations

from ...ir.core import Op
from . import scalar
from .arrays import accumulate_loop, alloc, handler, load, nd_loop, offset, pack, store, \
    unpack
from .shapes_and_reductions import const_like


@handler("cumsum", "cumprod")
def op_cumulative(lw, op: Op) -> None:
    b = lw.b
    x = unpack(lw, op.operands[0])
    t = op.result.type.dtype
    axis = op.attrs["axis"]
    out = alloc(lw, op.result.type, x.shape)
    adds = op.name == "cumsum"

    def step(acc, v):
        if t.is_float:
            return b.fadd(acc, v) if adds else b.fmul(acc, v)
        return b.add(acc, v) if adds else b.mul(acc, v)

    def lane(idx):
        at = idx[:axis] + [None] + idx[axis:]

        def one(acc, j):
            full = [j if i is None else i for i in at]
            v = scalar.convert(b, load(lw, x, offset(b, x, full)), x.t.dtype, t)
            acc = step(acc, v)
            store(lw, out, offset(b, out, full), acc)
            return acc
        accumulate_loop(lw, x.shape[axis], const_like(t, 0.0 if adds else 1.0), one)
    others = x.shape[:axis] + x.shape[axis + 1:]
    nd_loop(lw, others, lane)
    lw.set(op.result, pack(lw, out))
