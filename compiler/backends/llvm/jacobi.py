"""Symmetric eigenproblems in LLVM IR: np.linalg.eigh and eigvalsh by cyclic Jacobi.

Assumes: the helpers of `factorizations.py` and `arrays.py`; a square float matrix (of
any strides) of the result's float type, of which only the lower triangle is read, as
LAPACK's 'L' does.
Guarantees: eigenvalues in ascending order and orthonormal eigenvectors as the columns
of V, with A = V diag(w) V^T up to rounding. Rotations sweep every (p, q), p < q, until
the off-diagonal part's norm is below eps * ||A||_F (eps of the float type), at most
MAX_SWEEPS sweeps; a NaN runs through to the result. Each eigenvector is scaled by +-1
so that its first component of largest magnitude is positive: a deterministic choice,
which may differ from LAPACK's (NumPy leaves the signs unspecified).
"""
from __future__ import annotations

from ...ir.core import Op
from ...ir.types import ArrayType, F32
from .arrays import Arr, alloc, counted, fill, handler, pack
from .factorizations import (Var, intrinsic, number, read, set_tuple, span, square, swap,
                             write)
from .types import I1, I64

MAX_SWEEPS = 60


def _symmetric_copy(lw, a: Arr) -> Arr:
    """s[i, j] = a[max(i, j), min(i, j)]: the symmetric matrix of a's lower triangle."""
    b = lw.b
    s = alloc(lw, a.t, list(a.shape))

    def body(i, j):
        below = b.icmp_signed(">=", i, j)
        write(lw, s, read(lw, a, b.select(below, i, j), b.select(below, j, i)), i, j)
    counted(lw, a.shape[0], lambda i: counted(lw, a.shape[0], lambda j: body(i, j), "j"), "i")
    return s


def _sum_squares(lw, s: Arr, strict_upper: bool):
    """The sum of squares of s's elements (only those above the diagonal if asked)."""
    b = lw.b
    n = s.shape[0]
    acc = Var(lw, number(s, 0.0))

    def add(i, j):
        x = read(lw, s, i, j)
        acc.set(b.fadd(acc.get(), b.fmul(x, x)))
    counted(lw, n, lambda i: span(lw, b.add(i, I64(1)) if strict_upper else I64(0), n,
                                  lambda j: add(i, j), "j"), "i")
    return acc.get()


def _rotation(lw, s: Arr, p, q):
    """(c, sn) of the rotation that zeroes s[p, q] (the smaller angle)."""
    b = lw.b
    one = number(s, 1.0)
    theta = b.fdiv(b.fsub(read(lw, s, q, q), read(lw, s, p, p)),
                   b.fmul(number(s, 2.0), read(lw, s, p, q)))
    mag = intrinsic(lw, "fabs", theta)
    big = b.fcmp_ordered(">", mag, number(s, 1e4 if s.t.dtype == F32 else 1e8))
    root = b.select(big, mag, intrinsic(lw, "sqrt", b.fadd(b.fmul(theta, theta), one)))
    sign = b.select(b.fcmp_ordered("<", theta, number(s, 0.0)), number(s, -1.0), one)
    t = b.fdiv(sign, b.fadd(mag, root))
    c = b.fdiv(one, intrinsic(lw, "sqrt", b.fadd(b.fmul(t, t), one)))
    return c, b.fmul(t, c)


def _rotate_pair(lw, m: Arr, c, sn, at_p, at_q) -> None:
    """(x_p, x_q) <- (c x_p - sn x_q, sn x_p + c x_q) for the pairs at_p(k), at_q(k)."""
    b = lw.b

    def body(k):
        x, y = read(lw, m, *at_p(k)), read(lw, m, *at_q(k))
        write(lw, m, b.fsub(b.fmul(c, x), b.fmul(sn, y)), *at_p(k))
        write(lw, m, b.fadd(b.fmul(sn, x), b.fmul(c, y)), *at_q(k))
    counted(lw, m.shape[0], body, "rot")


