"""`adjoin.vmap`: a function mapped over a batch axis of its arguments.

Assumes: plain Python functions (or `Differentiable`s) of the subset adjoin compiles.
Guarantees: `vmap(f, in_axes, out_axes)` returns a compiled function (a
`Differentiable`, so every derivative verb, `adjoin.show` and the backends take it)
whose body calls `f` once per lane, as the IR -> IR batching transform builds it
(`compiler.batch`). `in_axes`/`out_axes` mean what they mean in JAX: an int (the
batch axis, negative counting from the end), None (not batched: the same value in
every lane), or a tuple with one entry per argument (per result for a tuple result).
A `Vmapped` object is also what compiled code calls when a function calls
`adjoin.vmap(g, ...)(args)` itself. `vmap` of `adjoin.grad(f)` gives per-example
gradients, of `adjoin.hessian(f)` per-example Hessians, of `functools.partial(adjoin.jvp,
f)` per-example JVPs (see `vmap_derivatives`). Bad axes are a ValueError at `vmap`, and
batch sizes that disagree a ValueError at the call.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence, Union

Axes = Union[int, None, Sequence[Any]]


def _check_axes(axes: Axes, what: str) -> None:
    if axes is None or (isinstance(axes, int) and not isinstance(axes, bool)):
        return
    if isinstance(axes, (tuple, list)):
        for a in axes:
            _check_axes(a, what)
        return
    raise ValueError(f"adjoin.vmap: {what} entries are ints or None (or tuples of them), "
                     f"got {axes!r}")


class Vmapped:
    """`fn` mapped over the axes `in_axes` of its arguments; results stacked at
    `out_axes`. Called from compiled code (the batched call is compiled in place)."""

    def __init__(self, fn: Callable, in_axes: Axes = 0, out_axes: Axes = 0,
                 by_lanes: bool = False):
        _check_axes(in_axes, "in_axes")
        _check_axes(out_axes, "out_axes")
        if in_axes is None or (isinstance(in_axes, (tuple, list)) and
                               all(a is None for a in in_axes)):
            raise ValueError("adjoin.vmap: in_axes maps no argument (every entry is None)")
        self.fn = fn
        self.in_axes = tuple(in_axes) if isinstance(in_axes, list) else in_axes
        self.out_axes = tuple(out_axes) if isinstance(out_axes, list) else out_axes
        self.__name__ = f"vmap_{getattr(fn, '__name__', 'function')}"
        self.by_lanes = by_lanes  # a loop over the lanes (see Backend.batching)

    def __repr__(self) -> str:
        return f"<adjoin.vmap of {getattr(self.fn, '__name__', self.fn)!r}>"

    def axes_for(self, n: int) -> tuple:
        """One in_axes entry per argument of a call with `n` arguments."""
        if not isinstance(self.in_axes, tuple):
            return (self.in_axes,) * n
        if len(self.in_axes) != n:
            raise ValueError(f"adjoin.vmap: in_axes has {len(self.in_axes)} entries but "
                             f"{getattr(self.fn, '__name__', 'the function')}() is called with "
                             f"{n} arguments")
        return self.in_axes

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("adjoin: a Vmapped object runs inside compiled code; call the "
                        "function adjoin.vmap returns")


def vmap(fn: Callable, in_axes: Axes = 0, out_axes: Axes = 0, *,
         backend: Optional[str] = None, error_model: Optional[str] = None) -> Callable:
    """`fn` mapped over a batch axis: `vmap(f)(xs)[k] == f(xs[k])` for every k.

    `in_axes`: the axis of each argument holding the batch (int), or None for an
    argument shared by every lane; one entry for all arguments or a tuple with one per
    argument. `out_axes`: where the batch axis goes in the results. Loops, branches and
    calls in `fn` are batched as written: a branch taken by some lanes only runs under
    a mask, a loop runs until its last lane is done. Lanes compute as NumPy arrays do
    (a domain error gives nan, not a ValueError). The result runs on `backend` (by
    default `fn`'s own) and is a compiled function like `adjoin.differentiable`'s:
    `adjoin.grad`, `jvp`, `vjp`, `jacobian` and `adjoin.show` take it. `fn` may also be
    `adjoin.grad(f, ...)` (per-example gradients), `adjoin.value_and_grad(f, ...)`,
    `adjoin.hessian(f, ...)` or `functools.partial(adjoin.jvp, f)`.

    Args:
        fn: the function to map (plain, `adjoin.differentiable`, or a derivative
            function as listed above).
        in_axes: an int or None for every argument, or a tuple with one per argument.
        out_axes: an int for every result, or a tuple with one per result.
        backend: "python", "llvm" or "torch"; None for `fn`'s own.
        error_model: as for `adjoin.differentiable`; None for `fn`'s own.

    Returns:
        A compiled function taking the batched arguments and returning the batched
        results.

    Raises:
        ValueError: `in_axes` has a different number of entries than arguments; batch
            axes of different lengths.
        adjoin.CompileError: `fn` cannot be compiled or batched.

    Example:
        >>> def loss(w, x, y):
        ...     return (np.dot(w, x) - y) ** 2
        >>> per_example = adjoin.vmap(adjoin.grad(loss), in_axes=(None, 0, 0))
        >>> w = np.array([1.0, 0.0])
        >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> per_example(w, X, np.array([0.0, 1.0]))   # row k: grad(loss)(w, X[k], Y[k])
        array([[ 2.,  4.],
               [12., 16.]])
    """
    from .vmap_derivatives import derivative_vmap
    special = derivative_vmap(fn, in_axes, out_axes, backend, error_model)
    if special is not None:
        return special
    from .api import Differentiable
    from .primal import target_for
    target = target_for(fn, backend, error_model)
    inner = getattr(fn, "__adjoin_function__", fn)
    if not inspect.isfunction(inner):
        raise TypeError(f"adjoin.vmap: expected a Python function, got {type(fn).__name__}")
    mapped = Vmapped(inner, in_axes, out_axes, target.backend.batching == "lanes")
    out = Differentiable(wrapper(inner, mapped), target.name, target.error_model)
    out.vmapped = mapped
    return out


def wrapper(fn: Callable, mapped: Vmapped, total: bool = False) -> Callable:
    """A plain function, written to a real file, whose body is the batched call (with
    `total`, the sum of its results): the verbs compile it like any user function."""
    from .backends.python import write_source
    params = list(inspect.signature(fn).parameters.values())
    if any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        raise TypeError(f"adjoin.vmap: {fn.__name__}() must take positional parameters only")
    names = [p.name for p in params]
    name = mapped.__name__.replace("<lambda>", "lambda")
    if total:
        name = name.replace("vmap_", "vmap_sum_", 1)
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    args = ", ".join(names)
    source = (f"# adjoin.vmap of {fn.__qualname__} ({fn.__code__.co_filename}:"
              f"{fn.__code__.co_firstlineno})\n"
              f"def {name}({args}):\n"
              f"    return {'__adjoin_sum__(' if total else '('}__adjoin_vmapped__({args}))\n")
    path = write_source(name, source)
    import numpy
    namespace = {"__adjoin_vmapped__": mapped, "__adjoin_sum__": numpy.sum,
                 "__name__": f"adjoin_vmap_{name}"}
    exec(compile(source, path, "exec", dont_inherit=True), namespace)
    return namespace[name]
