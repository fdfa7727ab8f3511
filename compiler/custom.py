"""User derivative rules: custom_vjp, custom_jvp, stop_gradient, straight_through.

Assumes: decorated functions are called from code adjoin compiles (they also work
when called from plain Python: they just run).
Guarantees:
  * `@custom_vjp` / `@custom_jvp` make a function opaque to adjoin: its body runs
    in CPython (it may call SciPy, torch, C code) and its derivative comes from the
    rule attached with `.defvjp` / `.defjvp`. Rules are plain Python; adjoin compiles
    them when it can (so they can be differentiated again, for Hessians), and runs
    them in CPython otherwise. A VJP rule gives a JVP for scalar outputs, and a JVP
    rule gives a VJP for scalar inputs; anything else without its own rule is a
    NotDifferentiable error at compile time.
  * `stop_gradient(x)` is `x` with derivative zero.
  * `straight_through(fn, surrogate=None)` computes `fn(x)` but differentiates as
    `surrogate(x)` (the identity by default): a step such as round, sign, floor or
    a threshold can sit inside a trained pipeline.
"""
from __future__ import annotations

import functools
import itertools
from typing import Any, Callable, Dict, Optional

_COUNTER = itertools.count()
REGISTRY: Dict[str, "CustomFunction"] = {}


class CustomFunction:
    """A function adjoin calls as an opaque unit, with user-given derivative rules."""

    kind = "custom"

    def __init__(self, fn: Callable, returns: Optional[str] = None):
        self.fn = fn
        self.returns = returns
        self.vjp_rule: Optional[Callable] = None
        self.jvp_rule: Optional[Callable] = None
        base = getattr(fn, "__name__", "custom").replace("<lambda>", "custom")
        self.key = f"{base}_custom{next(_COUNTER)}"
        REGISTRY[self.key] = self
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def defvjp(self, rule: Callable) -> Callable:
        """Attach `rule(*args, out, out_bar) -> cotangents` (one per argument)."""
        self.vjp_rule = rule
        return rule

    def defjvp(self, rule: Callable) -> Callable:
        """Attach `rule(*args, *tangents) -> (out, out_dot)`."""
        self.jvp_rule = rule
        return rule

    def __repr__(self) -> str:
        return f"<adjoin.{self.kind} {getattr(self.fn, '__qualname__', self.fn)}>"


class CustomVJP(CustomFunction):
    kind = "custom_vjp"


class CustomJVP(CustomFunction):
    kind = "custom_jvp"


def _decorator(cls):
    def make(fn: Optional[Callable] = None, *, returns: Optional[str] = None):
        if fn is None:
            return lambda f: cls(f, returns)
        return cls(fn, returns)
    return make


custom_vjp = _decorator(CustomVJP)
custom_vjp.__doc__ = """Make `fn` opaque to adjoin, differentiated by a rule given with
`@fn.defvjp`: `rule(*args, out, out_bar)` returns one cotangent per argument
(a single value for a one-argument function; None for an argument with none).

The body runs in CPython (it may call SciPy, torch or C code) when compiled code calls
it. The rule is compiled when adjoin can compile it (so Hessians differentiate it
again) and run in CPython otherwise. A VJP rule also gives forward mode for scalar
outputs; other forward-mode uses without a `defjvp` rule are a NotDifferentiable error
at compile time.

Args:
    fn: the function; omitted when used as `@custom_vjp(returns=...)`.
    returns: the result type as signature text (`"f64[:]"`) when it is not the first
        argument's type.

Returns:
    A callable wrapper with a `defvjp(rule)` method (a decorator that returns `rule`).

Raises:
    adjoin.NotDifferentiable: at compile time, a derivative no rule gives.

Example:
    >>> @adjoin.custom_vjp
    ... def cube(x):
    ...     return x ** 3
    >>> @cube.defvjp
    ... def cube_vjp(x, out, out_bar):
    ...     return 3.0 * x ** 2 * out_bar
    >>> def f(x):
    ...     return cube(x) + x
    >>> adjoin.grad(f)(2.0)
    13.0
"""
custom_jvp = _decorator(CustomJVP)
custom_jvp.__doc__ = """Make `fn` opaque to adjoin, differentiated by a rule given with
`@fn.defjvp`: `rule(*args, *tangents)` returns `(out, out_dot)`.

The body runs in CPython when compiled code calls it. A JVP rule also gives reverse
mode for scalar inputs; other reverse-mode uses without a `defvjp` rule are a
NotDifferentiable error at compile time.

Args:
    fn: the function; omitted when used as `@custom_jvp(returns=...)`.
    returns: the result type as signature text when it is not the first argument's.

Returns:
    A callable wrapper with a `defjvp(rule)` method (a decorator that returns `rule`).

Raises:
    adjoin.NotDifferentiable: at compile time, a derivative no rule gives.

Example:
    >>> @adjoin.custom_jvp
    ... def square(x):
    ...     return x * x
    >>> @square.defjvp
    ... def square_jvp(x, x_dot):
    ...     return x * x, 2.0 * x * x_dot
    >>> adjoin.jvp(lambda x: square(x) + 1.0, (3.0,), (1.0,))
    (10.0, 6.0)
"""


def stop_gradient(x: Any) -> Any:
    """`x`, with a derivative of zero: nothing flows back through it.

    Under CPython it returns `x`; in compiled code its value is `x` and its derivative
    (reverse, forward and higher order) is zero.

    Args:
        x: a float, an array or a structure of them.

    Returns:
        `x` itself.

    Raises:
        adjoin.CompileError: never by itself; `x` must be something adjoin compiles.

    Example:
        >>> def f(x):
        ...     return x * adjoin.stop_gradient(x)
        >>> adjoin.grad(f)(3.0)
        3.0
    """
    return x


class StraightThrough:
    """`fn(x)` forward; the derivative of `surrogate(x)` (the identity) backward."""

    def __init__(self, fn: Callable, surrogate: Optional[Callable] = None):
        self.fn = fn
        self.surrogate = surrogate
        functools.update_wrapper(self, fn, updated=())

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __repr__(self) -> str:
        return f"<adjoin.straight_through {getattr(self.fn, '__name__', self.fn)}>"


def straight_through(fn: Callable, surrogate: Optional[Callable] = None) -> StraightThrough:
    """A straight-through estimator: forward `fn`, backward `surrogate` (default: identity).

    `fn` and `surrogate` are anything adjoin can compile: np.round, np.sign,
    math.floor, a lambda, a plain function. Compiled code computes `fn(x)` and
    differentiates `surrogate(x)`, so a step function can sit inside a trained model.

    Args:
        fn: the function computed.
        surrogate: the function differentiated in its place; None for the identity.

    Returns:
        A callable that runs `fn` (under CPython as well).

    Raises:
        adjoin.CompileError: at compile time, `fn` or `surrogate` cannot be compiled.

    Example:
        >>> rounded = adjoin.straight_through(np.round)
        >>> def f(x):
        ...     return np.sum(rounded(x) * x)
        >>> x = np.array([0.4, 1.6])
        >>> float(f(x)), adjoin.grad(f)(x)
        (3.2, array([0.4, 3.6]))
    """
    return StraightThrough(fn, surrogate)
