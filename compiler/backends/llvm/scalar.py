"""Scalar ops in LLVM IR, with Python's semantics where LLVM's differ.

Assumes: operands are LLVM values of the IR scalar types given beside them.
Guarantees: `emit(lw, name, args, result_type, attrs)` computes the op on
scalars (array ops apply it per element): ints are promoted to floats where the
IR says so; `//` and `%` round toward minus infinity as in Python (CPython's
algorithm for floats), and an integer division by zero records error 4 instead
of trapping; min/max pick like Python's `min(a, b)`/`max(a, b)`; comparisons
involving NaN are false except `!=`. Floats follow IEEE (a float division by zero
gives inf or nan, where CPython raises).
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Tuple

from llvmlite import ir

from ...errors import BackendError
from ...ir.types import BOOL, F32, F64, I64, ScalarType
from .runtime_ir import ERR_ZERODIV
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
    if dst == I64:
        return b.fptosi(v, LI64)
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
    return {"add": b.add, "sub": b.sub, "mul": b.mul}[lw.op_name](x, y)


@rule("div")
def _div(lw, b, args, rt, attrs):
    x, y = _common(b, args, rt)
    return b.fdiv(x, y)


def _int_zero_guard(lw, b, y):
    zero = b.icmp_signed("==", y, LI64(0))
    with b.if_then(zero, likely=False):
        b.call(lw.rt.fail, [lw.ctx, I32(ERR_ZERODIV)])
    return b.select(zero, LI64(1), y)


@rule("floordiv", "mod")
def _floordiv_mod(lw, b, args, rt, attrs):
    x, y = _common(b, args, rt)
    if rt == I64:
        y = _int_zero_guard(lw, b, y)
        q, r = b.sdiv(x, y), b.srem(x, y)
        adjust = b.and_(b.icmp_signed("!=", r, LI64(0)),
                        b.icmp_signed("!=", b.icmp_signed("<", r, LI64(0)),
                                      b.icmp_signed("<", y, LI64(0))))
        if lw.op_name == "floordiv":
            return b.select(adjust, b.sub(q, LI64(1)), q)
        return b.select(adjust, b.add(r, y), r)
    return _float_divmod(lw, b, x, y)


def _float_divmod(lw, b, x, y):
    """CPython's float_divmod: floor division and modulo that agree with each other."""
    t = x.type
    zero = ir.Constant(t, 0.0)
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
    return b.select(b.fcmp_unordered("!=", div, zero), fl, signed)


@rule("pow")
def _pow(lw, b, args, rt, attrs):
    if rt == I64:
        x, y = _common(b, args, I64)
        return b.call(lw.ipow(), [x, y])
    x, y = _common(b, args, rt)
    return b.call(lw.scalar.intrinsic("pow", x.type), [x, y])


@rule("neg")
def _neg(lw, b, args, rt, attrs):
    (x,) = _common(b, args, rt)
    return b.fneg(x) if rt.is_float else b.neg(x)


@rule("abs")
def _abs(lw, b, args, rt, attrs):
    (x,) = _common(b, args, rt)
    if rt.is_float:
        return b.call(lw.scalar.intrinsic("fabs", x.type), [x])
    return b.select(b.icmp_signed("<", x, LI64(0)), b.neg(x), x)


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
    x, y = _common(b, args, rt)
    op = "<" if lw.op_name == "minimum" else ">"
    take_y = b.fcmp_ordered(op, y, x) if rt.is_float else b.icmp_signed(op, y, x)
    picked = b.select(take_y, y, x)
    if rt.is_float and lw.in_array:  # np.minimum/np.maximum propagate NaN
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
    return convert(b, v, s, rt)


@rule("select", "where")
def _select(lw, b, args, rt, attrs):
    (c, cs), a, e = args
    x, y = _common(b, [a, e], rt)
    return b.select(convert(b, c, cs, BOOL), x, y)


@rule("stop_gradient", "straight")
def _marker(lw, b, args, rt, attrs):
    return _common(b, args[:1], rt)[0]
