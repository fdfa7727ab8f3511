"""Source retrieval: a Python function to its gast tree with true file positions.

Assumes: the function was defined in a file, or its source was registered with
`linecache` (as `exec`-generated code in tests does).
Guarantees: `get_source(fn)` returns the `gast.FunctionDef` (lambdas are wrapped
into one) whose nodes carry `lineno`/`col_offset` of the original file, or raises
`CompileError` explaining why the source is unavailable.
"""
from __future__ import annotations

import inspect
import linecache
import textwrap
import types
from dataclasses import dataclass
from typing import List, Optional

import gast

from ..errors import CompileError, Loc


@dataclass
class SourceInfo:
    fn: types.FunctionType
    file: str
    node: gast.FunctionDef
    is_lambda: bool

    def loc(self, node) -> Loc:
        return Loc(self.file, getattr(node, "lineno", 0) or 0, getattr(node, "col_offset", 0) or 0)


def _shift_positions(tree, line_offset: int, col_offset: int) -> None:
    for node in gast.walk(tree):
        if hasattr(node, "lineno") and node.lineno is not None:
            node.lineno += line_offset
            if getattr(node, "end_lineno", None) is not None:
                node.end_lineno += line_offset
            node.col_offset = (node.col_offset or 0) + col_offset


def _source_lines(fn) -> tuple:
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError) as e:
        raise CompileError(
            f"cannot read the source of '{getattr(fn, '__qualname__', fn)}': {e}. adjoin compiles "
            "functions defined in files (or registered with linecache)", None, "source") from None
    return lines, max(start, 1)


def get_source(fn) -> SourceInfo:
    """Parse the definition of `fn` (a def or a lambda) with gast."""
    lines, start = _source_lines(fn)
    file = fn.__code__.co_filename
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = _indent_of(lines)
    if fn.__name__ == "<lambda>":
        return _lambda_source(fn, file, lines, start)
    try:
        tree = gast.parse(dedented)
    except SyntaxError as e:
        raise CompileError(f"cannot parse the source of '{fn.__qualname__}': {e.msg}",
                           Loc(file, start, 0), "source") from None
    _shift_positions(tree, start - 1, indent)
    for node in tree.body:
        if isinstance(node, gast.FunctionDef) and node.name == fn.__name__:
            node.decorator_list = []  # decorators run in CPython, never compiled
            return SourceInfo(fn, file, node, False)
    raise CompileError(f"cannot find the definition of '{fn.__qualname__}' in its source",
                       Loc(file, start, 0), "source")


def _indent_of(lines: List[str]) -> int:
    for line in lines:
        if line.strip():
            return len(line) - len(line.lstrip())
    return 0


def _lambda_source(fn, file: str, lines: List[str], start: int) -> SourceInfo:
    """Find the lambda defining `fn` among the lambdas on its first line."""
    tree = _parse_fragment(lines)
    if tree is None:
        raise CompileError("cannot parse the source of this lambda; define it with 'def'",
                           Loc(file, start, 0), "lambda")
    _shift_positions(tree, start - 1, 0)
    line = fn.__code__.co_firstlineno
    want = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    candidates = [n for n in gast.walk(tree) if isinstance(n, gast.Lambda) and n.lineno == line
                  and tuple(a.id for a in n.args.args) == tuple(want)]
    chosen = _match_lambda(fn, candidates)
    if chosen is None:
        raise CompileError("cannot tell which lambda on this line is being compiled; "
                           "define it with 'def'", Loc(file, line, 0), "lambda")
    fdef = gast.FunctionDef(name="<lambda>", args=chosen.args,
                            body=[gast.Return(value=chosen.body)], decorator_list=[],
                            returns=None, type_comment=None, type_params=[])
    gast.copy_location(fdef, chosen)
    gast.copy_location(fdef.body[0], chosen.body)
    return SourceInfo(fn, file, fdef, True)


def _parse_fragment(lines: List[str]) -> Optional[gast.AST]:
    text = textwrap.dedent("".join(lines))
    # A lambda's source may be a fragment of a larger statement; trim until it parses.
    for end in range(len(text), 0, -1):
        chunk = text[:end]
        try:
            return gast.parse(chunk)
        except SyntaxError:
            pass
        try:
            return gast.parse("(" + chunk.strip() + ")")
        except SyntaxError:
            continue
    return None


def _match_lambda(fn, candidates) -> Optional[gast.Lambda]:
    if len(candidates) == 1:
        return candidates[0]
    code = fn.__code__
    for cand in candidates:
        src = "lambda " + gast.unparse(cand.args) + ": " + gast.unparse(cand.body)
        try:
            compiled = compile(src, code.co_filename, "eval")
        except SyntaxError:
            continue
        inner = [c for c in compiled.co_consts if isinstance(c, types.CodeType)]
        if inner and inner[0].co_code == code.co_code and inner[0].co_names == code.co_names:
            return cand
    return None


def register_source(filename: str, text: str) -> None:
    """Make `text` retrievable as the source of code compiled under `filename`."""
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
