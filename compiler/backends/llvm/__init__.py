"""The LLVM backend: typed IR -> LLVM IR (llvmlite) -> O3 -> machine code.

Assumes: verified IR modules (primal, gradient or tangent code).
Guarantees: `compile_entry(module, name)` returns a Python callable running the
native code of IR function `name` (same arguments and results as the Python
backend's function); `compile_entries` does it for several entry points of one
module sharing one engine; `module_llvm_ir` returns the LLVM IR text (after or
before optimization). The IR given is not modified. Types or ops the backend
cannot compile raise BackendError (a CompileError) naming them and suggesting
backend="python". `error_model` (every function takes it) is "python": ops marked
`checked` raise as CPython does; or "numpy": every op follows IEEE and NumPy and
never raises (the marks are dropped). The LLVM module's name records it, so the
disk cache (keyed by the LLVM IR text) keeps the two apart.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ...ir.core import Module
from ...passes.inplace import mark_inplace
from ...passes.markers import lower_markers
from ...ir.core import clone_function
from .accumulate import accumulate_in_place
from .accumulate_into import accumulate_into_callees
from .entry import define_entry, signature
from .lower import ModuleLowering
from .pyentry import define_py_entry
from ..base import Backend, register


ERROR_MODELS = ("python", "numpy")


def prepare(module: Module, error_model: str = "python") -> Module:
    """The backend's own copy: derivative markers lowered, in-place writes decided,
    and under error_model="numpy" no op `checked`."""
    if error_model not in ERROR_MODELS:
        raise ValueError(f"adjoin: unknown error_model {error_model!r}; choose "
                         f"{' or '.join(repr(m) for m in ERROR_MODELS)}")
    out = Module()
    for f in module:
        g = clone_function(f)
        lower_markers(g)
        mark_inplace(g)
        accumulate_in_place(g)
        if error_model == "numpy":
            for op in g.walk():
                op.attrs.pop("checked", None)
        out.add(g)
    accumulate_into_callees(out)
    return out


def entry_symbol(name: str) -> str:
    return f"adjoin_{name}"


def build(module: Module, entries: Union[Sequence[str], Dict[str, str]],
          error_model: str = "python",
          shared_runtime: bool = False) -> Tuple[ModuleLowering, Module]:
    """The lowered module with a C entry point per IR function in `entries` (named
    `adjoin_<name>`, or as `entries` maps them); with `shared_runtime` (JIT only) it
    links against the process's runtime (shared_runtime.py) instead of defining one."""
    symbols = entries if isinstance(entries, dict) else {n: entry_symbol(n) for n in entries}
    prepared = prepare(module, error_model)
    ml = ModuleLowering(prepared, f"adjoin error_model={error_model}", shared_runtime)
    for name, symbol in symbols.items():
        define_entry(ml, prepared[name], symbol)
    return ml, prepared


def module_llvm_ir(module: Module, name: str, optimized: bool = True,
                   error_model: str = "python") -> str:
    """The LLVM IR of `module` with an entry point for `name`."""
    ml, _ = build(module, [name], error_model)
    text = str(ml.m)
    if not optimized:
        return text
    from .jit import optimize
    optimized_module = optimize(text)
    optimized_module.name = ml.m.name  # names the error model, as the text above does
    return str(optimized_module)


def _add_symbols(symbols: Dict[str, int]) -> None:
    import llvmlite.binding as llvm
    for k, address in symbols.items():
        llvm.add_symbol(k, address)


