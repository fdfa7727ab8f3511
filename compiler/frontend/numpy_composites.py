"""NumPy functions built from other IR ops: var, std, concatenate, hstack, vstack, squeeze,
atleast_1d, atleast_2d.

Assumes: the translator of `primitives` (its `prim` registry, argument helpers and views).
Guarantees: each function computes NumPy's result from ops that already have derivative
rules on every backend (mean, sub, mul, sqrt, zeros, slice writes, reshape, expand_dims),
so it works in every mode and backend without new rules. Arguments NumPy would take at run
time but adjoin needs at compile time (axes, ddof, keepdims, the arrays joined) must be
constants or literals; anything else is a TypingError at the call.
"""
from __future__ import annotations

from typing import List, Optional

import gast
import numpy as np

from ..errors import TypingError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import ArrayType, F64, I64, TupleType
from .numpy_axes import count_over, keep_axes, reduce_axes, static_axes
from .primitives import (_view, args_of, expand_at, fresh, numpy_result, prim,
                         static_bool, static_int)


# -- var and std ------------------------------------------------------------------------------


def _moment(tr, node, root: bool) -> Value:
    (x, *_), kws = args_of(tr, node, 1, 2, kw=("axis", "keepdims", "ddof"))
    axis = static_axes(tr, node.args[1] if len(node.args) > 1 else kws.get("axis"))
    keep = static_bool(tr, kws.get("keepdims"), "keepdims")
    ddof = static_int(tr, kws.get("ddof"), "ddof") or 0
    if not isinstance(x.type, ArrayType):
        return numpy_result(tr, tr.b.const(0.0, F64))
    if x.type.dtype != F64 and not x.type.dtype.is_float:
        x = tr.b.convert(x, F64)
    centered = tr.b.emit("sub", x, keep_axes(tr, reduce_axes(tr, "mean", x, axis, node),
                                             x, axis, node))
    squares = tr.b.emit("mul", centered, centered)
    r = reduce_axes(tr, "sum" if ddof else "mean", squares, axis, node)
    if ddof:
        count = tr.b.convert(tr.b.emit("sub", count_over(tr, x, axis), tr.b.const(ddof)),
                             x.type.dtype)
        r = tr.b.emit("div", r, count)
    if root:
        r = tr.b.emit("sqrt", r)
    return keep_axes(tr, numpy_result(tr, r), x, axis, node) if keep else numpy_result(tr, r)


@prim(np.var)
def _var(tr, node):
    return _moment(tr, node, root=False)


@prim(np.std)
def _std(tr, node):
    return _moment(tr, node, root=True)


# -- joining ------------------------------------------------------------------------------------


def _arrays(tr, arg) -> List[Value]:
    """The arrays of a list or tuple literal, or of a tuple value."""
    if isinstance(arg, (gast.List, gast.Tuple)):
        vals = [tr.value(e) for e in arg.elts]
    else:
        v = tr.value(arg)
        if not isinstance(v.type, TupleType):
            raise TypingError("the arrays to join must be a list or tuple of arrays",
                              tr.loc(arg), "concatenate")
        vals = [tr.tuple_item(v, i) for i in range(len(v.type.elts))]
    if not vals:
        raise TypingError("need at least one array to concatenate", tr.loc(arg), "concatenate")
    return vals


def concatenate_values(tr, vals: List[Value], axis: int, node) -> Value:
    """A fresh array holding `vals` one after another along `axis`: zeros of the joined
    shape, then one slice write per array (whose adjoint reads its slice back)."""
    ndim = vals[0].type.ndim if isinstance(vals[0].type, ArrayType) else 0
    if ndim == 0 or any(not isinstance(v.type, ArrayType) or v.type.ndim != ndim
                        for v in vals):
        raise TypingError("concatenate() joins arrays of one number of dimensions (at least "
                          "1)", tr.loc(node), "concatenate")
    if not -ndim <= axis < ndim:
        raise TypingError(f"axis {axis} is out of bounds for an array of dimension {ndim}",
                          tr.loc(node), "concatenate")
    axis %= ndim
    dtype = _joined_dtype([v.type.dtype for v in vals])
    lengths = [tr.b.emit("dim", v, axis=axis) for v in vals]
    total = lengths[0]
    for n in lengths[1:]:
        total = tr.b.emit("add", total, n)
    dims = [tr.b.emit("dim", vals[0], axis=k) if k != axis else total for k in range(ndim)]
    out = tr.b.op("zeros", dims, {"dtype": dtype}).result
    start = tr.b.const(0)
    for v, n in zip(vals, lengths):
        stop = tr.b.emit("add", start, n)
        spec = tuple(["s000"] * axis + ["s110"])
        out = tr.b.op("setitem", [out, start, stop, tr.b.convert(v, dtype)],
                      {"index": spec}).result
        start = stop
    return fresh(tr, out)


