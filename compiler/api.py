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
    """A Python function compiled by adjoin; call it like the original.

    What `adjoin.differentiable` returns. Each call compiles the function once for its
    arguments' types (cached per specialization) and returns what CPython returns for the
    undecorated function. The derivative functions are also methods: `f.grad(wrt)` is
    `adjoin.grad(f, wrt)`, and each runs on this function's backend.

    Args:
        fn: the Python function to compile (a plain function or a closure).
        backend: "python" (generated NumPy source), "llvm" (machine code through
            llvmlite) or "torch" (generated torch source).
        error_model: "python" (raise what CPython raises) or "numpy" (the llvm backend's
            scalar code follows IEEE and NumPy: `x / 0.0` is inf).

    Attributes:
        backend: the backend name given.
        error_model: the error model given.
        last_types: the argument types of the latest call that compiled or looked up a
            specialization (None before the first).

    Raises:
        ValueError: an unknown backend or error model.
        TypeError: `backend` is not a string.

    Example:
        >>> def f(x, y):
        ...     return x * x * y
        >>> cf = adjoin.Differentiable(f)
        >>> cf(3.0, 2.0)
        18.0
        >>> cf.grad()(3.0, 2.0)
        12.0
    """

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
        """The typed SSA IR of this function for these arguments' types.

        Args:
            *args: example arguments; only their types matter.
            **kwargs: example keyword arguments.

        Returns:
            The IR text of the function and of the functions it calls.

        Raises:
            adjoin.CompileError: the function is outside the supported subset.

        Example:
            >>> @adjoin.differentiable
            ... def sq(x):
            ...     return x * x
            >>> "func" in sq.ir(1.0)
            True
        """
        return ir(self, *args, **kwargs)

    # The derivative functions, as methods: each runs on this function's backend, as the
    # functions of the same names do when given a Differentiable.

    def grad(self, wrt=0) -> Callable:
        """`adjoin.grad(self, wrt)`, on this function's backend.

        Args:
            wrt: index, name or tuple of the parameters to differentiate (default 0).

        Returns:
            The gradient function (see `adjoin.grad`).

        Raises:
            TypeError: bad `wrt` or arguments of a type that cannot be differentiated.
            adjoin.CompileError: the function cannot be compiled or differentiated.

        Example:
            >>> @adjoin.differentiable
            ... def f(x, y):
            ...     return x * x * y
            >>> f.grad(1)(3.0, 2.0)
            9.0
        """
        return derivatives.grad(self, wrt)

    def value_and_grad(self, wrt=0) -> Callable:
        """`adjoin.value_and_grad(self, wrt)`, on this function's backend.

        Args:
            wrt: index, name or tuple of the parameters to differentiate (default 0).

        Returns:
            A function returning `(value, gradient)` (see `adjoin.value_and_grad`).

        Raises:
            TypeError: bad `wrt` or arguments of a type that cannot be differentiated.
            adjoin.CompileError: the function cannot be compiled or differentiated.

        Example:
            >>> @adjoin.differentiable
            ... def f(x):
            ...     return x ** 3
            >>> f.value_and_grad()(2.0)
            (8.0, 12.0)
        """
        return derivatives.value_and_grad(self, wrt)

    def vjp(self, *args: Any, **kwargs: Any):
        """`adjoin.vjp(self, *args)`: the value and its pullback, on this function's backend.

        Args:
            *args: the arguments to evaluate at (keyword arguments too).

        Returns:
            `(value, pullback)` (see `adjoin.vjp`).

        Raises:
            TypeError: bad `wrt` or arguments of a type that cannot be differentiated.
            adjoin.CompileError: the function cannot be compiled or differentiated.

        Example:
            >>> @adjoin.differentiable
            ... def f(x):
            ...     return 2.0 * x
            >>> value, pullback = f.vjp(np.array([1.0, 2.0]))
            >>> pullback(np.ones(2))
            (array([2., 2.]),)
        """
        return derivatives.vjp(self, *args, **kwargs)

    def jvp(self, primals, tangents):
        """`adjoin.jvp(self, primals, tangents)`, on this function's backend.

        Args:
            primals: the arguments, a sequence.
            tangents: one tangent per argument (None holds it fixed).

        Returns:
            `(value, tangent of the value)` (see `adjoin.jvp`).

        Raises:
            TypeError: bad `wrt` or arguments of a type that cannot be differentiated.
            adjoin.CompileError: the function cannot be compiled or differentiated.

        Example:
            >>> @adjoin.differentiable
            ... def f(x, y):
            ...     return x * y
            >>> f.jvp((3.0, 2.0), (1.0, 0.0))
            (6.0, 2.0)
        """
        return forward_api.jvp(self, primals, tangents)

    def hessian(self, wrt=0) -> Callable:
        """`adjoin.hessian(self, wrt)`, on this function's backend.

        Args:
            wrt: index, name or tuple of the parameters (default 0).

        Returns:
            The Hessian function (see `adjoin.hessian`).

        Raises:
            TypeError: bad `wrt` or arguments of a type that cannot be differentiated.
            adjoin.CompileError: the function cannot be compiled or differentiated.

        Example:
            >>> @adjoin.differentiable
            ... def f(x):
            ...     return np.sum(x ** 3)
            >>> f.hessian()(np.array([1.0, 2.0]))
            array([[ 6.,  0.],
                   [ 0., 12.]])
        """
        return forward_api.hessian(self, wrt)

    def hvp(self, wrt=0) -> Callable:
        """`adjoin.hvp(self, wrt)`, on this function's backend.

        Args:
            wrt: index, name or tuple of the parameters (default 0).

        Returns:
            A function `(*args, v) -> H @ v` (see `adjoin.hvp`).

        Raises:
            TypeError: bad `wrt` or arguments of a type that cannot be differentiated.
            adjoin.CompileError: the function cannot be compiled or differentiated.

        Example:
            >>> @adjoin.differentiable
            ... def f(x):
            ...     return np.sum(x ** 3)
            >>> f.hvp()(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
            array([ 6., 12.])
        """
        return forward_api.hvp(self, wrt)

    def jacobian(self, wrt=0, mode: Optional[str] = None) -> Callable:
        """`adjoin.jacobian(self, wrt, mode)`, on this function's backend.

        Args:
            wrt: index, name or tuple of the parameters (default 0).
            mode: "fwd", "rev" or None (the fewer passes win).

        Returns:
            The Jacobian function (see `adjoin.jacobian`).

        Raises:
            TypeError: bad `wrt` or arguments of a type that cannot be differentiated.
            adjoin.CompileError: the function cannot be compiled or differentiated.

        Example:
            >>> @adjoin.differentiable
            ... def f(x):
            ...     return 2.0 * x
            >>> f.jacobian()(np.array([1.0, 2.0]))
            array([[2., 0.],
                   [0., 2.]])
        """
        return forward_api.jacobian(self, wrt, mode)

    def derivative(self, order: int = 1, wrt=0) -> Callable:
        """`adjoin.derivative(self, order, wrt)`, on this function's backend.

        Args:
            order: which derivative (1 or more).
            wrt: index or name of the scalar float parameter (default 0).

        Returns:
            The derivative function (see `adjoin.derivative`).

        Raises:
            TypeError: bad `wrt` or arguments of a type that cannot be differentiated.
            adjoin.CompileError: the function cannot be compiled or differentiated.

        Example:
            >>> @adjoin.differentiable
            ... def f(x):
            ...     return x ** 4
            >>> f.derivative(2)(1.0)
            12.0
        """
        return forward_api.derivative(self, order, wrt)

    def adjoint_source(self, *args: Any, wrt=0, **kwargs: Any) -> str:
        """`adjoin.adjoint_source(self, *args, wrt=...)`, on this function's backend.

        Args:
            *args: example arguments (their types choose the specialization).
            wrt: index, name or tuple of the parameters (default 0).

        Returns:
            The gradient code as Python source text (see `adjoin.adjoint_source`).

        Raises:
            TypeError: bad `wrt` or arguments of a type that cannot be differentiated.
            adjoin.CompileError: the function cannot be compiled or differentiated.

        Example:
            >>> @adjoin.differentiable
            ... def f(x):
            ...     return x * x
            >>> "def " in f.adjoint_source(1.0)
            True
        """
        from . import sources
        return sources.adjoint_source(self, *args, wrt=wrt, **kwargs)

    def tangent_source(self, *args: Any, wrt=0, **kwargs: Any) -> str:
        """`adjoin.tangent_source(self, *args, wrt=...)`, on this function's backend.

        Args:
            *args: example arguments (their types choose the specialization).
            wrt: index, name or tuple of the parameters (default 0).

        Returns:
            The forward-mode code as Python source text (see `adjoin.tangent_source`).

        Raises:
            TypeError: bad `wrt` or arguments of a type that cannot be differentiated.
            adjoin.CompileError: the function cannot be compiled or differentiated.

        Example:
            >>> @adjoin.differentiable
            ... def f(x):
            ...     return x * x
            >>> "def " in f.tangent_source(1.0)
            True
        """
        from . import sources
        return sources.tangent_source(self, *args, wrt=wrt, **kwargs)


