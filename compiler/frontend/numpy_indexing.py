"""NumPy functions of advanced indexing and sorting: np.take, np.take_along_axis,
np.add.at, np.sort, np.argsort.

Assumes: the translator and registry of `primitives`; the index plans of `fancy_index`.
Guarantees: each maps to the ops of `ir/ops_index.py` (and views: ravel, transpose) with
NumPy's meaning; axes must be constants. Sorting is stable (kind= is accepted and
ignored: NumPy's default quicksort leaves the order of equal elements unspecified, and
adjoin gives the stable order on every backend). Refused at compile time: np.take with
mode=, 3-d and larger arrays in take_along_axis, sort and argsort, np.add.at with a mask
or into anything but a named array.
"""
from __future__ import annotations

from typing import Optional

import gast
import numpy as np

from ..errors import TypingError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import ArrayType, BOOL, I64
from . import fancy_index
from .primitives import _pack, args_of_lazy, numpy_result, prim, prim_method, static_int


def _array(tr, node, what: str) -> Value:
    v = tr.value(node)
    if not isinstance(v.type, ArrayType):
        raise TypingError(f"{what}() needs an array, got {v.type}", tr.loc(node), what)
    return v


def _indices(tr, node) -> Value:
    v = _pack(tr, node) if isinstance(node, gast.List) else tr.value(node)
    if isinstance(v.type, ArrayType) and v.type.dtype == BOOL:
        v = tr.b.convert(v, I64)  # np.take reads booleans as 0 and 1
    if not (isinstance(v.type, ArrayType) and v.type.dtype == I64):
        raise TypingError(f"indices must be an integer array here, got {v.type}",
                          tr.loc(node), "indices")
    return v


def _axis(tr, node, kws, pos: int, default) -> Optional[int]:
    a = node.args[pos] if len(node.args) > pos else kws.get("axis")
    if a is None:
        return default
    if isinstance(a, gast.Constant) and a.value is None:
        return None
    k = static_int(tr, a, "axis")
    if k is None:
        raise TypingError("the axis must be a constant", tr.loc(a), "axis")
    return k


def _arange_along(tr, x: Value, axis: int, expand: int) -> Value:
    n = tr.b.emit("dim", x, axis=axis)
    r = tr.b.emit("arange", tr.b.const(0), n, tr.b.const(1))
    return tr.b.emit("expand_dims", r, axis=expand)


@prim(np.take)
def _take(tr, node):
    _, kws = args_of_lazy(tr, node, 2, 3, kw=("axis",))
    x = _array(tr, node.args[0], "take")
    idx = _indices(tr, node.args[1])
    axis = _axis(tr, node, kws, 2, None)
    if axis is None:
        base = x if x.type.ndim == 1 else tr.b.emit("ravel", x)
        return numpy_result(tr, fancy_index.take(tr, base, "a", [idx]))
    axis = axis % x.type.ndim if -x.type.ndim <= axis < x.type.ndim else axis
    if axis not in (0, 1) or axis >= x.type.ndim:
        raise UnsupportedSyntax("np.take is supported with axis None, 0 or 1", tr.loc(node),
                                "np.take")
    return numpy_result(tr, fancy_index.take(tr, x, ":a" if axis else "a", [idx]))


@prim(np.take_along_axis)
def _take_along_axis(tr, node):
    _, kws = args_of_lazy(tr, node, 2, 3, kw=("axis",))
    x = _array(tr, node.args[0], "take_along_axis")
    idx = _indices(tr, node.args[1])
    if len(node.args) < 3 and "axis" not in kws:
        raise TypingError("take_along_axis() needs an axis", tr.loc(node), "take_along_axis")
    axis = _axis(tr, node, kws, 2, None)
    if axis is None:
        if idx.type.ndim != 1:
            raise TypingError("with axis=None the indices must be 1-d", tr.loc(node),
                              "take_along_axis")
        base = x if x.type.ndim == 1 else tr.b.emit("ravel", x)
        return numpy_result(tr, fancy_index.take(tr, base, "a", [idx]))
    nd = x.type.ndim
    if idx.type.ndim != nd or nd > 2 or not -nd <= axis < nd:
        raise UnsupportedSyntax("take_along_axis is supported on 1-d and 2-d arrays with "
                                "indices of the same number of dimensions", tr.loc(node),
                                "take_along_axis")
    axis %= nd
    if nd == 1:
        return numpy_result(tr, fancy_index.take(tr, x, "a", [idx]))
    if axis == 1:
        index = [_arange_along(tr, x, 0, 1), idx]
    else:
        index = [idx, _arange_along(tr, x, 1, 0)]
    return numpy_result(tr, fancy_index.take(tr, x, "aa", index))


_KINDS = (None, "quicksort", "mergesort", "heapsort", "stable")


def _sorting(opname: str):
    def handler(tr, node):
        _, kws = args_of_lazy(tr, node, 1, 3, kw=("axis", "kind"))
        x = _array(tr, node.args[0], opname)
        kind = kws.get("kind")
        if kind is not None and not (isinstance(kind, gast.Constant) and kind.value in _KINDS):
            raise TypingError(f"kind must be one of {', '.join(_KINDS[1:])}", tr.loc(kind),
                              f"np.{opname}")
        axis = _axis(tr, node, kws, 1, -1)
        if axis is None:
            x = x if x.type.ndim == 1 else tr.b.emit("ravel", x)
            return numpy_result(tr, tr.b.emit(opname, x))
        nd = x.type.ndim
        if nd > 2 or not -nd <= axis < nd:
            raise UnsupportedSyntax(f"np.{opname} is supported on 1-d and 2-d arrays",
                                    tr.loc(node), f"np.{opname}")
        if axis % nd == nd - 1:
            return numpy_result(tr, tr.b.emit(opname, x))
        r = tr.b.emit(opname, tr.b.emit("transpose", x))  # axis 0 of a matrix
        return numpy_result(tr, tr.b.emit("transpose", r))
    return handler


prim(np.sort)(_sorting("sort"))
prim(np.argsort)(_sorting("argsort"))


@prim_method(np.add, "at")
def _add_at(tr, node):
    if len(node.args) != 3 or node.keywords:
        raise TypingError("np.add.at() takes an array, an index and values", tr.loc(node),
                          "np.add.at")
    target = node.args[0]
    if not isinstance(target, gast.Name):
        raise UnsupportedSyntax("np.add.at is supported into a named array", tr.loc(target),
                                "np.add.at")
    x = tr.read_name(target.id, target)
    if not isinstance(x.type, ArrayType):
        raise TypingError(f"np.add.at needs an array, got {x.type}", tr.loc(target),
                          "np.add.at")
    parts = fancy_index.index_parts(tr, node.args[1])
    if parts is None:  # integers only: x[i] += v
        spec, idx = tr.index_spec(node.args[1])
        v = tr.store_value(tr.value(node.args[2]), x.type.dtype)
        new = tr.b.op("addat", [x] + list(idx) + [v], {"index": tuple(spec)}).result
    else:
        outer, form, arrays, inner = fancy_index._plan(tr, x, parts, node)
        if outer or inner is not None or form not in ("a", "aa"):
            raise UnsupportedSyntax("np.add.at is supported with an index array or a tuple "
                                    "of two index arrays", tr.loc(node.args[1]), "np.add.at")
        v = tr.store_value(tr.value(node.args[2]), x.type.dtype)
        new = tr.b.op("put_add", [x] + arrays + [v], {"form": form}).result
    new.name = target.id
    tr.write_array(target.id, x, new, node)
    return tr.b.const(None)
