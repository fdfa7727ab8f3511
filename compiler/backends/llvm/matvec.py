"""Matrix-vector products over unit-stride rows, four rows at a time, in order.

Assumes: `x` a float64 matrix whose rows have unit stride (the caller checks it at
run time), `y` a float64 vector of any stride and of x's column count, `out` a
fresh contiguous float64 vector of x's row count.
Guarantees: out[i] = sum_k x[i, k] * y[k], summed from 0.0 in ascending k with one
fmul and one fadd per term, exactly as linalg.py's other loop orders do, so every
layout gives bit-identical values. Four rows go together: four contiguous loads of
four elements each are transposed in registers into four columns, and each column,
times a broadcast y[k], is added to the vector of the four rows' sums. Nothing is
reassociated; the column walk this replaces read x with a stride of a whole row
and did not vectorize. Rows left over (m mod 4) take the ordered dot product,
columns left over (n mod 4) are added one at a time.
"""
from __future__ import annotations

from typing import List

from llvmlite import ir

from .arrays import Arr, accumulate_loop, counted, load, store

LANES = 4
F64 = ir.DoubleType()
VEC = ir.VectorType(F64, LANES)
I32 = ir.IntType(32)
I64 = ir.IntType(64)


def _mask(*idx: int) -> ir.Constant:
    return ir.Constant(ir.VectorType(I32, len(idx)), list(idx))


def _splat(b: ir.IRBuilder, v) -> ir.Value:
    one = b.insert_element(ir.Constant(VEC, ir.Undefined), v, I32(0))
    return b.shuffle_vector(one, ir.Constant(VEC, ir.Undefined), _mask(0, 0, 0, 0))


def _transpose(b: ir.IRBuilder, rows: List[ir.Value]) -> List[ir.Value]:
    """Columns of the 4 x 4 block whose rows are `rows`."""
    r0, r1, r2, r3 = rows
    lo01 = b.shuffle_vector(r0, r1, _mask(0, 4, 2, 6))  # x00 x10 x02 x12
    hi01 = b.shuffle_vector(r0, r1, _mask(1, 5, 3, 7))  # x01 x11 x03 x13
    lo23 = b.shuffle_vector(r2, r3, _mask(0, 4, 2, 6))
    hi23 = b.shuffle_vector(r2, r3, _mask(1, 5, 3, 7))
    return [b.shuffle_vector(lo01, lo23, _mask(0, 1, 4, 5)),
            b.shuffle_vector(hi01, hi23, _mask(0, 1, 4, 5)),
            b.shuffle_vector(lo01, lo23, _mask(2, 3, 6, 7)),
            b.shuffle_vector(hi01, hi23, _mask(2, 3, 6, 7))]


def _row_block(lw, x: Arr, y: Arr, out: Arr, n, i0) -> None:
    b = lw.b
    starts = [b.mul(b.add(i0, I64(r)), x.strides[0]) for r in range(LANES)]

    def four_columns(acc, kb):
        k0 = b.mul(kb, I64(LANES))
        rows = [b.load(b.bitcast(b.gep(x.data, [b.add(s, k0)]), VEC.as_pointer()), align=8)
                for s in starts]
        for c, col in enumerate(_transpose(b, rows)):
            yk = load(lw, y, b.mul(b.add(k0, I64(c)), y.strides[0]))
            acc = b.fadd(acc, b.fmul(col, _splat(b, yk)))
        return acc
    n4 = b.and_(n, I64(-LANES))
    acc = accumulate_loop(lw, b.sdiv(n4, I64(LANES)), ir.Constant(VEC, [0.0] * LANES),
                          four_columns)

    def one_column(acc, kk):
        k = b.add(n4, kk)
        col = ir.Constant(VEC, ir.Undefined)
        for r, s in enumerate(starts):
            col = b.insert_element(col, load(lw, x, b.add(s, k)), I32(r))
        return b.fadd(acc, b.fmul(col, _splat(b, load(lw, y, b.mul(k, y.strides[0])))))
    acc = accumulate_loop(lw, b.sub(n, n4), acc, one_column)
    for r in range(LANES):
        store(lw, out, b.mul(b.add(i0, I64(r)), out.strides[0]),
              b.extract_element(acc, I32(r)))


def rows_by_four(lw, x: Arr, y: Arr, out: Arr, n, dot_row) -> None:
    """out = x @ y; `dot_row(i)` stores row i's ordered dot product (for m mod 4 rows)."""
    b = lw.b
    m = x.shape[0]
    m4 = b.and_(m, I64(-LANES))
    counted(lw, b.sdiv(m4, I64(LANES)),
            lambda ib: _row_block(lw, x, y, out, n, b.mul(ib, I64(LANES))), "rows4")
    counted(lw, b.sub(m, m4), lambda j: dot_row(b.add(m4, j)), "rows1")
