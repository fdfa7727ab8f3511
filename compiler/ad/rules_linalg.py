"""Derivative rules for np.linalg: solve, inv, det, slogdet, cholesky, eigh, eigvalsh.

Assumes: as in `rules`; operands are 2-d float matrices (the frontend converts), square
and, where the primal op succeeded, invertible (solve, inv) or positive definite
(cholesky); slogdet's and eigh's results are tuples, so their adjoint `g[0]` and their
tangent are tuples too.
Guarantees: each rule is the matrix identity, written in IR ops that have rules of their
own (solve, inv, eigh, dot, transpose, where, ...), so derivatives of every order follow.
  * solve: x = A^-1 b; b_bar = solve(A^T, g), A_bar = -b_bar x^T; dx = A^-1 (db - dA x).
  * inv: Y = A^-1; A_bar = -Y^T g Y^T; dY = -Y dA Y.
  * det: A_bar = g det(A) A^-T; slogdet: A_bar = g_logdet A^-T, the sign has derivative
    0. At a singular matrix these need A^-1 and raise LinAlgError (documented).
  * cholesky and eigh read only the lower triangle of A, as NumPy (LAPACK) does: their
    derivatives are those of that function, taken through the symmetric matrix the
    lower triangle stands for. The forward rules use dA_s = tril(dA) + tril(dA, -1)^T;
    the reverse rules fold a contribution S for the symmetric matrix back onto the
    lower triangle: S_ii on the diagonal, S_ij + S_ji below it, 0 above (torch and JAX
    report the symmetric part instead; both agree for inputs built symmetric).
  * cholesky (Murray 2016, arXiv:1602.07527): with Phi(X) the lower triangle of X with
    its diagonal halved, dL = L Phi(L^-1 dA_s L^-T), S = L^-T Phi(L^T L_bar) L^-1.
  * eigh: with F_ij = 1/(w_j - w_i) off the diagonal and 0 on it, dw = diag(V^T dA_s V),
    dV = V (F o V^T dA_s V), S = V (diag(w_bar) + F o V^T V_bar) V^T. Repeated
    eigenvalues make F infinite: the eigenvector derivative is then undefined (inf or nan
    in the result), while functions of w alone stay exact (an unused V's zero adjoint is
    left out, never multiplied by F).
"""
from __future__ import annotations

from .registry import jvp_rule, vjp_rule

# -- helpers --------------------------------------------------------------------------------


def _part(ad, t, k: int):
    return ad.b.op("tuple_get", [t], {"index": k}).result


def _adjoint_part(ad, g, k: int):
    """Part k of a tuple adjoint, None where it is the exact zero of an unused result
    (so that eigh's rule never multiplies an infinite F by it, nor slogdet's needs A^-1
    for the sign alone)."""
    op = getattr(g, "op", None)
    if op is None or op.name != "tuple":
        return _part(ad, g, k)
    part = op.operands[k]
    maker = getattr(part, "op", None)
    if maker is not None and (maker.name == "zeros_like" or
                              maker.name == "const" and maker.attrs.get("value") == 0):
        return None
    return part


class _Triangles:
    """Masks `col relation row` over the square matrix `a` (one arange per rule)."""

    def __init__(self, ad, a):
        idx = ad.arange(ad.b.const(0), ad.dim(a, axis=0), ad.b.const(1))
        self.ad, self.cols, self.rows = ad, ad.expand_dims(idx, axis=0), ad.expand_dims(idx, axis=1)

    def mask(self, relation: str):
        return self.ad.b.emit(relation, self.cols, self.rows)

    def keep(self, x, relation: str):
        """x where `col relation row` holds, 0 elsewhere."""
        return self.ad.where(self.mask(relation), x, self.ad.const(0.0, x))

    def symmetric_tangent(self, d):
        """The tangent of the symmetric matrix the lower triangle stands for."""
        return self.ad.add(self.keep(d, "le"), self.ad.transpose(self.keep(d, "lt")))

    def fold_lower(self, s):
        """A contribution `s` for that symmetric matrix, as the lower triangle's adjoint."""
        return self.ad.add(self.keep(s, "le"), self.keep(self.ad.transpose(s), "lt"))

    def phi(self, x):
        """The lower triangle of x with its diagonal halved."""
        half = self.ad.mul(x, self.ad.const(0.5, x))
        return self.ad.add(self.keep(x, "lt"), self.keep(half, "eq"))


def _inv_t(ad, a):
    return ad.transpose(ad.inv(a))


def _trace_of_product(ad, m_t, d):
    """trace(M dA) given M^T: sum(M^T o dA)."""
    return ad.sum(ad.mul(m_t, d))


def _times_t(ad, x, y):
    """x y^T for vectors (an outer product) or matrices."""
    return ad.outer(x, y) if x.type.ndim == 1 else ad.dot(x, ad.transpose(y))


# -- solve, inv, det, slogdet -------------------------------------------------------------------