def compile_entries(module: Module, names: Sequence[str],
                    error_model: str = "python") -> List[Callable]:
    """Native callables for entries `names`; each carries `__adjoin_persist__` (the object
    code and entry table, see `restore`) for the disk cache."""
    from ...runtime.native import python_symbols
    from .jit import machine_code
    from .shared_runtime import engine
    engine()  # loaded before any module that links against it
    ml, prepared = build(module, names, error_model, shared_runtime=True)
    symbols = python_symbols()
    table = []
    for name in names:
        py = None
        if symbols is not None:  # entry points that convert Python arguments in machine code
            fn = ml.m.get_global(entry_symbol(name))
            if define_py_entry(ml, prepared[name], fn, py_symbol(name)) is not None:
                py = py_symbol(name)
        params, result = signature(prepared[name])
        table.append((name, entry_symbol(name), py, params, result))
    payload = (machine_code(str(ml.m)), tuple(table))
    out = restore(payload)
    for k, f in enumerate(out):
        f.__adjoin_persist__ = (payload, k)
    return out


def restore(payload) -> List[Callable]:
    """The callables of `payload` = (object code, ((name, symbol, Python entry symbol or
    None, parameter types, result type), ...)), loaded into an engine of this process."""
    from ...runtime.native import NativeFunction, Runtime, python_symbols
    from ...runtime.printing import symbols as printing_symbols
    from .jit import load
    from .shared_runtime import address
    obj, table = payload
    symbols = python_symbols()
    if symbols is None and any(py for _, _, py, _, _ in table):
        raise RuntimeError("the object code needs Python entry symbols this process lacks")
    _add_symbols(printing_symbols())
    if symbols is not None:
        _add_symbols(symbols)
    address("adjoin_ctx_new")  # the shared runtime, loaded before `obj` links against it
    engine = load(obj)
    rt = Runtime(lambda name: engine.get_function_address(name) or address(name))
    return [NativeFunction(engine.get_function_address(symbol), list(params), result, rt, name,
                           keepalive=engine,
                           py_address=engine.get_function_address(py) if py else 0)
            for name, symbol, py, params, result in table]


def py_symbol(name: str) -> str:
    return f"adjoin_py_{name}"


def compile_entry(module: Module, name: str, error_model: str = "python") -> Callable:
    return compile_entries(module, [name], error_model)[0]


@functools.lru_cache(maxsize=None)
def _versions() -> str:
    """llvmlite's and LLVM's versions, the target and the host CPU with its features."""
    import llvmlite
    import llvmlite.binding as llvm
    from .jit import target_machine
    return "|".join(map(str, ("llvm", llvmlite.__version__, llvm.llvm_version_info,
                              target_machine().triple, llvm.get_host_cpu_name(),
                              llvm.get_host_cpu_features().flatten())))


class LLVMBackend(Backend):
    """Native code for the CPU through LLVM; tapes live in the native call context."""

    name = "llvm"
    batching = "lanes"  # native loops: one lane at a time beats masked array code
    error_models = ERROR_MODELS
    source_language = "llvm"

    def compile(self, module: Module, entries: Sequence[str], header: str,
                error_model: str) -> List[Callable]:
        return compile_entries(module, entries, error_model)

    def source(self, module: Module, entry: str, header: str, error_model: str) -> str:
        return module_llvm_ir(module, entry, error_model=error_model)

    def persist_version(self, error_model: str) -> Optional[str]:
        from . import arrays, jit, lower, runtime_ir
        return "|".join(map(str, (_versions(), jit.PIPELINE, error_model, lower.FUSE,
                                  arrays.BOUNDS, runtime_ir.check_memory())))

    def restore(self, payload: Any) -> List[Callable]:
        return restore(payload)

    def new_tape(self, forward: Callable) -> Any:
        from ...runtime.native import NativeTape
        return NativeTape(forward.runtime)

    def freeze(self, tape: Any) -> Any:
        tape.mark = tape.runtime.tape_size(tape.ctx)  # each pullback starts from here
        return tape

    def thaw(self, frozen: Any) -> Any:
        return frozen

    def tape_nbytes(self, tape: Any) -> int:
        """The call context: the tape buffer and every array allocated in the pass."""
        return int(tape.runtime.ctx_bytes(tape.ctx))


register(LLVMBackend())
