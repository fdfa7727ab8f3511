"""torch expressions for IR ops on tensors (the torch backend's op table).

Assumes: operand expressions are built; `em` (a `TorchEmitter`) says where each scalar
operand lives (`placement`) and which tensor in scope names the device.
Guarantees: each rule returns an `ast.expr` computing the op with NumPy's meaning (the
Python backend's) on tensors: results have the IR's dtype (operands of another dtype are
converted first: torch's promotion and its float32 default differ from NumPy's), and stay
on the device. Ops on host numbers only are not here: they are the Python backend's, with
CPython's semantics. Ops on tensor data follow IEEE (a division by a zero element gives
inf, as NumPy's arrays do; no host check).
"""
from __future__ import annotations

import ast
from typing import Callable, Dict, List

from ...ir.core import Op
from ...ir.types import ArrayType, ScalarType
from ..python.exprs import _BIN, _CMP, call, index_expr, name, registrar
from .placement import DEVICE, EITHER, HOST

_DTYPE = {"f64": "float64", "f32": "float32", "i64": "int64", "bool": "bool"}
_UNARY = {"asin": "asin", "acos": "acos", "atan": "atan", "asinh": "asinh",
          "acosh": "acosh", "atanh": "atanh", "rint": "round", "abs": "abs"}
_SAME = ("sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "expm1", "log", "log2", "log10",
         "log1p", "sqrt", "erf", "erfc", "lgamma", "sigmoid", "sign", "floor", "ceil",
         "trunc", "isnan", "isinf", "exp2")
_HELPER = ("cbrt", "gamma")
_PAIR = ("atan2", "hypot", "minimum", "maximum")
_REDUCE = {"sum": "sum", "prod": "prod", "mean": "mean", "amax": "amax", "amin": "amin",
           "argmax": "argmax", "argmin": "argmin"}

Rule = Callable[..., ast.expr]
RULES: Dict[str, Rule] = {}
rule = registrar(RULES)


def elt(t) -> ScalarType:
    return t.dtype if isinstance(t, ArrayType) else t


def dtype(em, t) -> ast.expr:
    return em.m.ref("torch", _DTYPE[elt(t).name])


def cast(em, v, e: ast.expr, to: ScalarType) -> ast.expr:
    """`e` (computing `v`) converted to elements of `to` where it is a tensor of another
    dtype; host numbers are left to torch (a number takes the tensor's dtype)."""
    if elt(v.type) == to or em.place(v) == HOST:
        return e
    if em.place(v) == EITHER:
        return call(em.m.ref("tt", "tensor"), e, em.m.ref("torch", _DTYPE[to.name]))
    return call(ast.Attribute(e, "to", ast.Load()), em.m.ref("torch", _DTYPE[to.name]))


def as_tensor(em, v, e: ast.expr, to: ScalarType) -> ast.expr:
    """`e` as a tensor of `to` (torch functions of one argument need a tensor)."""
    if em.place(v) != DEVICE:
        return call(em.m.ref("tt", "tensor"), e, em.m.ref("torch", _DTYPE[to.name]),
                    *em.like())
    return cast(em, v, e, to)


def _operands_as(em, op: Op, a: List[ast.expr]) -> List[ast.expr]:
    to = elt(op.result.type)
    if to.name == "bool":
        return a
    return [cast(em, v, e, to) for v, e in zip(op.operands, a)]


@rule(*_BIN)
def _binary(em, op, a):
    a = _operands_as(em, op, a)
    return ast.BinOp(a[0], _BIN[op.name](), a[1])


@rule(*_CMP)
def _compare(em, op, a):
    return ast.Compare(a[0], [_CMP[op.name]()], [a[1]])


@rule("and", "or", "xor")
def _logic(em, op, a):
    return call(em.m.ref("torch", "logical_" + op.name), *[as_tensor(em, v, e, elt(v.type))
                                                           for v, e in zip(op.operands, a)])


@rule("not")
def _not(em, op, a):
    return call(em.m.ref("torch", "logical_not"), as_tensor(em, op.operands[0], a[0],
                                                            elt(op.operands[0].type)))


@rule("neg")
def _neg(em, op, a):
    return ast.UnaryOp(ast.USub(), a[0])


@rule(*_SAME, *_UNARY)
def _unary(em, op, a):
    x = op.operands[0]
    to = elt(op.result.type) if elt(op.result.type).is_float else elt(x.type)
    fn = _UNARY.get(op.name, op.name)
    return call(em.m.ref("torch", fn), as_tensor(em, x, a[0], to))


