"""Scalar ops in LLVM IR, with Python's semantics where LLVM's differ.

Assumes: operands are LLVM values of the IR scalar types given beside them.
Guarantees: `emit(lw, name, args, result_type, attrs)` computes the op on
scalars (array ops apply it per element): ints are promoted to floats where the
IR says so; `//` and `%` round toward minus infinity as in Python (CPython's
algorithm for floats); min/max pick like Python's `min(a, b)`/`max(a, b)`;
comparisons involving NaN are false except `!=`. Ops marked `checked` raise
what CPython raises (`checked.py`); the others follow NumPy and never raise or
trap: floats follow IEEE, ints wrap, an integer `//` or `%` by zero gives 0 and
`-2**63 // -1` gives -2**63, a float out of the 64-bit range converts to -2**63.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Tuple

from llvmlite import ir

from ...errors import BackendError
from ...ir.types import BOOL, F32, F64, I64, ScalarType
from . import checked
from .runtime_ir import (ERR_DIV, ERR_FLOAT_DIV, ERR_FLOAT_FLOORDIV, ERR_FLOAT_MOD,
                         ERR_INT_MOD, ERR_INT_OVERFLOW, ERR_ZERODIV)
from .types import F32 as LF32, F64 as LF64, I1, I32, I64 as LI64, lltype

Arg = Tuple[ir.Value, ScalarType]

INTRINSICS = {"sin", "cos", "exp", "log", "log2", "log10", "sqrt", "floor", "ceil", "trunc",
              "rint", "exp2", "fabs"}
LIBM = {"tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan", "sinh": "sinh",
        "cosh": "cosh", "tanh": "tanh", "asinh": "asinh", "acosh": "acosh", "atanh": "atanh",
        "expm1": "expm1", "log1p": "log1p", "cbrt": "cbrt", "erf": "erf", "erfc": "erfc",
        "lgamma": "lgamma", "gamma": "tgamma", "atan2": "atan2", "hypot": "hypot"}


def convert(b: ir.IRBuilder, v: ir.Value, src: ScalarType, dst: ScalarType) -> ir.Value:
    """`v` of scalar type `src` as `dst` (float to int truncates, as int() does)."""
    if src == dst:
        return v
    if dst == BOOL:
        if src.is_float:
            return b.fcmp_unordered("!=", v, ir.Constant(v.type, 0.0))
        return b.icmp_signed("!=", v, ir.Constant(v.type, 0))
    if src == BOOL:
        return b.uitofp(v, lltype(dst)) if dst.is_float else b.zext(v, LI64)
    if src == I64:
        return b.sitofp(v, lltype(dst))
    if dst == I64:  # out of range: -2**63 as NumPy gives on x86, never LLVM's poison
        return b.select(checked.in_int_range(b, v), b.fptosi(v, LI64), LI64(checked.INT_MIN))
    return b.fpext(v, LF64) if dst == F64 else b.fptrunc(v, LF32)


class Scalar:
    """Per-module helpers for scalar code (intrinsic and libm declarations)."""

    def __init__(self, module: ir.Module):
        self.m = module
        self.decls: Dict[str, ir.Function] = {}

    def intrinsic(self, name: str, t: ir.Type) -> ir.Function:
        if name in ("copysign", "pow"):  # two operands of the same type
            suffix = "f64" if t == LF64 else "f32"
            key = f"llvm.{name}.{suffix}"
            f = self.decls.get(key)
            if f is None:
                f = self.decls[key] = ir.Function(self.m, ir.FunctionType(t, [t, t]), key)
            return f
        return self.m.declare_intrinsic(f"llvm.{name}", [t])

    def libm(self, name: str, nargs: int = 1) -> ir.Function:
        f = self.decls.get(name)
        if f is None:
            f = ir.Function(self.m, ir.FunctionType(LF64, [LF64] * nargs), name)
            self.decls[name] = f
        return f


def emit(lw, name: str, args: List[Arg], rt: ScalarType, attrs) -> ir.Value:
    """The scalar op `name` on `args`, giving a value of IR type `rt`."""
    b = lw.b
    rule = _RULES.get(name)
    if rule is None:
        raise BackendError(f"the llvm backend cannot compile '{name}' yet; use backend=\"python\"")
    return rule(lw, b, args, rt, attrs)


_RULES: Dict[str, Callable] = {}


def rule(*names: str):
    def deco(fn):
        for n in names:
            _RULES[n] = fn
        return fn
    return deco


def _checked(lw, attrs) -> bool:
    """The op raises as CPython does (never inside an array loop)."""
    return bool(attrs.get("checked")) and not lw.in_array


def _common(b, args: List[Arg], t: ScalarType) -> List[ir.Value]:
    return [convert(b, v, s, t) for v, s in args]


def _operand_type(args: List[Arg], rt: ScalarType) -> ScalarType:
    """The type binary arithmetic runs in: the result's, or the operands' join for bools."""
    if rt != BOOL:
        return rt
    kinds = [s for _, s in args]
    if any(s.is_float for s in kinds):
        return F64 if F64 in kinds else F32
    return I64 if I64 in kinds else BOOL


@rule("add", "sub", "mul")
def _arith(lw, b, args, rt, attrs):
    x, y = _common(b, args, rt)
    if rt.is_float:
        return {"add": b.fadd, "sub": b.fsub, "mul": b.fmul}[lw.op_name](x, y)
    if rt == I64 and _checked(lw, attrs):
        return checked.int_arith(lw, lw.op_name, x, y)
    return {"add": b.add, "sub": b.sub, "mul": b.mul}[lw.op_name](x, y)


@rule("div")
def _div(lw, b, args, rt, attrs):
    x, y = _common(b, args, rt)
    if _checked(lw, attrs):
        ints = not any(s.is_float for _, s in args)  # 1 / 0 and 1.0 / 0 differ in message
        checked.fail_if(lw, b.fcmp_ordered("==", y, ir.Constant(y.type, 0.0)),
                        ERR_DIV if ints else ERR_FLOAT_DIV)
    return b.fdiv(x, y)


@rule("floordiv", "mod")
def _floordiv_mod(lw, b, args, rt, attrs):
    x, y = _common(b, args, rt)
    if rt == I64:
        return _int_divmod(lw, b, x, y, _checked(lw, attrs))
    return _float_divmod(lw, b, x, y, _checked(lw, attrs))


def _int_divmod(lw, b, x, y, raising: bool):
    """Python's // or % on 64-bit ints, never trapping: a zero divisor gives 0 (NumPy)
    or ZeroDivisionError; -2**63 // -1 gives -2**63 (NumPy) or OverflowError."""
    floor = lw.op_name == "floordiv"
    zero = b.icmp_signed("==", y, LI64(0))
    wraps = b.and_(b.icmp_signed("==", y, LI64(-1)), b.icmp_signed("==", x, LI64(checked.INT_MIN)))
    if raising and floor:
        checked.fail_if(lw, b.or_(zero, wraps), lambda: b.select(
            zero, I32(ERR_ZERODIV), I32(ERR_INT_OVERFLOW)))
    elif raising:
        checked.fail_if(lw, zero, ERR_INT_MOD)
    d = b.select(b.or_(zero, wraps), LI64(1), y)  # x // 1 is x: -2**63 as NumPy wraps
    q, r = b.sdiv(x, d), b.srem(x, d)
    adjust = b.and_(b.icmp_signed("!=", r, LI64(0)),
                    b.icmp_signed("!=", b.icmp_signed("<", r, LI64(0)),
                                  b.icmp_signed("<", d, LI64(0))))
    out = b.select(adjust, b.sub(q, LI64(1)), q) if floor else \
        b.select(adjust, b.add(r, d), r)
    return b.select(b.or_(zero, wraps) if raising and floor else zero, LI64(0), out)


