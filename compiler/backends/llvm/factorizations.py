"""Matrix factorizations in LLVM IR: np.linalg's solve, inv, det, slogdet, cholesky, eigh
and eigvalsh.

Assumes: the descriptor and loop helpers of `arrays.py`; operands of any strides, 2-d
matrices of the result's float type (the frontend converts; a right-hand side of 1 or 2
dims); arithmetic in that type (float32 stays float32, as LAPACK's s-routines).
Guarantees: NumPy's results up to rounding, and NumPy's errors, each ending the call:
a matrix that is not square is LinAlgError (code 26); solve's right-hand side of another
length ValueError (2); solve and inv of a matrix whose LU factorization meets an exact
zero pivot LinAlgError "Singular matrix" (24), while det and slogdet give 0 and (0, -inf)
there; cholesky of a matrix with a pivot <= 0 LinAlgError (25) (a NaN runs through, as
in NumPy).
  * LU with partial pivoting (the first largest |a_ik| of the column, as LAPACK) in a
    copy; det is sign * exp(logdet), as NumPy computes it.
  * cholesky reads the lower triangle only (LAPACK's 'L'); the result is zero above.
  * eigh: cyclic Jacobi rotations on the symmetric matrix the lower triangle stands for,
    until the off-diagonal part is below eps * ||A||_F (at most MAX_SWEEPS sweeps);
    eigenvalues ascending; each eigenvector scaled so that its first component of
    largest magnitude is positive (LAPACK's signs are unspecified: they may differ).
"""
from __future__ import annotations

from llvmlite import ir

from ...ir.core import Op
from ...ir.types import ArrayType, I64 as T_I64
from .arrays import Arr, alloc, copy_array, counted, fill, handler, load, offset, pack, raise_, \
    store, unpack
from .runtime_ir import ERR_NOT_POSITIVE_DEFINITE, ERR_NOT_SQUARE, ERR_SHAPE, ERR_SINGULAR
from .types import I1, I64, lltype

# -- small helpers ----------------------------------------------------------------------------


def read(lw, a: Arr, *idx):
    return load(lw, a, offset(lw.b, a, list(idx)))


def write(lw, a: Arr, v, *idx) -> None:
    store(lw, a, offset(lw.b, a, list(idx)), v)


def span(lw, lo, hi, body, name: str = "k") -> None:
    """for k in range(lo, hi): body(k)."""
    counted(lw, lw.b.sub(hi, lo), lambda k: body(lw.b.add(k, lo)), name)


def number(a: Arr, x: float) -> ir.Constant:
    return ir.Constant(lltype(a.t.dtype), x)


def intrinsic(lw, name: str, x):
    return lw.b.call(lw.scalar.intrinsic(name, x.type), [x])


class Var:
    """A mutable scalar in a stack slot (promoted to a register by the optimizer)."""

    def __init__(self, lw, init):
        self.b = lw.b
        self.slot = lw.entry_alloca(init.type)
        self.b.store(init, self.slot)

    def get(self):
        return self.b.load(self.slot)

    def set(self, v) -> None:
        self.b.store(v, self.slot)


def square(lw, v) -> Arr:
    a = unpack(lw, v)
    with lw.b.if_then(lw.b.icmp_signed("!=", a.shape[0], a.shape[1]), likely=False):
        raise_(lw, ERR_NOT_SQUARE)
    return a


def swap(lw, a: Arr, i, j, rows: bool = True) -> None:
    """Exchange rows i and j of the matrix `a` (columns when `rows` is False)."""
    def at(line, k):
        return (line, k) if rows else (k, line)

    def body(k):
        x, y = read(lw, a, *at(i, k)), read(lw, a, *at(j, k))
        write(lw, a, y, *at(i, k))
        write(lw, a, x, *at(j, k))
    counted(lw, a.shape[1] if rows else a.shape[0], body, "swap")


def _as_columns(a: Arr) -> Arr:
    """A 1-d array as an n x 1 matrix over the same memory."""
    if a.ndim == 2:
        return a
    return Arr(ArrayType(a.t.dtype, 2), a.data, [a.shape[0], I64(1)], [a.strides[0], I64(1)])


