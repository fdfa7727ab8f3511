"""The backend interface: what every backend provides, and the registry of backends by name.

Assumes: verbs hand a backend verified, typed IR modules (primal, gradient, tangent or
split forward/backward code) and the names of the entry functions they want.
Guarantees: a backend is one object with one contract (`Backend`), registered by name
with `register`; `target(name, error_model)` validates both and returns the hashable
`Target` every compile cache is keyed by. Verbs call `Target.compile` and `Target.source`
and never branch on a backend's name: a new backend is one new module that registers an
object here. A backend whose libraries are missing is a BackendError when chosen, never
an ImportError at import time.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import BackendError
from ..runtime import is_tensor
from ..ir.core import Module

ERROR_MODELS = ("python", "numpy")


class Backend:
    """One way to run IR. Subclasses set `name` and implement `compile` and `source`."""

    name = ""
    #: the error models whose meaning the backend implements (others are refused)
    error_models: Tuple[str, ...] = ("python",)
    #: what `source` returns: "python" (readable code a user can run) or another language
    source_language = "python"
    #: whether compiled code takes the caller's values as they are (then repeated
    #: positional calls may skip `arguments` and go straight to it)
    direct_calls = True
    #: how `adjoin.vmap` batches for this backend: "arrays" (every op over the batch, a
    #: loop with a per-lane condition masked) or "lanes" (a compiled loop over the lanes,
    #: each running the unbatched code: no masking, each lane its own trip counts)
    batching = "arrays"

    def check_available(self) -> None:
        """Raise BackendError when the libraries the backend needs are missing."""

    def compile(self, module: Module, entries: Sequence[str], header: str,
                error_model: str) -> List[Callable]:
        """One callable per entry function of `module`, taking and returning what the
        Python backend's function takes and returns (the backend's own array type)."""
        raise NotImplementedError

    def source(self, module: Module, entry: str, header: str, error_model: str) -> str:
        """The text this backend generates for `entry` (for reading, not for running)."""
        raise NotImplementedError

    # The disk cache (`persist.py`): a backend whose compiled callables carry
    # `__adjoin_persist__ = (payload, index)` (a picklable payload) can rebuild them with
    # `restore(payload)` in another process, without compiling.

    def persist_version(self, error_model: str) -> Optional[str]:
        """What besides adjoin's own versions determines the payloads (library versions,
        host CPU, settings); None when the backend's code is never persisted."""
        return None

    def restore(self, payload: Any) -> List[Callable]:
        """The callables of a payload saved by another process (any exception: a miss)."""
        raise NotImplementedError

    def arguments(self, values: Tuple[Any, ...], names: Sequence[str]
                  ) -> Tuple[Tuple[Any, ...], Callable[[Any], Any]]:
        """The values compiled code takes for these arguments (TypeError for a kind of
        value the backend does not take), and the function that turns its results back
        into what the caller expects. NumPy backends refuse torch tensors."""
        for v, n in zip(values, names):
            if is_tensor(v):
                raise TypeError(f"adjoin: {n} is a torch tensor; the {self.name} backend "
                                "runs on NumPy arrays: use backend=\"torch\" (or pass "
                                "t.numpy())")
        return values, _same

    def copy_into(self, destination: Any, source: Any) -> None:
        """Write an array result into the caller's array (writes into arguments)."""
        import numpy as np
        np.copyto(destination, source)

    def cotangent(self, ct: Any, value: Any, fname: str) -> Any:
        """A caller's cotangent for the compiled result `value` of `fname`, checked against
        its structure (TypeError) and broadcast to its shape, as the backend's values."""
        import numpy as np
        if isinstance(value, tuple):
            return tuple(self.cotangent(c, v, fname)
                         for c, v in zip(check_tuple(ct, value, fname), value))
        if isinstance(value, np.ndarray):
            ct = np.asarray(ct, dtype=value.dtype) if not isinstance(ct, np.ndarray) else ct
            if ct.shape != value.shape:
                ct = np.broadcast_to(ct, value.shape).copy()
            return ct
        return scalar_cotangent(ct, value, fname)

    def zeros_like(self, value: Any) -> Any:
        import numpy as np
        return np.zeros_like(value)

    # The memory a split forward pass leaves to its backward pass.

    def new_tape(self, forward: Callable) -> Any:
        return []

    def freeze(self, tape: Any) -> Any:
        return list(tape)

    def thaw(self, frozen: Any) -> Any:
        return list(frozen)

    def tape_nbytes(self, tape: Any) -> int:
        return sum(_nbytes(v) for v in tape)


