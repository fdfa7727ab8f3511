"""Loading an ahead-of-time adjoin library: the shared library, checked, as Python functions.

Assumes: a library written by `adjoin.compile_aot` (see docs/llvm-backend.md): it
exports `adjoin_<name>_info()`, a JSON text describing its version, signature and
entry points, the context functions, and the entry points themselves.
Guarantees: `Library(path, expected)` first checks the file's size and SHA-256
against those its loader recorded at build time (so a truncated or altered file
is refused, never mapped into the process), then loads the library and refuses
it (AotError, saying what differs and how to rebuild) when it was built by another adjoin
version or ABI, or for another function, signature or `wrt` than the loader
expects. `primal`, `gradient` and `value_and_grad` then behave like
`adjoin.differentiable(f, backend="llvm")`, `adjoin.grad(f, wrt)` and
`adjoin.value_and_grad(f, wrt)` for the compiled signature. Needs NumPy and this
package only: neither gast nor llvmlite is imported.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import sys
from typing import Any, Dict, Tuple

import numpy as np

from . import ABI_VERSION, __version__
from .native import NativeFunction, Runtime


class AotError(ImportError):
    """An ahead-of-time library that cannot be used with this runtime or loader."""


def library_file(name: str) -> str:
    """The file name of the shared library for function `name` on this platform."""
    if sys.platform == "darwin":
        return f"lib{name}.dylib"
    return f"{name}.dll" if sys.platform == "win32" else f"lib{name}.so"


class Library:
    """One loaded ahead-of-time library of a function and its gradient."""

    def __init__(self, path: str, expected: Dict[str, Any]):
        self.path = path
        self.name = expected["name"]
        _verify(path, expected)
        try:
            self.lib = ctypes.CDLL(os.path.abspath(path))
        except OSError as e:
            raise AotError(f"adjoin: cannot load {path}: {e}") from None
        self.info = self._read_info()
        self._check(expected)
        runtime = Runtime(self._address)
        self.functions = {
            kind: NativeFunction(self._address(entry["symbol"]), entry["params"],
                                 entry["result"], runtime, self.name, keepalive=self.lib)
            for kind, entry in self.info["entries"].items()}
        self.wrt = tuple(self.info["wrt"])
        self.mutates = tuple(self.info.get("mutates", ()))

    def _address(self, symbol: str) -> int:
        try:
            return ctypes.cast(getattr(self.lib, symbol), ctypes.c_void_p).value
        except AttributeError:
            raise AotError(f"adjoin: {self.path} lacks the symbol {symbol}; rebuild it with "
                           "`adjoin aot`") from None

    def _read_info(self) -> Dict[str, Any]:
        info_fn = ctypes.CFUNCTYPE(ctypes.c_char_p)(self._address(f"adjoin_{self.name}_info"))
        try:
            return json.loads(info_fn().decode())
        except ValueError:
            raise AotError(f"adjoin: {self.path} carries unreadable metadata") from None

    def _check(self, expected: Dict[str, Any]) -> None:
        got = self.info
        rebuild = f"rebuild it with `adjoin aot` (adjoin {__version__})"
        if got.get("abi") != ABI_VERSION or got.get("adjoin") != __version__:
            raise AotError(f"adjoin: {self.path} was built by adjoin {got.get('adjoin')} (ABI "
                           f"{got.get('abi')}), but this is adjoin {__version__} (ABI "
                           f"{ABI_VERSION}); {rebuild}")
        for key in ("name", "signature", "wrt"):
            if got.get(key) != expected.get(key):
                raise AotError(f"adjoin: {self.path} was built for {key} {got.get(key)!r}, but "
                               f"its loader expects {expected.get(key)!r}; {rebuild}")

    # -- calls ---------------------------------------------------------------------------------

    def primal(self, *args: Any) -> Any:
        """The function's value, with its writes into array arguments applied."""
        out = self.functions["primal"](*args)
        if not self.mutates:
            return out
        value, *new = out
        for idx, arr in zip(self.mutates, new):
            np.copyto(args[idx], arr)
        return value

    def value_and_grad(self, *args: Any, seed: float = 1.0) -> Tuple[Any, Any]:
        """`(value, gradient)`; the gradient is a tuple when `wrt` names several arguments.
        `seed` scales the gradient (the cotangent of the output)."""
        value, *grads = self.functions["gradient"](*args, seed)
        return value, (grads[0] if len(grads) == 1 else tuple(grads))

    def gradient(self, *args: Any) -> Any:
        """The gradient with respect to the `wrt` arguments."""
        return self.value_and_grad(*args)[1]


def _verify(path: str, expected: Dict[str, Any]) -> None:
    """The file is the one the loader was generated with (size, then SHA-256)."""
    rebuild = "rebuild it with `adjoin aot` (or adjoin.compile_aot)"
    if "sha256" not in expected or "size" not in expected:
        raise AotError(f"adjoin: the loader of {path} records no size and hash to check the "
                       f"library against; {rebuild}")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise AotError(f"adjoin: cannot read {path}: {e}; {rebuild}") from None
    if len(data) != expected["size"]:
        raise AotError(f"adjoin: {path} has {len(data)} bytes, but was built with "
                       f"{expected['size']} (truncated or replaced?); {rebuild}")
    if hashlib.sha256(data).hexdigest() != expected["sha256"]:
        raise AotError(f"adjoin: {path} does not match the SHA-256 recorded when it was "
                       f"built (altered or replaced?); {rebuild}")


def load(module_file: str, expected: Dict[str, Any]) -> Library:
    """The library beside a generated loader module (`module_file` is its __file__)."""
    here = os.path.dirname(os.path.abspath(module_file))
    return Library(os.path.join(here, library_file(expected["name"])), expected)


__all__ = ["AotError", "Library", "library_file", "load"]
