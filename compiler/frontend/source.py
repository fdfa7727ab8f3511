"""Source retrieval: a Python function to the syntax tree of exactly the code Python runs.

Assumes: the function was defined in a file, or its text was registered with
`linecache` (`register_source`), and was compiled from that text as `import` (or
`exec`) compiles it, pytest's assertion rewriting included.
Guarantees: `get_source(fn)` returns the definition whose compiled code object *is*
`fn.__code__` (equal, as CPython compares code: bytecode, constants, names, positions):
the file's current text is compiled, each code object of it is traced to its `def` or
`lambda` node through a tag compiled into a second copy of the tree (never by guessing
from names or lines), and `fn.__code__` is looked up among them (cached per file text).
So two lambdas on one line are told apart, a `functools.wraps` wrapper is its own code
(never `__wrapped__`), and a file edited since it was imported, or code that matches no
definition of its file, is a CompileError that says so; so is a missing source. The
node is a `gast.FunctionDef` (a lambda wrapped into one, decorators dropped) whose nodes
carry the positions of the original file. `check_user_code` refuses functions of the
standard library and installed packages: adjoin compiles only user code.
"""
from __future__ import annotations

import ast
import copy
import linecache
import os
import site
import sys
import sysconfig
import types
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import gast

from ..errors import CompileError, Loc, UnknownCallee

_TAG = "__adjoin_definition_"


@dataclass
class SourceInfo:
    fn: types.FunctionType
    file: str
    node: gast.FunctionDef
    is_lambda: bool
    key: Any = None  # the specialization key of the function being translated


    def loc(self, node) -> Loc:
        return Loc(self.file, getattr(node, "lineno", 0) or 0, getattr(node, "col_offset", 0) or 0)


@dataclass
class FileIndex:
    """The definitions of one file text, by the code object each compiles to."""
    text: str
    nodes: Dict[types.CodeType, ast.AST]
    error: Optional[str] = None  # why the text could not be compiled


_INDEX: Dict[str, FileIndex] = {}  # file name -> the index of its latest text


def get_source(fn) -> SourceInfo:
    """The definition (a def or a lambda) `fn.__code__` was compiled from, parsed with gast."""
    code = fn.__code__
    node = _definition(fn, code)
    if isinstance(node, ast.Lambda):
        lam = gast.ast_to_gast(node)
        fdef = gast.FunctionDef(name="<lambda>", args=lam.args,
                                body=[gast.Return(value=lam.body)], decorator_list=[],
                                returns=None, type_comment=None, type_params=[])
        gast.copy_location(fdef, lam)
        gast.copy_location(fdef.body[0], lam.body)
        return SourceInfo(fn, code.co_filename, fdef, True)
    plain = copy.copy(node)
    plain.decorator_list = []  # decorators run in CPython, never compiled
    return SourceInfo(fn, code.co_filename, gast.ast_to_gast(plain), False)


def _definition(fn, code: types.CodeType) -> ast.AST:
    file = code.co_filename
    where = Loc(file, code.co_firstlineno, 0)
    pytest_rewritten = "@py_builtins" in fn.__globals__
    index = _index(file, _text(file, fn), pytest_rewritten)
    node = index.nodes.get(code)
    if node is None:  # the cached text may be stale: read the file again
        linecache.checkcache(file)
        index = _index(file, _text(file, fn), pytest_rewritten)
        node = index.nodes.get(code)
    if node is not None:
        return node
    if not index.text:
        raise CompileError(
            f"cannot read the source of '{fn.__qualname__}' ({file} is not available). adjoin "
            "compiles functions defined in files (or registered with linecache)", None, "source")
    why = f" ({index.error})" if index.error else ""
    raise CompileError(
        f"the source of '{fn.__qualname__}' in {file} does not match the code Python runs{why}: "
        "the file changed since it was imported. adjoin compiles the code Python runs; reload "
        "the module (importlib.reload) or restart Python", where, "source")


def _text(file: str, fn) -> str:
    return "".join(linecache.getlines(file, fn.__globals__))


def _index(file: str, text: str, pytest_rewritten: bool) -> FileIndex:
    index = _INDEX.get(file)
    if index is None or index.text != text:
        index = _INDEX[file] = _build_index(file, text, pytest_rewritten)
    return index