# -- LU with partial pivoting ------------------------------------------------------------------


def _lu(lw, a: Arr):
    """Factor the n x n work matrix `a` in place (L below the diagonal, unit diagonal
    implied; U on and above). Returns the pivot rows, the permutation's sign and
    whether a pivot was exactly zero (that column is then left as it is, as LAPACK)."""
    b = lw.b
    n = a.shape[0]
    piv = alloc(lw, ArrayType(T_I64, 1), [n])
    sign, singular = Var(lw, number(a, 1.0)), Var(lw, I1(0))

    def column(k):
        best, row = Var(lw, intrinsic(lw, "fabs", read(lw, a, k, k))), Var(lw, k)

        def scan(i):
            x = intrinsic(lw, "fabs", read(lw, a, i, k))
            more = b.fcmp_ordered(">", x, best.get())
            best.set(b.select(more, x, best.get()))
            row.set(b.select(more, i, row.get()))
        span(lw, b.add(k, I64(1)), n, scan, "scan")
        p = row.get()
        write(lw, piv, p, k)
        with b.if_then(b.icmp_signed("!=", p, k)):
            swap(lw, a, k, p)
            sign.set(b.fmul(sign.get(), number(a, -1.0)))
        pivot = read(lw, a, k, k)
        with b.if_else(b.fcmp_ordered("==", pivot, number(a, 0.0))) as (zero, nonzero):
            with zero:
                singular.set(I1(1))
            with nonzero:
                span(lw, b.add(k, I64(1)), n, lambda i: _eliminate(lw, a, i, k, pivot), "row")
    counted(lw, n, column, "col")
    return piv, sign.get(), singular.get()


def _eliminate(lw, a: Arr, i, k, pivot) -> None:
    """Row i -= l * row k, l = a[i, k] / pivot kept in a[i, k]."""
    b = lw.b
    factor = b.fdiv(read(lw, a, i, k), pivot)
    write(lw, a, factor, i, k)
    span(lw, b.add(k, I64(1)), a.shape[1], lambda j: write(
        lw, a, b.fsub(read(lw, a, i, j), b.fmul(factor, read(lw, a, k, j))), i, j), "elim")


def _lu_solve(lw, lu: Arr, piv: Arr, x: Arr) -> None:
    """Overwrite the n x m matrix x with lu^-1 P x: the row swaps, then forward
    substitution with the unit lower factor, then back substitution with the upper."""
    b = lw.b
    n = lu.shape[0]

    def exchange(k):
        p = read(lw, piv, k)
        with b.if_then(b.icmp_signed("!=", p, k)):
            swap(lw, x, k, p)
    counted(lw, n, exchange, "perm")

    def subtract(i, k):  # x[i, :] -= lu[i, k] * x[k, :]
        f = read(lw, lu, i, k)
        counted(lw, x.shape[1], lambda j: write(
            lw, x, b.fsub(read(lw, x, i, j), b.fmul(f, read(lw, x, k, j))), i, j), "axpy")
    counted(lw, n, lambda i: counted(lw, i, lambda k: subtract(i, k), "fwd"), "lower")

    def backward(r):
        i = b.sub(b.sub(n, I64(1)), r)
        span(lw, b.add(i, I64(1)), n, lambda k: subtract(i, k), "bwd")
        d = read(lw, lu, i, i)
        counted(lw, x.shape[1], lambda j: write(lw, x, b.fdiv(read(lw, x, i, j), d), i, j),
                "scale")
    counted(lw, n, backward, "upper")


def _factored(lw, a: Arr, raise_singular: bool):
    """A factored copy of the square matrix `a`: (lu, pivots, sign, singular)."""
    lu = copy_array(lw, a)
    piv, sign, singular = _lu(lw, lu)
    if raise_singular:
        with lw.b.if_then(singular, likely=False):
            raise_(lw, ERR_SINGULAR)
    return lu, piv, sign, singular


