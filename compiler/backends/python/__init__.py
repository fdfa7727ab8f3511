"""The Python backend: IR module -> readable Python source -> a callable.

Assumes: a verified IR module whose functions call only functions in the module.
Guarantees: `compile_module` writes the source to a real file (so tracebacks,
`inspect.getsource` and debuggers show it; written atomically, safe from several
threads and processes), compiles it from there and returns the entry function
together with the text. The text starts with its imports and
runs standalone (it needs NumPy and, for a few helpers, `adjoin.runtime`); the
opaque functions of custom rules, named in the header, are the exception. The
IR given is not modified: the backend works on its own copy.
The module given is not changed (in-place marks are made on a copy).
"""
from __future__ import annotations

import builtins
import hashlib
import os
import sys
import tempfile
import types
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from ...ir.core import Function, Module, clone_function
from ...cache_store import folder
from ...compile_phases import count
from ...custom import REGISTRY as CUSTOM
from ...passes.inplace import mark_inplace
from ...passes.markers import lower_markers
from ..base import Backend, register
from .emit import FunctionEmitter
from .exprs import Modules

_IMPORTS = {"math": "import math", "np": "import numpy as np",
            "rt": "from adjoin.runtime import pyops as rt",
            "ri": "from adjoin.runtime import indexing as ri"}


@dataclass
class CompiledPython:
    fn: Callable
    source: str
    path: str
    namespace: Dict[str, object]


def prepare(f: Function) -> Function:
    """The backend's own copy of `f` (the shared IR stays as it was): derivative markers
    lowered, in-place writes decided."""
    g = clone_function(f)
    lower_markers(g)
    mark_inplace(g)
    return g


def module_source(module: Module, header: str = "") -> str:
    return _module_source(module, header)[0]


def _module_source(module: Module, header: str, emitter=FunctionEmitter,
                   imports: Dict[str, str] = _IMPORTS):
    """The source text of `module` as `emitter` writes its functions, and the keys of the
    custom rules it calls. `imports` maps the module names code may use to their import."""
    mods = Modules()
    reserved = set(imports) | set(module.functions) | set(dir(builtins)) | set(CUSTOM)
    prepared = [prepare(f) for f in module]
    make = emitter.for_module(prepared)
    bodies = [make(f, mods, reserved).function() for f in prepared]
    for key in sorted(mods.custom):
        fn = CUSTOM[key].fn
        header += (f"\n{key}: {getattr(fn, '__qualname__', fn)} from "
                   f"{getattr(fn, '__module__', '?')}, run by CPython (a custom rule)")
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    used = [imports[k] for k in imports if k in mods.used]
    parts = ["\n".join(lines)] if lines else []
    if used:
        parts.append("\n".join(used))
    parts += bodies
    return "\n\n\n".join(parts) + "\n", mods.custom


_PRIVATE: List[str] = []  # this process's own folder while the disk cache is off


def cache_dir() -> str:
    """The `python/` folder of adjoin's disk cache (`cache_store`); with the cache off, a
    temporary folder of this process, removed when it exits."""
    d = folder("python")
    if d is None:
        if not _PRIVATE:
            import atexit
            import shutil
            _PRIVATE.append(tempfile.mkdtemp(prefix="adjoin-python-"))
            atexit.register(shutil.rmtree, _PRIVATE[0], True)
        d = _PRIVATE[0]
    os.makedirs(d, exist_ok=True)
    return d


def write_source(stem: str, source: str) -> str:
    """The file holding `source` (named by its hash). It is written under a fresh
    temporary name and renamed into place, so threads and processes writing it at once
    never see a partial file or each other's temporary."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    directory = cache_dir()
    path = os.path.join(directory, f"{stem}_{digest}.py")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}_", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(source)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    return path


def compile_module(module: Module, entry: str, header: str = "", emitter=FunctionEmitter,
                   imports: Dict[str, str] = _IMPORTS,
                   opaque: Callable[[object], Callable] = lambda spec: spec.fn
                   ) -> CompiledPython:
    """`module` compiled from a real file; `opaque(spec)` is what the code calls for a
    custom rule's function."""
    count("python_codegen")
    source, custom = _module_source(module, header, emitter, imports)
    path = write_source(entry, source)
    code = compile(source, path, "exec")
    mod = _module_for(path)
    namespace: Dict[str, object] = mod.__dict__
    for key in custom:  # the opaque functions of custom rules are handed to the code
        namespace[key] = opaque(CUSTOM[key])
    exec(code, namespace)
    return CompiledPython(namespace[entry], source, path, namespace)  # type: ignore[arg-type]


def _module_for(path: str) -> types.ModuleType:
    """A module registered under `adjoin_generated.<file name>`, so that tools that look
    code up by module (pickle, inspect, torch.compile) find it."""
    package = sys.modules.get("adjoin_generated")
    if package is None:
        package = sys.modules.setdefault("adjoin_generated", types.ModuleType("adjoin_generated"))
        package.__path__ = []  # type: ignore[attr-defined]
    name = "adjoin_generated." + os.path.splitext(os.path.basename(path))[0]
    mod = types.ModuleType(name)
    mod.__file__ = path
    sys.modules[name] = mod
    return mod


class PythonBackend(Backend):
    """Readable Python over NumPy, run by CPython."""

    name = "python"

    def compile(self, module: Module, entries: Sequence[str], header: str,
                error_model: str) -> List[Callable]:
        c = compile_module(module, entries[0], header)
        out = [c.namespace[e] for e in entries]
        if not any(k in c.namespace for k in CUSTOM):  # custom rules: never persisted
            payload = (entries[0], c.source, tuple(entries))
            for k, f in enumerate(out):
                f.__adjoin_persist__ = (payload, k)  # type: ignore[attr-defined]
        return out  # type: ignore[return-value]

    def persist_version(self, error_model: str) -> Optional[str]:
        return "python-source-1"

    def restore(self, payload) -> List[Callable]:
        """Run the saved source (written to its file again) and return its entries."""
        stem, source, entries = payload
        path = write_source(stem, source)
        mod = _module_for(path)
        exec(compile(source, path, "exec"), mod.__dict__)
        return [mod.__dict__[e] for e in entries]

    def source(self, module: Module, entry: str, header: str, error_model: str) -> str:
        return module_source(module, header)


register(PythonBackend())
