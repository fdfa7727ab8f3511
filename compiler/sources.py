"""Source views: the generated code of derivatives, for people to read.

Assumes: functions accepted by `api.differentiable`.
Guarantees: `adjoint_source` and `tangent_source` return the Python a backend generates
(the function's own backend where that one generates Python, else the Python backend's);
`llvm_ir` the LLVM IR of the llvm backend; `show_text` what `adjoin show` prints. Types come
from example arguments, an explicit signature, or the function's last call.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Tuple

from .backends.base import Target
from .calls import parameter_names, prepare
from .derivatives import (Wrt, check_wrt_types, forward_context, gradient_ir, wrt_indices)
from .frontend.specialize import COMPILE_LOCK, REGISTRY
from .ir.core import Function, Module
from .ir.types import parse_signature
from .primal import check_backend, header_for, module_of, specialize, target_for, unwrap


def adjoint_source(fn: Callable, *args: Any, wrt: Wrt = 0, signature: Optional[str] = None,
                   backend: Optional[str] = None, **kwargs: Any) -> str:
    """The generated gradient code of `fn` as Python source text.

    The types come from example arguments (`adjoint_source(f, 1.0, 3)`), an
    explicit `signature="f64, i64"`, or else from the function's last call. The code is
    `backend`'s (by default `fn`'s own where that backend generates Python, as the torch
    backend does, else the Python backend's).

    Args:
        fn: the function (plain or `adjoin.differentiable`).
        *args: example arguments; only their types matter (keyword arguments too).
        wrt: the parameter, by index or name, or a tuple of them.
        signature: the parameter types as text ("f64[:], i64") instead of examples.
        backend: "python" or "torch"; None as described above.

    Returns:
        The source text of the gradient function and the functions it calls.

    Raises:
        ValueError: `backend` does not generate Python (llvm: use `adjoin.llvm_ir`).
        TypeError: a `wrt` argument with no derivative.
        adjoin.CompileError: `fn` cannot be compiled or differentiated.

    Example:
        >>> def f(x):
        ...     return np.sin(x) * x
        >>> text = adjoin.adjoint_source(f, 1.0)
        >>> "def " in text and "cos" in text
        True
    """
    f, target, primal, types, indices = _view(fn, args, kwargs, signature, wrt, backend)
    g, module = gradient_ir(f, types, indices, primal=primal)
    return target.source(module, g.name, header_for(f, types, "gradient"))


def _view(fn, args, kwargs, signature, wrt, backend):
    """What a source view needs: the function, the target whose code it shows, the
    specialization, its types and the indices of `wrt` (checked)."""
    f = unwrap(fn)
    target = readable_target(fn, backend)
    primal = primal_for(fn, f, args, kwargs, signature)
    types = tuple(primal.param_types)
    indices, _ = wrt_indices(f, wrt)
    check_wrt_types(f, types, indices)
    return f, target, primal, types, indices


def readable_target(fn: Callable, backend: Optional[str]) -> Target:
    """The target whose generated Python a source view shows (see `adjoint_source`)."""
    target = target_for(fn, backend, None)
    if target.backend.source_language == "python":
        return target
    if backend is not None:
        raise ValueError(f"adjoin: the {backend} backend generates "
                         f"{target.backend.source_language}, not Python; use "
                         f"adjoin.{backend}_ir to read it")
    return check_backend("python")


def llvm_ir(fn: Callable, *args: Any, wrt: Optional[Wrt] = None, optimized: bool = True,
            signature: Optional[str] = None, error_model: str = "python", **kwargs: Any) -> str:
    """The LLVM IR the llvm backend compiles for `fn`: of the function itself, or with
    `wrt` of its gradient (the combined value-and-gradient function), after O3
    unless `optimized=False`. Types come as for `adjoint_source`.

    Args:
        fn: the function (plain or `adjoin.differentiable`).
        *args: example arguments; only their types matter (keyword arguments too).
        wrt: None for the function itself, else the parameters of the gradient.
        optimized: the IR after LLVM's O3 (True) or as adjoin emits it.
        signature: the parameter types as text instead of examples.
        error_model: "python" or "numpy", as for `adjoin.differentiable`.

    Returns:
        The LLVM IR module as text.

    Raises:
        adjoin.BackendError: the llvm backend cannot lower a construct of `fn`.
        adjoin.CompileError: `fn` cannot be compiled or differentiated.

    Example:
        >>> def f(x):
        ...     return x * x
        >>> "define" in adjoin.llvm_ir(f, 1.0, wrt=0)
        True
    """
    check_backend("llvm", error_model)
    f = unwrap(fn)
    entry = primal_for(fn, f, args, kwargs, signature)
    if wrt is None:
        module = module_of(entry)
    else:
        types = tuple(entry.param_types)
        indices, _ = wrt_indices(f, wrt)
        check_wrt_types(f, types, indices)
        entry, module = gradient_ir(f, types, indices, primal=entry)
    from .backends.llvm import module_llvm_ir
    return module_llvm_ir(module, entry.name, optimized=optimized, error_model=error_model)


def primal_for(fn, f, args, kwargs, signature) -> Function:
    """The specialization a source view shows: for example arguments, for an explicit
    signature (values the closure captures are then constants), or for the types of the
    function's last call. Unsupported syntax is reported first."""
    REGISTRY.parse(f)
    if signature is not None:
        return specialize(f, parse_signature(signature))
    if args or kwargs or not parameter_names(f):
        return prepare(f, args, kwargs).primal
    seen = getattr(fn, "last_types", None)
    if seen:
        return REGISTRY.specialize(f, list(seen), entry=True)
    raise TypeError(f"adjoin: give example arguments (adjoint_source({f.__name__}, 1.0, ...)) "
                    "or signature=\"f64, ...\" so adjoin knows the argument types")


