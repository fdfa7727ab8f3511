"""Derivative rules for elementwise ops (scalars and arrays alike).

Assumes: `ad` is an `emitter.Emitter` at the derivative's insertion point; the
primal operands and result are referenced directly (the reverse transform makes
them available where the adjoint runs, by reference, recomputation or the tape).
Guarantees: each op has its reverse rule (`*_vjp`) and forward rule (`*_jvp`)
side by side. Binary rules reduce broadcast contributions to each operand's
shape. Derivatives defined by convention are listed in `registry.CONVENTIONS`.
"""
from __future__ import annotations

import math

from ..ir.types import ArrayType
from .registry import jvp_rule, vjp_rule


def _x(op):
    return op.operands[0]


def _spread(ad, op, d, t):
    """Tangent `t`, the sum of the operand tangents `d`, at the result's shape (a
    tangent given only for a broadcast operand is smaller than the result)."""
    return ad.broadcast(t, op.result, [v for v, dv in zip(op.operands, d) if dv is not None])


def _full(ad, op, t):
    """Tangent `t`, each of whose terms combines an operand tangent with the other
    operands (`x_dot * y`): it has the result's shape, a scalar tangent aside."""
    return ad.broadcast(t, op.result, op.operands)


# -- add, sub, mul, div --------------------------------------------------------


@vjp_rule("add")
def add_vjp(ad, op, g, need):
    x, y = op.operands
    return [ad.unbroadcast(g[0], x) if need[0] else None,
            ad.unbroadcast(g[0], y) if need[1] else None]


@jvp_rule("add")
def add_jvp(ad, op, d):
    return [_spread(ad, op, d, ad.plus(d[0], d[1]))]


@vjp_rule("sub")
def sub_vjp(ad, op, g, need):
    x, y = op.operands
    return [ad.unbroadcast(g[0], x) if need[0] else None,
            ad.unbroadcast(ad.neg(g[0]), y) if need[1] else None]


@jvp_rule("sub")
def sub_jvp(ad, op, d):
    return [_spread(ad, op, d, ad.minus(d[0], d[1]))]


@vjp_rule("mul")
def mul_vjp(ad, op, g, need):
    x, y = op.operands
    if x is y:  # x * x
        return [ad.mul(g[0], ad.mul(ad.const(2.0, x), x)), None]
    return [ad.unbroadcast(ad.mul(g[0], y), x) if need[0] else None,
            ad.unbroadcast(ad.mul(g[0], x), y) if need[1] else None]


@jvp_rule("mul")
def mul_jvp(ad, op, d):
    x, y = op.operands
    return [_full(ad, op, ad.plus(ad.scale(d[0], y), ad.scale(d[1], x)))]


@vjp_rule("div")
def div_vjp(ad, op, g, need):
    x, y = op.operands
    gy = ad.div(g[0], y)
    return [ad.unbroadcast(gy, x) if need[0] else None,
            ad.unbroadcast(ad.neg(ad.mul(gy, op.result)), y) if need[1] else None]


@jvp_rule("div")
def div_jvp(ad, op, d):
    x, y = op.operands
    num = ad.minus(d[0], ad.scale(d[1], op.result))
    return [_full(ad, op, ad.div(num, y))]


@vjp_rule("neg")
def neg_vjp(ad, op, g, need):
    return [ad.neg(g[0])]


@jvp_rule("neg")
def neg_jvp(ad, op, d):
    return [ad.neg(d[0])]


# -- powers, exponentials, logarithms ---------------------------------------------


def _const_value(v):
    op = getattr(v, "op", None)
    return op.attrs["value"] if op is not None and op.name == "const" else None


def _unless_zero(ad, v, fill, other):
    """`fill` where `v == 0`, else `other` (decided while compiling for a constant `v`)."""
    c = _const_value(v)
    if c is not None:
        return fill if c == 0 else other
    elt = v.type.dtype if isinstance(v.type, ArrayType) else v.type
    return ad.choose(ad.eq(v, ad.b.const(0.0 if elt.is_float else 0, elt)), fill, other)


def _pow_dx(ad, op):
    """d(x ** y)/dx = y * x ** (y - 1), and 0 where y == 0 (x ** 0 is 1 for every x,
    also at x = 0, where the formula would give 0 * inf)."""
    x, y = op.operands
    elt = y.type.dtype if isinstance(y.type, ArrayType) else y.type
    one = ad.b.const(1.0 if elt.is_float else 1, elt)
    return ad.mul(y, ad.pow(x, ad.sub(_unless_zero(ad, y, one, y), one)))


def _pow_dy(ad, op):
    """d(x ** y)/dy = x ** y * log(x), and 0 where x == 0 (0 ** y is constant 0 for
    y > 0; the same value is taken for every y, never log(0))."""
    x, r = op.operands[0], op.result
    if _const_value(x) == 0:
        return ad.zero(r)
    safe_x = _unless_zero(ad, x, ad.const(1.0, x), x)
    return ad.mul(_unless_zero(ad, x, ad.const(0.0, r), r), ad.log(safe_x))


