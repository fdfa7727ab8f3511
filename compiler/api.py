"""The public API: `differentiable`, `ir`, and (in ad_api) the derivative functions.

Assumes: user functions written in the supported subset of Python (docs/).
Guarantees: a `Differentiable` called with arguments compiles the function for
their types once (cached per specialization, shared by every function of the same code
and closure kind: the closures of one factory compile once) and returns what CPython
returns for the undecorated function, writes into array arguments included. Argument
errors are `TypeError`s as Python raises them; unsupported code is a `CompileError` at
its source position. Compilation holds `COMPILE_LOCK`; compiled code runs outside it.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from . import derivatives, forward_api
from .calls import (Call, bind_arguments, fast_key, parameter_names, prepare,  # noqa: F401
                    signature_of)
from .errors import CompileError
from .ir.printer import print_module
from .ir.types import Type, parse_signature  # noqa: F401
from .persist import compiled_call
from .primal import (cell_values, check_backend, compiled_primal, direct_key,  # noqa: F401
                     module_of, reset_caches, run_primal, specialize, unwrap)


class Differentiable:
    """A Python function compiled by adjoin; call it like the original."""

    def __init__(self, fn: Callable, backend: str = "python", error_model: str = "python"):
        self.__adjoin_function__ = unwrap(fn)
        self.target = check_backend(backend, error_model)
        self.backend, self.error_model = backend, error_model
        functools.update_wrapper(self, self.__adjoin_function__)
        self.last_types: Optional[Tuple[Type, ...]] = None  # of the latest general call
        self._captures = bool(self.__adjoin_function__.__closure__)
        # Positional calls seen before, by `direct_key`: the compiled function.
        self._direct: Dict[Tuple[Any, ...], Callable] = {}
        self._direct_ok = self.target.backend.direct_calls

    def __repr__(self) -> str:
        return f"<adjoin.differentiable {self.__adjoin_function__.__qualname__}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = self.__adjoin_function__
        if not kwargs:
            if not self._captures:
                run = self._direct.get(fast_key(args))
                if run is not None:
                    return run(*args)
            else:
                extra = cell_values(fn)
                run = self._direct.get(fast_key(args + extra)) if extra is not None else None
                if run is not None:
                    return run(*args, *extra)
        call, compiled = compiled_call(fn, args, kwargs, ("primal",), self.target,
                                       lambda c: compiled_primal(fn, c, self.target))
        self.last_types = call.types
        out = run_primal(fn, call, self.target, compiled)
        key = None if kwargs or not self._direct_ok else direct_key(fn, call, len(args))
        if key is not None:
            self._direct[key] = getattr(compiled, "direct", compiled)
        return out

    def ir(self, *args: Any, **kwargs: Any) -> str:
        """The typed IR for these arguments' types (see `adjoin.ir`)."""
        return ir(self, *args, **kwargs)

    # The derivative functions, as methods: each runs on this function's backend, as the
    # functions of the same names do when given a Differentiable.

    def grad(self, wrt=0) -> Callable:
        """`adjoin.grad(self, wrt)`."""
        return derivatives.grad(self, wrt)

    def value_and_grad(self, wrt=0) -> Callable:
        """`adjoin.value_and_grad(self, wrt)`."""
        return derivatives.value_and_grad(self, wrt)

    def vjp(self, *args: Any, **kwargs: Any):
        """`adjoin.vjp(self, *args)`: the value and its pullback."""
        return derivatives.vjp(self, *args, **kwargs)

    def jvp(self, primals, tangents):
        """`adjoin.jvp(self, primals, tangents)`."""
        return forward_api.jvp(self, primals, tangents)

    def hessian(self, wrt=0) -> Callable:
        """`adjoin.hessian(self, wrt)`."""
        return forward_api.hessian(self, wrt)

    def hvp(self, wrt=0) -> Callable:
        """`adjoin.hvp(self, wrt)`."""
        return forward_api.hvp(self, wrt)

    def jacobian(self, wrt=0, mode: Optional[str] = None) -> Callable:
        """`adjoin.jacobian(self, wrt, mode)`."""
        return forward_api.jacobian(self, wrt, mode)

    def derivative(self, order: int = 1, wrt=0) -> Callable:
        """`adjoin.derivative(self, order, wrt)`."""
        return forward_api.derivative(self, order, wrt)

    def adjoint_source(self, *args: Any, wrt=0, **kwargs: Any) -> str:
        """`adjoin.adjoint_source(self, *args, wrt=...)`."""
        return derivatives.adjoint_source(self, *args, wrt=wrt, **kwargs)

    def tangent_source(self, *args: Any, wrt=0, **kwargs: Any) -> str:
        """`adjoin.tangent_source(self, *args, wrt=...)`."""
        return forward_api.tangent_source(self, *args, wrt=wrt, **kwargs)


def differentiable(fn: Optional[Callable] = None, *, backend: str = "python",
                   error_model: str = "python"):
    """Compile `fn` with adjoin: `@differentiable` or `@differentiable(backend="llvm")`.

    `error_model="numpy"` lets the llvm backend's scalar code follow IEEE and NumPy
    (`x / 0.0` is inf, ints wrap) instead of raising CPython's exceptions; the Python
    backend always raises as CPython does.
    """
    if fn is None:
        return lambda f: Differentiable(f, backend, error_model)
    return Differentiable(fn, backend, error_model)


def ir(fn: Callable, *args: Any, **kwargs: Any) -> str:
    """The typed SSA IR of `fn` (and the functions it calls) for these arguments' types."""
    f = unwrap(fn)
    return print_module(module_of(prepare(f, args, kwargs).primal))


def ir_text(fn: Callable, values: Optional[Sequence[Any]], types: Optional[Sequence[Type]],
            locs: bool = False) -> str:
    """The IR for example values or for explicit types (used by the command line)."""
    f = unwrap(fn)
    if types is None:
        return print_module(module_of(prepare(f, values or (), {}).primal), locs=locs)
    check_arity(f, types)
    return print_module(module_of(specialize(f, types)), locs=locs)


def check_arity(fn: Callable, types: Sequence[Type]) -> None:
    n = len(parameter_names(fn))
    if len(types) != n:
        raise TypeError(f"{fn.__name__}() takes {n} arguments, the signature gives {len(types)}")


__all__ = ["differentiable", "Differentiable", "ir", "CompileError"]
