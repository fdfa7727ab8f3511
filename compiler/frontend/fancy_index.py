"""AST -> IR for NumPy's advanced indexing: integer index arrays and boolean masks, read
and written, and the functions np.take, np.take_along_axis, np.add.at.

Assumes: the translator of `exprs`/`to_ir` (its builder, origins, `index_spec`, `getitem`,
`store_value`, `write_array`); the ops of `ir/ops_index.py`.
Guarantees: a subscript one of whose parts is an array (or a list literal) is read with
`take` (a copy, as in NumPy) and written with `put`; NumPy's meaning for the forms
    x[i]  x[:, i]  x[s, i]  x[k, i]  x[i, k]  x[i, s]  x[i, j]  x[mask]
(i, j integer index arrays of any rank, s a slice, k an integer, mask a bool array of x's
shape); every other mix is an UnsupportedSyntax at the subscript. `x[i] += v` reads,
adds and writes (repeated positions do not accumulate, as in NumPy); `np.add.at`
accumulates. Parts that are no arrays are evaluated once here and handed to
`index_spec` through `tr.evaluated_index`.
"""
from __future__ import annotations

from typing import List, Optional

import gast

from ..errors import TypingError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import ArrayType, BOOL, I64, UnknownType

SLICE_ALL = "s000"


def _is_all(p) -> bool:
    """`:` (a slice with no bounds)."""
    return isinstance(p, gast.Slice) and all(
        q is None or (isinstance(q, gast.Constant) and q.value is None)
        for q in (p.lower, p.upper, p.step))


def index_parts(tr, sl) -> Optional[List]:
    """Evaluate the non-slice parts of subscript `sl`. Returns the parts (gast slices and
    IR values) when one is an array; otherwise stashes the values for `index_spec` and
    returns None (ordinary indexing)."""
    parts = sl.elts if isinstance(sl, gast.Tuple) else [sl]
    out, fancy = [], False
    for p in parts:
        if isinstance(p, gast.Slice) or (isinstance(p, gast.Constant) and p.value is None):
            out.append(p)
            continue
        if isinstance(p, gast.List):
            from .primitives import _pack
            v = _pack(tr, p)
        else:
            v = tr.value(p)
        out.append(v)
        fancy = fancy or isinstance(v.type, ArrayType)
    if fancy:
        return out
    for p, v in zip(parts, out):
        if isinstance(v, Value):
            tr.evaluated_index[id(p)] = (p, v)
    return None


def _array_kind(tr, v: Value, node) -> str:
    if v.type.dtype == BOOL:
        return "mask"
    if v.type.dtype != I64:
        raise TypingError(f"arrays used as indices must be of integer or boolean type, got "
                          f"{v.type}", tr.loc(node), "fancy indexing")
    return "arr"


def _plan(tr, x: Value, parts: List, node):
    """(outer, form, arrays, inner): the basic index `outer` (gast parts, or None) applied
    first, then the advanced index `form` with `arrays`, then the basic index `inner`
    (a number of leading ':' and one gast slice, or None) on the result."""
    if not isinstance(x.type, ArrayType):
        raise TypingError(f"a value of type {x.type} cannot be indexed", tr.loc(node),
                          "indexing")
    while len(parts) > 1 and _is_all(parts[-1]):
        parts = parts[:-1]  # x[i, :] is x[i]
    if len(parts) > x.type.ndim:
        raise TypingError(f"too many indices ({len(parts)}) for a {x.type.ndim}-d array",
                          tr.loc(node), "indexing")
    kinds = []
    for p in parts:
        if isinstance(p, Value) and isinstance(p.type, ArrayType):
            kinds.append(_array_kind(tr, p, node))
        elif isinstance(p, Value):
            kinds.append("int")
        elif isinstance(p, gast.Slice):
            kinds.append("all" if _is_all(p) else "slice")
        else:
            raise UnsupportedSyntax("np.newaxis / None together with an index array is not "
                                    "supported", tr.loc(node), "fancy indexing")
    k = tuple(kinds)
    if "mask" in k:
        if k != ("mask",) or parts[0].type.ndim != x.type.ndim:
            raise UnsupportedSyntax("a boolean index is supported alone and with the shape "
                                    "of the array it selects from (x[mask], mask.shape == "
                                    "x.shape)", tr.loc(node), "boolean indexing")
        return None, "m", [parts[0]], None
    first = parts[0]
    second = parts[1] if len(parts) > 1 else None
    table = {("arr",): (None, "a", None), ("arr", "arr"): (None, "aa", None),
             ("all", "arr"): (None, ":a", None), ("slice", "arr"): ([first], ":a", None),
             ("int", "arr"): ([first], "a", None),
             ("arr", "int"): ([gast.Slice(None, None, None), second], "a", None),
             ("arr", "slice"): (None, "a", second)}
    if k not in table:
        raise UnsupportedSyntax("this mix of index arrays, slices and integers is not "
                                "supported; supported: x[i], x[:, i], x[i, j], x[k, i], "
                                "x[i, k], x[s, i], x[i, s], x[mask]", tr.loc(node),
                                "fancy indexing")
    outer, form, inner = table[k]
    arrays = [p for p in parts if isinstance(p, Value) and isinstance(p.type, ArrayType)]
    return outer, form, arrays, inner


