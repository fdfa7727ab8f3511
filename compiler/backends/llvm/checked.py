"""CPython's exceptions for scalar ops marked `checked` (error_model="python").

Assumes: called by the rules of `scalar.py` with operands already converted to the
op's type, outside array loops; the op carries `checked` (ops on Python scalars
and `math` functions, docs/ir.md).
Guarantees: each check records the error code of the exception CPython raises
(runtime/native.py maps it) where CPython raises, and nowhere else: the test is
one compare and a branch to an unlikely block, where the code is worked out and
`adjoin_fail` is called, so the common path makes no call. Integer results of a
failed op are 0, so that the code runs on to its end on harmless values (no
loop over a wrapped count). The `math` rules follow CPython's mathmodule: a nan
from a non-nan argument is "math domain error"; an infinity from a finite
argument is "math range error" (OverflowError) for functions that can overflow,
a domain error at poles (log(0), atanh(1), gamma(0), lgamma(-2)).
"""
from __future__ import annotations

import math
from typing import Callable, Union

from llvmlite import ir

from .runtime_ir import (ERR_COMPLEX_RANGE, ERR_DOMAIN, ERR_FRACTIONAL_POW, ERR_INF_TO_INT,
                         ERR_INT_OVERFLOW, ERR_INT_TOO_BIG, ERR_NAN_TO_INT, ERR_POW_RANGE,
                         ERR_RANGE, ERR_ZERO_POW)
from .types import I32, I64

INT_MIN = -2**63
# math functions that never raise, and those whose infinities are overflows
NEVER_RAISE = {"atan", "asinh", "tanh", "cbrt", "erf", "erfc", "floor", "ceil", "trunc",
               "rint", "atan2", "hypot", "copysign"}
OVERFLOWS = {"exp", "exp2", "expm1", "cosh", "sinh"}

Code = Union[int, Callable[[], ir.Value]]


def fail_if(lw, cond: ir.Value, code: Code) -> None:
    """Record error `code` when `cond` holds (a callable code is built in the unlikely
    block; a code of 0 records nothing)."""
    b = lw.b
    with b.if_then(cond, likely=False):
        value = code() if callable(code) else I32(code)
        b.call(lw.rt.fail, [lw.ctx, value])


def _fabs(lw, v: ir.Value) -> ir.Value:
    return lw.b.call(lw.scalar.intrinsic("fabs", v.type), [v])


def _not_finite(lw, v: ir.Value) -> ir.Value:
    """v is an infinity or a nan."""
    return lw.b.fcmp_unordered("==", _fabs(lw, v), ir.Constant(v.type, math.inf))


def _finite(lw, v: ir.Value) -> ir.Value:
    return lw.b.fcmp_ordered("<", _fabs(lw, v), ir.Constant(v.type, math.inf))


def _pick(b, cases, default: int = 0) -> ir.Value:
    """The code of the first true condition in `cases` [(i1, code)], else `default`."""
    out = I32(default)
    for cond, code in reversed(cases):
        out = b.select(cond, I32(code), out)
    return out


def int_arith(lw, name: str, x: ir.Value, y: ir.Value) -> ir.Value:
    """x + y, x - y or x * y on 64-bit ints; OverflowError where the result would wrap."""
    b = lw.b
    op = {"add": b.sadd_with_overflow, "sub": b.ssub_with_overflow,
          "mul": b.smul_with_overflow}[name]
    return int_result(lw, op(x, y))


def int_result(lw, pair: ir.Value) -> ir.Value:
    """The value of an {i64 value, i1 wrapped} pair; OverflowError if it wrapped."""
    b = lw.b
    r, wrapped = b.extract_value(pair, 0), b.extract_value(pair, 1)
    fail_if(lw, wrapped, ERR_INT_OVERFLOW)
    return b.select(wrapped, I64(0), r)


