"""Keys of the disk cache: everything compiled code depends on, found without compiling.

Assumes: plain Python functions; the frontend reads only what `fingerprint` walks: the
function's code (and code nested in it), the files it was defined in, its defaults,
closure cells and the globals its code names (through `LOAD_GLOBAL`, and attributes of
user modules named anywhere in its code), recursively through the user functions among
them.
Guarantees: `function_key(fn)` is a digest of, for `fn` and every user function it may
reach: the content of its source file, its code (bytecode, names, constants, positions),
its defaults, and the values of the closure cells and global constants it reads (numbers,
strings, arrays by content, tuples, lists, dicts, library functions and modules by name,
classes by name and source file). A value it cannot describe for certain (an arbitrary
object, a custom rule) raises `Uncacheable`: such a call is never cached. Walking more
than the frontend reads only makes keys miss more, never match wrongly. The numbers,
arrays and tuples an entry function takes as hidden arguments (closure cells and global
arrays it reads) contribute only that they are arguments: their types are in the call's
signature. `environment_key()` digests the versions of adjoin (and the stamp of its
source files), Python, NumPy and the platform.
"""
from __future__ import annotations

import builtins
import dis
import hashlib
import linecache
import os
import platform
import sys
import types
from typing import Any, Dict, Optional, Set, Tuple

import numpy as np

_MAX_ARRAY_BYTES = 64 * 2**20
_FILES: Dict[Tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> content digest
_ENV: Optional[str] = None


class Uncacheable(Exception):
    """The call depends on something a key cannot describe: compile it, never cache it."""


def digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def environment_key() -> str:
    global _ENV
    if _ENV is None:
        from .runtime import ABI_VERSION, __version__
        _ENV = digest("adjoin", __version__, ABI_VERSION, _source_stamp(),
                      sys.version, sys.implementation.name, platform.machine(),
                      platform.system(), np.__version__, sys.byteorder)
    return _ENV


def _source_stamp() -> str:
    """Names, sizes and modification times of adjoin's own source files (a change to the
    compiler changes every key)."""
    from . import runtime as runtime_package
    here = os.path.dirname(os.path.abspath(__file__))
    runtime = os.path.dirname(os.path.abspath(runtime_package.__file__))
    parts = []
    for top in (here, runtime):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(dirpath, name))
                    parts.append(f"{os.path.relpath(os.path.join(dirpath, name), top)}:"
                                 f"{st.st_size}:{st.st_mtime_ns}")
    return digest(*parts)


def file_digest(path: str) -> str:
    """The digest of a source file's content (of linecache's lines for code without a
    file, such as a notebook cell); Uncacheable when neither can be read."""
    try:
        st = os.stat(path)
    except OSError:
        lines = linecache.getlines(path)
        if not lines:
            raise Uncacheable(f"no source for {path}") from None
        return digest("lines", *lines)
    k = (path, st.st_mtime_ns, st.st_size)
    hit = _FILES.get(k)
    if hit is None:
        try:
            with open(path, "rb") as fh:
                hit = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            raise Uncacheable(f"cannot read {path}") from None
        _FILES[k] = hit
    return hit


def code_digest(code: types.CodeType) -> str:
    """Bytecode, names, constants and positions of `code` and the code nested in it
    (frozensets in sorted order: the digest does not depend on string hashing)."""
    consts = []
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            consts.append(code_digest(c))
        elif isinstance(c, frozenset):
            consts.append("frozenset" + repr(sorted(map(repr, c))))
        else:
            consts.append(f"{type(c).__name__}:{c!r}")
    lines = getattr(code, "co_linetable", None) or getattr(code, "co_lnotab", b"")
    return digest(code.co_code, code.co_names, code.co_varnames, code.co_freevars,
                  code.co_cellvars, code.co_argcount, code.co_posonlyargcount,
                  code.co_kwonlyargcount, code.co_flags, code.co_firstlineno,
                  getattr(code, "co_qualname", code.co_name), lines, *consts)


