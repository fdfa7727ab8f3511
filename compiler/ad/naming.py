"""Names of derivative values: `x_bar` for adjoints, `x_dot` for tangents.

Assumes: nothing.
Guarantees: the one place these suffixes are spelled; every transform names
derivative values through it, so generated code is consistent.
"""
from __future__ import annotations

BAR = "_bar"
DOT = "_dot"


def bar(name: str) -> str:
    """The adjoint name of a primal value named `name` ('' stays '': a temporary)."""
    return name + BAR if name else ""


def dot(name: str) -> str:
    """The tangent name of a primal value named `name`."""
    return name + DOT if name else ""


def output_bar(name: str) -> str:
    """The name of a function's output cotangent parameter."""
    return bar(name) if name else "out" + BAR
