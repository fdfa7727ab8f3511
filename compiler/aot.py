"""Ahead-of-time compilation: a function and its gradient as a shared library.

Assumes: a function adjoin compiles for the given signature on the llvm backend,
and a C compiler driver ($CC, else cc, gcc or clang) to link LLVM's object code.
Guarantees: `compile_aot(f, signature, out_dir, wrt=...)` writes into `out_dir`
  lib<name>.so   the primal `adjoin_<name>`, the value and gradient
                 `adjoin_<name>_grad` (absent when wrt=None), `adjoin_<name>_info`
                 (JSON metadata) and the context functions, for the signature;
  <name>.h       the C declarations, each documented;
  <name>.py      a loader needing only adjoin.runtime and NumPy, which refuses a
                 library of another adjoin version, signature or wrt, and checks
                 the library's size and SHA-256 (recorded here) before loading it.
Files are replaced atomically, so a loader never sees a half-written library.
A missing or failing C compiler raises ToolchainError.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

from llvmlite import ir as llir

from .ir.types import parse_signature
from .primal import check_backend, module_of, specialize, unwrap
from .aot_text import c_header, loader_module
from .derivatives import check_wrt_types, gradient_ir, wrt_indices
from .errors import BackendError, ToolchainError
from .ir.core import Module
from .ir.types import Type
from .runtime import ABI_VERSION, __version__
from .runtime.aot import library_file

Signature = Union[str, Sequence[Type]]


@dataclass
class Artifact:
    """The files of one ahead-of-time build."""
    library: str
    header: str
    loader: str
    info: Dict[str, Any]


def compile_aot(fn: Callable, signature: Signature, out_dir: str,
                wrt: Union[int, str, Sequence[Union[int, str]], None] = 0,
                name: Optional[str] = None, cpu: str = "host",
                error_model: str = "python") -> Artifact:
    """Compile `fn` (and, unless wrt=None, its value and gradient with respect to `wrt`)
    for `signature` (text like "f64[:], i64") into a shared library in `out_dir`.

    `cpu="host"` tunes for this machine; name an LLVM CPU ("x86-64-v2", "generic") to
    build a library for other machines. `error_model` as for `adjoin.differentiable`
    (recorded in the library's metadata). Returns the paths written.

    The library is loaded without the compiler (`import adjoin.runtime`) through the
    generated loader, or from C through the header.

    Args:
        fn: the function (plain or `adjoin.differentiable`).
        signature: the parameter types, text like "f64[:], i64" or a sequence of types.
        out_dir: the folder to write into (created when needed).
        wrt: the gradient's parameters (index, name or tuple), or None for no gradient.
        name: the library's name (a Python identifier); `fn`'s name by default.
        cpu: "host", or an LLVM CPU name such as "x86-64-v2" or "generic".
        error_model: "python" or "numpy".

    Returns:
        An `Artifact` with the paths of the `library`, `header` and `loader` and the
        metadata `info`.

    Raises:
        adjoin.ToolchainError: no C compiler to link the library.
        TypeError: the signature's length differs from `fn`'s parameters.
        ValueError: `name` is not an identifier; an unknown error model.
        adjoin.CompileError: `fn` cannot be compiled, differentiated or lowered.

    Example:
        >>> def f(x):
        ...     return np.sum(x * x)
        >>> art = adjoin.compile_aot(f, "f64[:]", tmp)
        >>> import os; os.path.exists(art.library) and art.header.endswith("f.h")
        True
    """
    check_backend("llvm", error_model)
    cc = c_compiler()  # before any work: without one nothing can be linked
    f = unwrap(fn)
    name = name or f.__name__
    if not name.isidentifier():
        raise ValueError(f"adjoin: the library name {name!r} is not a Python identifier")
    types = parse_signature(signature) if isinstance(signature, str) else tuple(signature)
    names = list(_parameters(f))
    if len(types) != len(names):
        raise TypeError(f"adjoin: {f.__name__}() takes {len(names)} arguments, but the signature "
                        f"gives {len(types)} types")
    module, symbols, info = _module(f, name, types, wrt)
    info["error_model"] = error_model
    text = _llvm_text(module, symbols, name, info)
    os.makedirs(out_dir, exist_ok=True)
    from .backends.llvm.jit import object_code
    library = os.path.join(out_dir, library_file(name))
    _link(cc, object_code(text, cpu), library)
    header = _write(os.path.join(out_dir, f"{name}.h"), c_header(f, names, types, info))
    loader = _write(os.path.join(out_dir, f"{name}.py"),
                    loader_module(f, names, info, file_digest(library)))
    return Artifact(library, header, loader, info)


def _parameters(f: Callable) -> Sequence[str]:
    from .calls import parameter_names
    return list(parameter_names(f))


def _module(f: Callable, name: str, types: Tuple[Type, ...], wrt
            ) -> Tuple[Module, Dict[str, str], Dict[str, Any]]:
    """The IR of the primal (and gradient) in one module, their symbols, and the metadata."""
    primal = specialize(f, types)
    module = Module(list(module_of(primal)))
    symbols = {primal.name: f"adjoin_{name}"}
    info: Dict[str, Any] = {
        "adjoin": __version__, "abi": ABI_VERSION, "name": name,
        "signature": ", ".join(str(t) for t in types), "wrt": None,
        "source": f"{f.__code__.co_filename}:{f.__code__.co_firstlineno}",
        "mutates": list(primal.attrs.get("mutates") or ()),
        "entries": {"primal": _entry(f"adjoin_{name}", primal)}}
    if wrt is not None:
        indices, _ = wrt_indices(f, wrt)
        check_wrt_types(f, types, indices)
        g, gmod = gradient_ir(f, types, indices, with_value=True)
        for h in gmod:
            if h.name not in module:
                module.add(h)
        symbols[g.name] = f"adjoin_{name}_grad"
        info["wrt"] = list(indices)
        info["entries"]["gradient"] = _entry(f"adjoin_{name}_grad", g)
    return module, symbols, info


def _entry(symbol: str, fir) -> Dict[str, Any]:
    return {"symbol": symbol, "params": [str(t) for t in fir.param_types],
            "result": str(fir.result_type)}


def _llvm_text(module: Module, symbols: Dict[str, str], name: str, info: Dict[str, Any]) -> str:
    from .backends.llvm import build
    for fn_ir in module:
        for op in fn_ir.walk():
            if op.name == "print":  # it calls back into Python: a library runs without it
                raise BackendError("print() in a function compiled ahead of time is not "
                                   "supported: the library runs without Python; remove the "
                                   "print or use the JIT", op.loc, "print")
    ml, _ = build(module, symbols, info["error_model"])
    _define_info(ml.m, f"adjoin_{name}_info", json.dumps(info, sort_keys=True))
    return str(ml.m)


def _define_info(m: llir.Module, symbol: str, text: str) -> None:
    """`const char *symbol(void)` returning `text` (NUL-terminated)."""
    data = bytearray(text.encode()) + b"\0"
    ty = llir.ArrayType(llir.IntType(8), len(data))
    g = llir.GlobalVariable(m, ty, f"{symbol}.text")
    g.global_constant = True
    g.linkage = "private"
    g.initializer = llir.Constant(ty, data)
    fn = llir.Function(m, llir.FunctionType(llir.IntType(8).as_pointer(), []), symbol)
    b = llir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(b.bitcast(g, llir.IntType(8).as_pointer()))


# -- files -----------------------------------------------------------------------------------


def c_compiler() -> str:
    """The C compiler driver used to link: $CC, else cc, gcc or clang on PATH."""
    for cand in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cand and shutil.which(cand.split()[0]):
            return cand
    raise ToolchainError("adjoin: linking a shared library needs a C compiler (cc, gcc or "
                         "clang) on PATH, or its name in $CC")


def _link(cc_name: str, obj: bytes, library: str) -> None:
    cc = cc_name.split()
    shared = ["-dynamiclib"] if sys.platform == "darwin" else ["-shared", "-Wl,-Bsymbolic"]
    out_dir = os.path.dirname(os.path.abspath(library))
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        obj_path = os.path.join(tmp, "code.o")
        with open(obj_path, "wb") as fh:
            fh.write(obj)
        tmp_lib = os.path.join(tmp, os.path.basename(library))
        cmd = cc + shared + ["-o", tmp_lib, obj_path, "-lm"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:
            raise ToolchainError(f"adjoin: running {cmd[0]} failed: {e}") from None
        if done.returncode != 0:
            raise ToolchainError(f"adjoin: linking {library} failed ({' '.join(cmd)}):\n"
                                 f"{done.stderr.strip()}")
        os.replace(tmp_lib, library)


def file_digest(path: str) -> Dict[str, Any]:
    """The size and SHA-256 of a file, which its loader checks before loading it."""
    import hashlib
    with open(path, "rb") as fh:
        data = fh.read()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _write(path: str, text: str) -> str:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


__all__ = ["Artifact", "compile_aot", "c_compiler"]