def check_tuple(ct: Any, value: tuple, fname: str) -> tuple:
    if not isinstance(ct, tuple) or len(ct) != len(value):
        raise TypeError(f"adjoin: {fname}() returns a tuple of {len(value)}; the "
                        "cotangent must be a tuple of the same length")
    return ct


def scalar_cotangent(ct: Any, value: Any, fname: str) -> Any:
    """The cotangent of a scalar output: a float (0 or False for int and bool outputs,
    which carry no derivative: their cotangent is unused)."""
    import numpy as np
    if getattr(ct, "ndim", None) == 0:
        ct = ct.item()
    if not isinstance(ct, (int, float, np.floating, np.integer)):
        raise TypeError(f"adjoin: the cotangent of {fname}()'s float output must be a "
                        f"number, got {type(ct).__name__}")
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return 0
    return float(ct)


def _same(x: Any) -> Any:
    return x


def _nbytes(v: Any) -> int:
    nbytes = getattr(v, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if isinstance(v, (tuple, list)):
        return sum(_nbytes(x) for x in v)
    return 8


REGISTRY: Dict[str, Backend] = {}
#: backends adjoin ships, by name -> the module that registers them (imported on first use)
BUILTIN = {"python": ".python", "llvm": ".llvm", "torch": ".torch"}


def register(backend: Backend) -> Backend:
    """Make `backend` available under its name (a later registration replaces it)."""
    REGISTRY[backend.name] = backend
    return backend


def get(name: str) -> Backend:
    """The backend registered as `name` (importing a built-in one on first use)."""
    hit = REGISTRY.get(name)
    if hit is None and name in BUILTIN:
        try:
            importlib.import_module(BUILTIN[name], __package__)
        except ImportError as e:
            raise BackendError(f"the {name} backend is not available ({e}); use "
                               "backend=\"python\"") from None
        hit = REGISTRY.get(name)
    if hit is None:
        known = sorted(set(REGISTRY) | set(BUILTIN))
        raise ValueError(f"adjoin: unknown backend {name!r}; choose one of "
                         f"{', '.join(repr(b) for b in known)}")
    return hit


@dataclass(frozen=True)
class Target:
    """Where compiled code runs: a backend, and how its scalar code treats errors
    ("python": CPython's exceptions; "numpy": IEEE and NumPy results, never raising).
    Part of every compile cache key."""
    name: str
    error_model: str = "python"

    @property
    def backend(self) -> Backend:
        return get(self.name)

    def compile(self, module: Module, entries: Sequence[str], header: str = ""
                ) -> List[Callable]:
        from ..compile_phases import finish_compile, timed
        with timed("codegen"):
            out = self.backend.compile(module, entries, header, self.error_model)
        finish_compile(entries[0], self.name)
        return out

    def compile_one(self, module: Module, entry: str, header: str = "") -> Callable:
        return self.compile(module, [entry], header)[0]

    def source(self, module: Module, entry: str, header: str = "") -> str:
        return self.backend.source(module, entry, header, self.error_model)


def target(backend: str, error_model: str = "python") -> Target:
    """The validated target for a backend name and an error model."""
    if not isinstance(backend, str):
        raise TypeError(f"adjoin: backend must be a name, got {type(backend).__name__}")
    if error_model not in ERROR_MODELS:
        raise ValueError(f"adjoin: unknown error_model {error_model!r}; choose one of "
                         f"{', '.join(repr(m) for m in ERROR_MODELS)}")
    b = get(backend)
    b.check_available()
    # Code that runs under CPython raises CPython's errors whatever was asked.
    return Target(b.name, error_model if error_model in b.error_models else "python")