_NP = {"f64": np.float64, "f32": np.float32, "i64": np.int64, "bool": np.bool_}


def _joined_dtype(dtypes):
    """NumPy's dtype for arrays of these dtypes joined (array promotion)."""
    joined = np.result_type(*[_NP[d.name] for d in dtypes])
    return next(d for d in dtypes + [F64] if _NP[d.name] == joined.type) \
        if any(_NP[d.name] == joined.type for d in dtypes) else F64


@prim(np.concatenate)
def _concatenate(tr, node):
    if not 1 <= len(node.args) <= 2:
        raise TypingError("concatenate() takes the arrays and an optional axis", tr.loc(node),
                          "concatenate")
    axis_node = node.args[1] if len(node.args) > 1 else \
        next((k.value for k in node.keywords if k.arg == "axis"), None)
    for k in node.keywords:
        if k.arg != "axis":
            raise UnsupportedSyntax(f"concatenate() does not support the keyword '{k.arg}' "
                                    "in adjoin", tr.loc(k.value), "concatenate")
    if isinstance(axis_node, gast.Constant) and axis_node.value is None:
        raise UnsupportedSyntax("concatenate(..., axis=None) is not supported; ravel the "
                                "arrays first", tr.loc(axis_node), "concatenate")
    axis = static_int(tr, axis_node, "axis") or 0
    return concatenate_values(tr, _arrays(tr, node.args[0]), axis, node)


def _single_arg(tr, node, name: str):
    if len(node.args) != 1 or node.keywords:
        raise TypingError(f"{name}() takes one sequence of arrays", tr.loc(node), name)
    return _arrays(tr, node.args[0])


@prim(np.hstack)
def _hstack(tr, node):
    vals = [at_least(tr, v, 1, node) for v in _single_arg(tr, node, "hstack")]
    return concatenate_values(tr, vals, 0 if vals[0].type.ndim == 1 else 1, node)


@prim(np.vstack)
def _vstack(tr, node):
    vals = [at_least(tr, v, 2, node) for v in _single_arg(tr, node, "vstack")]
    return concatenate_values(tr, vals, 0, node)


# -- dimensions ---------------------------------------------------------------------------------


def at_least(tr, x: Value, ndim: int, node) -> Value:
    """`x` with leading axes of size 1 up to `ndim` (NumPy's atleast_1d/2d: a 1-d array
    becomes a row)."""
    if not isinstance(x.type, ArrayType):
        x = expand_at(tr, x, 0, node)
    while x.type.ndim < ndim:
        x = expand_at(tr, x, 0, node)
    return x


@prim(np.atleast_1d)
def _atleast_1d(tr, node):
    (x,), _ = args_of(tr, node, 1, 1)
    return at_least(tr, x, 1, node)


@prim(np.atleast_2d)
def _atleast_2d(tr, node):
    (x,), _ = args_of(tr, node, 1, 1)
    return at_least(tr, x, 2, node)


