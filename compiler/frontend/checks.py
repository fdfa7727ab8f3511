"""Rejection of Python syntax adjoin does not compile.

Assumes: a gast FunctionDef with file positions (from `source.get_source`).
Guarantees: returns normally only if every node is of a kind the later stages
handle; otherwise raises `UnsupportedSyntax` naming the construct at its position,
so that no later stage ever meets an unexpected node kind.
"""
from __future__ import annotations

import gast

from ..errors import UnsupportedSyntax
from .source import SourceInfo

_REJECTED = {
    gast.Try: "try/except",
    gast.With: "the 'with' statement",
    gast.AsyncWith: "'async with'",
    gast.AsyncFor: "'async for'",
    gast.AsyncFunctionDef: "async functions",
    gast.Await: "'await'",
    gast.Yield: "'yield' (generators)",
    gast.YieldFrom: "'yield from' (generators)",
    gast.ClassDef: "class definitions",
    gast.Global: "the 'global' statement",
    gast.Nonlocal: "the 'nonlocal' statement",
    gast.Raise: "the 'raise' statement",
    gast.Import: "import statements inside the function",
    gast.ImportFrom: "import statements inside the function",
    gast.Delete: "the 'del' statement",
    gast.Starred: "starred expressions (*args)",
    gast.DictComp: "dict comprehensions",
    gast.SetComp: "set comprehensions",
    gast.Set: "sets",
    gast.JoinedStr: "f-strings",
    gast.FormattedValue: "f-strings",
    gast.NamedExpr: "the walrus operator ':='",
    gast.Match: "the 'match' statement",
}
for _name in ("TryStar",):
    if hasattr(gast, _name):
        _REJECTED[getattr(gast, _name)] = "try/except*"


def check_function(src: SourceInfo) -> None:
    """Raise UnsupportedSyntax at the first construct adjoin cannot compile."""
    fdef = src.node
    _check_signature(src, fdef)
    docstring = _docstring_node(fdef)
    dtypes = _dtype_strings(fdef)
    for node in gast.walk(fdef):
        kind = _REJECTED.get(type(node))
        if kind is not None:
            raise UnsupportedSyntax(f"{kind} is not supported by adjoin", src.loc(node), kind)
        if isinstance(node, (gast.FunctionDef, gast.Lambda)) and node is not fdef:
            _check_signature(src, node)
        if isinstance(node, gast.Constant) and isinstance(node.value, (str, bytes)):
            if node is not docstring and id(node) not in dtypes and \
                    not _is_assert_message(fdef, node):
                raise UnsupportedSyntax(STRINGS, src.loc(node), "strings")
        if isinstance(node, gast.Constant) and isinstance(node.value, complex):
            raise UnsupportedSyntax("complex numbers are not supported by adjoin",
                                    src.loc(node), "complex numbers")
        if isinstance(node, gast.Constant) and node.value is Ellipsis:
            raise UnsupportedSyntax("'...' is not supported by adjoin", src.loc(node), "Ellipsis")
        if isinstance(node, gast.Call):
            for kw in node.keywords:
                if kw.arg is None:
                    raise UnsupportedSyntax("'**' in calls is not supported by adjoin",
                                            src.loc(node), "**kwargs")
        if isinstance(node, gast.FunctionDef) and node.decorator_list and node is not fdef:
            raise UnsupportedSyntax("decorators on nested functions are not supported",
                                    src.loc(node), "decorators")
        if isinstance(node, (gast.For, gast.comprehension)):
            _check_loop_keywords(src, node.iter)
        if isinstance(node, (gast.ListComp, gast.GeneratorExp)):
            for comp in node.generators:
                if comp.is_async:
                    raise UnsupportedSyntax("async comprehensions are not supported",
                                            src.loc(node), "async comprehension")


_LOOP_KEYWORDS = {"enumerate": ("start",), "zip": ()}


def _check_loop_keywords(src: SourceInfo, it) -> None:
    """enumerate(seq, start=k) is understood; other keywords (zip's strict) are not."""
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Name):
        allowed = _LOOP_KEYWORDS.get(it.func.id)
        for k in it.keywords if allowed is not None else ():
            if k.arg not in allowed:
                raise UnsupportedSyntax(f"{it.func.id}() with the keyword '{k.arg}' is not "
                                        "supported by adjoin", src.loc(k.value), "keyword")


def _check_signature(src: SourceInfo, fdef) -> None:
    args = fdef.args
    if args.vararg is not None:
        raise UnsupportedSyntax("*args parameters are not supported by adjoin",
                                src.loc(args.vararg), "*args")
    if args.kwarg is not None:
        raise UnsupportedSyntax("**kwargs parameters are not supported by adjoin",
                                src.loc(args.kwarg), "**kwargs")
    if args.kwonlyargs:
        raise UnsupportedSyntax("keyword-only parameters are not supported by adjoin",
                                src.loc(args.kwonlyargs[0]), "keyword-only parameters")


def _docstring_node(fdef):
    if fdef.body and isinstance(fdef.body[0], gast.Expr):
        v = fdef.body[0].value
        if isinstance(v, gast.Constant) and isinstance(v.value, str):
            return v
    return None


STRINGS = ("strings are supported by adjoin only as constants read at compile time: dict "
           "keys, docstrings, assert messages, print arguments, einsum subscripts, norm "
           "orders and dtype names")


def _dtype_strings(fdef) -> set:
    """Ids of string constants read at compile time: dtype names (`dtype="float32"`,
    `x.astype("int64")`), sort algorithms (`kind="stable"`), norm orders (`ord="fro"`),
    dict keys (`{"w": ...}`, `p["w"]`) and call arguments (`print("loss", x)`,
    `np.einsum("ij,j", ...)`; a callee that takes no string refuses it when translated)."""
    out = set()
    for n in gast.walk(fdef):
        if isinstance(n, gast.Subscript):
            out.add(id(n.slice))
        if isinstance(n, gast.Dict):
            out.update(id(k) for k in n.keys if k is not None)
        if not isinstance(n, gast.Call):
            continue
        out.update(id(a) for a in n.args)
        for kw in n.keywords:
            if kw.arg in ("dtype", "kind", "sep", "end", "ord") and \
                    isinstance(kw.value, gast.Constant):
                out.add(id(kw.value))
        if isinstance(n.func, gast.Attribute) and n.func.attr == "astype" and n.args:
            out.add(id(n.args[0]))
    return out


def _is_assert_message(fdef, node) -> bool:
    for n in gast.walk(fdef):
        if isinstance(n, gast.Assert) and n.msg is node:
            return True
        if isinstance(n, gast.FunctionDef) and n is not fdef and _docstring_node(n) is node:
            return True
    return False
