"""Derivative entry points: grad, value_and_grad, vjp and the generated source.

Assumes: functions accepted by `api.differentiable`.
Guarantees: gradient code is generated once per (function, argument types, wrt,
backend) and cached; `wrt` accepts an index, a name or a tuple of them, and
differentiating with respect to an int or bool argument is a TypeError naming
it, and with respect to an argument sharing memory with another one the function
writes into is a CompileError. A gradient of a function whose output is not a float is
a TypeError that points to `vjp`. Caches are keyed by the primal specialization's symbol,
never by function object, and filled under `COMPILE_LOCK`.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from .api import (cell_values, check_backend, direct_key, fast_key, header_for, module_of,
                  parse_signature, specialize, unwrap)
from .calls import check_not_aliased, parameter_names, prepare
from .frontend.specialize import COMPILE_LOCK, REGISTRY
from .ir.core import Function, Module
from .ir.types import ArrayType, ScalarType, Type

Wrt = Union[int, str, Sequence[Union[int, str]]]
_CONTEXT = None


def reverse_context():
    global _CONTEXT
    if _CONTEXT is None:
        from .ad.driver import ReverseContext
        from .frontend.specialize import REGISTRY
        _CONTEXT = ReverseContext(REGISTRY)
    return _CONTEXT


def reset_caches() -> None:
    """Forget all compiled code and IR (benchmarks use this to time compilation)."""
    global _CONTEXT
    from .api import _PRIMALS
    from .forward_api import reset_forward
    from .frontend.specialize import REGISTRY
    with COMPILE_LOCK:
        REGISTRY.clear()
        _CONTEXT = None
        _COMPILED.clear()
        _PRIMALS.clear()
        reset_forward()


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


def _describe(t: Type) -> str:
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


_COMPILED: Dict[Tuple, Tuple[Function, Callable, str]] = {}


def gradient_ir(fn: Callable, types: Sequence[Type], wrt: Sequence[int],
                with_value: bool = False, primal: Optional[Function] = None
                ) -> Tuple[Function, Module]:
    """The gradient IR of `primal` (by default `fn` specialized for `types`)."""
    with COMPILE_LOCK:
        primal = primal or specialize(fn, types)
        _check_scalar_output(fn, primal)
        ctx = reverse_context()
        g = ctx.gradient(primal, wrt, with_value)
        return g, ctx.module_for(g)


def compiled_gradient(fn: Callable, types: Tuple[Type, ...], wrt: Tuple[int, ...],
                      with_value: bool, backend: str, primal: Optional[Function] = None
                      ) -> Callable:
    primal = primal or specialize(fn, types)
    key = (primal.name, wrt, with_value, backend)
    hit = _COMPILED.get(key)
    if hit is None:
        with COMPILE_LOCK:
            hit = _COMPILED.get(key)
            if hit is None:
                hit = _COMPILED[key] = _compile_gradient(fn, primal, types, wrt, with_value,
                                                         backend)
    return hit[1]


def _compile_gradient(fn, primal, types, wrt, with_value, backend):
    g, module = gradient_ir(fn, types, wrt, with_value, primal)
    if backend == "llvm":
        from .backends.llvm import compile_entry
        return (g, compile_entry(module, g.name), "")
    from .backends.python import compile_module
    c = compile_module(module, g.name, header_for(fn, types, "gradient"))
    return (g, c.fn, c.source)


def _gradient_call(fn, wrt, with_value, backend):
    f = unwrap(fn)
    indices, single = wrt_indices(f, wrt)

    direct: Dict[Tuple[Any, ...], Callable] = {}  # by fast_key of positional calls

    def finish(out):
        if with_value:
            value, grads = out[0], out[1:]
            return value, (grads[0] if single else tuple(grads))
        return out if single or len(indices) > 1 else (out,)

    def call(*args: Any, **kwargs: Any):
        if not kwargs:
            extra = cell_values(f) if f.__closure__ else ()
            if extra is not None:
                run = direct.get(fast_key(args + extra))
                if run is not None:
                    return finish(run(*args, *extra, 1.0))
        c = prepare(f, args, kwargs)
        check_wrt_types(f, c.types, indices)
        check_not_aliased(f, c, indices, "gradient")
        g = compiled_gradient(f, c.types, indices, with_value, backend, c.primal)
        key = None if kwargs else direct_key(f, c, len(args))
        if key is not None:
            direct[key] = getattr(g, "direct", g)
        return finish(g(*c.values, 1.0))
    call.__name__ = f"grad_{f.__name__}"
    call.__doc__ = f"Gradient of {f.__name__} with respect to {wrt!r} (generated by adjoin)."
    if not with_value:
        call.__adjoin_grad__ = (f, indices, single)
    return call


def grad(fn: Callable, wrt: Wrt = 0, *, backend: str = "python") -> Callable:
    """The gradient of scalar-valued `fn` with respect to the arguments `wrt`.

    `grad(grad(f))` works for scalar arguments: the outer derivative is taken by
    forward mode over the inner gradient's code.
    """
    inner = getattr(fn, "__adjoin_grad__", None)
    if inner is not None:
        from .forward_api import grad_of_grad
        return grad_of_grad(inner, wrt, check_backend(backend))
    return _gradient_call(fn, wrt, False, check_backend(backend))


def value_and_grad(fn: Callable, wrt: Wrt = 0, *, backend: str = "python") -> Callable:
    """Like `grad`, returning `(value, gradient)`."""
    return _gradient_call(fn, wrt, True, check_backend(backend))


# -- vjp ---------------------------------------------------------------------------------------


def vjp(fn: Callable, *args: Any, backend: str = "python", **kwargs: Any):
    """Evaluate `fn(*args)` and return `(value, pullback)`.

    `pullback(cotangent)` returns one cotangent per argument (None for int and
    bool arguments); it may be called any number of times. `pullback.tape_nbytes`
    is the memory the forward pass keeps for it (on the llvm backend, everything
    the pass allocated plus the tape buffer).
    """
    check_backend(backend)
    f = unwrap(fn)
    c = prepare(f, args, kwargs)
    values, primal = c.values, c.primal
    mask = tuple(i < c.n_args and t.differentiable() for i, t in enumerate(c.types))
    if not any(mask):
        raise TypeError(f"adjoin: {f.__name__}() has no float arguments to differentiate")
    check_not_aliased(f, c, [i for i, m in enumerate(mask) if m], "vjp")
    fwd, bwd = compiled_split(f, primal, c.types, mask, backend)
    tape = _new_tape(fwd, backend)
    out = fwd(*values, tape)
    mutated = primal.attrs.get("mutates")
    value = out[0] if mutated else out
    frozen = _freeze(tape)
    nbytes = _tape_nbytes(tape)

    def pullback(cotangent: Any):
        ct = _check_cotangent(cotangent, value, f)
        if mutated:
            ct = (ct,) + tuple(np.zeros_like(a) for a in out[1:])
        grads = bwd(*values, _thaw(frozen), ct)
        grads = (grads,) if sum(mask) == 1 else tuple(grads)
        it = iter(grads)
        return tuple(next(it) if m else None for m in mask[:c.n_args])
    pullback.tape_nbytes = nbytes
    return value, pullback


def _tape_nbytes(tape) -> int:
    """The memory the forward pass left for the backward one: on the llvm backend the
    call context (tape buffer and every array allocated in the pass), in Python the
    tape's values."""
    if not isinstance(tape, list):
        return int(tape.runtime.ctx_bytes(tape.ctx))
    return sum(_nbytes(v) for v in tape)


