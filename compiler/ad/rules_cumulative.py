"""Derivative rules for cumsum and cumprod (along attrs["axis"]).

Assumes: as in `rules`; the op's operand is a float array.
Guarantees: reverse and forward rule side by side, written in differentiable ops so that
higher orders work. The adjoint of a cumulative sum is the reversed cumulative sum of the
adjoint. cumprod's derivative never divides by an element that is zero: like np.prod's
(`rules_array._prod_weights`), it is the product of the other elements up to each
position, exact to first order of the derivative where x has zeros (Hessians there too).
"""
from __future__ import annotations

from .registry import jvp_rule, vjp_rule


def _flip(ad, v, axis: int):
    """`v` reversed along `axis` (a view with step -1)."""
    spec = ("s000",) * axis + ("s001",)
    return ad.b.op("getitem", [v, ad.b.const(-1)], {"index": spec}).result


def _cumsum(ad, v, axis: int):
    return ad.b.op("cumsum", [v], {"axis": axis}).result


def _reverse_cumsum(ad, v, axis: int):
    """out[i] = sum of v[j] for j >= i along `axis`."""
    return _flip(ad, _cumsum(ad, _flip(ad, v, axis), axis), axis)


@vjp_rule("cumsum")
def cumsum_vjp(ad, op, g, need):
    return [_reverse_cumsum(ad, g[0], op.attrs["axis"])]


@jvp_rule("cumsum")
def cumsum_jvp(ad, op, d):
    return [_cumsum(ad, d[0], op.attrs["axis"])]


class _Scan:
    """The parts of d y_i / d x_j = prod(x_l, l <= i, l != j) for j <= i, with m the
    number of zeros among those x_l: R_i (the product of the nonzero x_l, l <= i) over
    x_j when m = 0; that times the other zero (0 in value, its derivative carried) when
    m = 1; 0 when m >= 2. `a` holds the weights for a nonzero x_j (times x_j), `c` and
    `b2` those for a zero x_j: c_i - x_j b2_i."""

    def __init__(self, ad, op):
        x, axis = op.operands[0], op.attrs["axis"]
        zero, one = ad.const(0.0, x), ad.const(1.0, x)
        self.is_zero = ad.eq(x, zero)
        self.nonzero = ad.where(self.is_zero, one, x)
        self.zero_x = ad.where(self.is_zero, x, zero)  # 0 in value, the zeros' derivatives
        zeros_so_far = _cumsum(ad, ad.b.convert(self.is_zero, x.type.dtype), axis)
        rest = ad.b.op("cumprod", [self.nonzero], {"axis": axis}).result
        other_zero = _cumsum(ad, self.zero_x, axis)

        def when(count: float, v):
            return ad.where(ad.eq(zeros_so_far, ad.const(count, x)), v, zero)
        self.a = ad.add(when(0.0, rest), when(1.0, ad.mul(other_zero, rest)))
        self.b2 = when(2.0, rest)
        self.c = ad.add(when(1.0, rest), ad.mul(other_zero, self.b2))


@vjp_rule("cumprod")
def cumprod_vjp(ad, op, g, need):
    s, axis = _Scan(ad, op), op.attrs["axis"]

    def back(w):
        return _reverse_cumsum(ad, ad.mul(g[0], w), axis)
    at_nonzero = ad.div(back(s.a), s.nonzero)
    at_zero = ad.sub(back(s.c), ad.mul(s.zero_x, back(s.b2)))
    return [ad.where(s.is_zero, at_zero, at_nonzero)]


@jvp_rule("cumprod")
def cumprod_jvp(ad, op, d):
    s, axis = _Scan(ad, op), op.attrs["axis"]
    zero = ad.const(0.0, op.operands[0])
    d_nonzero = ad.where(s.is_zero, zero, ad.div(d[0], s.nonzero))
    d_zero = ad.where(s.is_zero, d[0], zero)
    out = ad.add(ad.mul(s.a, _cumsum(ad, d_nonzero, axis)),
                 ad.mul(s.c, _cumsum(ad, d_zero, axis)))
    return [ad.sub(out, ad.mul(s.b2, _cumsum(ad, ad.mul(s.zero_x, d[0]), axis)))]
