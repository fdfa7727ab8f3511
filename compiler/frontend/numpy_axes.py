"""Axis forms of NumPy functions: tuple axes on reductions, cumsum/cumprod, stack(axis=k).

Assumes: the translator of `primitives` (its `prim` registry, argument helpers, views and
`reduce_value`/`keep_dims` for one axis); axes are compile-time constants.
Guarantees: a reduction over a tuple of axes moves those axes last, merges them into one
(a transpose and a reshape) and reduces that one axis, so it is one op of the reduction:
np.max's ties split the adjoint evenly over all the tied elements, np.prod stays exact at
zeros, and np.mean divides once by the number of elements reduced. `keepdims` puts every
reduced axis back with length 1. cumsum/cumprod of axis=None work on the raveled array
(a 1-d result, as NumPy's). stack(axis=k) packs along a new first axis and moves it to k.
An axis out of range, a repeated axis or an axis that is not a constant is a
TypingError at the call, where NumPy would raise at run time.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import gast
import numpy as np

from ..errors import TypingError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import ArrayType, TupleType
from .primitives import (_view, args_of, dtype_of, fresh, keep_dims, prim, reduce_value,
                         static_int)

Axes = Union[None, int, Tuple[int, ...]]


def static_axes(tr, node, what: str = "axis") -> Axes:
    """None, a constant int, or a tuple of constant ints (a literal or a tuple value)."""
    if node is None or (isinstance(node, gast.Constant) and node.value is None):
        return None
    if isinstance(node, gast.Tuple):
        return tuple(static_int(tr, e, what) for e in node.elts)
    v = tr.value(node)
    if isinstance(v.type, TupleType):
        items = [tr.const_value(tr.tuple_item(v, i)) for i in range(len(v.type.elts))]
        if all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            return tuple(items)
        raise TypingError(f"{what} must be a constant integer or a tuple of them",
                          tr.loc(node), what)
    return static_int(tr, node, what)


def normalized(tr, axes: Tuple[int, ...], ndim: int, node) -> Tuple[int, ...]:
    """The axes counted from 0, sorted; out of range or repeated is a TypingError."""
    out = []
    for k in axes:
        if not -ndim <= k < ndim:
            raise TypingError(f"axis {k} is out of bounds for an array of dimension {ndim}",
                              tr.loc(node), "axis")
        out.append(k % ndim)
    if len(set(out)) != len(out):
        raise TypingError("duplicate value in 'axis'", tr.loc(node), "axis")
    return tuple(sorted(out))


def product(tr, dims):
    """The product of I64 values (1 for none)."""
    acc = dims[0] if dims else tr.b.const(1)
    for d in dims[1:]:
        acc = tr.b.emit("mul", acc, d)
    return acc


def merged_last(tr, x: Value, axes: Tuple[int, ...]) -> Value:
    """`x` with the axes `axes` moved last and merged into one."""
    kept = [k for k in range(x.type.ndim) if k not in axes]
    perm = kept + list(axes)
    moved = x if perm == sorted(perm) else tr.b.emit("transpose", x, axes=tuple(perm))
    dims = [tr.b.emit("dim", x, axis=k) for k in kept]
    return tr.b.emit("reshape", moved, *dims,
                     product(tr, [tr.b.emit("dim", x, axis=k) for k in axes]))


def reduce_axes(tr, opname: str, x: Value, axes: Axes, node) -> Value:
    """np.<opname>(x, axis=axes) for None, an int or a tuple of ints."""
    if not isinstance(axes, tuple):
        return reduce_value(tr, opname, x, axes, node)
    if not isinstance(x.type, ArrayType):
        raise TypingError("a tuple of axes needs an array", tr.loc(node), "axis")
    axes = normalized(tr, axes, x.type.ndim, node)
    if len(axes) == x.type.ndim:
        return reduce_value(tr, opname, x, None, node)
    if len(axes) == 1:
        return reduce_value(tr, opname, x, axes[0], node)
    flat = merged_last(tr, x, axes)
    return reduce_value(tr, opname, flat, flat.type.ndim - 1, node)


def keep_axes(tr, r: Value, x: Value, axes: Axes, node) -> Value:
    """A reduction's result with every reduced axis kept at length 1 (keepdims=True)."""
    if not isinstance(axes, tuple) or not isinstance(x.type, ArrayType):
        return keep_dims(tr, r, x, axes)
    for k in normalized(tr, axes, x.type.ndim, node):
        r = tr.b.emit("expand_dims", r, axis=k)
    return fresh(tr, r)


def count_over(tr, x: Value, axes: Axes) -> Value:
    """The number of elements a reduction over `axes` combines (an I64 value)."""
    if axes is None:
        return tr.b.emit("size", x)
    ks = axes if isinstance(axes, tuple) else (axes,)
    return product(tr, [tr.b.emit("dim", x, axis=k % x.type.ndim) for k in ks])


