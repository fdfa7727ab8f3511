"""Linear algebra in LLVM IR: dot, matmul and outer.

Assumes: the descriptor helpers of `arrays.py`; operands of any strides.
Guarantees: NumPy's results, each output element summed over k in ascending
order from 0.0 (so values may differ from BLAS's in the last bits, and equal
between the loop orders below). Vector-vector products are one ordered reduction.
Matrix products run k-outer: `out[i, :] += x[i, k] * y[k, :]`, so the inner loop
has no dependence chain and walks rows of y; a matrix-vector product does the
same over columns of x when they are unit-stride or the matrix is small, and
row-by-row dot products otherwise (where walking columns would miss the cache).
"""
from __future__ import annotations

from ...ir.core import Op
from ...ir.types import F64, ArrayType, ScalarType
from . import scalar
from .arrays import (Arr, accumulate_loop, alloc, counted, fill, handler, load, nd_loop,
                     offset, pack, product, raise_, store, unpack)
from .matvec import rows_by_four
from .shapes_and_reductions import const_like
from .runtime_ir import ERR_SHAPE
from .types import I1, I64

SMALL = 1 << 12  # elements: a matrix this small sits in L1, whatever the walk


def _dot_lane(lw, a: Arr, b_: Arr, n, t: ScalarType, a_off, b_off, a_stride, b_stride):
    b = lw.b

    def step(acc, k):
        x = scalar.convert(b, load(lw, a, b.add(a_off, b.mul(k, a_stride))), a.t.dtype, t)
        y = scalar.convert(b, load(lw, b_, b.add(b_off, b.mul(k, b_stride))), b_.t.dtype, t)
        return b.fadd(acc, b.fmul(x, y)) if t.is_float else b.add(acc, b.mul(x, y))
    return accumulate_loop(lw, n, const_like(t, 0.0), step)


def _axpy(lw, out: Arr, o_off, o_stride, count, coef, src: Arr, s_off, s_stride, t) -> None:
    """out[o_off + j o_stride] += coef * src[s_off + j s_stride] for j < count."""
    b = lw.b

    def body(j):
        at = b.add(o_off, b.mul(j, o_stride))
        v = scalar.convert(b, load(lw, src, b.add(s_off, b.mul(j, s_stride))), src.t.dtype, t)
        cur = load(lw, out, at)
        store(lw, out, at, b.fadd(cur, b.fmul(coef, v)) if t.is_float
              else b.add(cur, b.mul(coef, v)))
    counted(lw, count, body, "j")


def _element(lw, a: Arr, off, t):
    return scalar.convert(lw.b, load(lw, a, off), a.t.dtype, t)


@handler("dot", "matmul")
def op_dot(lw, op: Op) -> None:
    b = lw.b
    x, y = (unpack(lw, v) for v in op.operands)
    rt = op.result.type
    t = rt.dtype if isinstance(rt, ArrayType) else rt
    n = x.shape[-1]
    with b.if_then(b.icmp_signed("!=", n, y.shape[0]), likely=False):
        raise_(lw, ERR_SHAPE)
    if x.ndim == 1 and y.ndim == 1:
        lw.set(op.result, _dot_lane(lw, x, y, n, t, I64(0), I64(0), x.strides[0], y.strides[0]))
        return
    rows = [x.shape[0]] if x.ndim == 2 else []
    cols = [y.shape[1]] if y.ndim == 2 else []
    out = alloc(lw, rt, rows + cols)
    if cols:
        _rows_of_y(lw, x, y, out, n, t)
    else:
        _matrix_vector(lw, x, y, out, n, t)
    lw.set(op.result, pack(lw, out))


def _matrix_vector(lw, x: Arr, y: Arr, out: Arr, n, t) -> None:
    """out = x @ y: float64 with unit-stride columns or rows, rows 16 or 4 at a time
    (matvec.py); otherwise columns of x walked when they are unit-stride (or x is
    small), else row by row."""
    b = lw.b

    def dot_row(i):
        store(lw, out, b.mul(i, out.strides[0]), _dot_lane(
            lw, x, y, n, t, b.mul(i, x.strides[0]), I64(0), x.strides[1], y.strides[0]))
    columns = b.icmp_signed("==", x.strides[0], I64(1))
    if t == F64 and x.t.dtype == F64 and y.t.dtype == F64:
        rows = b.icmp_signed("==", x.strides[1], I64(1))
        with b.if_else(columns) as (by_columns, other):
            with by_columns:
                rows_by_four(lw, x, y, out, n, dot_row, unit_columns=True)
            with other:
                with b.if_else(rows) as (by_rows, strided):
                    with by_rows:
                        rows_by_four(lw, x, y, out, n, dot_row, unit_columns=False)
                    with strided:
                        _columns_or_rows(lw, x, y, out, n, t, I1(0), dot_row)
    else:
        _columns_or_rows(lw, x, y, out, n, t, columns, dot_row)


def _columns_or_rows(lw, x: Arr, y: Arr, out: Arr, n, t, columns, dot_row) -> None:
    b = lw.b
    walk_columns = b.or_(columns, b.icmp_signed("<=", product(b, x.shape), I64(SMALL)))
    with b.if_else(walk_columns) as (by_columns, by_rows):
        with by_columns:
            fill(lw, out, const_like(t, 0.0))
            counted(lw, n, lambda k: _axpy(
                lw, out, I64(0), out.strides[0], x.shape[0],
                _element(lw, y, b.mul(k, y.strides[0]), t),
                x, b.mul(k, x.strides[1]), x.strides[0], t), "k")
        with by_rows:
            counted(lw, x.shape[0], dot_row, "row")


def _rows_of_y(lw, x: Arr, y: Arr, out: Arr, n, t) -> None:
    """out (= x @ y, y a matrix) accumulated as out[i, :] += x[i, k] * y[k, :]."""
    b = lw.b
    fill(lw, out, const_like(t, 0.0))
    m = y.shape[1]

    def row(i):
        o_off = b.mul(i, out.strides[0]) if x.ndim == 2 else I64(0)
        x_off = b.mul(i, x.strides[0]) if x.ndim == 2 else I64(0)
        counted(lw, n, lambda k: _axpy(
            lw, out, o_off, out.strides[-1], m,
            _element(lw, x, b.add(x_off, b.mul(k, x.strides[-1])), t),
            y, b.mul(k, y.strides[0]), y.strides[1], t), "k")
    if x.ndim == 2:
        counted(lw, x.shape[0], row, "i")
    else:
        row(None)


@handler("outer")
def op_outer(lw, op: Op) -> None:
    b = lw.b
    x, y = (unpack(lw, v) for v in op.operands)
    t = op.result.type.dtype
    out = alloc(lw, op.result.type, [x.shape[0], y.shape[0]])

    def body(idx):
        u = _element(lw, x, b.mul(idx[0], x.strides[0]), t)
        v = _element(lw, y, b.mul(idx[1], y.strides[0]), t)
        store(lw, out, offset(b, out, idx), b.fmul(u, v) if t.is_float else b.mul(u, v))
    nd_loop(lw, out.shape, body)
    lw.set(op.result, pack(lw, out))
