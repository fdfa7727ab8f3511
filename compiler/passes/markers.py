"""Derivative markers become plain values once differentiation is done.

Assumes: IR that no transform will differentiate again (backends call this on
their own copy).
Guarantees: every `stop_gradient x` and `straight y, s` is replaced by its first
operand, and code that only fed a surrogate is removed.
"""
from __future__ import annotations

from typing import Dict

from ..ir.core import Function, Value
from .dce import dce

MARKERS = ("stop_gradient", "straight")


def lower_markers(f: Function) -> None:
    subst: Dict[int, Value] = {}
    found = False
    for op in list(f.walk()):
        op.operands = [subst.get(id(v), v) for v in op.operands]
        if op.name in MARKERS:
            subst[id(op.result)] = subst.get(id(op.operands[0]), op.operands[0])
            op.erase()
            found = True
    if found:
        dce(f)
