"""Contractions: `@`/np.matmul and np.dot of any rank, np.tensordot and np.einsum.

Assumes: the translator of `primitives`; einsum's subscripts are a string constant (a
literal or a global), tensordot's axes constants.
Guarantees: each is built from ops with derivative rules on every backend (matmul, which
batches over leading axes, transpose with an axes permutation, reshape, mul, sum), so it
works in every mode and backend. matmul gives a 1-d operand a unit axis and removes it
from the result, as NumPy does; np.dot of N-d arrays is a matmul where that is the same
contraction, else a tensordot over the last axis of a and the second-to-last of b.
tensordot and einsum move the contracted axes together, merge them with a reshape and
multiply with one (batched) matmul per pair of operands, left to right; letters found in
one operand only are summed first. Contracted lengths that differ raise ValueError at run
time, as in NumPy. Refused at compile time (TypingError or UnsupportedSyntax): a
tensordot over every axis (a 0-d array), einsum with '...', with a letter repeated in one
operand (a trace or a diagonal: use np.trace, np.diag) or with a keyword. Unlike NumPy,
einsum does not stretch a length-1 axis to the length of the same letter elsewhere: that
raises ValueError.
"""
from __future__ import annotations

from typing import List, Sequence

import gast
import numpy as np

from ..errors import TypingError
from ..ir.core import Value
from ..ir.types import ArrayType
from .numpy_axes import product
from .primitives import args_of, fresh, numpy_result, prim


def _is_array(v: Value) -> bool:
    return isinstance(v.type, ArrayType)


# -- matmul and dot -------------------------------------------------------------------------


def matmul_values(tr, a: Value, b: Value, node) -> Value:
    """a @ b with NumPy's rules for 1-d operands and broadcast batch axes."""
    if not _is_array(a) or not _is_array(b):
        raise TypingError("matmul ('@') needs two arrays (NumPy raises for a scalar operand)",
                          tr.loc(node), "matmul")
    a, b = tr.promote(a, b)
    if a.type.ndim <= 2 and b.type.ndim <= 2:
        return fresh(tr, tr.b.emit("matmul", a, b))
    drop = None
    if a.type.ndim == 1:
        a, drop = tr.b.emit("expand_dims", a, axis=0), -2
    if b.type.ndim == 1:
        b, drop = tr.b.emit("expand_dims", b, axis=1), -1
    r = tr.b.emit("matmul", a, b)
    if drop is not None:  # the unit axis of a 1-d operand (a sum of one element)
        r = tr.b.emit("sum", r, axis=r.type.ndim + drop)
    return fresh(tr, r)


def dot_values(tr, a: Value, b: Value, node) -> Value:
    """np.dot(a, b): a product for a scalar operand, else a sum over the last axis of a and
    the second-to-last of b (the only axis of a 1-d b)."""
    if not _is_array(a) or not _is_array(b):
        return numpy_result(tr, tr.b.emit("mul", *tr.promote(a, b)))
    a, b = tr.promote(a, b)
    if a.type.ndim <= 2 and b.type.ndim <= 2:
        return fresh(tr, tr.b.emit("dot", a, b))
    if b.type.ndim <= 2 or a.type.ndim == 1:
        return matmul_values(tr, a, b, node)
    return contract(tr, a, b, [a.type.ndim - 1], [b.type.ndim - 2], node)


@prim(np.matmul)
def _matmul(tr, node):
    (a, b), _ = args_of(tr, node, 2, 2)
    return matmul_values(tr, a, b, node)


@prim(np.dot)
def _dot(tr, node):
    (a, b), _ = args_of(tr, node, 2, 2)
    return dot_values(tr, a, b, node)


# -- shared pieces ---------------------------------------------------------------------------


def same_length(tr, m: Value, n: Value) -> None:
    """Raise NumPy's ValueError at run time where lengths m and n differ: a reshape of m
    elements into n (kept by every pass: it may raise)."""
    if m is n:
        return
    tr.b.emit("reshape", tr.b.emit("arange", tr.b.const(0), m, tr.b.const(1)), n)


