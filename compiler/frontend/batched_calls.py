"""Batched calls in compiled code: `adjoin.vmap(g, in_axes, out_axes)(args)`.

Assumes: the translator (`tr`) with its registry (`tr.ctx`), kinds and origins; the
batching transform (`compiler.batch`).
Guarantees: the arguments' batch axes (`in_axes`, checked against their ranks) are
moved to the front, `g` is specialized for one lane (an array element is a NumPy
scalar, as iterating over a NumPy array gives), batched for the arguments that carry
the batch, and called once; the results get their batch axis at `out_axes`. Batch
sizes that differ raise a ValueError at run time. A batched function that writes into
its arguments, keyword arguments, and functions defined in the compiled function are
refused with the user's line.
"""
from __future__ import annotations

from typing import Any, List

import gast

from ..batch.context import batch_context
from ..batch.lanes import Lanes, any_batched, normal
from ..errors import TypingError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import ArrayType, TupleType, Type
from ..vmapped import Vmapped
from .exprs import Static
from .kinds import marked
from .scope import holds_arrays
from .structs import Struct, StructType


def made_here(tr, node) -> Static:
    """`adjoin.vmap(g, in_axes=0, out_axes=0)` written in a compiled function."""
    keywords = {k.arg: k.value for k in node.keywords}
    unknown = set(keywords) - {"in_axes", "out_axes"}
    if not node.args or len(node.args) > 3 or unknown:
        raise TypingError("vmap(fn, in_axes=0, out_axes=0) takes a function and constant "
                          "axes", tr.loc(node), "vmap")
    fv = tr.expr(node.args[0])
    if not isinstance(fv, Static) or not callable(fv.obj):
        raise UnsupportedSyntax("vmap of a function defined inside a compiled function is not "
                                "supported; define it at module level", tr.loc(node), "vmap")
    given = list(node.args[1:]) + [keywords.get(k) for k in ("in_axes", "out_axes")[
        len(node.args) - 1:]]
    axes = [_constant(tr, n, node) if n is not None else 0 for n in given]
    try:
        return Static(Vmapped(fv.obj, *axes), f"vmap({fv.name})")
    except ValueError as e:
        raise TypingError(str(e), tr.loc(node), "vmap") from None


def _constant(tr, n, node) -> Any:
    try:
        return gast.literal_eval(n)
    except ValueError:
        raise TypingError("vmap: in_axes and out_axes must be constants (ints, None or "
                          "tuples of them)", tr.loc(node), "vmap") from None


def call(tr, vm: Vmapped, node) -> Value:
    """The batched call `vm(args)` written at `node`."""
    loc = tr.loc(node)
    if node.keywords:
        raise TypingError("vmap: a batched function takes positional arguments only", loc, "vmap")
    args = [tr.as_value(tr.expr(a), a) for a in node.args]
    try:
        axes = vm.axes_for(len(args))
    except ValueError as e:
        raise TypingError(str(e)[len("adjoin."):], loc, "vmap") from None
    lanes = Lanes(tr.b)
    values, signature, infos = [], [], []
    for k, (v, ax) in enumerate(zip(args, axes)):
        kind = tr.kind(v)
        if ax is None:
            values.append(v)
            signature.append(marked(v.type, kind))
            infos.append(False)
            continue
        moved = _to_front(tr, v, ax, f"argument {k + 1}", node)
        values.append(moved)
        signature.append(_lane_signature(moved.type, kind, f"argument {k + 1}", loc))
        infos.append(True)
    lanes.size = _batch_size(tr, [v for v, i in zip(values, infos) if i], lanes)
    fn = getattr(vm.fn, "__adjoin_function__", vm.fn)
    f = tr.ctx.specialize(fn, signature, loc)
    if f.attrs.get("mutates"):
        raise UnsupportedSyntax(f"vmap of {fn.__name__}(), which writes into its arguments, is "
                                "not supported; return the new values instead", loc, "vmap")
    ctx = batch_context(tr.ctx)
    g, info = ctx.by_lanes(f, infos) if vm.by_lanes else ctx.batched(f, infos, False, loc)
    r = tr.b.op("call", values, {"callee": g.name}, result_types=[g.result_type]).result
    lanes.mark(r, info)
    r = _place(tr, lanes, r, f.result_type, vm.out_axes, node)
    tr.kinds.set(r, _array_kind(f.attrs.get("result_kind", False)))
    if holds_arrays(r.type):
        tr.origins.fresh(r)
    return r