@vjp_rule("solve")
def solve_vjp(ad, op, g, need):
    a = op.operands[0]
    b_bar = ad.solve(ad.transpose(a), g[0])
    return [ad.neg(_times_t(ad, b_bar, op.result)) if need[0] else None,
            b_bar if need[1] else None]


@jvp_rule("solve")
def solve_jvp(ad, op, d):
    a = op.operands[0]
    rhs = ad.minus(d[1], ad.dot(d[0], op.result) if d[0] is not None else None)
    return [ad.solve(a, rhs)]


@vjp_rule("inv")
def inv_vjp(ad, op, g, need):
    y_t = ad.transpose(op.result)
    return [ad.neg(ad.dot(ad.dot(y_t, g[0]), y_t))]


@jvp_rule("inv")
def inv_jvp(ad, op, d):
    y = op.result
    return [ad.neg(ad.dot(ad.dot(y, d[0]), y))]


@vjp_rule("det")
def det_vjp(ad, op, g, need):
    return [ad.mul(_inv_t(ad, op.operands[0]), ad.mul(g[0], op.result))]


@jvp_rule("det")
def det_jvp(ad, op, d):
    return [ad.mul(op.result, _trace_of_product(ad, _inv_t(ad, op.operands[0]), d[0]))]


@vjp_rule("slogdet")
def slogdet_vjp(ad, op, g, need):
    log_bar = _adjoint_part(ad, g[0], 1)
    return [None if log_bar is None else ad.mul(_inv_t(ad, op.operands[0]), log_bar)]


@jvp_rule("slogdet")
def slogdet_jvp(ad, op, d):
    sign = _part(ad, op.result, 0)
    dlog = _trace_of_product(ad, _inv_t(ad, op.operands[0]), d[0])
    return [ad.tuple(ad.zero(sign), dlog)]


# -- cholesky -------------------------------------------------------------------------------


@vjp_rule("cholesky")
def cholesky_vjp(ad, op, g, need):
    tri, low = _Triangles(ad, op.operands[0]), op.result
    low_t = ad.transpose(low)
    q = tri.phi(ad.dot(low_t, g[0]))
    s = ad.transpose(ad.solve(low_t, ad.transpose(ad.solve(low_t, q))))  # L^-T q L^-1
    return [tri.fold_lower(s)]


@jvp_rule("cholesky")
def cholesky_jvp(ad, op, d):
    tri, low = _Triangles(ad, op.operands[0]), op.result
    da = tri.symmetric_tangent(d[0])
    m = ad.solve(low, ad.transpose(ad.solve(low, da)))  # L^-1 dA_s L^-T (dA_s symmetric)
    return [ad.dot(low, tri.phi(m))]


# -- eigh and eigvalsh ------------------------------------------------------------------------


def _gaps(ad, w, tri):
    """F_ij = 1/(w_j - w_i) off the diagonal, 0 on it."""
    eye = tri.mask("eq")
    gap = ad.sub(ad.expand_dims(w, axis=0), ad.expand_dims(w, axis=1))
    one, zero = ad.const(1.0, w), ad.const(0.0, w)
    return ad.where(eye, zero, ad.div(one, ad.where(eye, one, gap)))


def _diagonal_of(ad, v, da_s):
    """diag(V^T dA_s V) as a vector."""
    return ad.sum(ad.mul(v, ad.dot(da_s, v)), axis=0)


@vjp_rule("eigh")
def eigh_vjp(ad, op, g, need):
    tri = _Triangles(ad, op.operands[0])
    w, v = _part(ad, op.result, 0), _part(ad, op.result, 1)
    w_bar, v_bar = _adjoint_part(ad, g[0], 0), _adjoint_part(ad, g[0], 1)
    inner = None if v_bar is None else \
        ad.mul(_gaps(ad, w, tri), ad.dot(ad.transpose(v), v_bar))
    if w_bar is not None:
        inner = ad.plus(inner, tri.keep(ad.expand_dims(w_bar, axis=0), "eq"))
    if inner is None:
        return [None]
    return [tri.fold_lower(ad.dot(ad.dot(v, inner), ad.transpose(v)))]


@jvp_rule("eigh")
def eigh_jvp(ad, op, d):
    tri = _Triangles(ad, op.operands[0])
    w, v = _part(ad, op.result, 0), _part(ad, op.result, 1)
    da = tri.symmetric_tangent(d[0])
    k = ad.dot(ad.transpose(v), ad.dot(da, v))
    return [ad.tuple(_diagonal_of(ad, v, da), ad.dot(v, ad.mul(_gaps(ad, w, tri), k)))]


@vjp_rule("eigvalsh")
def eigvalsh_vjp(ad, op, g, need):
    a = op.operands[0]
    v = _part(ad, ad.eigh(a), 1)
    return [_Triangles(ad, a).fold_lower(ad.dot(ad.mul(v, g[0]), ad.transpose(v)))]


@jvp_rule("eigvalsh")
def eigvalsh_jvp(ad, op, d):
    a = op.operands[0]
    v = _part(ad, ad.eigh(a), 1)
    return [_diagonal_of(ad, v, _Triangles(ad, a).symmetric_tangent(d[0]))]