# -- cumulative sums and products ------------------------------------------------------------


def cumulative(tr, opname: str, x: Value, axis: Optional[int], node) -> Value:
    if not isinstance(x.type, ArrayType):
        x = tr.b.emit("expand_dims", x)  # NumPy: the scalar as a 1-element array
    if axis is None and x.type.ndim > 1:
        x = tr.b.emit("ravel", x)
    axis = 0 if axis is None else axis
    if not -x.type.ndim <= axis < x.type.ndim:
        raise TypingError(f"axis {axis} is out of bounds for an array of dimension "
                          f"{x.type.ndim}", tr.loc(node), opname)
    return fresh(tr, tr.b.op(opname, [x], {"axis": axis % x.type.ndim}).result)


def _cumulative(opname: str):
    def handler(tr, node):
        (x, *_), kws = args_of(tr, node, 1, 2, kw=("axis",))
        axis_node = node.args[1] if len(node.args) > 1 else kws.get("axis")
        return cumulative(tr, opname, x, static_int(tr, axis_node, "axis"), node)
    return handler


prim(np.cumsum)(_cumulative("cumsum"))
prim(np.cumprod)(_cumulative("cumprod"))


def cumulative_method(tr, x: Value, name: str, node) -> Value:
    """x.cumsum(axis) / x.cumprod(axis)."""
    _, kws = args_of(tr, node, 0, 1, kw=("axis",))
    axis_node = node.args[0] if node.args else kws.get("axis")
    return cumulative(tr, name, x, static_int(tr, axis_node, "axis"), node)


# -- stack ----------------------------------------------------------------------------------


@prim(np.stack)
def _stack(tr, node):
    from .numpy_composites import _arrays
    kws = {}
    if not 1 <= len(node.args) <= 2:
        raise TypingError("stack() takes the arrays and an optional axis", tr.loc(node),
                          "stack")
    for k in node.keywords:
        if k.arg not in ("axis", "dtype"):
            raise UnsupportedSyntax(f"stack() does not support the keyword '{k.arg}' in "
                                    "adjoin", tr.loc(k.value), "stack")
        kws[k.arg] = k.value
    axis = static_int(tr, node.args[1] if len(node.args) > 1 else kws.get("axis"), "axis") or 0
    packed = tr.b.emit("pack", *_arrays(tr, node.args[0]))
    dtype = dtype_of(tr, kws.get("dtype"))
    packed = fresh(tr, tr.b.convert(packed, dtype) if dtype else packed)
    ndim = packed.type.ndim
    if not -ndim <= axis < ndim:
        raise TypingError(f"axis {axis} is out of bounds for an array of dimension {ndim}",
                          tr.loc(node), "stack")
    axis %= ndim
    if axis == 0:
        return packed
    perm = tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, ndim))
    return _view(tr, tr.b.emit("transpose", packed, axes=perm), packed)


# -- transpose with axes ------------------------------------------------------------------


def transposed(tr, x: Value, axes: Axes, node) -> Value:
    """np.transpose(x, axes): a view with the axes permuted (reversed for None)."""
    if not isinstance(x.type, ArrayType):
        raise TypingError("transpose() needs an array", tr.loc(node), "transpose")
    if axes is None:
        return _view(tr, tr.b.emit("transpose", x), x)
    axes = axes if isinstance(axes, tuple) else (axes,)
    ndim = x.type.ndim
    if len(axes) != ndim or sorted(k % ndim for k in axes if -ndim <= k < ndim) != \
            list(range(ndim)):
        raise TypingError(f"axes {axes} are not a permutation of the {ndim} axes",
                          tr.loc(node), "transpose")
    perm = tuple(k % ndim for k in axes)
    if perm == tuple(range(ndim)):
        return x  # NumPy's view of the same elements in the same order
    return _view(tr, tr.b.emit("transpose", x, axes=perm), x)


@prim(np.transpose)
def _transpose(tr, node):
    (x, *_), kws = args_of(tr, node, 1, 2, kw=("axes",))
    return transposed(tr, x, static_axes(tr, node.args[1] if len(node.args) > 1
                                         else kws.get("axes"), "axes"), node)


def transpose_method(tr, x: Value, node) -> Value:
    """x.transpose(), x.transpose(axes) and x.transpose(*axes)."""
    if node.keywords:
        raise UnsupportedSyntax("transpose() takes no keywords", tr.loc(node), "transpose")
    if len(node.args) <= 1:
        axes = static_axes(tr, node.args[0], "axes") if node.args else None
    else:
        axes = tuple(static_int(tr, a, "axes") for a in node.args)
    return transposed(tr, x, axes, node)
