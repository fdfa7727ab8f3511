"""The Python backend: IR module -> readable Python source -> a callable.

Assumes: a verified IR module whose functions call only functions in the module.
Guarantees: `compile_module` writes the source to a real file (so tracebacks,
`inspect.getsource` and debuggers show it), compiles it from there and returns
the entry function together with the text. The text starts with its imports and
runs standalone (it needs NumPy and, for a few helpers, `adjoin.runtime`).
The module given is not changed (in-place marks are made on a copy).
"""
from __future__ import annotations

import builtins
import hashlib
import os
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from ...ir.core import Module, clone_function
from ...passes.inplace import mark_inplace
from .emit import FunctionEmitter
from .exprs import Modules

_IMPORTS = {"math": "import math", "np": "import numpy as np",
            "rt": "from adjoin.runtime import pyops as rt"}


@dataclass
class CompiledPython:
    fn: Callable
    source: str
    path: str
    namespace: Dict[str, object]


def module_source(module: Module, header: str = "") -> str:
    mods = Modules()
    reserved = set(_IMPORTS) | set(module.functions) | set(dir(builtins))
    bodies = []
    for f in module:
        f = clone_function(f)  # the marks are this backend's: leave the shared IR as it was
        mark_inplace(f)
        bodies.append(FunctionEmitter(f, mods, reserved).function())
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    imports = [_IMPORTS[k] for k in ("math", "np", "rt") if k in mods.used]
    parts = ["\n".join(lines)] if lines else []
    if imports:
        parts.append("\n".join(imports))
    parts += bodies
    return "\n\n\n".join(parts) + "\n"


def cache_dir() -> str:
    d = os.environ.get("ADJOIN_CACHE_DIR") or os.path.join(tempfile.gettempdir(),
                                                            f"adjoin-{_uid()}", "python")
    os.makedirs(d, exist_ok=True)
    return d


def _uid() -> str:
    try:
        return str(os.getuid())
    except AttributeError:  # pragma: no cover - Windows
        return "user"


def write_source(stem: str, source: str) -> str:
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"{stem}_{digest}.py")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    return path


def compile_module(module: Module, entry: str, header: str = "",
                   source: Optional[str] = None) -> CompiledPython:
    source = source if source is not None else module_source(module, header)
    path = write_source(entry, source)
    code = compile(source, path, "exec")
    namespace: Dict[str, object] = {"__name__": f"adjoin_generated.{entry}", "__file__": path}
    exec(code, namespace)
    return CompiledPython(namespace[entry], source, path, namespace)  # type: ignore[arg-type]