@rule(*_HELPER)
def _helper(em, op, a):
    x = op.operands[0]
    return call(em.m.ref("tt", op.name), as_tensor(em, x, a[0], elt(op.result.type)))


@rule(*_PAIR)
def _pair(em, op, a):
    return call(em.m.ref("tt", op.name), a[0], a[1], dtype(em, op.result.type))


@rule("copysign")
def _copysign(em, op, a):
    to = elt(op.result.type)
    return call(em.m.ref("torch", "copysign"), as_tensor(em, op.operands[0], a[0], to),
                cast(em, op.operands[1], a[1], to))


@rule("convert")
def _convert(em, op, a):
    return as_tensor(em, op.operands[0], a[0], elt(op.result.type))


@rule("select", "where")
def _where(em, op, a):
    c, x, y = op.operands
    to = elt(op.result.type)
    return call(em.m.ref("torch", "where"), as_tensor(em, c, a[0], elt(c.type)),
                as_tensor(em, x, a[1], to), cast(em, y, a[2], to))


def _factory_kw(em, op) -> dict:
    kw = {"dtype": dtype(em, op.result.type)}
    device = em.device()
    if device is not None:
        kw["device"] = device
    return kw


def _shape(dims: List[ast.expr], em=None) -> ast.expr:
    """A shape as a tuple (`(n,)` for one axis): torch.full takes no bare int size. Sizes
    not known here go through `tt.sizes`, which raises NumPy's ValueError when negative."""
    if em is not None and not all(isinstance(d, ast.Constant) for d in dims):
        return call(em.m.ref("tt", "sizes"), *dims)
    return ast.Tuple(dims, ast.Load())


@rule("zeros", "ones", "empty")
def _alloc(em, op, a):
    return call(em.m.ref("torch", op.name), _shape(a, em), **_factory_kw(em, op))


def _fill(em, value, filled: ast.expr, tensor: ast.expr) -> ast.expr:
    """`tensor` (a fresh one) filled with `value`: torch's fill functions take a number,
    and reading a tensor's number would wait for the device; `copy_` broadcasts it."""
    if em.place(value) == HOST:
        return filled
    return call(ast.Attribute(tensor, "copy_", ast.Load()), filled.args[-1])


@rule("full")
def _full(em, op, a):
    filled = call(em.m.ref("torch", "full"), _shape(a[:-1], em), a[-1], **_factory_kw(em, op))
    empty = call(em.m.ref("torch", "empty"), _shape(a[:-1], em), **_factory_kw(em, op))
    return _fill(em, op.operands[-1], filled, empty)


def _like_kw(em, op) -> dict:
    same = elt(op.result.type) == elt(op.operands[0].type)
    return {} if same else {"dtype": dtype(em, op.result.type)}


@rule("zeros_like", "ones_like", "empty_like")
def _alloc_like(em, op, a):
    return call(em.m.ref("torch", op.name), a[0], **_like_kw(em, op))


@rule("full_like")
def _full_like(em, op, a):
    filled = call(em.m.ref("torch", "full_like"), a[0], a[1], **_like_kw(em, op))
    empty = call(em.m.ref("torch", "empty_like"), a[0], **_like_kw(em, op))
    return _fill(em, op.operands[1], filled, empty)


@rule("copy")
def _copy(em, op, a):
    return call(ast.Attribute(a[0], "clone", ast.Load()))


@rule("arange", "linspace")
def _range(em, op, a):
    return call(em.m.ref("torch", op.name), *a, **_factory_kw(em, op))


@rule("pack")
def _pack(em, op, a):
    if isinstance(op.operands[0].type, ArrayType):
        return call(em.m.ref("torch", "stack"), ast.List(a, ast.Load()))
    return call(em.m.ref("tt", "pack"), ast.List(a, ast.Load()), dtype(em, op.result.type),
                *em.like())


@rule("dim")
def _dim(em, op, a):
    shape = ast.Attribute(a[0], "shape", ast.Load())
    return ast.Subscript(shape, ast.Constant(op.attrs["axis"]), ast.Load())


@rule("size")
def _size(em, op, a):
    return call(ast.Attribute(a[0], "numel", ast.Load()))


@rule(*_REDUCE)
def _reduce(em, op, a):
    x = op.operands[0]
    arg = a[0]
    if op.name in ("mean",) or (op.name in ("sum", "prod") and elt(op.result.type).is_float):
        arg = cast(em, x, arg, elt(op.result.type))
    kw = {"dim": ast.Constant(op.attrs["axis"])} if op.attrs.get("axis") is not None else {}
    if op.name in ("amax", "amin") and not kw:
        return call(em.m.ref("torch", op.name[1:]), arg)
    return call(em.m.ref("torch", _REDUCE[op.name]), arg, **kw)