@vjp_rule("pow")
def pow_vjp(ad, op, g, need):
    x, y = op.operands
    return [ad.unbroadcast(ad.mul(g[0], _pow_dx(ad, op)), x) if need[0] else None,
            ad.unbroadcast(ad.mul(g[0], _pow_dy(ad, op)), y) if need[1] else None]


@jvp_rule("pow")
def pow_jvp(ad, op, d):
    dx = ad.scale(d[0], _pow_dx(ad, op)) if d[0] is not None else None
    dy = ad.scale(d[1], _pow_dy(ad, op)) if d[1] is not None else None
    return [_full(ad, op, ad.plus(dx, dy))]


def _unary(name, derivative):
    """Register the rules of a unary op from `derivative(ad, x, result) -> dy/dx`."""
    @vjp_rule(name)
    def vjp(ad, op, g, need):
        return [ad.mul(g[0], derivative(ad, _x(op), op.result))]

    @jvp_rule(name)
    def jvp(ad, op, d):
        return [ad.mul(d[0], derivative(ad, _x(op), op.result))]
    return vjp, jvp


_unary("exp", lambda ad, x, r: r)
_unary("exp2", lambda ad, x, r: ad.mul(r, ad.const(math.log(2.0), r)))
_unary("expm1", lambda ad, x, r: ad.add(r, ad.const(1.0, r)))
_unary("log", lambda ad, x, r: ad.div(ad.const(1.0, r), x))
_unary("log2", lambda ad, x, r: ad.div(ad.const(1.0 / math.log(2.0), r), x))
_unary("log10", lambda ad, x, r: ad.div(ad.const(1.0 / math.log(10.0), r), x))
_unary("log1p", lambda ad, x, r: ad.div(ad.const(1.0, r), ad.add(x, ad.const(1.0, r))))
_unary("sqrt", lambda ad, x, r: ad.div(ad.const(0.5, r), r))
_unary("cbrt", lambda ad, x, r: ad.div(ad.const(1.0 / 3.0, r), ad.mul(r, r)))
_unary("sigmoid", lambda ad, x, r: ad.mul(r, ad.sub(ad.const(1.0, r), r)))
_unary("erf", lambda ad, x, r: ad.mul(ad.const(2.0 / math.sqrt(math.pi), r),
                                      ad.exp(ad.neg(ad.mul(x, x)))))
_unary("erfc", lambda ad, x, r: ad.mul(ad.const(-2.0 / math.sqrt(math.pi), r),
                                       ad.exp(ad.neg(ad.mul(x, x)))))

# -- trigonometric and hyperbolic ------------------------------------------------------

_unary("sin", lambda ad, x, r: ad.cos(x))
_unary("cos", lambda ad, x, r: ad.neg(ad.sin(x)))
_unary("tan", lambda ad, x, r: ad.add(ad.const(1.0, r), ad.mul(r, r)))
_unary("sinh", lambda ad, x, r: ad.cosh(x))
_unary("cosh", lambda ad, x, r: ad.sinh(x))
_unary("tanh", lambda ad, x, r: ad.sub(ad.const(1.0, r), ad.mul(r, r)))
_unary("asin", lambda ad, x, r: ad.div(ad.const(1.0, r),
                                       ad.sqrt(ad.sub(ad.const(1.0, r), ad.mul(x, x)))))
_unary("acos", lambda ad, x, r: ad.div(ad.const(-1.0, r),
                                       ad.sqrt(ad.sub(ad.const(1.0, r), ad.mul(x, x)))))
_unary("atan", lambda ad, x, r: ad.div(ad.const(1.0, r),
                                       ad.add(ad.const(1.0, r), ad.mul(x, x))))
_unary("asinh", lambda ad, x, r: ad.div(ad.const(1.0, r),
                                        ad.sqrt(ad.add(ad.mul(x, x), ad.const(1.0, r)))))
_unary("acosh", lambda ad, x, r: ad.div(ad.const(1.0, r),
                                        ad.sqrt(ad.sub(ad.mul(x, x), ad.const(1.0, r)))))
_unary("atanh", lambda ad, x, r: ad.div(ad.const(1.0, r),
                                        ad.sub(ad.const(1.0, r), ad.mul(x, x))))

# -- piecewise: abs, min, max, select, mod ----------------------------------------------

_unary("abs", lambda ad, x, r: ad.sign(x))


def _second_wins(ad, op):
    """Where min/max takes its second operand (ties go to the first)."""
    x, y = op.operands
    return ad.lt(y, x) if op.name == "minimum" else ad.gt(y, x)


