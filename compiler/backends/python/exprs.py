"""Python expressions for IR ops (the Python backend's op table).

Assumes: operand expressions are already built (`ast.expr`); types are the IR's.
Guarantees: each function returns an `ast.expr` that computes the op with the
IR's meaning: NumPy for arrays; for scalars, a `checked` op is Python's operator or
`math` function (CPython's results and exceptions exactly, except that a complex
`**` raises ValueError), and an unchecked op gives NumPy's (IEEE) result and never
raises: the Python operator or `math` function where its raising case provably cannot
occur (a nonzero constant divisor, a function that raises for no argument), else a
helper of `adjoin.runtime.pyops`; float32 scalars use NumPy's functions. `Modules`
records which of `math`, `np`, `rt` were used.
"""
from __future__ import annotations

import ast
import math
import sys
from typing import Callable, Dict, List

from ...ir import facts
from ...ir.core import Op
from ...ir.ops import NEVER_RAISE_MATH
from ...ir.types import ArrayType, BOOL, F32, F64, I64, ScalarType

_BIN = {"add": ast.Add, "sub": ast.Sub, "mul": ast.Mult, "div": ast.Div,
        "floordiv": ast.FloorDiv, "mod": ast.Mod, "pow": ast.Pow, "matmul": ast.MatMult}
_CMP = {"lt": ast.Lt, "le": ast.LtE, "gt": ast.Gt, "ge": ast.GtE, "eq": ast.Eq,
        "ne": ast.NotEq}
_NP_NAME = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
            "acosh": "arccosh", "atanh": "arctanh", "abs": "abs", "neg": "negative",
            "amax": "max", "amin": "min", "atan2": "arctan2"}
_MATH_SCALAR = {"sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
                "acosh", "atanh", "exp", "expm1", "log", "log2", "log10", "log1p", "sqrt",
                "erf", "erfc", "lgamma", "gamma", "isnan", "isinf", "atan2", "hypot",
                "copysign"}
_NO_NUMPY = {"erf", "erfc", "lgamma", "gamma", "sigmoid"}
_DTYPE = {"f64": "float64", "f32": "float32", "i64": "int64", "bool": "bool_"}


def is_array(t) -> bool:
    return isinstance(t, ArrayType)


class Modules:
    def __init__(self) -> None:
        self.used: set = set()
        self.custom: set = set()  # opaque Python functions the code calls

    def ref(self, module: str, attr: str) -> ast.expr:
        self.used.add(module)
        return ast.Attribute(ast.Name(module, ast.Load()), attr, ast.Load())


def name(n: str) -> ast.Name:
    return ast.Name(n, ast.Load())


def call(fn: ast.expr, *args: ast.expr, **kw: ast.expr) -> ast.Call:
    return ast.Call(fn, list(args), [ast.keyword(k, v) for k, v in kw.items()])


def constant(m: Modules, value, t=None) -> ast.expr:
    if isinstance(value, float):
        if math.isnan(value):
            return m.ref("math", "nan")
        if math.isinf(value):
            inf = m.ref("math", "inf")
            return inf if value > 0 else ast.UnaryOp(ast.USub(), inf)
    if t == F32:
        return call(m.ref("np", "float32"), ast.Constant(value))
    return ast.Constant(value)


def dtype_ref(m: Modules, t: ScalarType) -> ast.expr:
    return m.ref("np", _DTYPE[t.name])


def shape_expr(dims: List[ast.expr]) -> ast.expr:
    return dims[0] if len(dims) == 1 else ast.Tuple(dims, ast.Load())


def index_expr(op: Op, args: List[ast.expr]) -> tuple:
    """The subscript for an indexing op's spec, and the index of its next operand."""
    parts, k = [], 1
    for e in op.attrs["index"]:
        if e == "i":
            parts.append(args[k])
            k += 1
            continue
        bounds = []
        for flag in e[1:]:
            if flag == "1":
                bounds.append(args[k])
                k += 1
            else:
                bounds.append(None)
        parts.append(ast.Slice(*bounds))
    sl = parts[0] if len(parts) == 1 else ast.Tuple(parts, ast.Load())
    return sl, k


