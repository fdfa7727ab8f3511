"""Syntactic name analyses on gast trees, and the translator's environment.

Assumes: desugared gast statements (see desugar.py).
Guarantees: `assigned_names` over-approximates the names a statement list may
rebind (plain, tuple, augmented and subscript assignment, loop targets, nested
defs, names passed to a call made as a statement or assigned, which may write into
them), never looking inside nested function bodies. `bound_names` is Python's
own rule for which names are local (only bindings: a name passed to a call or
written through a subscript stays global). `Env` maps names to IR
values or markers and tracks which array values may share memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, Optional, Set, Tuple

import gast


def _target_names(t, out: Set[str]) -> None:
    if isinstance(t, gast.Name):
        out.add(t.id)
    elif isinstance(t, (gast.Tuple, gast.List)):
        for e in t.elts:
            _target_names(e, out)
    elif isinstance(t, gast.Subscript):
        base = t.value
        while isinstance(base, gast.Subscript):
            base = base.value
        if isinstance(base, gast.Name):
            out.add(base.id)


def _call_arguments(v, out: Set[str]) -> None:
    """Names passed to a call made as a statement (or assigned): the callee may write
    into them (`fill(a, i)`, `np.add.at(a, idx, v)`)."""
    if isinstance(v, gast.Call):
        out.update(a.id for a in v.args if isinstance(a, gast.Name))


def assigned_names(stmts: Iterable) -> Set[str]:
    out: Set[str] = set()
    stack = list(stmts)
    while stack:
        s = stack.pop()
        if isinstance(s, gast.Assign):
            for t in s.targets:
                _target_names(t, out)
            _call_arguments(s.value, out)
        elif isinstance(s, gast.Expr):
            _call_arguments(s.value, out)
        elif isinstance(s, (gast.AugAssign, gast.AnnAssign)):
            _target_names(s.target, out)
        elif isinstance(s, gast.For):
            _target_names(s.target, out)
            stack += s.body + s.orelse
        elif isinstance(s, (gast.While, gast.If)):
            stack += s.body + s.orelse
        elif isinstance(s, gast.FunctionDef):
            out.add(s.name)
    return out


def bound_names(stmts: Iterable) -> Set[str]:
    """Names a statement list binds, as Python decides a function's locals."""
    out: Set[str] = set()
    stack = list(stmts)
    while stack:
        s = stack.pop()
        targets = (s.targets if isinstance(s, gast.Assign) else
                   [s.target] if isinstance(s, (gast.AugAssign, gast.AnnAssign, gast.For))
                   else [])
        for t in targets:
            if not isinstance(t, gast.Subscript):
                _target_names(t, out)
        if isinstance(s, (gast.For, gast.While, gast.If)):
            stack += s.body + s.orelse
        elif isinstance(s, gast.FunctionDef):
            out.add(s.name)
    return out


# ---------------------------------------------------------------------------
# Environment


class Unbound:
    """Marker: the name has no value on some path reaching here."""

    def __init__(self, reason: str = ""):
        self.reason = reason

    def __repr__(self) -> str:
        return f"<unbound {self.reason}>"


NOT_YET = Unbound()  # the desugarer's "no value yet" marker


@dataclass
class Closure:
    """A nested def or lambda: compiled when called, free names read at the call."""

    node: object           # gast.FunctionDef
    name: str
    env: "Env"             # the environment the function was defined in (for free names)


class Env:
    """Name bindings of one program point, copied at branches.

    `unsure` holds names bound on some paths only (read them and it is an error).
    """

    def __init__(self, vars: Optional[Dict[str, object]] = None, unsure: Iterable[str] = ()):
        self.vars: Dict[str, object] = dict(vars or {})
        self.unsure: Set[str] = set(unsure)

    def copy(self) -> "Env":
        return Env(self.vars, self.unsure)

    def get(self, name: str):
        return self.vars.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.vars

    def __getitem__(self, name: str):
        return self.vars[name]

    def __setitem__(self, name: str, value) -> None:
        self.vars[name] = value
        self.unsure.discard(name)

    def names(self):
        return list(self.vars)


def holds_arrays(t) -> bool:
    """An array type, or a tuple type with an array somewhere inside."""
    from ..ir.types import ArrayType, TupleType
    if isinstance(t, TupleType):
        return any(holds_arrays(e) for e in t.elts)
    return isinstance(t, ArrayType)


class Origins:
    """Which array objects each IR value may refer to, for aliasing checks.

    Fresh arrays get a new origin; views share their base's; merges unite. A tuple
    refers to what its elements refer to, and an element taken out of a tuple to what
    the tuple refers to, so arrays keep their aliasing through tuples.
    Entries are keyed by `id` and hold their value: a value dropped with a
    discarded loop attempt stays alive, so its id is never reused by another.
    """

    def __init__(self) -> None:
        self.of: Dict[int, Tuple[object, FrozenSet[int]]] = {}
        self.counter = 0

    def fresh(self, value) -> FrozenSet[int]:
        self.counter += 1
        s = frozenset([self.counter])
        self.of[id(value)] = (value, s)
        return s

    def same_as(self, value, *sources) -> None:
        s: FrozenSet[int] = frozenset()
        for src in sources:
            s |= self.get(src)
        self.of[id(value)] = (value, s)

    def get(self, value) -> FrozenSet[int]:
        entry = self.of.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        op = getattr(value, "op", None)
        if op is None or not holds_arrays(value.type):
            return frozenset()
        if op.name == "tuple":
            out: FrozenSet[int] = frozenset()
            for v in op.operands:
                out |= self.get(v)
            return out
        if op.name == "tuple_get":
            return self.get(op.operands[0])
        return self.fresh(value)  # an array an operator made (`x * 2.0`): a new one