def show_text(fn: Callable, values, types, wrt: Optional[Sequence[str]], emit: str = "gradient",
              backend: str = "python", error_model: str = "python",
              in_axes: Optional[Sequence[Optional[int]]] = None) -> str:
    """What `adjoin show` prints: the generated gradient (or tangent, or with
    `emit="vmap"` batched) code of `backend` (Python source, or the llvm backend's LLVM
    IR). The types are those of one example; `in_axes` (None: every argument) says which
    arguments get a leading batch axis."""
    target = check_backend(backend, error_model)
    f = unwrap(fn)
    primal = prepare(f, values or (), {}).primal if types is None else specialize(f, types)
    names = list(parameter_names(f))
    types = tuple(primal.param_types)[:len(names)]
    if wrt is None:  # adjoin.grad's default: the first argument
        wrt = names[:1]
        if emit != "vmap" and names and not types[0].differentiable():
            raise TypeError(f"adjoin: the default --wrt is the first argument, as for "
                            f"adjoin.grad, and '{names[0]}' of {f.__name__}() is not a float "
                            "or a float array; name the arguments to differentiate with "
                            "--wrt")
    indices, _ = wrt_indices(f, tuple(wrt))
    if emit != "vmap":  # vmap batches the function itself: nothing is differentiated
        check_wrt_types(f, types, indices)
    if emit == "vmap":
        return batched_source(f, primal, types, in_axes, target)
    if emit == "tangent":
        mask = tuple(i in indices for i in range(len(primal.param_types)))
        entry, module = tangent_ir(primal, mask)
    else:
        entry, module = gradient_ir(f, types, indices, primal=primal)
    return target.source(module, entry.name, header_for(f, types, emit))


def batched_source(f: Callable, primal: Function, types, in_axes, target: Target) -> str:
    """The code `adjoin.vmap` runs for `primal` (one example's types), batched along
    axis 0 of the arguments `in_axes` maps, as `target` batches it."""
    from .batch.context import batch_context
    n = len(types)
    axes = [0] * n if in_axes is None else list(in_axes)
    if len(axes) != n or all(a is None for a in axes):
        raise ValueError(f"--in-axes needs one entry per argument ({n}), not all None")
    infos = [a is not None for a in axes] + [False] * (len(primal.params) - n)
    with COMPILE_LOCK:
        ctx = batch_context(REGISTRY)
        if target.backend.batching == "lanes":
            g, _ = ctx.by_lanes(primal, infos)
        else:
            g, _ = ctx.batched(primal, infos, False, primal.loc)
        module = REGISTRY.module_for(g)
    return target.source(module, g.name, header_for(f, types, "vmap"))


def tangent_ir(primal: Function, mask: Tuple[bool, ...]) -> Tuple[Function, Module]:
    """The forward-mode (jvp) IR of `primal` for the parameters `mask` selects."""
    with COMPILE_LOCK:
        ctx = forward_context()
        jf = ctx.jvp_function(primal, mask)
        return jf, ctx.module_for(jf)


def tangent_source(fn: Callable, *args: Any, wrt=0, signature: Optional[str] = None,
                   backend: Optional[str] = None, **kwargs: Any) -> str:
    """The generated forward-mode (tangent) code of `fn`, as Python source text (the
    backend is chosen as for `adjoint_source`).

    Args:
        fn: the function (plain or `adjoin.differentiable`).
        *args: example arguments; only their types matter (keyword arguments too).
        wrt: the parameters carrying a tangent, by index or name, or a tuple of them.
        signature: the parameter types as text instead of examples.
        backend: "python" or "torch"; None as for `adjoint_source`.

    Returns:
        The source text of the jvp function and the functions it calls.

    Raises:
        ValueError: `backend` does not generate Python.
        TypeError: a `wrt` argument with no derivative.
        adjoin.CompileError: `fn` cannot be compiled or differentiated.

    Example:
        >>> def f(x):
        ...     return np.exp(x)
        >>> "def " in adjoin.tangent_source(f, 1.0)
        True
    """
    f, target, primal, types, indices = _view(fn, args, kwargs, signature, wrt, backend)
    entry, module = tangent_ir(primal, tuple(i in indices for i in range(len(types))))
    return target.source(module, entry.name, header_for(f, types, "tangent"))