Rule = Callable[[Modules, Op, List[ast.expr]], ast.expr]
RULES: Dict[str, Rule] = {}


def registrar(table: Dict[str, Callable]):
    """A decorator `@rule("add", "sub")` that files a rule under op names in `table`."""
    def rule(*names: str):
        def deco(fn):
            for n in names:
                table[n] = fn
            return fn
        return deco
    return rule


rule = registrar(RULES)


def build(m: Modules, op: Op, args: List[ast.expr]) -> ast.expr:
    fn = RULES.get(op.name)
    if fn is None:
        raise NotImplementedError(f"no Python form for op '{op.name}'")
    return fn(m, op, args)


@rule(*_BIN)
def _binary(m, op, a):
    left = a[0]
    if op.name == "pow" and _elt(op.result.type).is_float and \
            not any(_elt(v.type).is_float for v in op.operands):
        left = as_dtype(m, op.operands[0], left, _elt(op.result.type))  # 2 ** n is f64
    if not is_array(op.result.type) and op.name in ("div", "floordiv", "mod", "pow"):
        helper = _scalar_helper(op)
        if helper is not None:
            return call(m.ref(*helper), left, a[1])
    return ast.BinOp(left, _BIN[op.name](), a[1])


def _scalar_helper(op: Op):
    """(module, function) a scalar division or power needs, or None for the operator."""
    divisor = op.operands[1]
    if op.name == "pow":
        if op.result.type == I64:
            return None  # a non-negative constant exponent: exact, never raises
        if op.attrs.get("checked") and op.attrs.get("math"):
            return "math", "pow"  # math.pow(0.0, -1.0) is a ValueError, not ** 's error
        if op.attrs.get("checked"):
            ok, c = facts.const_of(divisor)
            integral = divisor.type in (I64, BOOL) or (ok and float(c).is_integer())
            return None if integral else ("rt", "pow_real")  # a fractional power: complex
        return "rt", "pow"
    if op.attrs.get("checked") or facts.nonzero(divisor):
        return None
    return "rt", op.name


def _elt(t) -> ScalarType:
    return t.dtype if is_array(t) else t


def as_dtype(m: Modules, v, e: ast.expr, dtype: ScalarType) -> ast.expr:
    """`e` (computing the value `v`) with elements of type `dtype`, where they differ:
    Python picks types by value (min(1, 2.5) is 1, 2 ** 3 is 8), the IR by type."""
    if _elt(v.type) == dtype:
        return e
    if is_array(v.type):
        return call(ast.Attribute(e, "astype", ast.Load()), dtype_ref(m, dtype))
    if dtype == F32:
        return call(m.ref("np", "float32"), e)
    return call(name({F64: "float", I64: "int", BOOL: "bool"}[dtype]), e)


@rule(*_CMP)
def _compare(m, op, a):
    return ast.Compare(a[0], [_CMP[op.name]()], [a[1]])


@rule("and", "or", "xor")
def _logic(m, op, a):
    if is_array(op.result.type):
        return call(m.ref("np", "logical_" + op.name), a[0], a[1])
    if op.name == "xor":
        return ast.Compare(a[0], [ast.NotEq()], [a[1]])
    return ast.BoolOp(ast.And() if op.name == "and" else ast.Or(), [a[0], a[1]])


@rule("neg")
def _neg(m, op, a):
    return ast.UnaryOp(ast.USub(), a[0])


@rule("not")
def _not(m, op, a):
    if is_array(op.result.type):
        return call(m.ref("np", "logical_not"), a[0])
    return ast.UnaryOp(ast.Not(), a[0])


@rule("abs")
def _abs(m, op, a):
    return call(m.ref("np", "abs"), a[0]) if is_array(op.result.type) else call(name("abs"), a[0])


@rule("minimum", "maximum")
def _minmax(m, op, a):
    if is_array(op.result.type):
        return call(m.ref("np", op.name), a[0], a[1])
    a = [as_dtype(m, v, e, op.result.type) for v, e in zip(op.operands, a)]
    if op.result.type.is_float:  # NumPy's: nan wins, and the second of equal values
        return call(m.ref("rt", op.name), a[0], a[1])
    return call(name("min" if op.name == "minimum" else "max"), a[0], a[1])


