"""Derivative rules for advanced indexing and sorting: take, put, put_add, sort.

Assumes: the ops of `ir/ops_index.py`; rules registered at import (`registry.has_rules`).
Guarantees, reverse and forward rule side by side, each written in differentiable ops
so that higher orders work:
  * take: the adjoint is scattered back with accumulation (np.add.at: a position read
    twice gets both contributions); a mask has no repeated positions. Tangent: the same
    take of the tangent.
  * put (x[i] = v): x's adjoint is cut at the written positions; v's adjoint is the
    adjoint gathered at its positions, for the writes that survive only (with repeated
    positions the last write wins, so earlier writes get zero).
  * put_add (np.add.at): x's adjoint passes through; v's is gathered (summed where v
    was broadcast).
  * sort: through the stable permutation (argsort), scattered back. argsort has no
    derivative (an integer result).
"""
from __future__ import annotations

from ..ir.ops_index import index_count
from ..ir.types import ArrayType, I64
from .registry import ZERO_DERIVATIVE, jvp_rule, vjp_rule

ZERO_DERIVATIVE.add("argsort")


def _parts(op):
    """(form, index operands, value operand or None) of a take/put/put_add."""
    form = op.attrs["form"]
    k = index_count(form)
    idx = list(op.operands[1:1 + k])
    value = op.operands[1 + k] if len(op.operands) > 1 + k else None
    return form, idx, value


def _op(ad, name, x, idx, form, *value):
    return ad.b.op(name, [x] + list(idx) + list(value), {"form": form}).result


def _reduce_to(ad, c, like):
    """A contribution at the selected shape, summed to the shape of `like`."""
    if not isinstance(c.type, ArrayType):
        return c
    if not isinstance(like.type, ArrayType):
        return ad.sum(c)
    return ad.sum_to(c, like)


def _labels(ad, form, idx, rest: int):
    """0, 1, ... over the broadcast shape of the index arrays, with `rest` trailing axes
    of size 1 (so that it broadcasts over the selected shape)."""
    w = idx[0]
    if form == "aa":  # the broadcast shape of both index arrays
        zero = ad.b.const(0)
        w = ad.add(ad.mul(idx[0], zero), ad.mul(idx[1], zero))
    n = ad.size(w)
    flat = ad.arange(ad.b.const(0), n, ad.b.const(1))
    dims = [ad.dim(w, axis=k) for k in range(w.type.ndim)]
    lab = ad.reshape(flat, *dims)
    for _ in range(rest):
        lab = ad.expand_dims(lab, axis=lab.type.ndim)
    return lab


def _survivors(ad, form, idx, g):
    """Bool at the selected shape: whether the write at that place is the last one to
    its position (the one NumPy keeps)."""
    rest = g.type.ndim - len(form)
    lab = _labels(ad, form, idx, rest)
    last = _op(ad, "put", ad.zeros_like(g, dtype=I64), idx, form, lab)
    return ad.eq(_op(ad, "take", last, idx, form), lab)


# -- take ----------------------------------------------------------------------------


@vjp_rule("take")
def take_vjp(ad, op, g, need):
    form, idx, _ = _parts(op)
    x_bar = None
    if need[0]:
        scatter = "put" if form == "m" else "put_add"  # a mask repeats no position
        x_bar = _op(ad, scatter, ad.zeros_like(op.operands[0]), idx, form, g[0])
    return [x_bar] + [None] * len(idx)


@jvp_rule("take")
def take_jvp(ad, op, d):
    form, idx, _ = _parts(op)
    return [None if d[0] is None else _op(ad, "take", d[0], idx, form)]


# -- put -----------------------------------------------------------------------------


@vjp_rule("put")
def put_vjp(ad, op, g, need):
    form, idx, value = _parts(op)
    v_bar = None
    if need[-1]:
        part = _op(ad, "take", g[0], idx, form)
        if form != "m":
            part = ad.where(_survivors(ad, form, idx, g[0]), part, ad.const(0.0, part))
        v_bar = _reduce_to(ad, part, value)
    x_bar = _op(ad, "put", g[0], idx, form, ad.const(0.0, g[0])) if need[0] else None
    return [x_bar] + [None] * len(idx) + [v_bar]


@jvp_rule("put")
def put_jvp(ad, op, d):
    form, idx, value = _parts(op)
    x = op.operands[0]
    base = d[0] if d[0] is not None else ad.zeros_like(x)
    dv = d[-1] if d[-1] is not None else ad.const(0.0, x)
    return [_op(ad, "put", base, idx, form, dv)]


# -- put_add ---------------------------------------------------------------------------


@vjp_rule("put_add")
def put_add_vjp(ad, op, g, need):
    form, idx, value = _parts(op)
    v_bar = _reduce_to(ad, _op(ad, "take", g[0], idx, form), value) if need[-1] else None
    return [g[0] if need[0] else None] + [None] * len(idx) + [v_bar]


@jvp_rule("put_add")
def put_add_jvp(ad, op, d):
    form, idx, _ = _parts(op)
    if d[-1] is None:
        return [d[0]]
    base = d[0] if d[0] is not None else ad.zeros_like(op.operands[0])
    return [_op(ad, "put_add", base, idx, form, d[-1])]


# -- sort ------------------------------------------------------------------------------


def _sort_index(ad, x):
    """(form, index arrays) with x[index] == sort(x) along the last axis."""
    perm = ad.argsort(x)
    if x.type.ndim == 1:
        return "a", [perm]
    rows = ad.arange(ad.b.const(0), ad.dim(x, axis=0), ad.b.const(1))
    return "aa", [ad.expand_dims(rows, axis=1), perm]


@vjp_rule("sort")
def sort_vjp(ad, op, g, need):
    x = op.operands[0]
    form, idx = _sort_index(ad, x)
    return [_op(ad, "put_add", ad.zeros_like(x), idx, form, g[0])]


@jvp_rule("sort")
def sort_jvp(ad, op, d):
    form, idx = _sort_index(ad, op.operands[0])
    return [_op(ad, "take", d[0], idx, form)]
