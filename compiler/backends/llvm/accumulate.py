"""Adjoint accumulations in place on the llvm backend.

Assumes: a function prepared for the backend (markers lowered, in-place writes marked
by `passes/inplace.mark_inplace`); reverse mode marks its accumulations `x_bar + g`
as `add {accumulates}`, whose result has the first operand's type and shape.
Guarantees: `accumulate_in_place(f)` turns every such `add` on arrays that
`mark_accumulations` allows to update its first operand (dead afterwards, nothing
sharing its memory read later, not a parameter, popped or pushed) into
`addat x_bar[:, ...], g {inplace}`: the same values (each element `x + g`, g
broadcast to x's shape, NumPy's shape error otherwise), computed into x_bar's memory
instead of a fresh array. A loop that accumulates into its carried adjoints then
yields the memory it was given, so it keeps its descriptors out of phis
(bounds.same_buffer) and may release what its iterations allocate (release.py).
"""
from __future__ import annotations

from ...ir.core import Function
from ...ir.types import ArrayType
from ...passes.inplace import mark_accumulations


def accumulate_in_place(f: Function) -> None:
    mark_accumulations(f)
    for op in f.walk():
        if op.name != "add" or not op.attrs.get("accumulates"):
            continue
        t = op.result.type
        if op.attrs.pop("inplace", False) and isinstance(t, ArrayType) and t.ndim >= 1:
            op.name = "addat"
            op.attrs = {"index": ("s000",) * t.ndim, "inplace": True}
