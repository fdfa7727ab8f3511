"""Batched matrix products in LLVM IR: matmul of operands with more than two dimensions.

Assumes: the descriptor helpers of `arrays.py` and the 2-d kernel of `linalg.py`; both
operands have at least two dimensions (the frontend gives 1-d operands a unit axis).
Guarantees: NumPy's matmul: the leading (batch) dimensions broadcast (a mismatch, or
contracted lengths that differ, raise ValueError as NumPy does), and each matrix of the
result is computed by the 2-d kernel, so values equal the 2-d product's bit for bit.
Products of at most two dimensions go to `linalg.op_dot` unchanged.
"""
from __future__ import annotations

from ...ir.core import Op
from ...ir.types import ArrayType
from .arrays import (Arr, alloc, broadcast_offset, broadcast_shape, handler, nd_loop, offset,
                     pack, raise_, unpack)
from .linalg import _rows_of_y, op_dot
from .runtime_ir import ERR_SHAPE


@handler("matmul")
def op_matmul(lw, op: Op) -> None:
    if max(v.type.ndim for v in op.operands) <= 2:
        return op_dot(lw, op)
    b = lw.b
    x, y = (unpack(lw, v) for v in op.operands)
    rt = op.result.type
    n = x.shape[-1]
    with b.if_then(b.icmp_signed("!=", n, y.shape[-2]), likely=False):
        raise_(lw, ERR_SHAPE)
    xb, yb = (Arr(a.t, a.data, a.shape[:-2], a.strides[:-2]) for a in (x, y))
    batch = broadcast_shape(lw, [xb, yb], rt.ndim - 2)
    out = alloc(lw, rt, batch + [x.shape[-2], y.shape[-1]])
    ob = Arr(rt, out.data, out.shape[:-2], out.strides[:-2])
    matrix = ArrayType(rt.dtype, 2)

    def one(idx):
        def view(a: Arr, off) -> Arr:
            return Arr(ArrayType(a.t.dtype, 2), b.gep(a.data, [off]), a.shape[-2:],
                       a.strides[-2:])
        xm = view(x, broadcast_offset(b, xb, idx))
        ym = view(y, broadcast_offset(b, yb, idx))
        om = Arr(matrix, b.gep(out.data, [offset(b, ob, idx)]), out.shape[-2:],
                 out.strides[-2:])
        _rows_of_y(lw, xm, ym, om, n, rt.dtype)
    nd_loop(lw, batch, one)
    lw.set(op.result, pack(lw, out))