@prim(np.squeeze)
def _squeeze(tr, node):
    (x, *_), kws = args_of(tr, node, 1, 2, kw=("axis",))
    axis_node = node.args[1] if len(node.args) > 1 else kws.get("axis")
    axis: Optional[int] = static_int(tr, axis_node, "axis")
    if axis is None:
        raise UnsupportedSyntax("squeeze() needs a constant axis in adjoin (which axes have "
                                "size 1 is known only at run time)", tr.loc(node), "squeeze")
    if not isinstance(x.type, ArrayType) or not -x.type.ndim <= axis < x.type.ndim:
        raise TypingError(f"axis {axis} is out of bounds for squeeze()", tr.loc(node),
                          "squeeze")
    if x.type.ndim == 1:
        raise TypingError("squeeze() of a 1-d array gives a 0-d array, which adjoin does not "
                          "have; use x[0]", tr.loc(node), "squeeze")
    axis %= x.type.ndim
    # A reshape without the axis: NumPy's ValueError where that axis is not of length 1.
    dims = [tr.b.emit("dim", x, axis=k) for k in range(x.type.ndim) if k != axis]
    return _view(tr, tr.b.emit("reshape", x, *dims), x)


# -- triangles and diagonals --------------------------------------------------------------------


def _grid(tr, x: Value, offset: int, relation: str) -> Value:
    """The (rows, cols) boolean mask `col relation row + offset` for a 2-d array `x`."""
    rows = tr.b.emit("arange", tr.b.const(0), tr.b.emit("dim", x, axis=0), tr.b.const(1))
    cols = tr.b.emit("arange", tr.b.const(0), tr.b.emit("dim", x, axis=1), tr.b.const(1))
    shifted = tr.b.emit("add", tr.b.emit("expand_dims", rows, axis=1), tr.b.const(offset))
    return tr.b.emit(relation, tr.b.emit("expand_dims", cols, axis=0), shifted)


def _matrix(tr, node, name: str) -> Value:
    x = tr.value(node.args[0]) if node.args else None
    if x is None or not isinstance(x.type, ArrayType) or x.type.ndim != 2:
        raise TypingError(f"{name}() of a 2-d array is supported", tr.loc(node), name)
    return x


def _masked(tr, x: Value, mask: Value) -> Value:
    zero = tr.b.const(0, x.type.dtype)
    return fresh(tr, tr.b.emit("where", mask, x, zero))


def _triangle(relation: str, name: str):
    def handler(tr, node):
        _, kws = args_of_lazy_k(tr, node, name)
        x = _matrix(tr, node, name)
        k_node = node.args[1] if len(node.args) > 1 else kws.get("k")
        return _masked(tr, x, _grid(tr, x, static_int(tr, k_node, "k") or 0, relation))
    return handler


def args_of_lazy_k(tr, node, name: str):
    if not 1 <= len(node.args) <= 2:
        raise TypingError(f"{name}() takes an array and an optional k", tr.loc(node), name)
    kws = {}
    for k in node.keywords:
        if k.arg != "k":
            raise UnsupportedSyntax(f"{name}() does not support the keyword '{k.arg}' in "
                                    "adjoin", tr.loc(k.value), name)
        kws[k.arg] = k.value
    return None, kws


prim(np.tril)(_triangle("le", "tril"))   # keeps col <= row + k
prim(np.triu)(_triangle("ge", "triu"))   # keeps col >= row + k


@prim(np.trace)
def _trace(tr, node):
    if len(node.args) != 1 or node.keywords:
        raise TypingError("trace() takes one 2-d array", tr.loc(node), "trace")
    x = _matrix(tr, node, "trace")
    return numpy_result(tr, tr.b.emit("sum", tr.b.emit("where", _grid(tr, x, 0, "eq"), x,
                                                       tr.b.const(0, x.type.dtype))))


@prim(np.diag)
def _diag(tr, node):
    if len(node.args) != 1 or node.keywords:
        raise UnsupportedSyntax("diag() with an offset is not supported in adjoin",
                                tr.loc(node), "diag")
    x = tr.value(node.args[0])
    if isinstance(x.type, ArrayType) and x.type.ndim == 1:  # a diagonal matrix
        square = tr.b.emit("expand_dims", x, axis=0)
        n = tr.b.emit("dim", x, axis=0)
        eye = tr.b.emit("eq", tr.b.emit("expand_dims", tr.b.emit(
            "arange", tr.b.const(0), n, tr.b.const(1)), axis=1), tr.b.emit(
            "arange", tr.b.const(0), n, tr.b.const(1)))
        return fresh(tr, tr.b.emit("where", eye, square, tr.b.const(0, x.type.dtype)))
    x = _matrix(tr, node, "diag")
    rows = tr.b.emit("sum", _masked(tr, x, _grid(tr, x, 0, "eq")), axis=1)
    k = tr.b.emit("minimum", tr.b.emit("dim", x, axis=0), tr.b.emit("dim", x, axis=1))
    return fresh(tr, tr.b.op("getitem", [rows, k], {"index": ("s010",)}).result)


