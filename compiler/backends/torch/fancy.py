"""torch expressions for the advanced-indexing and sorting ops (`ir/ops_index.py`).

Assumes: the torch op table of `exprs`; tensors at run time.
Guarantees: each op calls `adjoin.runtime.torch_indexing`, which checks index ranges
(IndexError on every device), makes repeated-position writes last-write-wins, and sorts
stably; results stay on the operands' device.
"""
from __future__ import annotations

from ...ir.ops_index import index_count
from ..python.exprs import call
from ..python.fancy import index_tuple
from .exprs import cast, elt, rule


@rule("take")
def _take(em, op, a):
    return call(em.m.ref("ti", "take"), a[0], index_tuple(op.attrs["form"], a[1:]))


@rule("put", "put_add")
def _put(em, op, a):
    form = op.attrs["form"]
    k = index_count(form)
    value = op.operands[-1]
    v = cast(em, value, a[1 + k], elt(op.result.type))
    return call(em.m.ref("ti", op.name), a[0], index_tuple(form, a[1:1 + k]), v)


@rule("sort", "argsort")
def _sort(em, op, a):
    return call(em.m.ref("ti", op.name), a[0])