def _basic(tr, x: Value, parts: List, node) -> Value:
    """x[parts] for basic parts (gast slices and integer values): a view."""
    spec, idx = _outer_spec(tr, parts)
    return tr.getitem(x, spec, idx, node)


def _outer_spec(tr, parts):
    """The getitem spec and index operands of basic parts (integer values stand in for
    their AST nodes through `tr.evaluated_index`)."""
    elts = []
    for p in parts:
        if isinstance(p, Value):
            stand_in = gast.Constant(value=0, kind=None)
            tr.evaluated_index[id(stand_in)] = (stand_in, p)
            elts.append(stand_in)
        else:
            elts.append(p)
    spec, idx = tr.index_spec(gast.Tuple(elts=elts, ctx=gast.Load()))
    return spec, list(idx)


def _inner_parts(tr, arrays, inner) -> List:
    lead = max(a.type.ndim for a in arrays)
    return [gast.Slice(None, None, None)] * lead + [inner]


def take(tr, x: Value, form: str, arrays: List[Value]) -> Value:
    r = tr.b.op("take", [x] + list(arrays), {"form": form}).result
    tr.origins.fresh(r)  # a copy, unlike a slice
    return r


def read(tr, x: Value, parts: List, node) -> Value:
    """x[parts] with at least one array part."""
    outer, form, arrays, inner = _plan(tr, x, parts, node)
    base = _basic(tr, x, outer, node) if outer else x
    r = take(tr, base, form, arrays)
    return _basic(tr, r, _inner_parts(tr, arrays, inner), node) if inner is not None else r


def put(tr, x: Value, form: str, arrays: List[Value], value: Value, node) -> Value:
    value = tr.store_value(value, x.type.dtype)
    return tr.b.op("put", [x] + list(arrays) + [value], {"form": form}).result


def write(tr, x: Value, parts: List, value: Value, node) -> Value:
    """The new value of x after x[parts] = value."""
    outer, form, arrays, inner = _plan(tr, x, parts, node)
    if outer:  # x[k, i] = v: the row x[k] with its i written, written back
        spec, idx = _outer_spec(tr, outer)
        row = tr.b.op("getitem", [x] + idx, {"index": spec}).result
        new_row = put(tr, row, form, arrays, value, node)
        return tr.b.op("setitem", [x] + idx + [tr.store_value(new_row, x.type.dtype)],
                       {"index": spec}).result
    if inner is not None:  # x[i, s] = v: the rows x[i] with their s written, put back
        rows = tr.b.op("take", [x] + list(arrays), {"form": form}).result
        spec, idx = _outer_spec(tr, _inner_parts(tr, arrays, inner))
        value = tr.store_value(value, x.type.dtype)
        rows = tr.b.op("setitem", [rows] + idx + [value], {"index": spec}).result
        return put(tr, x, form, arrays, rows, node)
    return put(tr, x, form, arrays, value, node)


def assign(tr, target, parts: List, value, node, aug_op=None) -> None:
    """`x[parts] = value`, or `x[parts] op= value` when `aug_op` is given."""
    if not isinstance(target.value, gast.Name):
        raise UnsupportedSyntax("assigning through an index array is supported into a named "
                                "array (x[i] = v)", tr.loc(target), "fancy assignment")
    name = target.value.id
    x = tr.read_name(name, target)
    if isinstance(x.type, UnknownType):
        raise UnsupportedSyntax("an indexed assignment into a value of unknown type",
                                tr.loc(target), "fancy assignment")
    if aug_op is not None:
        cur = read(tr, x, parts, target)
        value = tr.as_value(tr.binop(aug_op, cur, tr.expr(value), node), node)
    else:
        value = tr.as_value(value, node)
    new = write(tr, x, parts, value, node)
    new.name = name
    tr.write_array(name, x, new, node)
