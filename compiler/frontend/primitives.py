"""Calls: numeric primitives (math, NumPy, builtins, array methods) and user functions.

Assumes: called from `ExprTranslator.expr_Call` with the translator in hand.
Guarantees: each supported callee maps to IR ops with Python's (or NumPy's)
meaning; a call to a plain Python function becomes a `call` op on its
specialization; anything else is an `UnknownCallee` CompileError at the call.
Primitives are registered by object identity, so `from math import sin` and
`import numpy as xp` resolve as well as `math.sin` and `np.sin`.
"""
from __future__ import annotations

import builtins
import difflib
import math
import types as pytypes
from typing import Any, Callable, Dict, List, Optional, Tuple

import gast
import numpy as np

from ..errors import TypingError, UnknownCallee, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import (ArrayType, BOOL, F32, F64, I64, NONE, ScalarType, TupleType,
                        UnknownType)
from .arith import elt as _elt
from .exprs import Static
from ..checkpoint import checkpointed
from ..custom import CustomFunction, StraightThrough, stop_gradient, straight_through
from ..vmapped import Vmapped, vmap
from .function_values import StraightValue, is_function_value
from .scope import Closure, Unbound

Handler = Callable[[Any, Any], Any]
_PRIMS: Dict[int, Tuple[Any, Handler]] = {}


def prim(*objs):
    def deco(fn: Handler) -> Handler:
        for o in objs:
            if o is not None:
                _PRIMS[id(o)] = (o, fn)
        return fn
    return deco


def prim_method(owner, name: str):
    """Register a method of an object (`np.add.at`): each attribute read makes a new
    bound method, so it is found by its owner and name."""
    def deco(fn: Handler) -> Handler:
        _PRIMS[(id(owner), name)] = (owner, fn)  # type: ignore[index]
        return fn
    return deco


def lookup(obj) -> Optional[Handler]:
    hit = _PRIMS.get(id(obj))
    if hit is None and getattr(obj, "__self__", None) is not None:
        owner = obj.__self__
        hit = _PRIMS.get((id(owner), getattr(obj, "__name__", "")))  # type: ignore[call-overload]
        return hit[1] if hit is not None and hit[0] is owner else None
    return hit[1] if hit is not None and hit[0] is obj else None


# ---------------------------------------------------------------------------
# Argument helpers


