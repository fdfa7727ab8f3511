"""Common subexpression elimination.

Assumes: verified IR.
Guarantees: a pure, region-free op identical to one that dominates it (same
name, operands, attributes and result types) is replaced by the earlier one.
Array allocations are never merged: each stays a distinct array, which keeps
in-place updates possible. Constants merge only when they carry the same source
name (or none): `t = 0` and a literal 0 elsewhere stay apart, so no code reads
the variable `t` where the source wrote 0.
"""
from __future__ import annotations

from typing import Dict, Tuple

from ..ir.core import Block, Function, Op, Value
from ..ir.ops import OPS, is_pure


def _freeze(v):
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, float) and v != v:
        return ("nan",)
    if isinstance(v, float):
        return ("f", v, str(v))  # keeps 0.0 and -0.0 apart
    return v


def _key(op: Op) -> Tuple:
    named = op.results[0].name if op.name == "const" else None
    return (op.name, tuple(id(v) for v in op.operands),
            tuple(sorted((k, _freeze(v)) for k, v in op.attrs.items())),
            tuple(str(r.type) for r in op.results), named)


def cse(f: Function) -> None:
    _block(f.body.block, {}, {})


def _block(b: Block, seen: Dict[Tuple, Op], subst: Dict[int, Value]) -> None:
    scope = dict(seen)
    for op in list(b.ops):
        op.operands = [subst.get(id(v), v) for v in op.operands]
        for region in op.regions:
            _block(region.block, scope, subst)
        d = OPS.get(op.name)
        if op.regions or not op.results or d is None or "alloc" in d.tags or not is_pure(op):
            continue
        k = _key(op)
        prev = scope.get(k)
        if prev is None:
            scope[k] = op
            continue
        for old, new in zip(op.results, prev.results):
            _rename(old, new)
            subst[id(old)] = new
        op.erase()


def _rename(old: Value, new: Value) -> None:
    if not new.name and old.name:
        new.name = old.name