def differentiable(fn: Optional[Callable] = None, *, backend: str = "python",
                   error_model: str = "python"):
    """Compile `fn` with adjoin: `@differentiable` or `@differentiable(backend="llvm")`.

    Nothing is compiled at decoration: each call compiles the function for its arguments'
    types once (cached in memory and, for llvm, on disk) and returns what CPython returns
    for the undecorated function. `adjoin.grad`, `jvp`, `hessian`, ... applied to the
    result run on its backend. `error_model="numpy"` lets the llvm backend's scalar code
    follow IEEE and NumPy (`x / 0.0` is inf, ints wrap) instead of raising CPython's
    exceptions; the Python backend always raises as CPython does.

    Args:
        fn: the function to compile; omitted when used as `@differentiable(...)`.
        backend: "python" (default), "llvm" or "torch".
        error_model: "python" (default) or "numpy".

    Returns:
        A `Differentiable` (or, without `fn`, a decorator making one).

    Raises:
        ValueError: an unknown backend or error model.
        adjoin.CompileError: at the first call, for code outside the supported subset
            (UnsupportedSyntax, TypingError, BackendError, ...), pointing at its line.

    Example:
        >>> @adjoin.differentiable
        ... def f(x):
        ...     return np.sum(np.sin(x) ** 2)
        >>> round(float(f(np.array([0.5, 1.0]))), 6)
        0.937922
        >>> @adjoin.differentiable(backend="llvm")
        ... def g(x, n):
        ...     for i in range(n):
        ...         x = x * 1.5
        ...     return x
        >>> g(2.0, 3)
        6.75
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