@handler("solve")
def op_solve(lw, op: Op) -> None:
    b = lw.b
    a = square(lw, op.operands[0])
    rhs = unpack(lw, op.operands[1])
    with b.if_then(b.icmp_signed("!=", rhs.shape[0], a.shape[0]), likely=False):
        raise_(lw, ERR_SHAPE)
    lu, piv, _, _ = _factored(lw, a, True)
    out = copy_array(lw, rhs)
    _lu_solve(lw, lu, piv, _as_columns(out))
    lw.set(op.result, pack(lw, out))


@handler("inv")
def op_inv(lw, op: Op) -> None:
    lu, piv, _, _ = _factored(lw, square(lw, op.operands[0]), True)
    out = alloc(lw, op.result.type, list(lu.shape))
    fill(lw, out, number(lu, 0.0))
    counted(lw, lu.shape[0], lambda i: write(lw, out, number(lu, 1.0), i, i), "eye")
    _lu_solve(lw, lu, piv, out)
    lw.set(op.result, pack(lw, out))


def _slogdet(lw, v):
    """(sign, log|det|) from the LU factors: (0, -inf) for an exactly singular matrix."""
    b = lw.b
    lu, _, perm_sign, singular = _factored(lw, square(lw, v), False)
    sign, logdet = Var(lw, perm_sign), Var(lw, number(lu, 0.0))

    def step(i):
        d = read(lw, lu, i, i)
        # NumPy flips the sign for a negative pivot only: a NaN pivot keeps it (a zero
        # pivot is `singular`, below)
        s = b.select(b.fcmp_ordered("<", d, number(lu, 0.0)), number(lu, -1.0),
                     number(lu, 1.0))
        sign.set(b.fmul(sign.get(), s))
        logdet.set(b.fadd(logdet.get(), intrinsic(lw, "log", intrinsic(lw, "fabs", d))))
    counted(lw, lu.shape[0], step, "diag")
    # NumPy's exact (0, -inf) for a zero pivot: +0.0, whatever the permutation's sign
    return (b.select(singular, number(lu, 0.0), sign.get()),
            b.select(singular, number(lu, float("-inf")), logdet.get()))


@handler("det")
def op_det(lw, op: Op) -> None:
    sign, logdet = _slogdet(lw, op.operands[0])
    lw.set(op.result, lw.b.fmul(sign, intrinsic(lw, "exp", logdet)))


@handler("slogdet")
def op_slogdet(lw, op: Op) -> None:
    sign, logdet = _slogdet(lw, op.operands[0])
    set_tuple(lw, op, [sign, logdet])


def set_tuple(lw, op: Op, parts) -> None:
    agg = ir.Constant(lltype(op.result.type), None)
    for k, v in enumerate(parts):
        agg = lw.b.insert_value(agg, v, k)
    lw.set(op.result, agg)


# -- cholesky -----------------------------------------------------------------------------------


@handler("cholesky")
def op_cholesky(lw, op: Op) -> None:
    b = lw.b
    a = square(lw, op.operands[0])
    n = a.shape[0]
    out = alloc(lw, op.result.type, [n, n])
    fill(lw, out, number(a, 0.0))

    def dot_rows(i, j):  # sum over k < j of out[i, k] out[j, k]
        acc = Var(lw, number(a, 0.0))
        counted(lw, j, lambda k: acc.set(b.fadd(acc.get(), b.fmul(
            read(lw, out, i, k), read(lw, out, j, k)))), "dot")
        return acc.get()

    def column(j):
        s = b.fsub(read(lw, a, j, j), dot_rows(j, j))
        with b.if_then(b.fcmp_ordered("<=", s, number(a, 0.0)), likely=False):
            raise_(lw, ERR_NOT_POSITIVE_DEFINITE)
        d = intrinsic(lw, "sqrt", s)
        write(lw, out, d, j, j)
        span(lw, b.add(j, I64(1)), n, lambda i: write(
            lw, out, b.fdiv(b.fsub(read(lw, a, i, j), dot_rows(i, j)), d), i, j), "below")
    counted(lw, n, column, "col")
    lw.set(op.result, pack(lw, out))