def _build_index(file: str, text: str, pytest_rewritten: bool) -> FileIndex:
    """Compile `text` twice, once as is and once with a tag name in each definition, and
    pair the two code trees: the tag in a code object names its definition node."""
    try:
        clean = ast.parse(text, file)
        tagged = ast.parse(text, file)
    except (SyntaxError, ValueError) as e:
        return FileIndex(text, {}, f"its text does not parse: {e}")
    defs = _definitions(clean)
    for k, node in enumerate(_definitions(tagged)):
        tag = ast.Name(id=f"{_TAG}{k}", ctx=ast.Load())
        if isinstance(node, ast.Lambda):
            node.body = ast.copy_location(ast.Tuple(elts=[tag, node.body], ctx=ast.Load()),
                                          node.body)
            ast.copy_location(tag, node.body)
        else:
            node.body.insert(0, ast.copy_location(ast.Expr(value=tag), node.body[0]))
            ast.copy_location(tag, node.body[0])
    try:
        plain = _compile(ast.parse(text, file), text, file, pytest_rewritten)
        marked = _compile(tagged, text, file, pytest_rewritten)
    except (SyntaxError, ValueError) as e:
        return FileIndex(text, {}, f"its text does not compile: {e}")
    codes, marks = _code_tree(plain), _code_tree(marked)
    if len(codes) != len(marks):
        return FileIndex(text, {}, "its definitions could not be traced")
    nodes: Dict[types.CodeType, ast.AST] = {}
    for c, t in zip(codes, marks):
        tag = next((n for n in t.co_names if n.startswith(_TAG)), None)
        if tag is not None and c.co_name == t.co_name:
            nodes[c] = defs[int(tag[len(_TAG):])]
    return FileIndex(text, nodes)


def _definitions(tree: ast.AST) -> List[ast.AST]:
    return [n for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]


def _compile(tree: ast.Module, text: str, file: str, pytest_rewritten: bool) -> types.CodeType:
    if pytest_rewritten:  # the module was imported through pytest's assertion rewriting
        from _pytest.assertion.rewrite import rewrite_asserts
        rewrite_asserts(tree, text.encode(), file, None)
    return compile(tree, file, "exec", dont_inherit=True)


def _code_tree(code: types.CodeType) -> List[types.CodeType]:
    """Code objects in a fixed pre-order (the tagged tree has the same shape)."""
    out, stack = [], [code]
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(reversed([k for k in c.co_consts if isinstance(k, types.CodeType)]))
    return out


def register_source(filename: str, text: str) -> None:
    """Make `text` retrievable as the source of code compiled under `filename`."""
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)


# -- library code ---------------------------------------------------------------------


def _library_roots() -> Tuple[str, ...]:
    """Where the standard library and installed packages live (this environment and
    the base installation a virtual environment builds on)."""
    roots = set()
    for base in {(sys.prefix, sys.exec_prefix), (sys.base_prefix, sys.base_exec_prefix)}:
        paths = sysconfig.get_paths(vars={"base": base[0], "platbase": base[1],
                                          "installed_base": base[0],
                                          "installed_platbase": base[1]})
        roots.update(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    roots.update(getattr(site, "getsitepackages", lambda: [])())
    user = getattr(site, "getusersitepackages", lambda: None)()
    if user:
        roots.add(user)
    return tuple(sorted({os.path.realpath(r) + os.sep for r in roots if r}))


_ROOTS: Optional[Tuple[str, ...]] = None
_LIBRARY_MODULES = ("numpy", "scipy", "jax", "jaxlib", "torch", "adjoin")


def library_file(fn) -> bool:
    """True for a function of the standard library or an installed package: adjoin
    compiles only user code (a known primitive of such a library is an op instead)."""
    global _ROOTS
    owner = sys.modules.get(getattr(fn, "__module__", None) or "")
    if getattr(owner, "__adjoin_compiles__", False):  # models adjoin ships as plain Python
        return False
    module = (getattr(fn, "__module__", None) or "").partition(".")[0]
    if module in _LIBRARY_MODULES:
        return True
    file = fn.__code__.co_filename
    if file.startswith("<frozen "):
        return True
    if file.startswith("<"):
        return False
    if _ROOTS is None:
        _ROOTS = _library_roots()
    path = os.path.realpath(file)
    return path.startswith(_ROOTS)


def check_user_code(fn, call: Optional[Loc]) -> None:
    """Refuse a library function: an UnknownCallee at the user's `call`, or a
    CompileError for a function a verb was given (`call` None)."""
    if not library_file(fn):
        return
    if call is not None:
        from .primitives import nearest_supported
        raise UnknownCallee(f"'{fn.__module__}.{fn.__qualname__}' is not supported by adjoin: it "
                            "is neither a known primitive nor user code (adjoin does not compile "
                            f"the standard library or installed packages){nearest_supported(fn)}; "
                            "to use it anyway, wrap it with @adjoin.custom_vjp and give it a "
                            "derivative rule", call, "call")
    code = fn.__code__
    raise CompileError(f"'{fn.__qualname__}' belongs to the standard library or an installed "
                       "package; adjoin compiles only user code",
                       Loc(code.co_filename, code.co_firstlineno, 0), "library")