def _global_names(code: types.CodeType) -> Tuple[Set[str], Set[str]]:
    """The names `code` (and nested code) loads as globals, and every name it uses as an
    attribute or global (candidates for attributes of modules)."""
    loads = {i.argval for i in dis.get_instructions(code)
             if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            inner_loads, inner_names = _global_names(c)
            loads |= inner_loads
            names |= inner_names
    return loads, names


def function_key(fn: Any) -> str:
    """The digest of everything the compilation of entry function `fn` reads (see the
    module docstring); Uncacheable when some of it cannot be described."""
    return _Walk().function(fn, entry=True)


class _Walk:
    def __init__(self) -> None:
        self.seen: Dict[int, str] = {}

    def function(self, fn: types.FunctionType, entry: bool = False) -> str:
        from .frontend.captures import is_value
        from .frontend.source import library_file
        if library_file(fn):
            return digest("libfunction", fn.__module__, fn.__qualname__)
        if id(fn) in self.seen:  # recursion: named, not walked again
            return digest("recursive", fn.__qualname__)
        self.seen[id(fn)] = fn.__qualname__
        code = fn.__code__
        parts = ["function", code.co_filename, fn.__qualname__, file_digest(code.co_filename),
                 code_digest(code), entry]
        parts += [self.value(d) for d in fn.__defaults__ or ()]
        parts += [f"{k}={self.value(v)}" for k, v in sorted((fn.__kwdefaults__ or {}).items())]
        loads, names = _global_names(code)
        for var, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                v = cell.cell_contents
            except ValueError:
                parts.append(f"{var}:unbound")
                continue
            parts.append(f"{var}:" + ("argument" if entry and is_value(v) else self.value(v)))
        g = fn.__globals__
        for name in sorted(loads):
            if name in g:
                v = g[name]
                if entry and isinstance(v, np.ndarray):
                    parts.append(f"{name}:argument")  # a hidden argument (global_arrays)
                else:
                    parts.append(f"{name}:" + self.value(v, names))
            elif hasattr(builtins, name):
                parts.append(f"{name}:builtin")
            else:
                parts.append(f"{name}:missing")
        return digest(*parts)

    def value(self, v: Any, attrs: Set[str] = frozenset()) -> str:
        if v is None or isinstance(v, (bool, int, float, complex, str, bytes, np.generic)):
            return digest(type(v).__name__, repr(v))
        if isinstance(v, np.ndarray):
            if v.nbytes > _MAX_ARRAY_BYTES or v.dtype.hasobject:
                raise Uncacheable("a large or object array constant")
            return digest("array", v.dtype.str, v.shape, np.ascontiguousarray(v).tobytes())
        if isinstance(v, (tuple, list)):
            return digest(type(v).__name__, *(self.value(x, attrs) for x in v))
        if isinstance(v, dict):
            return digest("dict", *sorted(f"{k!r}:{self.value(x, attrs)}" for k, x in v.items()))
        inner = getattr(v, "__adjoin_function__", None)
        if isinstance(inner, types.FunctionType):
            return digest("differentiable", type(v).__qualname__, self.function(inner))
        if isinstance(v, types.FunctionType):
            return self.function(v)
        if isinstance(v, types.ModuleType):
            return self.module(v, attrs)
        if isinstance(v, type):
            return self.cls(v)
        if isinstance(v, (types.BuiltinFunctionType, np.ufunc)):
            return digest("builtin", getattr(v, "__module__", None), v.__name__)
        raise Uncacheable(f"a value of type {type(v).__name__}")

    def module(self, m: types.ModuleType, attrs: Set[str]) -> str:
        file = getattr(m, "__file__", None)
        if file is None or _library(m, file):
            return digest("module", m.__name__)
        if id(m) in self.seen:
            return digest("module", m.__name__)
        self.seen[id(m)] = m.__name__
        parts = ["usermodule", m.__name__, file_digest(file)]
        for a in sorted(attrs):
            if a in m.__dict__:
                parts.append(f"{a}:" + self.value(m.__dict__[a], attrs))
        return digest(*parts)

    def cls(self, c: type) -> str:
        module = sys.modules.get(c.__module__)
        file = getattr(module, "__file__", None)
        if c.__module__ == "builtins" or (file is not None and _library(module, file)):
            return digest("class", c.__module__, c.__qualname__)
        if file is None:
            raise Uncacheable(f"class {c.__qualname__} without a source file")
        return digest("class", c.__module__, c.__qualname__, file_digest(file))


def _library(module: types.ModuleType, file: str) -> bool:
    """Whether `module` (defined in `file`) belongs to the standard library, an installed
    package or adjoin (whose versions are in the environment key)."""
    from .frontend.source import library_file
    probe = types.SimpleNamespace(__module__=module.__name__,
                                  __code__=types.SimpleNamespace(co_filename=file))
    return library_file(probe) or module.__name__.partition(".")[0] == "adjoin"
