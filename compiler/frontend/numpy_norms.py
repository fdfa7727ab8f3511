"""np.linalg.norm with ord, axis and keepdims, for vectors and matrices.

Assumes: the translator of `primitives` and the axis helpers of `numpy_axes`; ord, axis
and keepdims are constants ('fro' a string literal).
Guarantees: NumPy's values and dtypes (integer arrays are converted to float64 first;
float32 stays float32). Vector norms (a 1-d array, or any array along an int axis):
ord None or 2 (the square root of the sum of squares), 1 (sum of magnitudes), inf and
-inf (the largest and smallest magnitude), 0 (the count of nonzeros). Matrix norms (a 2-d
array, or along a pair of axes): None and 'fro' (Frobenius), 1 and -1 (largest and
smallest column sum of magnitudes), inf and -inf (the same over rows). With axis=None
and ord=None any array is raveled (NumPy's rule). Every 2-norm has derivative 0 at the
origin (its subgradient nearest 0, and what a central difference gives) instead of
sqrt's nan. Refused at compile time: other orders (general p-norms) and the orders that
need singular values (2, -2, 'nuc' of a matrix).
"""
from __future__ import annotations

import math

import gast
import numpy as np

from ..errors import TypingError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import ArrayType, F64
from .numpy_axes import keep_axes, normalized, reduce_axes, static_axes
from .primitives import args_of_lazy, numpy_result, prim, static_bool


def _order(tr, node):
    if node is None or (isinstance(node, gast.Constant) and node.value is None):
        return None
    if isinstance(node, gast.Constant) and isinstance(node.value, str):
        if node.value in ("fro", "nuc"):
            return node.value
        raise TypingError(f"invalid norm order {node.value!r}", tr.loc(node), "norm")
    v = tr.const_value(tr.value(node))
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise TypingError("norm's ord must be a constant", tr.loc(node), "norm")
    return v


def _pick(tr, cond: Value, a: Value, b: Value) -> Value:
    op = "where" if any(isinstance(v.type, ArrayType) for v in (cond, a, b)) else "select"
    return tr.b.emit(op, cond, a, b)


def root_of_squares(tr, x: Value, axes, node) -> Value:
    """sqrt(sum(x * x)) over `axes`, with derivative 0 where the sum is 0."""
    total = reduce_axes(tr, "sum", tr.b.emit("mul", x, x), axes, node)
    dtype = total.type.dtype if isinstance(total.type, ArrayType) else total.type
    zero, one = tr.b.const(0.0, dtype), tr.b.const(1.0, dtype)
    at_origin = tr.b.emit("eq", total, zero)
    root = tr.b.emit("sqrt", _pick(tr, at_origin, one, total))
    return _pick(tr, at_origin, zero, root)


def _vector(tr, x: Value, order, axis, node) -> Value:
    if order is None or order == 2:
        return root_of_squares(tr, x, axis, node)
    magnitude = tr.b.emit("abs", x)
    if order == 1:
        return reduce_axes(tr, "sum", magnitude, axis, node)
    if order in (math.inf, -math.inf):
        return reduce_axes(tr, "amax" if order > 0 else "amin", magnitude, axis, node)
    if order == 0:
        nonzero = tr.b.convert(tr.b.emit("ne", x, tr.b.const(0.0, x.type.dtype)),
                               x.type.dtype)
        return reduce_axes(tr, "sum", nonzero, axis, node)
    raise UnsupportedSyntax(f"norm(ord={order}) of a vector is not supported by adjoin (ord "
                            "None, 0, 1, 2, inf, -inf are)", tr.loc(node), "norm")


def _matrix(tr, x: Value, order, axes, node) -> Value:
    rows, cols = axes
    if order in (None, "fro"):
        return root_of_squares(tr, x, axes, node)
    if order in (1, -1, math.inf, -math.inf):
        summed, other = (rows, cols) if order in (1, -1) else (cols, rows)
        sums = reduce_axes(tr, "sum", tr.b.emit("abs", x), summed, node)
        other -= 1 if other > summed else 0
        return reduce_axes(tr, "amax" if order > 0 else "amin", sums, other, node)
    raise UnsupportedSyntax(f"norm(ord={order!r}) of a matrix needs singular values, which "
                            "adjoin does not compute here (ord None, 'fro', 1, -1, inf, -inf "
                            "are supported)", tr.loc(node), "norm")


@prim(np.linalg.norm)
def _norm(tr, node):
    _, kws = args_of_lazy(tr, node, 1, 4, kw=("ord", "axis", "keepdims"))
    arg = (list(node.args) + [None] * 4)[:4]
    x = tr.value(arg[0])
    order = _order(tr, arg[1] or kws.get("ord"))
    axes = static_axes(tr, arg[2] or kws.get("axis"))
    keep = static_bool(tr, arg[3] or kws.get("keepdims"), "keepdims")
    if not isinstance(x.type, ArrayType):
        x = tr.b.emit("expand_dims", x)  # NumPy: a scalar is a 1-element vector
    if not x.type.dtype.is_float:
        x = tr.b.convert(x, F64)
    ndim = x.type.ndim
    if axes is None and order is None:
        r = root_of_squares(tr, x, None, node)
    else:
        if axes is None:
            if ndim > 2:
                raise TypingError("norm() of an array of more than 2 dimensions needs an "
                                  "axis (or ord=None)", tr.loc(node), "norm")
            axes = tuple(range(ndim)) if ndim == 2 else 0
        if isinstance(axes, tuple) and len(axes) == 1:
            axes = axes[0]
        if isinstance(axes, int):
            normalized(tr, (axes,), ndim, node)
            if isinstance(order, str):
                raise TypingError(f"norm(ord={order!r}) is a matrix norm; the axis names one "
                                  "axis", tr.loc(node), "norm")
            r = _vector(tr, x, order, axes % ndim, node)
        elif len(axes) == 2:
            rows, cols = (k % ndim for k in axes)
            normalized(tr, axes, ndim, node)
            r = _matrix(tr, x, order, (rows, cols), node)
        else:
            raise TypingError("norm() takes one axis (a vector norm) or two (a matrix norm)",
                              tr.loc(node), "norm")
    r = numpy_result(tr, r)
    if keep:
        return keep_axes(tr, r, x, axes if isinstance(axes, (int, tuple)) else None, node)
    return r