def _float_divmod(lw, b, x, y, raising: bool):
    """CPython's float_divmod: floor division and modulo that agree with each other.
    By zero: ZeroDivisionError, or NumPy's x / 0 for // and nan for %."""
    t = x.type
    zero = ir.Constant(t, 0.0)
    by_zero = b.fcmp_ordered("==", y, zero)
    if raising:
        checked.fail_if(lw, by_zero, ERR_FLOAT_FLOORDIV if lw.op_name == "floordiv"
                        else ERR_FLOAT_MOD)
    xd, yd = (b.fpext(v, LF64) if t == LF32 else v for v in (x, y))
    mod = b.call(lw.scalar.libm("fmod", 2), [xd, yd])
    mod = b.fptrunc(mod, t) if t == LF32 else mod
    div = b.fdiv(b.fsub(x, mod), y)
    flip = b.and_(b.fcmp_unordered("!=", mod, zero),
                  b.icmp_unsigned("!=", b.fcmp_ordered("<", y, zero),
                                  b.fcmp_ordered("<", mod, zero)))
    mod = b.select(flip, b.fadd(mod, y), mod)
    div = b.select(flip, b.fsub(div, ir.Constant(t, 1.0)), div)
    if lw.op_name == "mod":
        signed_zero = b.call(lw.scalar.intrinsic("copysign", t), [zero, y])
        return b.select(b.fcmp_unordered("!=", mod, zero), mod, signed_zero)
    fl = b.call(lw.scalar.intrinsic("floor", t), [div])
    up = b.fcmp_ordered(">", b.fsub(div, fl), ir.Constant(t, 0.5))
    fl = b.select(up, b.fadd(fl, ir.Constant(t, 1.0)), fl)
    q = b.fdiv(x, y)
    signed = b.call(lw.scalar.intrinsic("copysign", t), [zero, q])
    return b.select(by_zero, q, b.select(b.fcmp_unordered("!=", div, zero), fl, signed))


@rule("pow")
def _pow(lw, b, args, rt, attrs):
    if rt == I64:
        x, y = _common(b, args, I64)
        pair = b.call(lw.ipow(), [x, y])
        if _checked(lw, attrs):
            return checked.int_result(lw, pair)
        return b.extract_value(pair, 0)
    x, y = _common(b, args, rt)
    r = b.call(lw.scalar.intrinsic("pow", x.type), [x, y])
    if _checked(lw, attrs):
        checked.float_pow(lw, x, y, r, bool(attrs.get("math")))
    return r


