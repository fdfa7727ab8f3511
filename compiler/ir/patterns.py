"""Small recognizers of IR value shapes shared by passes and backends.

Assumes: values in the SSA IR (ir/core.py).
Guarantees: pure queries; nothing is changed.
"""
from __future__ import annotations

from typing import Optional

from .core import Value


def loop_offset(v: Value, index: Value) -> Optional[int]:
    """c when v is index + c (or index - c) with c an integer constant, else None."""
    if v is index:
        return 0
    op = getattr(v, "op", None)
    if op is None or op.name not in ("add", "sub") or len(op.operands) != 2:
        return None
    a, b = op.operands
    for x, y, sign in ((a, b, 1), (b, a, 1)) if op.name == "add" else ((a, b, -1),):
        if x is index:
            c = int_const(y)
            if c is not None:
                return sign * c
    return None


def int_const(v: Value) -> Optional[int]:
    op = getattr(v, "op", None)
    if op is not None and op.name == "const" and type(op.attrs.get("value")) is int:
        return op.attrs["value"]
    return None
