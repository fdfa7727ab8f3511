"""Python expressions for the advanced-indexing and sorting ops (`ir/ops_index.py`).

Assumes: the op table of `exprs` (`rule`, `Modules`); NumPy arrays at run time.
Guarantees: `take` is NumPy's own subscript (`x[i]`, `x[:, i]`, `x[i, j]`, `x[m]`), so
values, copies and errors are NumPy's; `put` / `put_add` call `adjoin.runtime.indexing`
(`y[index] = v` / `np.add.at` on a copy); `sort` / `argsort` use kind="stable".
"""
from __future__ import annotations

import ast
from typing import List

from ...ir.ops_index import index_count
from .exprs import call, rule


def index_parts(form: str, idx: List[ast.expr]) -> List[ast.expr]:
    """The subscript parts of an index form: ':' for a whole axis, else the operands."""
    it = iter(idx)
    return [ast.Slice() if c == ":" else next(it) for c in form]


def subscript(form: str, idx: List[ast.expr]) -> ast.expr:
    parts = index_parts(form, idx)
    return parts[0] if len(parts) == 1 else ast.Tuple(parts, ast.Load())


def index_tuple(form: str, idx: List[ast.expr]) -> ast.expr:
    """The index as a value: `(i,)`, `(slice(None), i)`, `(i, j)`."""
    parts = [call(ast.Name("slice", ast.Load()), ast.Constant(None))
             if isinstance(p, ast.Slice) else p for p in index_parts(form, idx)]
    return ast.Tuple(parts, ast.Load())


@rule("take")
def _take(m, op, a):
    return ast.Subscript(a[0], subscript(op.attrs["form"], a[1:]), ast.Load())


@rule("put", "put_add")
def _put(m, op, a):
    form = op.attrs["form"]
    k = index_count(form)
    helper = "put" if op.name == "put" else "add_at"
    return call(m.ref("ri", helper), a[0], index_tuple(form, a[1:1 + k]), a[1 + k])


@rule("sort", "argsort")
def _sort(m, op, a):
    return call(m.ref("np", op.name), a[0], kind=ast.Constant("stable"))
