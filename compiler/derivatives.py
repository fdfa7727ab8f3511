"""Reverse-mode verbs (grad, value_and_grad, vjp), grad of grad, and the compile caches
of derivative code.

Assumes: functions accepted by `api.differentiable`; backends behind `backends.base`.
Guarantees: gradient code is generated once per (function, argument types, wrt,
backend and error model) and cached, and runs on the verb's target (by default the
function's own backend); no code here names a backend; `wrt` accepts an index, a name or a tuple of them, and
differentiating with respect to an int or bool argument is a TypeError naming
it, and with respect to an argument sharing memory with another one the function
writes into is a CompileError. A gradient of a function whose output is not a float is
a TypeError that points to `vjp`. Caches are keyed by the primal specialization's symbol,
never by function object, and filled under `COMPILE_LOCK`.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from .backends.base import Target
from .calls import check_not_aliased, fast_key, parameter_names, prepare
from .frontend.specialize import COMPILE_LOCK, REGISTRY
from .compile_phases import count, timed
from .ir.core import Function, Module
from .persist import compiled_call
from .ir.types import F64, ArrayType, ScalarType, TupleType, Type
from .frontend.kinds import FunctionSig
from .frontend.structs import StructType, flatten_like, rebuild
from .primal import (backend_arguments, cell_values, check_backend, direct_key, header_for,
                     module_of, on_reset, reset_caches, result_signature,  # noqa: F401
                     specialize, target_for, unwrap)

Wrt = Union[int, str, Sequence[Union[int, str]]]
_CONTEXT = None
_FORWARD = None


def forward_context():
    global _FORWARD
    if _FORWARD is None:
        from .ad.tangents import ForwardContext
        rev = reverse_context()
        _FORWARD = ForwardContext(
            lambda name: REGISTRY.by_symbol.get(name) or rev.functions.get(name),
            lambda: set(REGISTRY.by_symbol) | set(rev.functions))
    return _FORWARD


def reverse_context():
    global _CONTEXT
    if _CONTEXT is None:
        from .ad.driver import ReverseContext
        _CONTEXT = ReverseContext(REGISTRY)
    return _CONTEXT


@on_reset
def _reset() -> None:
    global _CONTEXT, _FORWARD
    _CONTEXT = _FORWARD = None
    _COMPILED.clear()


def wrt_indices(fn: Callable, wrt: Wrt) -> Tuple[Tuple[int, ...], bool]:
    """Parameter indices for `wrt`, and whether one (not a tuple) was asked for."""
    names = list(parameter_names(fn))
    single = isinstance(wrt, (int, str))
    items = [wrt] if single else list(wrt)
    if not items:
        raise ValueError("adjoin: wrt is empty")
    out = []
    for w in items:
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            raise TypeError(f"adjoin: wrt entries are parameter indices or names, got {w!r}")
        if isinstance(w, str):
            if w not in names:
                raise ValueError(f"adjoin: {fn.__name__}() has no parameter '{w}'")
            w = names.index(w)
        if not -len(names) <= w < len(names):
            raise ValueError(f"adjoin: wrt={w} is out of range for {fn.__name__}() with "
                             f"{len(names)} parameters")
        out.append(w % len(names))
    if len(set(out)) != len(out):
        raise ValueError("adjoin: wrt names a parameter twice")
    return tuple(out), single


def check_wrt_types(fn: Callable, types: Sequence[Type], wrt: Sequence[int]) -> None:
    for i in wrt:
        if not types[i].differentiable():
            names = parameter_names(fn)
            raise TypeError(f"adjoin: cannot differentiate {fn.__name__}() with respect to "
                            f"'{names[i]}': it is {_describe(types[i])}, not a float or a float "
                            "array")


def check_array_arguments(fn: Callable, types: Sequence[Type], wrt: Sequence[int],
                          verb: str) -> None:
    """`verb` (jacobian) assembles blocks per argument: a TypeError for a tuple or
    structured argument."""
    for i in wrt:
        if isinstance(types[i], TupleType):
            names = parameter_names(fn)
            raise TypeError(f"adjoin: {verb} with respect to '{names[i]}' ({_describe(types[i])}) "
                            "is not supported; pass its arrays and floats as separate "
                            "arguments (grad, vjp, jvp, hvp and hessian take structures)")


def _describe(t: Type) -> str:
    if isinstance(t, FunctionSig):
        return "a function"
    if isinstance(t, StructType):
        return f"a {t.spec.type.__name__}"
    if isinstance(t, TupleType):
        return "a tuple"
    if isinstance(t, ScalarType):
        return {"i64": "an int", "bool": "a bool", "none": "None"}.get(t.name, t.name)
    if isinstance(t, ArrayType):
        return f"an array of {t.dtype}"
    return str(t)


def _check_scalar_output(fn: Callable, f: Function) -> None:
    t = f.result_type
    if f.attrs.get("mutates"):
        t = t.elts[0]
    if not (isinstance(t, ScalarType) and t.is_float):
        raise TypeError(f"adjoin: grad needs {fn.__name__}() to return a float, but it returns "
                        f"{t}; use adjoin.vjp for arrays and tuples")


# -- compiling ---------------------------------------------------------------------------


_COMPILED: Dict[Tuple, Any] = {}  # (primal symbol, what, target) -> compiled code


def gradient_ir(fn: Callable, types: Sequence[Type], wrt: Sequence[int],
                with_value: bool = False, primal: Optional[Function] = None
                ) -> Tuple[Function, Module]:
    """The gradient IR of `primal` (by default `fn` specialized for `types`)."""
    with COMPILE_LOCK:
        primal = primal or specialize(fn, types)
        _check_scalar_output(fn, primal)
        count("ad")
        with timed("ad"):
            ctx = reverse_context()
            g = ctx.gradient(primal, wrt, with_value)
            return g, ctx.module_for(g)


def compiled_gradient(fn: Callable, types: Tuple[Type, ...], wrt: Tuple[int, ...],
                      with_value: bool, target: Target, primal: Optional[Function] = None
                      ) -> Callable:
    primal = primal or specialize(fn, types)
    key = (primal.name, wrt, with_value, target)
    hit = _COMPILED.get(key)
    if hit is None:
        with COMPILE_LOCK:
            hit = _COMPILED.get(key)
            if hit is None:
                g, module = gradient_ir(fn, types, wrt, with_value, primal)
                hit = _COMPILED[key] = target.compile_one(
                    module, g.name, header_for(fn, types, "gradient"))
    return hit


def _checked_gradient(f, c, indices, with_value: bool, target: Target) -> Callable:
    check_wrt_types(f, c.types, indices)
    check_not_aliased(f, c, indices, "gradient")
    return compiled_gradient(f, c.types, indices, with_value, target, c.primal)


def _gradient_call(fn, wrt, with_value, target: Target):
    f = unwrap(fn)
    indices, single = wrt_indices(f, wrt)

    direct: Dict[Tuple[Any, ...], Callable] = {}  # by fast_key of positional calls
    direct_ok = target.backend.direct_calls

    def finish(out, types=None):
        if with_value:
            value, grads = out[0], out[1:]
        else:
            grads = (out,) if len(indices) == 1 else out
        if types is not None:  # gradients of lists, dicts, ...: in their structure
            grads = tuple(rebuild(g, types[i]) for g, i in zip(grads, indices))
        grads = grads[0] if single else tuple(grads)
        return (value, grads) if with_value else grads

    def call(*args: Any, **kwargs: Any):
        if not kwargs:
            extra = cell_values(f) if f.__closure__ else ()
            if extra is not None:
                run = direct.get(fast_key(args + extra))
                if run is not None:
                    return finish(run(*args, *extra, 1.0))
        c, g = compiled_call(f, args, kwargs, ("grad", indices, with_value), target,
                             lambda c: _checked_gradient(f, c, indices, with_value, target))
        check_wrt_types(f, c.types, indices)
        key = None if kwargs or not direct_ok else direct_key(f, c, len(args))
        if key is not None:
            direct[key] = getattr(g, "direct", g)
        values, convert = backend_arguments(f, target, c.values)
        return finish(convert(g(*values, 1.0)), c.types)
    call.__name__ = f"grad_{f.__name__}"
    call.__doc__ = f"Gradient of {f.__name__} with respect to {wrt!r} (generated by adjoin)."
    if not with_value:
        call.__adjoin_grad__ = (f, indices, single)
    call.__adjoin_derivative__ = ("value_and_grad" if with_value else "grad", f, wrt, target)
    return call


def grad(fn: Callable, wrt: Wrt = 0, *, backend: Optional[str] = None,
         error_model: Optional[str] = None) -> Callable:
    """The gradient of scalar-valued `fn` with respect to the arguments `wrt`.

    Reverse mode: one forward pass that records what the backward pass needs, then one
    backward pass, whatever the number of inputs. The gradient has the argument's
    structure (an array's shape, a dict's keys, ...). `grad(grad(f))` works for scalar
    arguments: the outer derivative is taken by forward mode over the inner gradient's
    code. The code runs on `backend`, by default the one `fn` was compiled for
    (`differentiable(f, backend=...)`), else Python.

    Args:
        fn: a function returning a float (plain or `adjoin.differentiable`).
        wrt: the parameter to differentiate, by index or name, or a tuple of them.
        backend: "python", "llvm" or "torch"; None for `fn`'s own.
        error_model: as for `adjoin.differentiable`; None for `fn`'s own.

    Returns:
        A function taking `fn`'s arguments and returning the gradient: one value for an
        int or str `wrt`, a tuple of them for a tuple `wrt`.

    Raises:
        TypeError: `wrt` is not an index, a name or a tuple of them, or names an int,
            bool or other argument with no derivative; `fn` does not return a float.
        ValueError: `wrt` is empty, out of range, names a missing parameter or one twice.
        adjoin.CompileError: `fn` cannot be compiled or differentiated (raised at the
            first call, pointing at the offending line).

    Example:
        >>> def f(x, y):
        ...     return np.sum(x ** 2) * y
        >>> adjoin.grad(f)(np.array([1.0, 2.0]), 3.0)
        array([ 6., 12.])
        >>> gx, gy = adjoin.grad(f, wrt=(0, "y"))(np.array([1.0, 2.0]), 3.0)
        >>> float(gy)
        5.0
        >>> def g(x):
        ...     return x ** 3
        >>> adjoin.grad(adjoin.grad(g))(2.0)
        12.0
    """
    target = target_for(fn, backend, error_model)
    inner = getattr(fn, "__adjoin_grad__", None)
    if inner is not None:
        return grad_of_grad(inner, wrt, target)
    return _gradient_call(fn, wrt, False, target)


def value_and_grad(fn: Callable, wrt: Wrt = 0, *, backend: Optional[str] = None,
                   error_model: Optional[str] = None) -> Callable:
    """Like `grad`, returning `(value, gradient)` from one forward and one backward pass.

    Args:
        fn: a function returning a float.
        wrt: the parameter to differentiate, by index or name, or a tuple of them.
        backend: "python", "llvm" or "torch"; None for `fn`'s own.
        error_model: as for `adjoin.differentiable`; None for `fn`'s own.

    Returns:
        A function taking `fn`'s arguments and returning `(fn(*args), gradient)`, the
        gradient shaped as `grad`'s.

    Raises:
        TypeError: `wrt` is not an index, a name or a tuple of them, or names an int,
            bool or other argument with no derivative; `fn` does not return a float.
        ValueError: `wrt` is empty, out of range, names a missing parameter or one twice.
        adjoin.CompileError: `fn` cannot be compiled or differentiated (raised at the
            first call, pointing at the offending line).

    Example:
        >>> def f(x):
        ...     return np.sum(x ** 2)
        >>> value, g = adjoin.value_and_grad(f)(np.array([1.0, 2.0]))
        >>> float(value), g
        (5.0, array([2., 4.]))
    """
    return _gradient_call(fn, wrt, True, target_for(fn, backend, error_model))


# -- vjp ---------------------------------------------------------------------------------------


def vjp(fn: Callable, *args: Any, backend: Optional[str] = None,
        error_model: Optional[str] = None, **kwargs: Any):
    """Evaluate `fn(*args)` and return `(value, pullback)`.

    For functions with array or tuple results: the forward pass runs now, and
    `pullback(cotangent)` runs the backward pass for a cotangent shaped like the value,
    returning one cotangent per argument (None for int and bool arguments); it may be
    called any number of times. `pullback.tape_nbytes` is the memory the forward pass
    keeps for it (on the llvm backend, everything the pass allocated plus the tape
    buffer).

    Args:
        fn: the function (plain or `adjoin.differentiable`).
        *args: the arguments to evaluate `fn` at (keyword arguments too).
        backend: "python", "llvm" or "torch"; None for `fn`'s own.
        error_model: as for `adjoin.differentiable`; None for `fn`'s own.

    Returns:
        `(value, pullback)`: `fn(*args)` and the function from a cotangent of the value
        to a tuple with one cotangent per argument.

    Raises:
        TypeError: no argument is a float or float array; a cotangent whose structure
            does not match the value.
        adjoin.CompileError: `fn` cannot be compiled or differentiated.

    Example:
        >>> def f(x, n):
        ...     return x ** n
        >>> value, pullback = adjoin.vjp(f, np.array([1.0, 2.0]), 3)
        >>> value
        array([1., 8.])
        >>> pullback(np.array([1.0, 0.5]))
        (array([3., 6.]), None)
    """
    target = target_for(fn, backend, error_model)
    f = unwrap(fn)
    c = prepare(f, args, kwargs)
    primal = c.primal
    mask = tuple(i < c.n_args and t.differentiable() for i, t in enumerate(c.types))
    if not any(mask):
        raise TypeError(f"adjoin: {f.__name__}() has no float arguments to differentiate")
    check_not_aliased(f, c, [i for i, m in enumerate(mask) if m], "vjp")
    fwd, bwd = compiled_split(f, primal, c.types, mask, target)
    backend = target.backend
    values, convert = backend_arguments(f, target, c.values)
    tape = backend.new_tape(fwd)
    out = fwd(*values, tape)
    mutated = primal.attrs.get("mutates")
    raw_value = out[0] if mutated else out
    value = convert(raw_value)
    frozen = backend.freeze(tape)
    nbytes = backend.tape_nbytes(tape)
    result_type = result_signature(primal)

    def pullback(cotangent: Any):
        cotangent = flatten_like(cotangent, result_type, "the cotangent")
        ct = backend.cotangent(cotangent, raw_value, f.__name__)
        if mutated:
            ct = (ct,) + tuple(backend.zeros_like(a) for a in out[1:])
        grads = convert(bwd(*values, backend.thaw(frozen), ct))
        grads = (grads,) if sum(mask) == 1 else tuple(grads)
        it = iter(grads)
        return tuple(rebuild(next(it), t) if m else None for m, t in zip(mask, c.types[:c.n_args]))
    pullback.tape_nbytes = nbytes
    return rebuild(value, result_type), pullback


def compiled_split(f, primal: Function, types, mask, target: Target):
    key = (primal.name, mask, "split", target)
    hit = _COMPILED.get(key)
    if hit is None:
        with COMPILE_LOCK:
            hit = _COMPILED.get(key) or _compile_split(f, primal, types, mask, target)
            _COMPILED[key] = hit
    return hit


def _compile_split(f, primal: Function, types, mask, target: Target):
    with timed("ad"):
        ctx = reverse_context()
        pair = ctx.split_pair(primal.name, mask)
        module = ctx.module_for(pair.fwd)
        for extra in ctx.module_for(pair.bwd):
            if extra.name not in module:
                module.add(extra)
    return tuple(target.compile(module, [pair.fwd.name, pair.bwd.name],
                                header_for(f, types, "vjp")))


# -- forward over reverse -------------------------------------------------------------


def compiled_forward(key: Tuple, build: Callable[[], Function], target: Target, what: str,
                     fn: Callable, types: Sequence[Type]) -> Callable:
    """The compiled code of the forward-mode IR function `build()` returns (built and
    compiled once per `key`)."""
    hit = _COMPILED.get(key)
    if hit is None:
        with COMPILE_LOCK:
            hit = _COMPILED.get(key)
            if hit is None:
                with timed("ad"):
                    entry = build()
                    module = forward_context().module_for(entry)
                hit = _COMPILED[key] = target.compile_one(module, entry.name,
                                                          header_for(fn, types, what))
    return hit


def run_compiled(fn: Callable, target: Target, compiled: Callable, values: Sequence[Any],
                 extra: Sequence[Any] = ()) -> Any:
    """`compiled(*values, *extra)` with the backend's own argument values, its results
    converted back for the caller."""
    args, convert = backend_arguments(fn, target, tuple(values) + tuple(extra))
    return convert(compiled(*args))


def _gradient_jvp(f, c, indices, target: Target, dot_indices=None):
    """Compiled `f_grad_jvp(params..., out_bar, dots...) -> (grads, grads_dot)` for the
    call `c`: the gradient with respect to `indices`, differentiated along `dot_indices`."""
    dot_indices = indices if dot_indices is None else dot_indices
    primal, types = c.primal, c.types
    _check_scalar_output(f, primal)
    check_not_aliased(f, c, tuple(indices) + tuple(dot_indices), "second derivative")

    def build():
        g = reverse_context().gradient(primal, indices, False)
        mask = tuple(i in dot_indices for i in range(len(types))) + (False,)
        return forward_context().jvp_function(g, mask)
    return compiled_forward((primal.name, indices, dot_indices, "hessian", target), build,
                            target, "hessian", f, types)


def grad_of_grad(inner: Tuple, wrt, target: Target) -> Callable:
    """`grad(grad(f, wrt=a), wrt=b)`: the derivative of a scalar gradient, forward over
    reverse."""
    f, inner_indices, inner_single = inner
    indices, single = wrt_indices(f, wrt)

    def call(*args: Any, **kwargs: Any):
        c = prepare(f, args, kwargs)
        values, types = c.values, c.types
        check_wrt_types(f, types, indices)
        if not inner_single or types[inner_indices[0]] != F64:
            raise TypeError("adjoin: grad of a gradient needs the inner gradient to be one "
                            "float (a scalar argument); use adjoin.hessian for arrays")
        for i in indices:
            if types[i] != F64:
                raise TypeError("adjoin: grad of a gradient differentiates scalar float "
                                "arguments; use adjoin.hessian for arrays")
        run = _gradient_jvp(f, c, inner_indices, target, indices)
        outs = []
        for j in indices:
            dots = [1.0 if i == j else 0.0 for i in indices]
            outs.append(run_compiled(f, target, run, values, (1.0, *dots))[1])
        return outs[0] if single else tuple(outs)
    call.__name__ = f"grad_grad_{f.__name__}"
    return call
