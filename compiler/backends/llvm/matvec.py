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

from .arrays import Arr, counted, load, store

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


def _loop(lw, n, inits: List[ir.Value], step) -> List[ir.Value]:
    """accs = inits; for k in range(n): accs = step(accs, k); return accs."""
    b = lw.b
    pre = b.block
    head, body, done = (lw.fn.append_basic_block(f"mv.{x}") for x in ("loop", "body", "end"))
    b.branch(head)
    b.position_at_end(head)
    k = b.phi(I64)
    k.add_incoming(I64(0), pre)
    accs = []
    for v in inits:
        accs.append(b.phi(v.type))
        accs[-1].add_incoming(v, pre)
    b.cbranch(b.icmp_signed("<", k, n), body, done)
    b.position_at_end(body)
    nxt = step(list(accs), k)
    k.add_incoming(b.add(k, I64(1)), b.block)
    for phi, v in zip(accs, nxt):
        phi.add_incoming(v, b.block)
    b.branch(head)
    b.position_at_end(done)
    return accs


def _row_block(lw, x: Arr, y: Arr, out: Arr, n, i0, groups: int) -> None:
    """Rows i0 .. i0 + 4 groups - 1: one vector of sums per group of four rows (the
    groups' additions are independent, which hides the latency of each chain)."""
    b = lw.b
    starts = [b.mul(b.add(i0, I64(r)), x.strides[0]) for r in range(LANES * groups)]

    def four_columns(accs, kb):
        k0 = b.mul(kb, I64(LANES))
        ys = [_splat(b, load(lw, y, b.mul(b.add(k0, I64(c)), y.strides[0])))
              for c in range(LANES)]
        out = []
        for g, acc in enumerate(accs):
            rows = [b.load(b.bitcast(b.gep(x.data, [b.add(s, k0)]), VEC.as_pointer()),
                           align=8) for s in starts[LANES * g:LANES * (g + 1)]]
            for col, yk in zip(_transpose(b, rows), ys):
                acc = b.fadd(acc, b.fmul(col, yk))
            out.append(acc)
        return out
    n4 = b.and_(n, I64(-LANES))
    zero = ir.Constant(VEC, [0.0] * LANES)
    accs = _loop(lw, b.sdiv(n4, I64(LANES)), [zero] * groups, four_columns)

    def one_column(accs, kk):
        k = b.add(n4, kk)
        yk = _splat(b, load(lw, y, b.mul(k, y.strides[0])))
        out = []
        for g, acc in enumerate(accs):
            col = ir.Constant(VEC, ir.Undefined)
            for r, s in enumerate(starts[LANES * g:LANES * (g + 1)]):
                col = b.insert_element(col, load(lw, x, b.add(s, k)), I32(r))
            out.append(b.fadd(acc, b.fmul(col, yk)))
        return out
    accs = _loop(lw, b.sub(n, n4), accs, one_column)
    for g, acc in enumerate(accs):
        for r in range(LANES):
            store(lw, out, b.mul(b.add(i0, I64(LANES * g + r)), out.strides[0]),
                  b.extract_element(acc, I32(r)))


def _column_block(lw, x: Arr, y: Arr, out: Arr, n, i0, groups: int) -> None:
    """The same rows of a matrix whose columns have unit stride: each column's four
    rows are one load, no transposing."""
    b = lw.b

    def column(accs, k):
        yk = _splat(b, load(lw, y, b.mul(k, y.strides[0])))
        at = b.add(i0, b.mul(k, x.strides[1]))
        return [b.fadd(acc, b.fmul(b.load(b.bitcast(b.gep(x.data, [b.add(at, I64(LANES * g))]),
                                                    VEC.as_pointer()), align=8), yk))
                for g, acc in enumerate(accs)]
    zero = ir.Constant(VEC, [0.0] * LANES)
    for g, acc in enumerate(_loop(lw, n, [zero] * groups, column)):
        for r in range(LANES):
            store(lw, out, b.mul(b.add(i0, I64(LANES * g + r)), out.strides[0]),
                  b.extract_element(acc, I32(r)))


GROUPS = 4  # rows 16 at a time where there are that many, then 4 at a time


def rows_by_four(lw, x: Arr, y: Arr, out: Arr, n, dot_row, unit_columns: bool) -> None:
    """out = x @ y, x's rows (or, `unit_columns`, its columns) of unit stride;
    `dot_row(i)` stores row i's ordered dot product (for the m mod 4 rows left)."""
    b = lw.b
    block = _column_block if unit_columns else _row_block
    m = x.shape[0]
    wide = LANES * GROUPS
    m16 = b.and_(m, I64(-wide))
    counted(lw, b.sdiv(m16, I64(wide)),
            lambda ib: block(lw, x, y, out, n, b.mul(ib, I64(wide)), GROUPS), "rows16")
    m4 = b.and_(m, I64(-LANES))
    counted(lw, b.sdiv(b.sub(m4, m16), I64(LANES)),
            lambda ib: block(lw, x, y, out, n, b.add(m16, b.mul(ib, I64(LANES))), 1),
            "rows4")
    counted(lw, b.sub(m, m4), lambda j: dot_row(b.add(m4, j)), "rows1")
