"""adjoin: a source-to-source differentiating compiler for Python.

    import adjoin

    @adjoin.differentiable
    def f(x, n): ...

    adjoin.grad(f)(x, n)
    print(adjoin.adjoint_source(f, wrt=0))

Imports are lazy (PEP 562): `import adjoin.runtime`, which ahead-of-time
artifacts need, loads neither gast nor llvmlite.
"""
from __future__ import annotations

import importlib
from typing import Any

from .runtime import __version__  # noqa: E402  (one place for the version)
from .compile_phases import configure_logging as _configure_logging

_configure_logging()  # ADJOIN_LOG=info: compile times on stderr (compile_phases)

_EXPORTS = {
    "differentiable": ".api", "Differentiable": ".api",
    "CompileError": ".errors", "AdjoinError": ".errors", "UnsupportedSyntax": ".errors",
    "UnknownCallee": ".errors", "TypingError": ".errors", "NotDifferentiable": ".errors",
    "BackendError": ".errors", "PipelineError": ".errors",
    "grad": ".derivatives", "value_and_grad": ".derivatives", "vjp": ".derivatives",
    "adjoint_source": ".sources", "llvm_ir": ".sources", "tangent_source": ".sources",
    "compile_aot": ".aot", "ToolchainError": ".errors",
    "set_cache_dir": ".cache_store", "cache_info": ".cache_store", "clear_cache": ".cache_store",
    "jvp": ".forward_api", "hessian": ".forward_api",
    "hvp": ".forward_api", "derivative": ".forward_api", "jacobian": ".forward_api",
    "compile_stats": ".compile_phases",
    "custom_vjp": ".custom", "custom_jvp": ".custom", "stop_gradient": ".custom",
    "straight_through": ".custom", "vmap": ".vmapped", "checkpointed": ".checkpoint",
}

__all__ = sorted(_EXPORTS) + ["ir", "torch", "pipeline", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("ir", "torch", "pipeline"):  # the IR package (callable as adjoin.ir(f, *args)), interop
        return importlib.import_module("." + name, __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'adjoin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