@rule("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
      "atanh", "exp", "expm1", "log", "log2", "log10", "log1p", "sqrt", "erf", "erfc",
      "lgamma", "gamma", "isnan", "isinf", "atan2", "hypot", "copysign", "sign", "sigmoid",
      "cbrt", "exp2", "isnan")
def _math(m, op, a):
    n = op.name
    f32 = any(_elt(v.type) == F32 for v in op.operands)
    if is_array(op.result.type) or (f32 and n not in _NO_NUMPY):
        if n in _NO_NUMPY:
            return call(m.ref("rt", n), *a)
        return call(m.ref("np", _NP_NAME.get(n, n)), *a)
    in_math = n in _MATH_SCALAR or (n in ("exp2", "cbrt") and sys.version_info >= (3, 11))
    if in_math and (op.attrs.get("checked") or n in NEVER_RAISE_MATH or _finite_trig(op)):
        return call(m.ref("math", n), *a)
    if n == "exp2" and op.attrs.get("checked"):  # Python 3.10: 2.0 ** x raises as exp2 does
        return ast.BinOp(ast.Constant(2.0), ast.Pow(), a[0])
    return call(m.ref("rt", n), *a)


_TRIG = ("sin", "cos", "tan")


def _finite_trig(op: Op) -> bool:
    """A sin, cos or tan of a value that a checked trig function surely refused already
    if it was infinite (the derivative of `math.sin(x)` is `math.cos(x)`): the `math`
    function cannot raise first with another exception type."""
    return op.name in _TRIG and facts.checked_before(op.operands[0], op, _TRIG)


@rule("floor", "ceil", "trunc", "rint")
def _rounding(m, op, a):
    if is_array(op.result.type) or (_elt(op.operands[0].type) == F32 and op.name != "rint"):
        return call(m.ref("np", op.name), a[0])
    if op.name == "rint":  # round(x, 0) rounds half to even and keeps inf and nan
        x = op.operands[0]
        return call(name("float"), a[0]) if x.type in (I64, BOOL) else \
            call(name("round"), a[0], ast.Constant(0))
    if op.attrs.get("checked"):  # math.floor(inf) raises, as CPython does
        return call(name("float"), call(m.ref("math", op.name), a[0]))
    return call(m.ref("rt", op.name), a[0])


@rule("convert")
def _convert(m, op, a):
    to = op.result.type
    if is_array(to):
        return call(ast.Attribute(a[0], "astype", ast.Load()), dtype_ref(m, to.dtype))
    src = op.operands[0]
    inner = getattr(src, "op", None)
    if to == I64 and inner is not None and not is_array(src.type) and \
            isinstance(a[0], ast.Call) and a[0].args:
        if inner.name == "rint":
            return call(name("round"), a[0].args[0])  # round(x) is an int in Python
        if inner.name in ("floor", "ceil", "trunc") and inner.attrs.get("checked"):
            return a[0].args[0]  # math.floor(x) already is an int in Python
    if to == F32:
        return call(m.ref("np", "float32"), a[0])
    return call(name({F64: "float", I64: "int", BOOL: "bool"}[to]), a[0])


@rule("select")
def _select(m, op, a):
    return ast.IfExp(a[0], a[1], a[2])


@rule("where")
def _where(m, op, a):
    return call(m.ref("np", "where"), *a)


@rule("const", "undef")
def _const(m, op, a):
    if op.name == "undef":
        return ast.Constant(None)
    return constant(m, op.attrs["value"], op.result.type)


@rule("tuple")
def _tuple(m, op, a):
    return ast.Tuple(a, ast.Load())


@rule("tuple_get")
def _tuple_get(m, op, a):
    return ast.Subscript(a[0], ast.Constant(op.attrs["index"]), ast.Load())


@rule("call")
def _call(m, op, a):
    return call(name(op.attrs["callee"]), *a)


def _dtype_kw(m, op) -> dict:
    d = op.attrs.get("dtype")
    if d is None or str(d) == "f64":
        return {}
    return {"dtype": dtype_ref(m, d if isinstance(d, ScalarType) else ScalarType(str(d)))}


