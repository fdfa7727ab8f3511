"""Ops of NumPy's advanced indexing and sorting: take, put, put_add, sort, argsort.

Assumes: imported by `ops` once its helpers exist (it registers with `ops.define`).
Guarantees: typing rules for
  * `take x, i...` {form}: a copy of x[...] with integer index arrays or a mask;
  * `put x, i..., v` {form}: x with x[...] = v (a copy; repeated positions: the
    last write wins, as NumPy's assignment does in practice);
  * `put_add x, i..., v` {form}: x with np.add.at(x, (...), v) (repeated positions
    accumulate);
  * `sort x` / `argsort x` {axis = -1}: along the last axis, in a stable order.
`form` names the index: "a" x[i], ":a" x[:, i], "aa" x[i, j] (index arrays broadcast
together), "m" x[mask] (a bool array of x's shape; 1-d result). Index arrays are
i64 arrays of any rank; negative entries count from the end; an entry out of range
raises IndexError. The result of a take is never a view of x.
"""
from __future__ import annotations

from typing import List

from .types import ArrayType, BOOL, I64, Type

FORMS = ("a", ":a", "aa", "m")


def index_count(form: str) -> int:
    """How many index operands follow the array operand."""
    return form.count("a") + form.count("m")


def _error(msg: str):
    from .ops import TypeRuleError
    return TypeRuleError(msg)


def taken_type(x: Type, idx: List[Type], form: str, what: str) -> ArrayType:
    """The type of x[index] for index form `form`."""
    if not isinstance(x, ArrayType):
        raise _error(f"{what} needs an array, got {x}")
    if form not in FORMS:
        raise _error(f"unknown index form '{form}'")
    if len(idx) != index_count(form):
        raise _error(f"{what} with index form '{form}' takes {index_count(form)} index arrays")
    if form == "m":
        m = idx[0]
        if not isinstance(m, ArrayType) or m.dtype != BOOL or m.ndim != x.ndim:
            raise _error(f"a boolean index of {x} must be a bool array of {x.ndim} dimensions")
        return ArrayType(x.dtype, 1)
    for t in idx:
        if not isinstance(t, ArrayType) or t.dtype != I64:
            raise _error(f"{what}: index arrays must be integer arrays, got {t}")
    if x.ndim < len(form):
        raise _error(f"too many indices for a {x.ndim}-d array")
    return ArrayType(x.dtype, x.ndim - form.count("a") + max(t.ndim for t in idx))


def _take(ts, attrs):
    return [taken_type(ts[0], ts[1:], attrs["form"], "indexing")]


def _put(ts, attrs):
    form = attrs["form"]
    k = index_count(form)
    if len(ts) != k + 2:
        raise _error(f"an indexed assignment with index form '{form}' takes {k + 2} operands")
    region = taken_type(ts[0], ts[1:1 + k], form, "indexed assignment")
    value = ts[-1]
    from .ops import _numeric
    _numeric(value, "indexed assignment")
    if isinstance(value, ArrayType) and value.ndim > region.ndim:
        raise _error(f"cannot assign a {value.ndim}-d array into {region}")
    return [ts[0]]


def _put_add(ts, attrs):
    if attrs["form"] == "m":
        raise _error("np.add.at with a boolean mask is not supported")
    return _put(ts, attrs)


def _sorted(kind: str):
    def rule(ts, attrs):
        x = ts[0]
        if len(ts) != 1 or not isinstance(x, ArrayType):
            raise _error(f"{kind} needs one array, got {ts}")
        if x.ndim > 2:
            raise _error(f"{kind} is supported on 1-d and 2-d arrays, got {x}")
        if attrs.get("axis", -1) not in (-1, x.ndim - 1):
            raise _error(f"{kind} is supported along the last axis only")
        return [x if kind == "sort" else ArrayType(I64, x.ndim)]
    return rule


def register(define) -> None:
    define("take", _take, tags=("fancy",), doc="x[index arrays or mask] (a copy)")
    define("put", _put, tags=("fancy",), doc="x with x[index arrays or mask] = v")
    define("put_add", _put_add, tags=("fancy",), doc="x with np.add.at(x, index, v)")
    define("sort", _sorted("sort"), doc="np.sort(x, axis=-1, kind='stable')")
    define("argsort", _sorted("argsort"), doc="np.argsort(x, axis=-1, kind='stable')")