def _rotate(lw, s: Arr, v: Arr, p, q) -> None:
    """s <- J^T s J and v <- v J for the rotation J in the (p, q) plane zeroing s[p, q]."""
    b = lw.b
    with b.if_then(b.fcmp_unordered("!=", read(lw, s, p, q), number(s, 0.0))):
        c, sn = _rotation(lw, s, p, q)
        _rotate_pair(lw, s, c, sn, lambda k: (k, p), lambda k: (k, q))   # columns
        _rotate_pair(lw, s, c, sn, lambda k: (p, k), lambda k: (q, k))   # rows
        _rotate_pair(lw, v, c, sn, lambda k: (k, p), lambda k: (k, q))
        write(lw, s, number(s, 0.0), p, q)
        write(lw, s, number(s, 0.0), q, p)


def _diagonalize(lw, s: Arr, v: Arr) -> None:
    """Jacobi sweeps on s (made diagonal), accumulating the rotations into v."""
    b = lw.b
    n = s.shape[0]
    eps = number(s, float(2.0 ** -23 if s.t.dtype == F32 else 2.0 ** -52))
    limit = b.fmul(b.fmul(eps, eps), _sum_squares(lw, s, False))
    done = Var(lw, I1(0))

    def sweep(_):
        with b.if_then(b.not_(done.get())):
            off = _sum_squares(lw, s, True)
            with b.if_else(b.fcmp_ordered("<=", off, limit)) as (converged, more):
                with converged:
                    done.set(I1(1))
                with more:
                    counted(lw, n, lambda p: span(lw, b.add(p, I64(1)), n,
                                                  lambda q: _rotate(lw, s, v, p, q), "q"), "p")
    counted(lw, I64(MAX_SWEEPS), sweep, "sweep")


def _sort(lw, w: Arr, v: Arr) -> None:
    """Selection sort of w ascending, v's columns following."""
    b = lw.b
    n = w.shape[0]

    def place(i):
        low, at = Var(lw, read(lw, w, i)), Var(lw, i)

        def scan(j):
            x = read(lw, w, j)
            less = b.fcmp_ordered("<", x, low.get())
            low.set(b.select(less, x, low.get()))
            at.set(b.select(less, j, at.get()))
        span(lw, b.add(i, I64(1)), n, scan, "scan")
        m = at.get()
        with b.if_then(b.icmp_signed("!=", m, i)):
            x = read(lw, w, i)
            write(lw, w, low.get(), i)
            write(lw, w, x, m)
            swap(lw, v, i, m, rows=False)
    counted(lw, n, place, "sort")


def _fix_signs(lw, v: Arr) -> None:
    """Negate each column whose first component of largest magnitude is negative."""
    b = lw.b
    n = v.shape[0]

    def column(j):
        best, value = Var(lw, number(v, -1.0)), Var(lw, number(v, 0.0))

        def scan(i):
            x = read(lw, v, i, j)
            more = b.fcmp_ordered(">", intrinsic(lw, "fabs", x), best.get())
            best.set(b.select(more, intrinsic(lw, "fabs", x), best.get()))
            value.set(b.select(more, x, value.get()))
        counted(lw, n, scan, "scan")
        with b.if_then(b.fcmp_ordered("<", value.get(), number(v, 0.0))):
            counted(lw, n, lambda i: write(lw, v, b.fmul(read(lw, v, i, j), number(v, -1.0)),
                                           i, j), "neg")
    counted(lw, n, column, "col")


def eigen(lw, operand) -> tuple:
    """(w, v): the ascending eigenvalues and the eigenvectors of the symmetric matrix."""
    a = square(lw, operand)
    n = a.shape[0]
    s = _symmetric_copy(lw, a)
    v = alloc(lw, ArrayType(a.t.dtype, 2), [n, n])
    fill(lw, v, number(a, 0.0))
    counted(lw, n, lambda i: write(lw, v, number(a, 1.0), i, i), "eye")
    _diagonalize(lw, s, v)
    w = alloc(lw, ArrayType(a.t.dtype, 1), [n])
    counted(lw, n, lambda i: write(lw, w, read(lw, s, i, i), i), "diag")
    _sort(lw, w, v)
    _fix_signs(lw, v)
    return w, v


@handler("eigh")
def op_eigh(lw, op: Op) -> None:
    w, v = eigen(lw, op.operands[0])
    set_tuple(lw, op, [pack(lw, w), pack(lw, v)])


@handler("eigvalsh")
def op_eigvalsh(lw, op: Op) -> None:
    w, _ = eigen(lw, op.operands[0])
    lw.set(op.result, pack(lw, w))