def _identity(name: str):
    def handler(tr, node):
        if len(node.args) != 1 or node.keywords:
            raise UnsupportedSyntax(f"{name}() takes one size in adjoin (no M, k or dtype); "
                                    "build other shapes with np.diag or np.tri*",
                                    tr.loc(node), name)
        n = tr.value(node.args[0])
        if n.type != I64:
            raise TypingError(f"{name}() takes an int size", tr.loc(node), name)
        zeros = tr.b.op("zeros", [n, n], {}).result  # raises on a negative size, as NumPy
        ramp = tr.b.emit("arange", tr.b.const(0), n, tr.b.const(1))
        eye = tr.b.emit("eq", tr.b.emit("expand_dims", ramp, axis=1), ramp)
        return fresh(tr, tr.b.emit("where", eye, tr.b.const(1.0), zeros))
    return handler


prim(np.eye)(_identity("eye"))
prim(np.identity)(_identity("identity"))


# -- rearranging ----------------------------------------------------------------------------


def _slice_along(tr, x: Value, axis: int, start: Value, stop: Value) -> Value:
    spec = tuple(["s000"] * axis + ["s110"])
    return _view(tr, tr.b.op("getitem", [x, start, stop], {"index": spec}).result, x)


@prim(np.roll)
def _roll(tr, node):
    (x, *_), kws = args_of(tr, node, 1, 3, kw=("shift", "axis"))
    shift_node = node.args[1] if len(node.args) > 1 else kws.get("shift")
    axis_node = node.args[2] if len(node.args) > 2 else kws.get("axis")
    if shift_node is None:
        raise TypingError("roll() needs a shift", tr.loc(node), "roll")
    if not isinstance(x.type, ArrayType):
        raise TypingError("roll() of an array is supported", tr.loc(node), "roll")
    axis = static_int(tr, axis_node, "axis")
    if axis is None and x.type.ndim != 1:
        raise UnsupportedSyntax("roll() of an array of more than one dimension needs a "
                                "constant axis in adjoin", tr.loc(node), "roll")
    axis = (axis or 0) % x.type.ndim
    shift = tr.value(shift_node)
    n = tr.b.emit("dim", x, axis=axis)
    # The last `k = shift mod n` elements move to the front (k = 0 when n is 0).
    safe_n = tr.b.emit("maximum", n, tr.b.const(1))
    k = tr.b.emit("mod", shift, safe_n)
    cut = tr.b.emit("sub", n, k)
    parts = [_slice_along(tr, x, axis, cut, n), _slice_along(tr, x, axis, tr.b.const(0), cut)]
    return concatenate_values(tr, parts, axis, node)


def _vector_and_count(tr, node, name: str, what: str):
    """The 1-d array and the constant positive count of tile() / repeat()."""
    (x, *_), _ = args_of(tr, node, 2, 2)
    count = static_int(tr, node.args[1], what)
    if not isinstance(x.type, ArrayType) or x.type.ndim != 1 or count is None or count < 1:
        raise UnsupportedSyntax(f"{name}() of a 1-d array by a constant positive count is "
                                "supported in adjoin", tr.loc(node), name)
    return x, count


@prim(np.tile)
def _tile(tr, node):
    x, reps = _vector_and_count(tr, node, "tile", "reps")
    return concatenate_values(tr, [x] * reps, 0, node)


@prim(np.repeat)
def _repeat(tr, node):
    x, count = _vector_and_count(tr, node, "repeat", "repeats")
    ones = tr.b.op("ones", [tr.b.const(1), tr.b.const(count)],
                   {"dtype": x.type.dtype}).result
    column = tr.b.emit("expand_dims", x, axis=1)
    return fresh(tr, tr.b.emit("ravel", tr.b.emit("mul", column, ones)))