def _minmax_vjp(ad, op, g, need):
    x, y = op.operands
    take_y = _second_wins(ad, op)
    zero = ad.zero(g[0])
    return [ad.unbroadcast(ad.choose(take_y, zero, g[0]), x) if need[0] else None,
            ad.unbroadcast(ad.choose(take_y, g[0], zero), y) if need[1] else None]


def _minmax_jvp(ad, op, d):
    # the choice broadcasts the tangents to the result's shape (a missing one is 0)
    dx, dy = (t if t is not None else ad.const(0.0, op.result) for t in d)
    return [ad.choose(_second_wins(ad, op), dy, dx)]


for _name in ("minimum", "maximum"):
    vjp_rule(_name)(_minmax_vjp)
    jvp_rule(_name)(_minmax_jvp)


@vjp_rule("select")
def select_vjp(ad, op, g, need):
    c = op.operands[0]
    zero = ad.zero(g[0])
    return [None, ad.choose(c, g[0], zero) if need[1] else None,
            ad.choose(c, zero, g[0]) if need[2] else None]


@jvp_rule("select")
def select_jvp(ad, op, d):
    c, a, b = op.operands
    da = d[1] if d[1] is not None else ad.zero(a)
    db = d[2] if d[2] is not None else ad.zero(b)
    return [ad.choose(c, da, db)]


@vjp_rule("where")
def where_vjp(ad, op, g, need):
    c, a, b = op.operands
    zero = ad.zero(g[0])
    return [None, ad.unbroadcast(ad.where(c, g[0], zero), a) if need[1] else None,
            ad.unbroadcast(ad.where(c, zero, g[0]), b) if need[2] else None]


@jvp_rule("where")
def where_jvp(ad, op, d):
    # where broadcasts the tangents to the result's shape (a missing one is 0)
    da, db = (t if t is not None else ad.const(0.0, op.result) for t in d[1:])
    return [ad.where(op.operands[0], da, db)]


@vjp_rule("mod")
def mod_vjp(ad, op, g, need):
    x, y = op.operands
    q = ad.floor(ad.div(x, y))
    return [ad.unbroadcast(g[0], x) if need[0] else None,
            ad.unbroadcast(ad.neg(ad.mul(g[0], q)), y) if need[1] else None]


@jvp_rule("mod")
def mod_jvp(ad, op, d):
    x, y = op.operands
    dy = ad.scale(d[1], ad.floor(ad.div(x, y))) if d[1] is not None else None
    t = ad.minus(d[0], dy)
    return [_full(ad, op, t) if dy is not None else _spread(ad, op, d, t)]


# -- two-argument functions ------------------------------------------------------------


def _binary_partials(ad, op):
    """(d/dx, d/dy) of atan2(x, y), hypot(x, y), copysign(x, y)."""
    x, y = op.operands
    r = op.result
    if op.name == "copysign":
        return ad.mul(ad.sign(x), ad.sign(r)), ad.zero(r)
    # Both partials divide by the radius h = hypot(x, y), which is 0 only where x = y = 0:
    # dividing by 1 there instead gives the 0 of the convention, never a 0/0.
    h = r if op.name == "hypot" else ad.hypot(x, y)
    one = ad.const(1.0, r)
    safe = ad.choose(ad.eq(h, ad.const(0.0, r)), one, h)
    if op.name == "hypot":
        return ad.div(x, safe), ad.div(y, safe)
    # atan2(x, y) is the angle of (y, x): partials y / h**2 and -x / h**2, divided twice
    # by h so that tiny arguments do not underflow h**2 to 0.
    return ad.div(ad.div(y, safe), safe), ad.neg(ad.div(ad.div(x, safe), safe))


def _binary_vjp(ad, op, g, need):
    px, py = _binary_partials(ad, op)
    x, y = op.operands
    return [ad.unbroadcast(ad.mul(g[0], px), x) if need[0] else None,
            ad.unbroadcast(ad.mul(g[0], py), y) if need[1] else None]


def _binary_jvp(ad, op, d):
    px, py = _binary_partials(ad, op)
    return [_full(ad, op, ad.plus(ad.scale(d[0], px), ad.scale(d[1], py)))]


for _name in ("atan2", "hypot", "copysign"):
    vjp_rule(_name)(_binary_vjp)
    jvp_rule(_name)(_binary_jvp)


# -- conversions ---------------------------------------------------------------------------


@vjp_rule("convert")
def convert_vjp(ad, op, g, need):
    x = _x(op)
    return [ad.b.convert(g[0], x.type.dtype if hasattr(x.type, "dtype") else x.type)]


@jvp_rule("convert")
def convert_jvp(ad, op, d):
    t = op.result.type
    return [ad.b.convert(d[0], t.dtype if hasattr(t, "dtype") else t)]


# -- user markers ------------------------------------------------------------------------


@vjp_rule("straight")
def straight_vjp(ad, op, g, need):
    return [None, g[0]]  # the value came from the step, the derivative goes to the surrogate


@jvp_rule("straight")
def straight_jvp(ad, op, d):
    return [d[1]]
