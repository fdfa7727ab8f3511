"""Structured values: lists, dicts with string keys, namedtuples and dataclasses.

Assumes: the pytree registry of optree (namespace "adjoin", where dataclasses are
registered the first time one is met).
Guarantees: a structured value is an IR tuple of its children (in optree's order: dict
keys sorted, fields in declaration order), nested for nested structures. Beside the IR
type the frontend keeps the node's one-level optree spec: as a `Struct` kind for values
(kinds.py) and as a `StructType` entry in signatures, which is unequal to the plain tuple
type (so a dict and a tuple of the same leaves get their own specializations) and prints
as it. `to_nested` turns an argument into the nested tuples compiled code takes,
`rebuild` turns results (and gradients, which have their argument's structure) back.
Plain tuples stay tuples; a string key or field absent from a structure is a TypingError
at the user's line.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, List, Sequence

import optree

from ..ir.types import TupleType, Type

NAMESPACE = "adjoin"
_REGISTERED: set = set()


@dataclass(frozen=True)
class StructType(TupleType):
    """A signature entry for a structured argument: its children's types and its node's
    one-level spec. Never the type of an IR value (see `kinds.split`)."""
    spec: Any = None


class Struct(tuple):
    """The kind of a structured value: the kinds of its children, and its node's spec."""
    spec: Any

    def __new__(cls, parts: Sequence[Any], spec: Any) -> "Struct":
        self = super().__new__(cls, parts)
        self.spec = spec
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Struct) and self.spec == other.spec and \
            tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((tuple(self), self.spec))


def is_structure(value: Any) -> bool:
    """Whether `value` is a list, dict, namedtuple or dataclass instance (a node adjoin
    passes as a structure; plain tuples are tuples)."""
    if isinstance(value, (list, dict)):
        return True
    if isinstance(value, tuple):
        return is_namedtuple_class(type(value))
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def is_namedtuple_class(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def register_dataclass(cls: type) -> None:
    """Make optree flatten instances of the dataclass `cls` by their init fields."""
    if cls in _REGISTERED:
        return
    fields = dataclasses.fields(cls)
    if any(not f.init for f in fields):
        raise TypeError(f"adjoin: the dataclass {cls.__name__} has fields set outside "
                        "__init__; adjoin passes dataclasses whose fields are all init fields")
    names = tuple(f.name for f in fields)
    optree.register_pytree_node(
        cls, lambda obj: (tuple(getattr(obj, n) for n in names), names, names),
        lambda meta, children: cls(**dict(zip(meta, children))), namespace=NAMESPACE)
    _REGISTERED.add(cls)


def node_spec(node: Any) -> Any:
    """The one-level spec of a structured value (its children as leaves)."""
    if dataclasses.is_dataclass(node):
        register_dataclass(type(node))
    return optree.tree_structure(node, is_leaf=lambda x: x is not node, namespace=NAMESPACE)


def children(node: Any) -> List[Any]:
    if dataclasses.is_dataclass(node):
        register_dataclass(type(node))
    return list(optree.tree_flatten_one_level(node, namespace=NAMESPACE)[0])


def struct_type(value: Any, what: str, typeof: Callable[[Any, str], Type]) -> StructType:
    """The signature entry of a structured argument (TypeError naming a bad part)."""
    if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
        raise TypeError(f"adjoin: {what} is a dict whose keys are not all strings; adjoin "
                        "passes dicts with string keys")
    spec = node_spec(value)
    names = spec.entries()
    elts = tuple(typeof(c, f"{what}[{k!r}]" if isinstance(k, str) and spec.type is dict
                        else f"{what}.{k}" if isinstance(k, str) else f"{what}[{k}]")
                 for k, c in zip(names, children(value)))
    return StructType(elts, spec)


def to_nested(value: Any, t: Type) -> Any:
    """An argument of signature type `t` as compiled code takes it (nested tuples)."""
    if isinstance(t, StructType):
        return tuple(to_nested(c, e) for c, e in zip(children(value), t.elts))
    if isinstance(t, TupleType):
        return tuple(to_nested(c, e) for c, e in zip(value, t.elts))
    return value


def has_structure(t: Type) -> bool:
    if isinstance(t, StructType):
        return True
    return isinstance(t, TupleType) and any(has_structure(e) for e in t.elts)


def rebuild(value: Any, t: Type) -> Any:
    """A value compiled code returned (nested tuples) in the structure `t` describes;
    None (no derivative) stays None."""
    if value is None or not has_structure(t):
        return value
    parts = [rebuild(v, e) for v, e in zip(value, t.elts)]
    return t.spec.unflatten(parts) if isinstance(t, StructType) else tuple(parts)


def flatten_like(value: Any, t: Type, what: str) -> Any:
    """A user-given value shaped like a structured argument or result (a tangent, a
    cotangent) as nested tuples; a TypeError when its structure differs."""
    if not has_structure(t):
        return value
    if isinstance(t, StructType):
        if not is_structure(value) or node_spec(value) != t.spec:
            raise TypeError(f"adjoin: {what} must have the structure {t.spec}, got "
                            f"{type(value).__name__}")
        parts = children(value)
    else:
        if not isinstance(value, tuple) or len(value) != len(t.elts):
            raise TypeError(f"adjoin: {what} must be a tuple of {len(t.elts)}")
        parts = list(value)
    return tuple(flatten_like(p, e, f"{what}[{i}]") for i, (p, e) in
                 enumerate(zip(parts, t.elts)))