def _nbytes(v: Any) -> int:
    if isinstance(v, np.ndarray):
        return v.nbytes
    if isinstance(v, (tuple, list)):
        return sum(_nbytes(x) for x in v)
    return 8


def _new_tape(fwd, backend: str):
    """The tape a forward pass records on: a list in Python, a native context in LLVM."""
    if backend == "llvm":
        from .runtime.native import NativeTape
        return NativeTape(fwd.runtime)
    return []


def _freeze(tape):
    if isinstance(tape, list):
        return list(tape)
    tape.mark = tape.runtime.tape_size(tape.ctx)  # each pullback starts from here
    return tape


def _thaw(frozen):
    return list(frozen) if isinstance(frozen, list) else frozen


def compiled_split(f, primal: Function, types, mask, backend: str):
    key = (primal.name, mask, "split", backend)
    hit = _COMPILED.get(key)
    if hit is None:
        with COMPILE_LOCK:
            hit = _COMPILED.get(key) or _compile_split(f, primal, types, mask, backend)
            _COMPILED[key] = hit
    return hit[1]


def _compile_split(f, primal: Function, types, mask, backend: str):
    ctx = reverse_context()
    pair = ctx.split(primal.name, mask)
    ctx.drain()
    module = ctx.module_for(pair.fwd)
    for extra in ctx.module_for(pair.bwd):
        if extra.name not in module:
            module.add(extra)
    if backend == "llvm":
        from .backends.llvm import compile_entries
        fns = compile_entries(module, [pair.fwd.name, pair.bwd.name])
    else:
        from .backends.python import compile_module
        c = compile_module(module, pair.fwd.name, header_for(f, types, "vjp"))
        fns = (c.fn, c.namespace[pair.bwd.name])
    return (None, fns, "")


