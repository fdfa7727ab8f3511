"""The derivative-rule registry: one reverse (VJP) and one forward (JVP) rule per op.

Assumes: rules are registered at import of `rules`, `rules_array`, `rules_cumulative`,
`rules_index` and `rules_linalg`.
Guarantees: `vjp_rule("mul")` / `jvp_rule("mul")` register a rule where it is
written. A VJP rule is `rule(ad, op, g, need) -> list`: given the adjoints `g`
of the op's results (None where zero) and `need[i]` (operand i wants an
adjoint), it emits IR through `ad` and returns one contribution per operand
(None for none; a `Scatter` for a contribution to a few elements). A JVP rule
is `rule(ad, op, dots) -> list` of result tangents from operand tangents (None
where zero). `ZERO_DERIVATIVE` lists ops whose results do not depend
differentiably on their operands (comparisons, shapes, rounding, allocation);
`CONVENTIONS` documents the ops whose derivative is defined by convention.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from ..ir.core import Value

VJP: Dict[str, Callable] = {}
JVP: Dict[str, Callable] = {}
ZERO_DERIVATIVE = {
    "lt", "le", "gt", "ge", "eq", "ne", "and", "or", "xor", "not", "isnan", "isinf",
    "dim", "size", "argmax", "argmin", "floor", "ceil", "trunc", "rint", "sign",
    "zeros", "ones", "empty", "zeros_like", "ones_like", "empty_like", "arange", "const",
    "undef", "floordiv", "tape_new", "stop_gradient",
}
CONVENTIONS = {
    "abs": "d|x|/dx at x = 0 is 0",
    "sign": "the derivative of sign is 0 everywhere (also at 0)",
    "floor": "floor, ceil, trunc and round have derivative 0 (also at the jumps)",
    "minimum": "at a tie min(a, b) passes the whole adjoint to a (the first argument)",
    "maximum": "at a tie max(a, b) passes the whole adjoint to a (the first argument)",
    "amax": "at ties np.max splits the adjoint evenly among the maximal elements",
    "amin": "at ties np.min splits the adjoint evenly among the minimal elements",
    "floordiv": "a // b has derivative 0 in a and b (also at the jumps)",
    "mod": "a % b has derivative 1 in a and -floor(a / b) in b (the jumps are ignored)",
    "hypot": "hypot and atan2 have derivative 0 at the origin (x = y = 0), where they have none",
    "atan2": "hypot and atan2 have derivative 0 at the origin (x = y = 0), where they have none",
    "pow": "d(x ** y)/dy is 0 where x == 0 (never log(0)); d(x ** y)/dx is 0 where y == 0",
    "sqrt": "d sqrt(x)/dx at x = 0 is 1/(2*0): +inf in array code and on the llvm backend; "
            "a ZeroDivisionError on Python scalars, as Python's own division raises",
}


@dataclass
class Scatter:
    """A contribution `value` to the elements `index` of an array operand's adjoint."""

    spec: tuple
    index: Sequence[Value]
    value: Value


@dataclass
class Broadcast:
    """A contribution to every element of an array operand (from a reduction)."""

    value: Value


@dataclass
class TuplePart:
    """A contribution to one component of a tuple operand."""

    index: int
    value: Value


def vjp_rule(name: str):
    def deco(fn: Callable) -> Callable:
        VJP[name] = fn
        return fn
    return deco


def jvp_rule(name: str):
    def deco(fn: Callable) -> Callable:
        JVP[name] = fn
        return fn
    return deco


def has_rules() -> bool:
    from . import (rules, rules_array, rules_cumulative, rules_index,  # noqa: F401
                   rules_linalg)  # (registration at import)
    return True


Contributions = List[Optional[object]]
