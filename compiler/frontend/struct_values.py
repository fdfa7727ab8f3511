"""Translating structured values: list and dict literals, key and attribute reads,
namedtuple and dataclass construction.

Assumes: the expression translator (`tr`: builder, kinds, `loc`, `value`, `kind`,
`const_value`); structs.py for the representation.
Guarantees: a structure built in a function is an IR `tuple` of its children in optree's
order with a `Struct` kind naming its node, the same representation arguments have, so
structures pass between functions and come back to the caller in their Python form.
Reads resolve at compile time: `p["w"]` (a constant string key), `p.w` (a field), `p[0]`;
a key or field the structure lacks is a TypingError at the read, as are non-constant
keys. Structures are values: writing into one (`p["w"] = ...`, `lst.append`) is refused.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional

import gast

from ..errors import TypingError, UnsupportedSyntax
from ..ir.core import Value
from .structs import Struct, is_namedtuple_class, node_spec

_WHAT = {dict: "dict", list: "list"}


def build(tr, node_obj: Any, items: Dict[Any, Value]) -> Value:
    """A structure like `node_obj` (a placeholder instance) with children `items` (by
    key, field or index)."""
    spec = node_spec(node_obj)
    parts = [items[k] for k in spec.entries()]
    r = tr.b.emit("tuple", *parts)
    return tr.kinds.set(r, Struct([tr.kind(x) for x in parts], spec))


def list_literal(tr, node) -> Value:
    if any(isinstance(e, gast.Starred) for e in node.elts):
        raise UnsupportedSyntax("starred items in a list are not supported", tr.loc(node),
                                "list")
    items = [tr.value(e) for e in node.elts]
    return build(tr, [0] * len(items), dict(enumerate(items)))


def dict_literal(tr, node) -> Value:
    items: Dict[str, Value] = {}
    for k, v in zip(node.keys, node.values):
        if k is None:  # {**other, ...}
            other = tr.value(v)
            for key, item in zip(*_dict_entries(tr, other, v)):
                items[key] = item
            continue
        key = k.value if isinstance(k, gast.Constant) else None
        if not isinstance(key, str):
            raise TypingError("dict keys must be constant strings in adjoin", tr.loc(k),
                              "dict")
        items.pop(key, None)  # a repeated key: the last value, in the first one's place
        items[key] = tr.value(v)
    return build(tr, {k: 0 for k in items}, items)


def _dict_entries(tr, v: Value, node):
    s = struct_kind(tr, v)
    if s is None or s.spec.type is not dict:
        raise TypingError("only a dict can be unpacked into a dict with **", tr.loc(node),
                          "dict")
    keys = s.spec.entries()
    return keys, [tr.tuple_item(v, i) for i in range(len(keys))]


def struct_kind(tr, v: Any) -> Optional[Struct]:
    k = tr.kind(v) if isinstance(v, Value) else False
    return k if isinstance(k, Struct) else None


def describe(s: Struct) -> str:
    t = s.spec.type
    if t in _WHAT:
        return _WHAT[t]
    return f"{t.__name__} {'namedtuple' if is_namedtuple_class(t) else 'instance'}"


def key_read(tr, base: Value, node) -> Optional[Value]:
    """`base[key]` for a dict `base`: the child, resolved at compile time (None when
    `base` is not a dict)."""
    s = struct_kind(tr, base)
    if s is None or s.spec.type is not dict:
        return None
    key = node.slice.value if isinstance(node.slice, gast.Constant) else None
    if not isinstance(key, str):
        raise TypingError("a dict is read with a constant string key in adjoin",
                          tr.loc(node.slice), "dict")
    keys = s.spec.entries()
    if key not in keys:
        raise TypingError(f"the dict has no key {key!r} (its keys: "
                          f"{', '.join(map(repr, keys))})", tr.loc(node), "dict")
    return tr.tuple_item(base, keys.index(key))


def field_read(tr, base: Value, attr: str, node) -> Optional[Value]:
    """`base.attr` for a namedtuple or dataclass `base` (None for other values)."""
    s = struct_kind(tr, base)
    if s is None or s.spec.type in _WHAT:
        return None
    cls = s.spec.type
    fields = list(cls._fields) if is_namedtuple_class(cls) else list(s.spec.entries())
    if attr not in fields:
        raise TypingError(f"{describe(s)} has no field '{attr}' that adjoin can read (its "
                          f"fields: {', '.join(fields)})", tr.loc(node), "attribute")
    return tr.tuple_item(base, fields.index(attr))


def is_record_class(obj: Any) -> bool:
    return is_namedtuple_class(obj) or (isinstance(obj, type) and
                                        dataclasses.is_dataclass(obj))


def construct(tr, cls: type, node) -> Value:
    """`cls(...)` for a namedtuple or dataclass class: binds the arguments to the fields
    as Python does (defaults included)."""
    if is_namedtuple_class(cls):
        names = list(cls._fields)
        defaults = dict(getattr(cls, "_field_defaults", {}))
    else:
        fields = [f for f in dataclasses.fields(cls) if f.init]
        names = [f.name for f in fields]
        defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    given: Dict[str, Value] = {}
    if len(node.args) > len(names) or any(isinstance(a, gast.Starred) for a in node.args):
        raise TypingError(f"{cls.__name__}() takes {len(names)} arguments", tr.loc(node),
                          cls.__name__)
    for name, a in zip(names, node.args):
        given[name] = tr.value(a)
    for k in node.keywords:
        if k.arg not in names or k.arg in given:
            raise TypingError(f"{cls.__name__}() got an unexpected or repeated argument "
                              f"'{k.arg}'", tr.loc(k.value), cls.__name__)
        given[k.arg] = tr.value(k.value)
    for name in names:
        if name not in given:
            if name not in defaults:
                raise TypingError(f"{cls.__name__}() is missing the argument '{name}'",
                                  tr.loc(node), cls.__name__)
            given[name] = tr.as_value(tr.static_object(defaults[name], name, node), node)
    if is_namedtuple_class(cls):  # optree names namedtuple children by position
        given = {i: given[n] for i, n in enumerate(names)}
    return build(tr, _placeholder(cls, names), given)


def _placeholder(cls: type, names: List[str]) -> Any:
    if is_namedtuple_class(cls):
        return cls(*[0] * len(names))
    obj = object.__new__(cls)  # no __init__/__post_init__: only the structure matters
    for n in names:
        object.__setattr__(obj, n, 0)
    return obj


def refuse_write(tr, base: Value, node) -> None:
    s = struct_kind(tr, base)
    if s is not None:
        raise UnsupportedSyntax(f"writing into a {describe(s)} is not supported in adjoin; "
                                "build a new one instead", tr.loc(node), "structure write")