def args_of(tr, node, lo: int, hi: int, kw=()) -> Tuple[List[Value], Dict[str, Any]]:
    """Evaluate positional args (between lo and hi of them) and allowed keywords."""
    name = _callee_text(node.func)
    if not lo <= len(node.args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise TypingError(f"{name}() takes {want} positional argument(s), got {len(node.args)}",
                          tr.loc(node), name)
    kws = {}
    for k in node.keywords:
        if k.arg not in kw:
            raise UnsupportedSyntax(f"{name}() does not support the keyword '{k.arg}' in adjoin",
                                    tr.loc(k.value), name)
        kws[k.arg] = k.value
    return [tr.value(a) for a in node.args], kws


def _callee_text(func) -> str:
    try:
        return gast.unparse(func).strip()
    except Exception:  # pragma: no cover - unparse handles every expression
        return "function"


def static_int(tr, node, what: str) -> Optional[int]:
    if node is None or (isinstance(node, gast.Constant) and node.value is None):
        return None
    v = tr.const_value(tr.value(node))
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypingError(f"{what} must be a constant integer", tr.loc(node), what)
    return v


def dtype_of(tr, node) -> Optional[ScalarType]:
    if node is None:
        return None
    if isinstance(node, gast.Constant) and isinstance(node.value, str):
        obj = node.value
    else:
        obj = tr.expr(node)
        obj = getattr(obj, "obj", obj)
    table = {float: F64, np.float64: F64, np.float32: F32, int: I64, np.int64: I64,
             np.int32: I64, bool: BOOL, np.bool_: BOOL}
    for k, v in table.items():
        if obj is k:
            return v
    if isinstance(obj, np.dtype) or isinstance(obj, str):
        try:
            kind = np.dtype(obj)
        except TypeError:
            kind = None
        names = {"float64": F64, "float32": F32, "int64": I64, "int32": I64, "bool": BOOL}
        if kind is not None and str(kind) in names:
            return names[str(kind)]
    raise TypingError("unsupported dtype; use float64, float32, int64 or bool", tr.loc(node),
                      "dtype")


def shape_of(tr, node) -> List[Value]:
    """Dimensions from an int, a tuple literal or a tuple value (e.g. x.shape)."""
    if isinstance(node, (gast.Tuple, gast.List)):
        dims = [_dim_value(tr, tr.value(e), e) for e in node.elts]
    else:
        v = tr.value(node)
        if isinstance(v.type, TupleType):
            dims = [_dim_value(tr, tr.tuple_item(v, i), node) for i in range(len(v.type.elts))]
        else:
            dims = [_dim_value(tr, v, node)]
    if not dims:
        raise TypingError("an empty shape makes a 0-d array, which adjoin does not support",
                          tr.loc(node), "shape")
    return dims


def _dim_value(tr, v: Value, node) -> Value:
    if v.type == BOOL:
        return tr.b.convert(v, I64)
    if v.type != I64 and not isinstance(v.type, UnknownType):
        raise TypingError(f"array dimensions must be integers, got {v.type}", tr.loc(node),
                          "shape")
    return v


def fresh(tr, v: Value) -> Value:
    if isinstance(v.type, ArrayType):
        tr.origins.fresh(v)
    return v


# ---------------------------------------------------------------------------
# Elementwise math


def numpy_result(tr, v: Value) -> Value:
    """A NumPy function's result: a NumPy scalar, or a fresh array."""
    return fresh(tr, tr.as_kind(v, True))


def math_result(tr, v: Value) -> Value:
    """A `math` function's result: always a Python float (or int)."""
    tr.kinds.set(v, False)
    return v


def _math_unary(opname: str, to_int: bool = False):
    """A `math` function of one float: CPython's raising semantics (`checked`); floor,
    ceil and trunc return an int."""
    def handler(tr, node):
        (x,), _ = args_of(tr, node, 1, 1)
        if isinstance(x.type, ArrayType):  # not CPython (math needs a number): NumPy's
            r = tr.b.emit(opname, x)
            return fresh(tr, tr.b.convert(r, I64) if to_int else r)
        r = tr.b.emit(opname, tr.b.convert(x, F64), checked=True)
        if to_int:
            r = tr.b.emit("convert", r, to=I64, checked=True)
        return math_result(tr, r)
    return handler


def _np_unary(opname: str):
    def handler(tr, node):
        (x,), _ = args_of(tr, node, 1, 1)
        return numpy_result(tr, tr.b.emit(opname, x))
    return handler


def _math_test(opname: str):
    """math.isnan/isinf: a Python bool; they never raise."""
    def handler(tr, node):
        (x,), _ = args_of(tr, node, 1, 1)
        return math_result(tr, tr.b.emit(opname, x))
    return handler


_SAME_NAME = ["sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "expm1", "log2", "log10",
              "log1p", "sqrt", "erf", "erfc", "lgamma", "gamma", "floor", "ceil", "trunc",
              "asinh", "acosh", "atanh", "asin", "acos", "atan", "exp2", "cbrt", "isnan",
              "isinf"]
for _n in _SAME_NAME:
    if _n in ("isnan", "isinf"):
        prim(getattr(math, _n))(_math_test(_n))
    else:
        prim(getattr(math, _n, None))(_math_unary(_n, _n in ("floor", "ceil", "trunc")))
    prim(getattr(np, _n, None))(_np_unary(_n))
for _n in ("asin", "acos", "atan", "asinh", "acosh", "atanh"):
    prim(getattr(np, "arc" + _n[1:]))(_np_unary(_n))
prim(np.rint)(_np_unary("rint"))
prim(np.sign)(_np_unary("sign"))
prim(np.negative)(_np_unary("neg"))
prim(np.abs, np.absolute, np.fabs)(_np_unary("abs"))
prim(math.log)(lambda tr, node: _log(tr, node))
prim(np.log)(_np_unary("log"))


@prim(builtins.abs)
def _abs(tr, node):
    """abs() keeps the kind; on a Python int it is `checked` (abs(-2**63) needs 65 bits)."""
    (x,), _ = args_of(tr, node, 1, 1)
    r = tr.b.emit("abs", x)
    if tr.python_scalar(x) and x.type == I64:
        r.op.attrs["checked"] = True
    return fresh(tr, r)


@prim(math.fabs)
def _fabs(tr, node):
    (x,), _ = args_of(tr, node, 1, 1)
    x = tr.b.convert(x, F64) if not isinstance(x.type, ArrayType) else x
    return math_result(tr, fresh(tr, tr.b.emit("abs", x)))


def _log(tr, node):
    (x, *base), _ = args_of(tr, node, 1, 2)
    r = math_result(tr, tr.b.emit("log", tr.b.convert(x, F64), checked=True))
    if base:
        d = math_result(tr, tr.b.emit("log", tr.b.convert(base[0], F64), checked=True))
        r = tr.arith("div", r, d)
    return r


@prim(np.square)
def _square(tr, node):
    (x,), _ = args_of(tr, node, 1, 1)
    return numpy_result(tr, tr.b.emit("mul", x, x))


def _scaled(factor: float):
    """degrees/radians: a product that never raises (math.degrees(1e308) is inf)."""
    def handler(tr, node):
        (x,), _ = args_of(tr, node, 1, 1)
        if tr.static_callee(node.func) in (math.degrees, math.radians):
            x = tr.b.convert(x, F64) if not isinstance(x.type, ArrayType) else x
            return math_result(tr, fresh(tr, tr.b.emit("mul", x, tr.b.const(factor))))
        x, c = tr.promote(x, tr.b.const(factor))
        return numpy_result(tr, tr.b.emit("mul", x, c))
    return handler


prim(math.degrees, np.degrees, np.rad2deg)(_scaled(180.0 / math.pi))
prim(math.radians, np.radians, np.deg2rad)(_scaled(math.pi / 180.0))


def _math_binary(opname: str):
    def handler(tr, node):
        (a, b), _ = args_of(tr, node, 2, 2)
        if isinstance(a.type, ArrayType) or isinstance(b.type, ArrayType):
            return fresh(tr, tr.b.emit(opname, a, b))  # not CPython (math needs numbers)
        a, b = tr.b.convert(a, F64), tr.b.convert(b, F64)
        attrs = {"checked": True, "math": True} if opname == "pow" else {"checked": True}
        return math_result(tr, tr.b.emit(opname, a, b, **attrs))
    return handler


def _np_binary(opname: str):
    def handler(tr, node):
        (a, b), _ = args_of(tr, node, 2, 2)
        a, b = tr.promote(a, b)
        return numpy_result(tr, tr.b.emit(opname, a, b))
    return handler


prim(np.maximum)(_np_binary("maximum"))
prim(np.minimum)(_np_binary("minimum"))
prim(np.arctan2)(_np_binary("atan2"))
prim(np.hypot)(_np_binary("hypot"))
prim(np.copysign)(_np_binary("copysign"))
prim(np.power)(_np_binary("pow"))
prim(np.add)(_np_binary("add"))
prim(np.subtract)(_np_binary("sub"))
prim(np.multiply)(_np_binary("mul"))
prim(np.divide, np.true_divide)(_np_binary("div"))
prim(np.floor_divide)(_np_binary("floordiv"))
prim(np.mod, np.remainder)(_np_binary("mod"))
for _n, _obj in (("atan2", math.atan2), ("hypot", math.hypot), ("copysign", math.copysign),
                 ("pow", math.pow)):
    prim(_obj)(_math_binary(_n))


def _fminmax(opname: str):
    """np.fmin/np.fmax: like np.minimum/np.maximum, but a nan loses to a number."""
    def handler(tr, node):
        (a, b), _ = args_of(tr, node, 2, 2)
        a, b = tr.promote(a, b)
        r = tr.b.emit(opname, a, b)
        if _elt(r.type).is_float:
            pick = "where" if isinstance(r.type, ArrayType) else "select"
            r = tr.b.emit(pick, tr.b.emit("isnan", a), b, r)
            r = tr.b.emit(pick, tr.b.emit("isnan", b), a, r)
        return numpy_result(tr, r)
    return handler


prim(np.fmax)(_fminmax("maximum"))
prim(np.fmin)(_fminmax("minimum"))


@prim(builtins.pow)
def _pow(tr, node):
    (a, b), _ = args_of(tr, node, 2, 2)
    return tr.binop(gast.Pow(), a, b, node)


@prim(np.where)
def _where(tr, node):
    (c, a, b), _ = args_of(tr, node, 3, 3)
    a, b = tr.promote(a, b)
    return numpy_result(tr, tr.b.emit("where", c, a, b))


@prim(np.clip)
def _clip(tr, node):
    (x, lo, hi), _ = args_of(tr, node, 3, 3)
    x, lo = tr.promote(x, lo)
    low = tr.b.emit("maximum", x, lo)
    low, hi = tr.promote(low, hi)
    return numpy_result(tr, tr.b.emit("minimum", low, hi))


# ---------------------------------------------------------------------------
# Conversions


def _convert(to: ScalarType, builtin: bool = False):
    def handler(tr, node):
        (x,), _ = args_of(tr, node, 1, 1)
        if builtin and isinstance(x.type, ArrayType):
            # float(a) / int(a) / bool(a) make a Python scalar (or fail), never an array
            py = {F64: "float", I64: "int", BOOL: "bool"}[to]
            raise TypingError(f"{py}() of an array is not supported; index one element, or "
                              f"use .astype({py}) for an array", tr.loc(node), "conversion")
        if isinstance(x.type, ArrayType):
            if x.type.dtype == to:
                return x
            return fresh(tr, tr.b.convert(x, to))
        if isinstance(x.type, TupleType) or x.type == NONE:
            raise TypingError(f"cannot convert {x.type} to a number", tr.loc(node), "conversion")
        if to == BOOL:
            return tr.as_kind(tr.truth(x, node), not builtin)
        r = tr.b.convert(x, to)
        if r is x:
            return tr.as_kind(x, not builtin)
        if to == I64 and x.type.is_float:
            r.op.attrs["checked"] = True  # int(nan), np.int64(inf) raise in CPython
        return tr.kinds.set(r, not builtin)
    return handler


prim(np.float64, np.double)(_convert(F64))
prim(np.float32)(_convert(F32))
prim(np.int64, np.int32, np.intp)(_convert(I64))
prim(np.bool_)(_convert(BOOL))
prim(builtins.float)(_convert(F64, builtin=True))
prim(builtins.int)(_convert(I64, builtin=True))
prim(builtins.bool)(_convert(BOOL, builtin=True))


@prim(builtins.round, np.round, np.around)
def _round(tr, node):
    (x, *nd), _ = args_of(tr, node, 1, 2)
    if nd and nd[0].type == NONE:
        nd = []  # round(x, None) is round(x)
    if nd and tr.const_value(nd[0]) != 0:  # also when the digits are known only at run time
        raise UnsupportedSyntax("round() with a number of digits is not supported",
                                tr.loc(node), "round")
    builtin = tr.static_callee(node.func) is builtins.round
    if x.type == I64:
        return x if builtin else numpy_result(tr, x)
    r = tr.b.emit("rint", x)
    if builtin and not nd and not isinstance(x.type, ArrayType):
        return tr.kinds.set(tr.b.emit("convert", r, to=I64, checked=True), False)
    return r if builtin else numpy_result(tr, r)


# ---------------------------------------------------------------------------
# min, max, sum, len (builtins) and reductions (NumPy)


def _fold(tr, values: List[Value], opname: str) -> Value:
    acc = values[0]
    for v in values[1:]:
        acc = tr.arith(opname, acc, v)
    return acc


def _reduce_iterable(tr, node, kind: str, start: Optional[Value] = None):
    """sum/min/max over a comprehension, list, tuple or array argument.

    `start` is sum's start value: like Python, it is the first term of the sum."""
    arg = node.args[0]
    if isinstance(arg, (gast.GeneratorExp, gast.ListComp)):
        return _comprehension(tr, arg, kind, node, start)
    if isinstance(arg, (gast.List, gast.Tuple)):
        vals = [tr.value(e) for e in arg.elts]
    else:
        v = tr.value(arg)
        if isinstance(v.type, TupleType):
            vals = [tr.tuple_item(v, i) for i in range(len(v.type.elts))]
        elif isinstance(v.type, ArrayType):
            if kind != "sum" and v.type.ndim == 1 and v.type.dtype.is_float:
                return _python_reduce(tr, v, kind, node)
            axis = None if v.type.ndim == 1 else 0
            op = {"sum": "sum", "min": "amin", "max": "amax"}[kind]
            r = fresh(tr, tr.b.emit(op, v, axis=axis) if axis is not None
                      else tr.b.emit(op, v))
            return r if start is None else tr.arith("add", start, r)
        else:
            raise TypingError(f"{kind}() needs an iterable, got {v.type}", tr.loc(arg), kind)
    if not vals and kind != "sum":
        raise TypingError(f"{kind}() of an empty sequence", tr.loc(arg), kind)
    if kind == "sum":
        return _fold(tr, [tr.b.const(0) if start is None else start] + vals, "add")
    return _fold_minmax(tr, vals, kind, node)


def _fold_minmax(tr, values: List[Value], kind: str, node) -> Value:
    """min(a, b, ...) / max(...) as CPython computes them: `b if b < a else a`, so the
    first of equal values wins and a comparison with nan is false (np.minimum differs:
    it propagates nan). On integers that is NumPy's minimum (and maximum)."""
    acc = values[0]
    for v in values[1:]:
        a, b = tr.promote(acc, v)
        t, k = tr.merged([a, b], node, f"{kind}()")
        if isinstance(t, ArrayType) or not t.is_float:
            acc = tr.arith("minimum" if kind == "min" else "maximum", a, b)
            continue
        a, b = tr.coerce(a, t), tr.coerce(b, t)
        wins = tr.b.emit("lt" if kind == "min" else "gt", b, a)
        acc = tr.kinds.set(tr.b.emit("select", wins, b, a), k)
    return acc


def _python_reduce(tr, v: Value, kind: str, node) -> Value:
    """min(x) / max(x) of a float array: Python compares element by element (a loop, as
    for `max(e for e in x)`), which treats nan unlike np.max. np.max runs first, unused:
    for an empty array it raises the ValueError CPython raises."""
    tr.b.emit("amin" if kind == "min" else "amax", v)
    seq, item = tr.fresh_name("seq"), tr.fresh_name("item")
    tr.env[seq] = v
    store = gast.Name(id=item, ctx=gast.Store(), annotation=None, type_comment=None)
    comp = gast.GeneratorExp(elt=_load(item), generators=[
        gast.comprehension(target=store, iter=_load(seq), ifs=[], is_async=0)])
    for n in gast.walk(comp):
        gast.copy_location(n, node)
    r = _comprehension(tr, comp, kind, node)
    tr.env.vars.pop(seq, None)
    return r


def _minmax(kind: str):
    def handler(tr, node):
        if node.keywords:
            raise UnsupportedSyntax(f"{kind}() with keywords is not supported", tr.loc(node), kind)
        if len(node.args) == 1:
            return _reduce_iterable(tr, node, kind)
        vals = [tr.value(a) for a in node.args]
        if len(vals) == 0:
            raise TypingError(f"{kind}() needs arguments", tr.loc(node), kind)
        return _fold_minmax(tr, vals, kind, node)
    return handler


prim(builtins.min)(_minmax("min"))
prim(builtins.max)(_minmax("max"))


@prim(builtins.sum, math.fsum)
def _sum(tr, node):
    if not 1 <= len(node.args) <= 2 or node.keywords:
        raise TypingError("sum() takes an iterable and an optional start", tr.loc(node), "sum")
    start = tr.value(node.args[1]) if len(node.args) == 2 else None
    return _reduce_iterable(tr, node, "sum", start)


def _comprehension(tr, comp, kind: str, node, start: Optional[Value] = None) -> Value:
    """Lower `sum(e for t in it if c)` (and min/max) into an accumulating loop.

    sum starts from `start` (0 by default); min/max start from the first element
    and assert, as Python raises, that there was one."""
    if len(comp.generators) != 1:
        raise UnsupportedSyntax("comprehensions with more than one 'for' are not supported",
                                tr.loc(comp), "comprehension")
    gen = comp.generators[0]
    saved = tr.env.copy()
    acc = tr.fresh_name(f"{kind}_acc")
    if kind == "sum":
        tr.env[acc] = tr.b.const(0) if start is None else start
        body = [_assign_to(acc, gast.BinOp(left=_load(acc), op=gast.Add(), right=comp.elt))]
        after: List[Any] = []
    else:
        seen, fn = tr.fresh_name(f"{kind}_seen"), tr.fresh_name(kind)
        tr.env[acc] = Unbound()  # no value before the first element
        tr.env[seen] = tr.b.const(False)
        tr.env[fn] = Static(getattr(builtins, kind))  # immune to a local named min/max
        item = tr.fresh_name("item")
        pick = gast.IfExp(test=_load(seen), orelse=_load(item),
                          body=gast.Call(func=_load(fn), args=[_load(acc), _load(item)],
                                         keywords=[]))
        body = [_assign_to(item, comp.elt), _assign_to(acc, pick),
                _assign_to(seen, gast.Constant(value=True, kind=None))]
        after = [gast.Assert(test=_load(seen), msg=gast.Constant(
            value=f"{kind}() arg is an empty sequence", kind=None))]
    for cond in reversed(gen.ifs):
        body = [gast.If(test=cond, body=body, orelse=[])]
    loop = gast.For(target=gen.target, iter=gen.iter, body=body, orelse=[], type_comment=None)
    for n in (loop, *after):
        for m in gast.walk(n):
            if "lineno" in getattr(m, "_attributes", ()) and not getattr(m, "lineno", None):
                gast.copy_location(m, comp)
    tr.block([loop] + after)
    result = tr.env[acc]
    tr.env = saved
    return result


def _load(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _assign_to(name: str, value) -> gast.Assign:
    store = gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)
    return gast.Assign(targets=[store], value=value, type_comment=None)


@prim(builtins.len)
def _len(tr, node):
    (x,), _ = args_of(tr, node, 1, 1)
    if isinstance(x.type, TupleType):
        return tr.b.const(len(x.type.elts))
    if isinstance(x.type, ArrayType):
        return tr.b.emit("dim", x, axis=0)
    raise TypingError(f"len() of {x.type} is not defined", tr.loc(node), "len")


def _reduction(opname: str):
    def handler(tr, node):
        (x, *_), kws = args_of(tr, node, 1, 2, kw=("axis", "keepdims"))  # axis read below
        axis_node = node.args[1] if len(node.args) > 1 else kws.get("axis")
        return _reduce_call(tr, opname, x, axis_node, kws.get("keepdims"), node)
    return handler


def _reduce_call(tr, opname: str, x: Value, axis_node, keep_node, node) -> Value:
    """A reduction with NumPy's axis (an int, or for all but argmax/argmin a tuple of ints:
    numpy_axes) and keepdims."""
    if opname in ("argmax", "argmin"):
        axis = static_int(tr, axis_node, "axis")
    else:
        axis = numpy_axes.static_axes(tr, axis_node)
    r = numpy_axes.reduce_axes(tr, opname, x, axis, node)
    keep = static_bool(tr, keep_node, "keepdims")
    return numpy_axes.keep_axes(tr, r, x, axis, node) if keep else r


def static_bool(tr, node, what: str) -> bool:
    if node is None:
        return False
    v = tr.const_value(tr.value(node))
    if not isinstance(v, (bool, int)):
        raise TypingError(f"{what} must be a constant True or False", tr.loc(node), what)
    return bool(v)


def keep_dims(tr, r: Value, x: Value, axis: Optional[int]) -> Value:
    """A reduction's result with the reduced axes kept at size 1 (`keepdims=True`)."""
    if not isinstance(x.type, ArrayType):
        return r
    if axis is not None:
        axis = axis + x.type.ndim if axis < 0 else axis
        return fresh(tr, tr.b.emit("expand_dims", r, axis=axis))
    for _ in range(x.type.ndim):
        r = tr.b.emit("expand_dims", r, axis=0)
    return fresh(tr, r)


@prim(np.expand_dims)
def _expand_dims(tr, node):
    (x, *_), kws = args_of(tr, node, 1, 2, kw=("axis",))
    axis_node = node.args[1] if len(node.args) > 1 else kws.get("axis")
    if axis_node is None:
        raise TypingError("expand_dims() needs an axis", tr.loc(node), "expand_dims")
    return expand_at(tr, x, static_int(tr, axis_node, "axis"), node)


def expand_at(tr, x: Value, axis: int, node) -> Value:
    """`x` with a new axis of size 1 at `axis` (counted in the result, as NumPy does)."""
    ndim = x.type.ndim + 1 if isinstance(x.type, ArrayType) else 1
    if not -ndim <= axis < ndim:
        raise TypingError(f"axis {axis} is out of bounds for an array of dimension {ndim}",
                          tr.loc(node), "expand_dims")
    r = tr.b.emit("expand_dims", x, axis=axis % ndim)
    if isinstance(x.type, ArrayType):
        return _view(tr, r, x)
    return fresh(tr, r)


def reduce_value(tr, opname: str, x: Value, axis: Optional[int], node) -> Value:
    if not isinstance(x.type, ArrayType):  # np.sum(2.0) is the NumPy scalar 2.0
        if opname in ("argmax", "argmin"):
            return numpy_result(tr, tr.b.const(0))
        return numpy_result(tr, x if opname != "mean" else tr.b.convert(x, F64))
    if axis is not None and -x.type.ndim <= axis < 0:
        axis += x.type.ndim  # the IR counts axes from 0 (derivative rules re-insert them)
    attrs = {} if axis is None else {"axis": axis}
    return fresh(tr, tr.b.op(opname, [x], attrs).result)


for _op, _objs in (("sum", (np.sum,)), ("prod", (np.prod,)), ("mean", (np.mean,)),
                   ("amax", (np.max, np.amax)), ("amin", (np.min, np.amin)),
                   ("argmax", (np.argmax,)), ("argmin", (np.argmin,))):
    prim(*_objs)(_reduction(_op))


def _any_all(opname: str):
    def handler(tr, node):
        (x, *_), kws = args_of(tr, node, 1, 2, kw=("axis",))
        axis = numpy_axes.static_axes(tr, node.args[1] if len(node.args) > 1
                                      else kws.get("axis"))
        if not isinstance(x.type, ArrayType):
            return tr.truth(x, node)
        hit = x if x.type.dtype == BOOL else tr.b.emit("ne", x, tr.b.const(0, x.type.dtype))
        return numpy_axes.reduce_axes(tr, opname, hit, axis, node)
    return handler


prim(np.any)(_any_all("amax"))
prim(np.all)(_any_all("amin"))


# ---------------------------------------------------------------------------
# Linear algebra


def _linalg(opname: str):
    def handler(tr, node):
        (a, b), _ = args_of(tr, node, 2, 2)
        if not isinstance(a.type, ArrayType) or not isinstance(b.type, ArrayType):
            return numpy_result(tr, tr.b.emit("mul", *tr.promote(a, b)))
        return fresh(tr, tr.b.emit(opname, *tr.promote(a, b)))
    return handler




@prim(np.vdot)
def _vdot(tr, node):
    """vdot flattens both arguments (real arrays: no conjugation)."""
    (a, b), _ = args_of(tr, node, 2, 2)
    if not isinstance(a.type, ArrayType) or not isinstance(b.type, ArrayType):
        return numpy_result(tr, tr.b.emit("mul", *tr.promote(a, b)))
    flat = [tr.b.emit("ravel", v) if v.type.ndim > 1 else v for v in (a, b)]
    return tr.b.emit("dot", *flat)


@prim(np.inner)
def _inner(tr, node):
    """inner contracts the last axes: a @ b.T for 2-d b."""
    (a, b), _ = args_of(tr, node, 2, 2)
    if not isinstance(a.type, ArrayType) or not isinstance(b.type, ArrayType):
        return numpy_result(tr, tr.b.emit("mul", *tr.promote(a, b)))
    if b.type.ndim == 2:
        b = tr.b.emit("transpose", b)
    return fresh(tr, tr.b.emit("dot", a, b))
prim(np.outer)(_linalg("outer"))


@prim(np.reshape)
def _reshape(tr, node):
    (x, _s), _ = args_of(tr, node, 2, 2)
    return _view(tr, tr.b.emit("reshape", x, *shape_of(tr, node.args[1])), x)


@prim(np.ravel)
def _ravel(tr, node):
    (x,), _ = args_of(tr, node, 1, 1)
    return _view(tr, tr.b.emit("ravel", x), x)


def _view(tr, r: Value, base: Value) -> Value:
    tr.origins.same_as(r, base)
    return r


# ---------------------------------------------------------------------------
# Array construction


def _alloc(opname: str):
    def handler(tr, node):
        lo, hi = (2, 2) if opname == "full" else (1, 1)
        _, kws = args_of_lazy(tr, node, lo, hi + 1, kw=("dtype",))
        dims = shape_of(tr, node.args[0])
        dtype = dtype_of(tr, kws.get("dtype") or (node.args[hi] if len(node.args) > hi else None))
        attrs = {"dtype": dtype} if dtype is not None else {}
        operands = dims + ([tr.value(node.args[1])] if opname == "full" else [])
        return fresh(tr, tr.b.op(opname, operands, attrs).result)
    return handler


prim(np.zeros)(_alloc("zeros"))
prim(np.ones)(_alloc("ones"))
prim(np.empty)(_alloc("empty"))
prim(np.full)(_alloc("full"))


def _alloc_like(opname: str):
    def handler(tr, node):
        n = 2 if opname == "full_like" else 1
        (x, *rest), kws = args_of(tr, node, n, n, kw=("dtype",))
        if not isinstance(x.type, ArrayType):
            raise TypingError(f"{opname}() needs an array, got {x.type}", tr.loc(node), opname)
        dtype = dtype_of(tr, kws.get("dtype"))
        attrs = {"dtype": dtype} if dtype is not None else {}
        if opname == "full_like":
            r = tr.b.op("full_like", [x, tr.b.convert(rest[0], x.type.dtype)]).result
            return fresh(tr, tr.b.convert(r, dtype) if dtype else r)
        return fresh(tr, tr.b.op(opname, [x], attrs).result)
    return handler


prim(np.zeros_like)(_alloc_like("zeros_like"))
prim(np.ones_like)(_alloc_like("ones_like"))
prim(np.empty_like)(_alloc_like("empty_like"))
prim(np.full_like)(_alloc_like("full_like"))


@prim(np.copy)
def _copy(tr, node):
    (x,), _ = args_of(tr, node, 1, 1)
    return fresh(tr, tr.b.emit("copy", x) if isinstance(x.type, ArrayType) else x)


@prim(np.array, np.asarray)
def _array(tr, node):
    _, kws = args_of_lazy(tr, node, 1, 1, kw=("dtype",))
    dtype = dtype_of(tr, kws.get("dtype"))
    arg = node.args[0]
    if isinstance(arg, (gast.List, gast.Tuple)):
        r = _pack(tr, arg)
    else:
        v = tr.value(arg)
        if isinstance(v.type, TupleType):
            r = tr.b.emit("pack", *[tr.tuple_item(v, i) for i in range(len(v.type.elts))])
        elif isinstance(v.type, ArrayType):
            is_asarray = tr.static_callee(node.func) is np.asarray
            r = v if is_asarray else tr.b.emit("copy", v)
        else:
            raise UnsupportedSyntax("np.array() of a scalar (a 0-d array) is not supported",
                                    tr.loc(arg), "np.array")
    if dtype is not None:
        r = tr.b.convert(r, dtype)
    return fresh(tr, r)


def args_of_lazy(tr, node, lo, hi, kw=()):
    """Like args_of but leaves positional arguments unevaluated."""
    if not lo <= len(node.args) <= hi:
        raise TypingError(f"{_callee_text(node.func)}() takes {lo} positional argument(s)",
                          tr.loc(node), "call")
    kws = {}
    for k in node.keywords:
        if k.arg not in kw:
            raise UnsupportedSyntax(f"the keyword '{k.arg}' is not supported here",
                                    tr.loc(k.value), "keyword")
        kws[k.arg] = k.value
    return None, kws


def _pack(tr, node) -> Value:
    if not node.elts:
        raise UnsupportedSyntax("an empty array literal has no type; use np.zeros(0)",
                                tr.loc(node), "np.array")
    items = [_pack(tr, e) if isinstance(e, (gast.List, gast.Tuple)) else tr.value(e)
             for e in node.elts]
    return tr.b.emit("pack", *items)


@prim(np.arange)
def _arange(tr, node):
    args, kws = args_of(tr, node, 1, 3, kw=("dtype",))
    if len(args) == 1:
        args = [tr.b.const(0)] + args
    if len(args) == 2:
        args = args + [tr.b.const(1)]
    r = tr.b.emit("arange", *args)
    dtype = dtype_of(tr, kws.get("dtype"))
    return fresh(tr, tr.b.convert(r, dtype) if dtype else r)


@prim(np.linspace)
def _linspace(tr, node):
    (a, b, *n), _ = args_of(tr, node, 2, 3)
    count = n[0] if n else tr.b.const(50)
    return fresh(tr, tr.b.emit("linspace", tr.b.convert(a, F64), tr.b.convert(b, F64), count))


@prim(builtins.range, builtins.enumerate, builtins.zip, builtins.reversed)
def _iter_only(tr, node):
    raise UnsupportedSyntax(f"{_callee_text(node.func)}() is supported only as the iterable of "
                            "a for loop", tr.loc(node), "iterator")


# ---------------------------------------------------------------------------
# Array attributes and methods


def array_attribute(tr, v: Value, attr: str, node):
    if isinstance(v.type, UnknownType):
        return v
    if not isinstance(v.type, ArrayType):
        if attr in ("real",) and v.type in (F64, F32, I64):
            return v
        raise UnsupportedSyntax(f"attribute '{attr}' of {v.type} is not supported",
                                tr.loc(node), "attribute")
    if attr == "shape":
        return tr.b.emit("tuple", *[tr.b.emit("dim", v, axis=k) for k in range(v.type.ndim)])
    if attr == "T":
        return _view(tr, tr.b.emit("transpose", v), v)
    if attr == "size":
        return tr.b.emit("size", v)
    if attr == "ndim":
        return tr.b.const(v.type.ndim)
    raise UnsupportedSyntax(f"the array attribute '{attr}' is not supported", tr.loc(node),
                            "attribute")


def method_call(tr, v: Value, name: str, node):
    if not isinstance(v.type, ArrayType):
        raise UnsupportedSyntax(f"method '{name}' of {v.type} is not supported", tr.loc(node),
                                "method call")
    if name in ("sum", "prod", "mean", "max", "min", "argmax", "argmin"):
        _, kws = args_of_lazy(tr, node, 0, 1, kw=("axis", "keepdims"))
        axis_node = node.args[0] if node.args else kws.get("axis")
        op = {"max": "amax", "min": "amin"}.get(name, name)
        return _reduce_call(tr, op, v, axis_node, kws.get("keepdims"), node)
    if name in ("cumsum", "cumprod"):
        return numpy_axes.cumulative_method(tr, v, name, node)
    if name == "copy":
        args_of(tr, node, 0, 0)
        return fresh(tr, tr.b.emit("copy", v))
    if name == "flatten":  # a copy, unlike ravel
        args_of(tr, node, 0, 0)
        return fresh(tr, tr.b.emit("copy", tr.b.emit("ravel", v)))
    if name == "ravel":
        args_of(tr, node, 0, 0)
        return _view(tr, tr.b.emit("ravel", v), v)
    if name == "dot":
        (w,), _ = args_of(tr, node, 1, 1)
        return numpy_contractions.dot_values(tr, v, w, node)
    if name == "reshape":
        if not node.args:
            raise TypingError("reshape() needs the new shape", tr.loc(node), "reshape")
        dims = shape_of(tr, node.args[0]) if len(node.args) == 1 else \
            [_dim_value(tr, tr.value(a), a) for a in node.args]
        return _view(tr, tr.b.emit("reshape", v, *dims), v)
    if name == "transpose":
        return numpy_axes.transpose_method(tr, v, node)
    if name == "astype":
        args_of_lazy(tr, node, 1, 1)
        return fresh(tr, tr.b.convert(v, dtype_of(tr, node.args[0])))
    raise UnsupportedSyntax(f"the array method '{name}' is not supported", tr.loc(node),
                            "method call")


# ---------------------------------------------------------------------------
# Dispatch


def call(tr, node):
    func = node.func
    if isinstance(func, gast.Attribute):
        base = tr.expr(func.value)
        if isinstance(base, Value):
            return method_call(tr, base, func.attr, node)
    callee = tr.expr(func)
    if isinstance(callee, Closure):
        return tr.ctx.call_closure(tr, callee, node)
    if isinstance(callee, StraightValue):
        return _straight(tr, lambda: call_value(tr, callee.fn, node),
                         None if callee.surrogate is None else
                         lambda: call_value(tr, callee.surrogate, node), node)
    obj = getattr(callee, "obj", None)
    if obj is None:
        what = getattr(callee, "type", type(callee).__name__)
        raise UnknownCallee(f"a value of type {what} is not callable", tr.loc(node), "call")
    return call_object(tr, obj, getattr(callee, "name", repr(obj)), node)


# NumPy functions adjoin does not support, and the supported one nearest in meaning.
_ALTERNATIVES = {"nansum": "sum", "nanmean": "mean", "nanmax": "max", "nanmin": "min",
                 "nanprod": "prod", "nanstd": "std", "nanvar": "var", "average": "mean",
                 "append": "concatenate", "column_stack": "stack", "dstack": "stack",
                 "row_stack": "vstack", "amax": "max", "amin": "min", "fabs": "abs",
                 "absolute": "abs", "logaddexp": "log and np.exp", "float_power": "power"}


def nearest_supported(obj) -> str:
    """A hint naming the supported NumPy function nearest to the NumPy function `obj`
    (by meaning where one is known, else by name), or "" when there is none."""
    name = getattr(obj, "__name__", "") or ""
    module = getattr(obj, "__module__", "") or ""
    if not name or not (module.startswith("numpy") or isinstance(obj, np.ufunc)):
        return ""
    known = sorted({getattr(o, "__name__", "") for o, _ in _PRIMS.values()
                    if (getattr(o, "__module__", "") or "").startswith("numpy")
                    or isinstance(o, np.ufunc)} - {""})
    hit = _ALTERNATIVES.get(name)
    if hit is None:  # a misspelling; not a name one letter longer (sinc is not sin)
        close = difflib.get_close_matches(name, known, 1, 0.75)
        if close and not (close[0] in name or name in close[0]) or \
                close and abs(len(close[0]) - len(name)) > 1:
            hit = close[0]
    return f"; the nearest function adjoin supports is np.{hit}" if hit else ""


def call_object(tr, obj, name: str, node):
    """A call of the Python object `obj` with the arguments written at `node`."""
    handler = lookup(obj)
    if handler is not None:
        return handler(tr, node)
    if isinstance(obj, CustomFunction):
        return _custom_call(tr, obj, node)
    if isinstance(obj, StraightThrough):
        return _straight_call(tr, obj, node)
    if isinstance(obj, Vmapped):
        from . import batched_calls
        return batched_calls.call(tr, obj, node)
    from .struct_values import construct, is_record_class
    if is_record_class(obj):
        return construct(tr, obj, node)
    inner = getattr(obj, "__adjoin_function__", None)
    if inner is not None:
        obj = inner
    if isinstance(obj, pytypes.FunctionType):
        return tr.ctx.call_python(tr, obj, node)
    if isinstance(obj, (pytypes.BuiltinFunctionType, np.ufunc)) or callable(obj):
        raise UnknownCallee(f"'{name}' is not supported by adjoin (neither a known primitive nor "
                            f"a Python function it can compile){nearest_supported(obj)}; to use "
                            "it anyway, wrap it with @adjoin.custom_vjp and give it a derivative "
                            "rule", tr.loc(node), "call")
    raise UnknownCallee(f"'{name}' is not callable", tr.loc(node), "call")


# ---------------------------------------------------------------------------
# User rules


@prim(stop_gradient)
def _stop_gradient(tr, node):
    (x,), _ = args_of(tr, node, 1, 1)
    return tr.b.emit("stop_gradient", x)


def _custom_call(tr, obj: CustomFunction, node):
    """An opaque call: CPython runs the body, the attached rule gives the derivative."""
    args, _ = args_of(tr, node, 0, 64)
    rtype = _declared_result(tr, obj, args, node)
    r = tr.b.op("pycall", args, {"fn": obj.key}, result_types=[rtype],
                names=(getattr(obj.fn, "__name__", ""),)).result
    r.name = ""
    return fresh(tr, r) if isinstance(rtype, ArrayType) else r


def _declared_result(tr, obj: CustomFunction, args: List[Value], node):
    from ..ir.types import parse_signature
    if obj.returns is not None:
        try:
            (t,) = parse_signature(obj.returns)
        except ValueError as e:
            raise TypingError(str(e), tr.loc(node), "custom rule") from None
        return t
    ann = getattr(obj.fn, "__annotations__", {}).get("return")
    if ann is float:
        return F64
    first = next((a.type for a in args if a.type.differentiable()), None)
    return first if first is not None else F64


def call_value(tr, fv, node):
    """A call of the function value `fv` (a Closure, StraightValue or Static)."""
    if isinstance(fv, Closure):
        return tr.ctx.call_closure(tr, fv, node)
    if isinstance(fv, StraightValue):
        return _straight(tr, lambda: call_value(tr, fv.fn, node), None if fv.surrogate is None
                         else lambda: call_value(tr, fv.surrogate, node), node)
    return call_object(tr, fv.obj, fv.name, node)


@prim(vmap)
def _vmap(tr, node):
    """`adjoin.vmap(g, ...)` made inside a compiled function."""
    from . import batched_calls
    return batched_calls.made_here(tr, node)


@prim(straight_through)
def _straight_through(tr, node):
    """`adjoin.straight_through(fn, surrogate=None)` made inside a compiled function."""
    fns = [tr.expr(a) for a in node.args] + [tr.expr(k.value) for k in node.keywords
                                             if k.arg == "surrogate"]
    if not 1 <= len(fns) <= 2 or any(k.arg != "surrogate" for k in node.keywords) or \
            not all(is_function_value(f) for f in fns):
        raise TypingError("straight_through(fn, surrogate=None) takes one or two functions",
                          tr.loc(node), "straight_through")
    return StraightValue(fns[0], fns[1] if len(fns) > 1 else None)


def _straight_call(tr, obj: StraightThrough, node):
    return _straight(tr, lambda: call_object(tr, obj.fn, getattr(obj.fn, "__name__", "function"),
                                             node),
                     None if obj.surrogate is None else lambda: call_object(
                         tr, obj.surrogate, getattr(obj.surrogate, "__name__", "surrogate"), node),
                     node)


def _straight(tr, forward, surrogate, node):
    """The estimator: `forward()` in the primal, the derivative of `surrogate()` (of the
    argument itself when None) in derivatives."""
    y = forward()
    if surrogate is None:
        (s,), _ = args_of(tr, node, 1, 1)
    else:
        s = surrogate()
    if isinstance(s.type, ArrayType) != isinstance(y.type, ArrayType):
        raise TypingError(f"straight_through: the step gives {y.type} but the surrogate "
                          f"{s.type}", tr.loc(node), "straight_through")
    target = y.type.dtype if isinstance(y.type, ArrayType) else y.type
    if not target.is_float:  # e.g. builtin round gives an int: the estimator is a float
        y = tr.b.convert(y, F64)
        target = F64
    return tr.b.emit("straight", y, tr.b.convert(s, target))


from . import numpy_axes, numpy_composites, numpy_indexing  # noqa: E402,F401  (registries)
from . import numpy_contractions, numpy_norms, printing  # noqa: E402,F401,I100
from . import linalg  # noqa: E402,F401  (registers np.linalg's factorizations)


@prim(checkpointed)
def _checkpointed(tr, node):
    """`adjoin.checkpointed(...)` anywhere but as the iterable of a `for` over a range."""
    raise TypingError("adjoin.checkpointed marks a loop: write it as a for loop's iterable "
                      "(`for i in adjoin.checkpointed(range(n)):`) or as a while loop's whole "
                      "condition (`while adjoin.checkpointed(t < end):`); a loop left by break "
                      "or return cannot be checkpointed", tr.loc(node), "checkpointed")