def _check_cotangent(ct: Any, value: Any, f: Callable) -> Any:
    if isinstance(value, tuple):
        if not isinstance(ct, tuple) or len(ct) != len(value):
            raise TypeError(f"adjoin: {f.__name__}() returns a tuple of {len(value)}; the "
                            "cotangent must be a tuple of the same length")
        return tuple(_check_cotangent(c, v, f) for c, v in zip(ct, value))
    if isinstance(value, np.ndarray):
        ct = np.asarray(ct, dtype=value.dtype) if not isinstance(ct, np.ndarray) else ct
        if ct.shape != value.shape:
            ct = np.broadcast_to(ct, value.shape).copy()
        return ct
    if isinstance(ct, np.ndarray) and ct.ndim == 0:
        ct = ct.item()
    if not isinstance(ct, (int, float, np.floating, np.integer)):
        raise TypeError(f"adjoin: the cotangent of {f.__name__}()'s float output must be a "
                        f"number, got {type(ct).__name__}")
    if isinstance(value, (bool, np.bool_)):
        return False  # int and bool outputs carry no derivative: their cotangent is unused
    if isinstance(value, (int, np.integer)):
        return 0
    return float(ct)


# -- generated source ------------------------------------------------------------------------


def adjoint_source(fn: Callable, *args: Any, wrt: Wrt = 0, signature: Optional[str] = None,
                   **kwargs: Any) -> str:
    """The generated gradient code of `fn` as Python source text.

    The types come from example arguments (`adjoint_source(f, 1.0, 3)`), an
    explicit `signature="f64, i64"`, or else from the function's last call.
    """
    f = unwrap(fn)
    primal = primal_for(fn, f, args, kwargs, signature)
    types = tuple(primal.param_types)
    indices, _ = wrt_indices(f, wrt)
    check_wrt_types(f, types, indices)
    g, module = gradient_ir(f, types, indices, primal=primal)
    from .backends.python import module_source
    return module_source(module, header_for(f, types, "gradient"))


def llvm_ir(fn: Callable, *args: Any, wrt: Optional[Wrt] = None, optimized: bool = True,
            signature: Optional[str] = None, **kwargs: Any) -> str:
    """The LLVM IR the llvm backend compiles for `fn`: of the function itself, or with
    `wrt` of its gradient (the combined value-and-gradient function), after O3
    unless `optimized=False`. Types come as for `adjoint_source`."""
    check_backend("llvm")
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
    return module_llvm_ir(module, entry.name, optimized=optimized)


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


def show_text(fn: Callable, values, types, wrt: Optional[Sequence[str]], emit: str = "python"
              ) -> str:
    """What `adjoin show` prints: the generated gradient (or its LLVM IR / tangent code)."""
    f = unwrap(fn)
    primal = prepare(f, values or (), {}).primal if types is None else specialize(f, types)
    names = list(parameter_names(f))
    types = tuple(primal.param_types)[:len(names)]
    if wrt is None:
        floats = [n for n, t in zip(names, types) if t.differentiable()]
        wrt = floats[:1] or names[:1]
    indices, _ = wrt_indices(f, tuple(wrt))
    check_wrt_types(f, types, indices)
    if emit == "tangent":
        from .forward_api import tangent_source
        return tangent_source(f, signature=", ".join(map(str, types)), wrt=tuple(wrt))
    g, module = gradient_ir(f, types, indices, primal=primal)
    if emit == "llvm":
        check_backend("llvm")
        from .backends.llvm import module_llvm_ir
        return module_llvm_ir(module, g.name)
    from .backends.python import module_source
    return module_source(module, header_for(f, types, "gradient"))