@rule("neg")
def _neg(lw, b, args, rt, attrs):
    (x,) = _common(b, args, rt)
    if rt.is_float:
        return b.fneg(x)
    return checked.int_arith(lw, "sub", LI64(0), x) if _checked(lw, attrs) else b.neg(x)


@rule("abs")
def _abs(lw, b, args, rt, attrs):
    (x,) = _common(b, args, rt)
    if rt.is_float:
        return b.call(lw.scalar.intrinsic("fabs", x.type), [x])
    neg = checked.int_arith(lw, "sub", LI64(0), x) if _checked(lw, attrs) else b.neg(x)
    return b.select(b.icmp_signed("<", x, LI64(0)), neg, x)


@rule("sign")
def _sign(lw, b, args, rt, attrs):
    (x,) = _common(b, args, rt)
    if rt.is_float:
        one, zero = ir.Constant(x.type, 1.0), ir.Constant(x.type, 0.0)
        neg = b.select(b.fcmp_ordered("<", x, zero), ir.Constant(x.type, -1.0), x)
        return b.select(b.fcmp_ordered(">", x, zero), one, neg)
    pos = b.zext(b.icmp_signed(">", x, LI64(0)), LI64)
    return b.sub(pos, b.zext(b.icmp_signed("<", x, LI64(0)), LI64))


@rule("minimum", "maximum")
def _minmax(lw, b, args, rt, attrs):
    """NumPy's minimum/maximum: the first operand only where it is strictly smaller
    (larger), so the second of equal values (0.0 and -0.0) wins, and a nan wins."""
    x, y = _common(b, args, rt)
    op = "<" if lw.op_name == "minimum" else ">"
    take_x = b.fcmp_ordered(op, x, y) if rt.is_float else b.icmp_signed(op, x, y)
    picked = b.select(take_x, x, y)
    if rt.is_float:
        return b.select(b.fcmp_unordered("uno", x, y), b.fadd(x, y), picked)
    return picked


_FCMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


@rule(*_FCMP)
def _compare(lw, b, args, rt, attrs):
    t = _operand_type(args, rt)
    x, y = _common(b, args, t)
    op = _FCMP[lw.op_name]
    if t.is_float:
        return b.fcmp_unordered(op, x, y) if op == "!=" else b.fcmp_ordered(op, x, y)
    if t == BOOL:
        return b.icmp_unsigned(op, x, y)
    return b.icmp_signed(op, x, y)


@rule("and", "or", "xor")
def _logic(lw, b, args, rt, attrs):
    x, y = _common(b, args, BOOL)
    return {"and": b.and_, "or": b.or_, "xor": b.xor}[lw.op_name](x, y)


@rule("not")
def _not(lw, b, args, rt, attrs):
    (x,) = _common(b, args, BOOL)
    return b.xor(x, I1(1))


@rule(*INTRINSICS - {"fabs"}, *LIBM)
def _math(lw, b, args, rt, attrs):
    name = lw.op_name
    vals = _common(b, args, F64)  # float32 math runs in double, then rounds
    if name in INTRINSICS:
        r = b.call(lw.scalar.intrinsic(name, LF64), vals)
    else:
        r = b.call(lw.scalar.libm(LIBM[name], len(vals)), vals)
    if _checked(lw, attrs):
        checked.math_result(lw, name, vals[0], r)
    return b.fptrunc(r, LF32) if rt == F32 else r


@rule("copysign")
def _copysign(lw, b, args, rt, attrs):
    x, y = _common(b, args, rt)
    return b.call(lw.scalar.intrinsic("copysign", x.type), [x, y])


@rule("sigmoid")
def _sigmoid(lw, b, args, rt, attrs):
    (x,) = _common(b, args, rt)
    one = ir.Constant(x.type, 1.0)
    e = b.call(lw.scalar.intrinsic("exp", x.type), [b.fneg(x)])
    return b.fdiv(one, b.fadd(one, e))


@rule("isnan")
def _isnan(lw, b, args, rt, attrs):
    (v, s), = args
    return b.fcmp_unordered("uno", v, v) if s.is_float else I1(0)


@rule("isinf")
def _isinf(lw, b, args, rt, attrs):
    (v, s), = args
    if not s.is_float:
        return I1(0)
    a = b.call(lw.scalar.intrinsic("fabs", v.type), [v])
    return b.fcmp_ordered("==", a, ir.Constant(v.type, math.inf))


@rule("convert")
def _convert(lw, b, args, rt, attrs):
    (v, s), = args
    if s.is_float and rt == I64 and _checked(lw, attrs):
        return checked.float_to_int(lw, v)
    return convert(b, v, s, rt)


@rule("select", "where")
def _select(lw, b, args, rt, attrs):
    (c, cs), a, e = args
    x, y = _common(b, [a, e], rt)
    return b.select(convert(b, c, cs, BOOL), x, y)


@rule("stop_gradient", "straight")
def _marker(lw, b, args, rt, attrs):
    return _common(b, args[:1], rt)[0]