def math_result(lw, name: str, x: ir.Value, r: ir.Value) -> None:
    """CPython's errors of math.<name>(x) = r (both doubles)."""
    if name in NEVER_RAISE:
        return
    b = lw.b

    def code() -> ir.Value:
        r_nan = b.fcmp_unordered("uno", r, r)
        domain = b.and_(r_nan, b.fcmp_ordered("ord", x, x))
        from_finite = b.and_(b.not_(r_nan), _finite(lw, x))
        zero = ir.Constant(x.type, 0.0)
        if name in OVERFLOWS:
            infinite = I32(ERR_RANGE)
        elif name == "gamma":  # a pole at 0, overflow elsewhere
            infinite = _pick(b, [(b.fcmp_ordered("==", x, zero), ERR_DOMAIN)], ERR_RANGE)
        elif name == "lgamma":  # poles at 0, -1, -2, ...; overflow for huge x
            infinite = _pick(b, [(b.fcmp_ordered("<=", x, zero), ERR_DOMAIN)], ERR_RANGE)
        else:
            infinite = I32(ERR_DOMAIN)
        return b.select(domain, I32(ERR_DOMAIN), b.select(from_finite, infinite, I32(0)))
    fail_if(lw, _not_finite(lw, r), code)


def float_pow(lw, x: ir.Value, y: ir.Value, r: ir.Value, math_pow: bool) -> None:
    """CPython's errors of x ** y = r on floats (C's pow gives every other result as
    CPython does), or of math.pow(x, y) when `math_pow`. A negative base and a
    fractional exponent make a complex number in CPython (OverflowError when its
    modulus overflows), which adjoin refuses with a ValueError."""
    b = lw.b

    def code() -> ir.Value:
        r_nan = b.fcmp_unordered("uno", r, r)
        # a nan from non-nan operands: a negative base and a fractional exponent
        fractional = b.and_(r_nan, b.fcmp_ordered("ord", x, y))
        finite = b.and_(b.not_(r_nan), b.and_(_finite(lw, x), _finite(lw, y)))
        at_zero = b.fcmp_ordered("==", x, ir.Constant(x.type, 0.0))
        pole, overflow = b.and_(finite, at_zero), b.and_(finite, b.not_(at_zero))
        if math_pow:
            return _pick(b, [(b.or_(fractional, pole), ERR_DOMAIN), (overflow, ERR_RANGE)])
        modulus = b.call(lw.scalar.intrinsic("pow", x.type), [_fabs(lw, x), y])
        huge = b.fcmp_ordered("==", modulus, ir.Constant(x.type, math.inf))
        return _pick(b, [(b.and_(fractional, huge), ERR_COMPLEX_RANGE),
                         (fractional, ERR_FRACTIONAL_POW), (pole, ERR_ZERO_POW),
                         (overflow, ERR_POW_RANGE)])
    fail_if(lw, _not_finite(lw, r), code)


def float_to_int(lw, v: ir.Value) -> ir.Value:
    """int(v) for a float v: ValueError for nan, OverflowError for an infinity or a
    value outside the 64-bit range (where CPython would return a larger int)."""
    b = lw.b
    fits = in_int_range(b, v)

    def code() -> ir.Value:
        nan = b.fcmp_unordered("uno", v, v)
        inf = b.fcmp_ordered("==", _fabs(lw, v), ir.Constant(v.type, math.inf))
        return _pick(b, [(nan, ERR_NAN_TO_INT), (inf, ERR_INF_TO_INT)], ERR_INT_TOO_BIG)
    fail_if(lw, b.not_(fits), code)
    return b.select(fits, b.fptosi(v, I64), I64(0))


def in_int_range(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """An i1: float v truncates to a 64-bit int (false for nan and infinities)."""
    low = b.fcmp_ordered(">=", v, ir.Constant(v.type, float(INT_MIN)))
    return b.and_(low, b.fcmp_ordered("<", v, ir.Constant(v.type, float(2**63))))
