"""The native runtime compiled once per process, for every JIT module to call.

Assumes: the runtime of runtime_ir.py without checked memory (modules built with
ADJOIN_CHECK_MEMORY=1 define their own runtime, as ahead-of-time libraries do).
Guarantees: `engine()` compiles the runtime's module once (or takes its object
code from the disk cache's `runtime/` folder), loads it and registers each
exported function (adjoin_ctx_new, adjoin_alloc, ...) with LLVM, so that modules
built with `Runtime(m, shared=True)`, which only declare them, link against these
definitions; `address(name)` is a function's address there. Compiling the
runtime into every module cost each compile about 50 ms of LLVM time
(docs/llvm-backend.md#compile-time).
"""
from __future__ import annotations

import threading

from llvmlite import ir

_LOCK = threading.Lock()
_ENGINE = None


def engine():
    """The loaded runtime (compiled on the first call in the process)."""
    global _ENGINE
    with _LOCK:
        if _ENGINE is None:
            import llvmlite.binding as llvm
            from . import jit
            from .runtime_ir import Runtime
            m = ir.Module(name="adjoin runtime")
            Runtime(m)
            loaded = jit.load(jit.machine_code(str(m), "runtime"))
            for f in m.functions:
                if not f.is_declaration and f.linkage != "internal":
                    llvm.add_symbol(f.name, loaded.get_function_address(f.name))
            _ENGINE = loaded
    return _ENGINE


def address(name: str) -> int:
    return engine().get_function_address(name)