def _to_front(tr, v: Value, axis: int, what: str, node) -> Value:
    """`v` (every leaf of a tuple) with axis `axis` moved to the front."""
    t = v.type
    if isinstance(t, TupleType):
        parts = [_to_front(tr, tr.tuple_item(v, k), axis, what, node)
                 for k in range(len(t.elts))]
        out = tr.b.emit("tuple", *parts)
        tr.kinds.set(out, tr.kind(v))
        return out
    if not isinstance(t, ArrayType):
        raise TypingError(f"vmap: in_axes maps {what}, which is {t}, not an array; give None "
                          "for a value every lane shares", tr.loc(node), "vmap")
    if not -t.ndim <= axis < t.ndim:
        raise TypingError(f"vmap: in_axes={axis} is out of range for {what}, a {t.ndim}-d "
                          "array", tr.loc(node), "vmap")
    axis %= t.ndim
    if axis == 0:
        return v
    perm = (axis,) + tuple(k for k in range(t.ndim) if k != axis)
    return tr.b.emit("transpose", v, axes=perm)


def _lane_signature(t: Type, kind, what: str, loc) -> Type:
    """The signature entry of one lane of batched `t` (kinds as `kind` gives them)."""
    if isinstance(t, TupleType):
        kinds = kind if isinstance(kind, tuple) else (False,) * len(t.elts)
        elts = tuple(_lane_signature(e, k, what, loc) for e, k in zip(t.elts, kinds))
        return StructType(elts, kind.spec) if isinstance(kind, Struct) else TupleType(elts)
    assert isinstance(t, ArrayType)
    if t.ndim == 1:  # an element of a NumPy array: a NumPy scalar
        return marked(t.dtype, True)
    return ArrayType(t.dtype, t.ndim - 1)


def _batch_size(tr, batched: List[Value], lanes: Lanes) -> Value:
    """The batch size (of the first batched leaf); the others are checked against it."""
    leaves: List[Value] = []
    for v in batched:
        _leaves(tr, v, leaves)
    size = tr.b.emit("dim", leaves[0], axis=0)
    for leaf in leaves[1:]:  # reshaping to the first size raises NumPy's ValueError
        dims = [tr.b.emit("dim", leaf, axis=k) for k in range(1, leaf.type.ndim)]
        tr.b.emit("reshape", leaf, size, *dims)
    return size


def _leaves(tr, v: Value, out: List[Value]) -> None:
    if isinstance(v.type, TupleType):
        for k in range(len(v.type.elts)):
            _leaves(tr, tr.tuple_item(v, k), out)
    else:
        out.append(v)


def _place(tr, lanes: Lanes, r: Value, lane_t: Type, out_axes, node) -> Value:
    """Result `r` of lane type `lane_t` with its batch axis at `out_axes`."""
    info = normal(r.type, lanes.info_of(r))
    if isinstance(lane_t, TupleType):
        per = out_axes if isinstance(out_axes, tuple) else (out_axes,) * len(lane_t.elts)
        if len(per) != len(lane_t.elts):
            raise TypingError(f"vmap: out_axes has {len(per)} entries but the function returns "
                              f"{len(lane_t.elts)} values", tr.loc(node), "vmap")
        parts = []
        for k, (e, ax) in enumerate(zip(lane_t.elts, per)):
            item = lanes.mark(tr.b.emit("tuple_get", r, index=k), info[k])
            parts.append(_place(tr, lanes, item, e, ax, node))
        return tr.b.emit("tuple", *parts)
    if isinstance(out_axes, tuple):
        raise TypingError("vmap: out_axes is a tuple but the function returns one value",
                          tr.loc(node), "vmap")
    if out_axes is None:
        if any_batched(info):
            raise TypingError("vmap: out_axes=None but the result differs per lane",
                              tr.loc(node), "vmap")
        return r
    r = lanes.to_info(r, lane_t, True)
    nd = r.type.ndim
    if not -nd <= out_axes < nd:
        raise TypingError(f"vmap: out_axes={out_axes} is out of range for a result of "
                          f"{nd} dimensions", tr.loc(node), "vmap")
    axis = out_axes % nd
    if axis == 0:
        return r
    perm = tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, nd))
    return tr.b.emit("transpose", r, axes=perm)


def _array_kind(kind):
    """The kinds of a batched result: its scalars are arrays now."""
    if isinstance(kind, Struct):
        return Struct(tuple(_array_kind(k) for k in kind), kind.spec)
    if isinstance(kind, tuple):
        return tuple(_array_kind(k) for k in kind)
    return False

