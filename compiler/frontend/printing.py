"""`print(...)` inside compiled functions.

Assumes: the translator of `primitives` (its `prim` registry).
Guarantees: `print(a, "text", b, sep=..., end=..., flush=...)` becomes one `print` op
whose operands are the numbers and arrays printed and whose attributes hold the constant
texts and where they go; every backend prints what CPython prints (each value as `str`
gives it). Texts, `sep` and `end` must be string constants; printing a tuple, list or
dict, or `file=`, is an UnsupportedSyntax error at the call.
"""
from __future__ import annotations

import builtins

import gast

from ..errors import TypingError, UnsupportedSyntax
from ..ir.types import NONE, ArrayType, ScalarType
from .primitives import prim, static_bool


@prim(builtins.print)
def _print(tr, node):
    texts, at, values = [], [], []
    for k, a in enumerate(node.args):
        if isinstance(a, gast.Starred):
            raise UnsupportedSyntax("print(*...) is not supported", tr.loc(a), "print")
        if isinstance(a, gast.Constant) and isinstance(a.value, str):
            texts.append(a.value)
            at.append(k)
            continue
        v = tr.value(a)
        if v.type == NONE:  # None prints as its name
            texts.append("None")
            at.append(k)
            continue
        if not isinstance(v.type, (ScalarType, ArrayType)):
            raise UnsupportedSyntax(f"print of a value of type {v.type} is not supported; "
                                    "print numbers and arrays (and the items of a tuple)",
                                    tr.loc(a), "print")
        values.append(v)
    attrs = {"texts": tuple(texts), "at": tuple(at)}
    for k in node.keywords:
        if k.arg in ("sep", "end"):
            if not (isinstance(k.value, gast.Constant) and isinstance(k.value.value, str)):
                raise TypingError(f"print's {k.arg} must be a string constant",
                                  tr.loc(k.value), "print")
            attrs[k.arg] = k.value.value
        elif k.arg == "flush":
            attrs["flush"] = static_bool(tr, k.value, "flush")
        else:
            raise UnsupportedSyntax(f"print's keyword '{k.arg}' is not supported (sep, end "
                                    "and flush are)", tr.loc(k.value), "print")
    tr.b.op("print", values, attrs, result_types=[])
    return tr.b.const(None)