def grouped(tr, x: Value, groups: Sequence[Sequence[int]]) -> Value:
    """`x` with its axes reordered group after group and each group merged into one axis
    (a group of none becomes a unit axis)."""
    perm = [k for g in groups for k in g]
    moved = x if perm == list(range(len(perm))) else \
        tr.b.emit("transpose", x, axes=tuple(perm))
    if all(len(g) == 1 for g in groups):
        return moved
    dims = [product(tr, [tr.b.emit("dim", x, axis=k) for k in g]) for g in groups]
    return tr.b.emit("reshape", moved, *dims)


def contract(tr, a: Value, b: Value, axes_a: List[int], axes_b: List[int], node) -> Value:
    """The tensordot of a and b over the paired axes: free axes of a, then of b."""
    free_a = [k for k in range(a.type.ndim) if k not in axes_a]
    free_b = [k for k in range(b.type.ndim) if k not in axes_b]
    if not free_a and not free_b:
        raise TypingError("a contraction over every axis gives a 0-d array, which adjoin "
                          "does not have; use np.sum(a * b) or np.vdot", tr.loc(node),
                          "tensordot")
    for ka, kb in zip(axes_a, axes_b):
        same_length(tr, tr.b.emit("dim", a, axis=ka), tr.b.emit("dim", b, axis=kb))
    r = tr.b.emit("matmul", grouped(tr, a, [free_a, axes_a]), grouped(tr, b, [axes_b, free_b]))
    dims = [tr.b.emit("dim", a, axis=k) for k in free_a] + \
        [tr.b.emit("dim", b, axis=k) for k in free_b]
    if len(free_a) == 1 and len(free_b) == 1:
        return fresh(tr, r)
    return fresh(tr, tr.b.emit("reshape", r, *dims))


# -- tensordot -------------------------------------------------------------------------------


def _static_ints(tr, node):
    """An int, or nested tuples/lists of ints, written as constants."""
    if isinstance(node, (gast.Tuple, gast.List)):
        return tuple(_static_ints(tr, e) for e in node.elts)
    v = tr.value(node)
    if hasattr(v.type, "elts"):
        items = tuple(tr.const_value(tr.tuple_item(v, i)) for i in range(len(v.type.elts)))
    else:
        items = tr.const_value(v)
    flat = items if isinstance(items, tuple) else (items,)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in flat):
        raise TypingError("tensordot's axes must be constant integers", tr.loc(node), "axes")
    return items


def _axes_list(tr, spec, ndim: int, node) -> List[int]:
    ks = list(spec) if isinstance(spec, tuple) else [spec]
    if any(not -ndim <= k < ndim for k in ks) or len({k % ndim for k in ks}) != len(ks):
        raise TypingError(f"tensordot axes {spec} do not fit an array of dimension {ndim}",
                          tr.loc(node), "tensordot")
    return [k % ndim for k in ks]


@prim(np.tensordot)
def _tensordot(tr, node):
    (a, b, *_), kws = args_of(tr, node, 2, 3, kw=("axes",))
    axes_node = node.args[2] if len(node.args) > 2 else kws.get("axes")
    if not _is_array(a) or not _is_array(b):
        raise TypingError("tensordot() needs two arrays", tr.loc(node), "tensordot")
    spec = 2 if axes_node is None else _static_ints(tr, axes_node)
    if isinstance(spec, int):
        if not 0 <= spec <= min(a.type.ndim, b.type.ndim):
            raise TypingError(f"tensordot over {spec} axes does not fit these arrays",
                              tr.loc(node), "tensordot")
        axes_a = list(range(a.type.ndim - spec, a.type.ndim))
        axes_b = list(range(spec))
    else:
        if len(spec) != 2:
            raise TypingError("tensordot's axes are an int or a pair of axis sequences",
                              tr.loc(node), "tensordot")
        axes_a = _axes_list(tr, spec[0], a.type.ndim, node)
        axes_b = _axes_list(tr, spec[1], b.type.ndim, node)
        if len(axes_a) != len(axes_b):
            raise TypingError("tensordot: shape-mismatch for sum (as many axes of a as of b)",
                              tr.loc(node), "tensordot")
    a, b = tr.promote(a, b)
    return contract(tr, a, b, axes_a, axes_b, node)


from . import numpy_einsum  # noqa: E402,F401  (registers np.einsum)