@rule("dot")
def _dot(em, op, a):
    a = _operands_as(em, op, a)
    return ast.BinOp(a[0], ast.MatMult(), a[1])


@rule("outer")
def _outer(em, op, a):
    return call(em.m.ref("torch", "outer"), *_operands_as(em, op, a))


@rule("solve", "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh")
def _linalg(em, op, a):
    return call(em.m.ref("tt", "linalg"), ast.Constant(op.name), *a)


@rule("transpose")
def _transpose(em, op, a):
    ndim = op.operands[0].type.ndim
    if op.attrs.get("axes") is not None:
        return call(ast.Attribute(a[0], "permute", ast.Load()),
                    *[ast.Constant(k) for k in op.attrs["axes"]])
    if ndim == 1:
        return a[0]
    if ndim == 2:
        return ast.Attribute(a[0], "T", ast.Load())
    return call(ast.Attribute(a[0], "permute", ast.Load()),
                *[ast.Constant(k) for k in reversed(range(ndim))])


@rule("cumsum", "cumprod")
def _cumulative(em, op, a):
    """torch sums bool and int tensors in int64, as NumPy does."""
    x = op.operands[0]
    arg = cast(em, x, a[0], elt(op.result.type)) if elt(x.type).is_float else a[0]
    return call(em.m.ref("torch", op.name), arg, ast.Constant(op.attrs["axis"]))


@rule("reshape")
def _reshape(em, op, a):
    return call(ast.Attribute(a[0], "reshape", ast.Load()), *a[1:])


@rule("ravel")
def _ravel(em, op, a):
    return call(em.m.ref("torch", "ravel"), a[0])


def negative_steps(op: Op) -> bool:
    """Whether an index has a slice whose step may be negative (torch slices step
    forward only)."""
    from ...ir import facts
    k = 1
    for e in op.attrs["index"]:
        if e == "i":
            k += 1
            continue
        for pos, flag in enumerate(e[1:]):
            if flag == "1":
                if pos == 2:
                    ok, c = facts.const_of(op.operands[k])
                    if not ok or c < 0:
                        return True
                k += 1
    return False


def index_value(sl: ast.expr) -> ast.expr:
    """A subscript as a value (`slice(None, None, -1)` for `::-1`), for helpers."""
    if isinstance(sl, ast.Slice):
        parts = [sl.lower, sl.upper, sl.step]
        return call(name("slice"), *[p if p is not None else ast.Constant(None) for p in parts])
    if isinstance(sl, ast.Tuple):
        return ast.Tuple([index_value(e) for e in sl.elts], ast.Load())
    return sl


@rule("getitem")
def _getitem(em, op, a):
    sl, _ = index_expr(op, a)
    if negative_steps(op):
        return call(em.m.ref("tt", "getitem"), a[0], index_value(sl))
    out = ast.Subscript(a[0], sl, ast.Load())
    if not isinstance(op.result.type, ArrayType) and em.writes_in_place:
        # An element is a view in torch: a copy keeps it from seeing later in-place writes.
        out = call(ast.Attribute(out, "clone", ast.Load()))
    return out


@rule("sum_to")
def _sum_to(em, op, a):
    return call(em.m.ref("tt", "sum_to"), a[0], a[1])


@rule("expand_dims")
def _expand_dims(em, op, a):
    x = op.operands[0]
    arg = a[0] if isinstance(x.type, ArrayType) else as_tensor(em, x, a[0], elt(op.result.type))
    return call(em.m.ref("torch", "unsqueeze"), arg, ast.Constant(op.attrs.get("axis", 0)))


def on_device(em, op: Op) -> bool:
    """Whether `op` touches a tensor (then its rule is here, else the Python backend's).
    A choice on a host condition stays a Python `x if c else y`."""
    if op.name in ("call", "tuple", "tuple_get", "const", "undef", "tape_new", "pycall",
                   "stop_gradient", "straight", "if"):
        return False
    if op.name == "select" and em.place(op.operands[0]) == HOST:
        return False
    values = list(op.operands) + list(op.results)
    return any(isinstance(v.type, ArrayType) or
               (not hasattr(v.type, "elts") and em.place(v) in (DEVICE, EITHER))
               for v in values)


from . import fancy  # noqa: E402,F401  (registers the advanced-indexing rules)