@rule("zeros", "ones", "empty")
def _alloc(m, op, a):
    return call(m.ref("np", op.name), shape_expr(a), **_dtype_kw(m, op))


@rule("full")
def _full(m, op, a):
    # The value alone would decide NumPy's dtype (2 gives ints): always say it.
    return call(m.ref("np", "full"), shape_expr(a[:-1]), a[-1],
                dtype=dtype_ref(m, op.result.type.dtype))


@rule("zeros_like", "ones_like", "empty_like")
def _alloc_like(m, op, a):
    kw = {}
    if op.attrs.get("dtype") is not None and op.result.type.dtype != op.operands[0].type.dtype:
        kw = {"dtype": dtype_ref(m, op.result.type.dtype)}
    return call(m.ref("np", op.name), a[0], **kw)


@rule("full_like")
def _full_like(m, op, a):
    return call(m.ref("np", "full_like"), a[0], a[1])


@rule("copy")
def _copy(m, op, a):
    return call(ast.Attribute(a[0], "copy", ast.Load()))


@rule("arange")
def _arange(m, op, a):
    return call(m.ref("np", "arange"), *a)


@rule("linspace")
def _linspace(m, op, a):
    return call(m.ref("np", "linspace"), *a)


@rule("pack")
def _pack(m, op, a):
    lst = ast.List(a, ast.Load())
    if is_array(op.operands[0].type):
        return call(m.ref("np", "stack"), lst)
    return call(m.ref("np", "array"), lst, **({"dtype": dtype_ref(m, op.result.type.dtype)}
                                               if op.result.type.dtype != F64 else {}))


@rule("dim")
def _dim(m, op, a):
    shape = ast.Attribute(a[0], "shape", ast.Load())
    return ast.Subscript(shape, ast.Constant(op.attrs["axis"]), ast.Load())


@rule("size")
def _size(m, op, a):
    return ast.Attribute(a[0], "size", ast.Load())


@rule("sum", "prod", "mean", "amax", "amin", "argmax", "argmin")
def _reduce(m, op, a):
    kw = {"axis": ast.Constant(op.attrs["axis"])} if op.attrs.get("axis") is not None else {}
    return call(m.ref("np", _NP_NAME.get(op.name, op.name)), a[0], **kw)


@rule("dot", "outer")
def _dot(m, op, a):
    return call(m.ref("np", op.name), a[0], a[1])


@rule("solve", "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh")
def _linalg(m, op, a):
    return call(ast.Attribute(m.ref("np", "linalg"), op.name, ast.Load()), *a)


@rule("transpose")
def _transpose(m, op, a):
    axes = op.attrs.get("axes")
    if axes is not None:
        return call(m.ref("np", "transpose"), a[0],
                    ast.Tuple([ast.Constant(k) for k in axes], ast.Load()))
    return ast.Attribute(a[0], "T", ast.Load())


@rule("cumsum", "cumprod")
def _cumulative(m, op, a):
    return call(m.ref("np", op.name), a[0], axis=ast.Constant(op.attrs["axis"]))


@rule("reshape")
def _reshape(m, op, a):
    return call(ast.Attribute(a[0], "reshape", ast.Load()), *a[1:])


@rule("ravel")
def _ravel(m, op, a):
    return call(ast.Attribute(a[0], "ravel", ast.Load()))


@rule("getitem")
def _getitem(m, op, a):
    sl, _ = index_expr(op, a)
    return ast.Subscript(a[0], sl, ast.Load())


@rule("sum_to")
def _sum_to(m, op, a):
    return call(m.ref("rt", "sum_to"), a[0], a[1])


@rule("expand_dims")
def _expand_dims(m, op, a):
    return call(m.ref("np", "expand_dims"), a[0], ast.Constant(op.attrs.get("axis", 0)))


@rule("tape_new")
def _tape_new(m, op, a):
    return ast.List([], ast.Load())



@rule("stop_gradient", "straight")
def _marker(m, op, a):
    return a[0]  # derivative markers: the value is the first operand


@rule("pycall")
def _pycall(m, op, a):
    m.custom.add(op.attrs["fn"])
    return call(name(op.attrs["fn"]), *a)


from . import fancy  # noqa: E402,F401  (registers the advanced-indexing rules)
