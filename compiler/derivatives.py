"""Derivative entry points: grad, value_and_grad, vjp and the generated source.

Assumes: functions accepted by `api.differentiable`.
Guarantees: gradient code is generated once per (function, argument types, wrt,
backend) and cached; `wrt` accepts an index, a name or a tuple of them, and
differentiating with respect to an int or bool argument is a TypeError naming
it. A gradient of a function whose output is not a float is a TypeError that
points to `vjp`.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from .api import (bind_arguments, check_backend, fast_key, header_for, module_of,
                  parse_signature, signature_of, specialize, unwrap)
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
    from .forward_api import reset_forward
    from .frontend.specialize import REGISTRY
    REGISTRY.clear()
    _CONTEXT = None
    _COMPILED.clear()
    reset_forward()


def wrt_indices(fn: Callable, wrt: Wrt) -> Tuple[Tuple[int, ...], bool]:
    """Parameter indices for `wrt`, and whether one (not a tuple) was asked for."""
    names = list(inspect.signature(fn).parameters)
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
            names = list(inspect.signature(fn).parameters)
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
                with_value: bool = False) -> Tuple[Function, Module]:
    primal = specialize(fn, types)
    _check_scalar_output(fn, primal)
    ctx = reverse_context()
    g = ctx.gradient(primal, wrt, with_value)
    return g, ctx.module_for(g)


def compiled_gradient(fn: Callable, types: Tuple[Type, ...], wrt: Tuple[int, ...],
                      with_value: bool, backend: str) -> Callable:
    key = (fn, types, wrt, with_value, backend)
    hit = _COMPILED.get(key)
    if hit is None:
        g, module = gradient_ir(fn, types, wrt, with_value)
        if backend == "llvm":
            from .backends.llvm import compile_entry
            hit = (g, compile_entry(module, g.name), "")
        else:
            from .backends.python import compile_module
            c = compile_module(module, g.name, header_for(fn, types, "gradient"))
            hit = (g, c.fn, c.source)
        _COMPILED[key] = hit
    return hit[1]


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
            run = direct.get(fast_key(args))
            if run is not None:
                return finish(run(*args, 1.0))
        values = bind_arguments(f, args, kwargs)
        types = signature_of(f, values)
        check_wrt_types(f, types, indices)
        g = compiled_gradient(f, types, indices, with_value, backend)
        key = fast_key(args)
        if not kwargs and len(args) == len(values) and key is not None:
            direct[key] = getattr(g, "direct", g)
        return finish(g(*values, 1.0))
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
    values = bind_arguments(f, args, kwargs)
    types = signature_of(f, values)
    mask = tuple(t.differentiable() for t in types)
    if not any(mask):
        raise TypeError(f"adjoin: {f.__name__}() has no float arguments to differentiate")
    primal = specialize(f, types)
    fwd, bwd = compiled_split(f, primal, types, mask, backend)
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
        return tuple(next(it) if m else None for m in mask)
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
    key = (f, tuple(types), mask, "split", backend)
    hit = _COMPILED.get(key)
    if hit is None:
        ctx = reverse_context()
        pair = ctx.split_pair(primal.name, mask)
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
        hit = _COMPILED[key] = (None, fns, "")
    return hit[1]


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
    types = types_for(fn, f, args, kwargs, signature)
    indices, _ = wrt_indices(f, wrt)
    check_wrt_types(f, types, indices)
    g, module = gradient_ir(f, types, indices)
    from .backends.python import module_source
    return module_source(module, header_for(f, types, "gradient"))


def llvm_ir(fn: Callable, *args: Any, wrt: Optional[Wrt] = None, optimized: bool = True,
            signature: Optional[str] = None, **kwargs: Any) -> str:
    """The LLVM IR the llvm backend compiles for `fn`: of the function itself, or with
    `wrt` of its gradient (the combined value-and-gradient function), after O3
    unless `optimized=False`. Types come as for `adjoint_source`."""
    check_backend("llvm")
    f = unwrap(fn)
    types = types_for(fn, f, args, kwargs, signature)
    if wrt is None:
        entry = specialize(f, types)
        module = module_of(entry)
    else:
        indices, _ = wrt_indices(f, wrt)
        check_wrt_types(f, types, indices)
        entry, module = gradient_ir(f, types, indices)
    from .backends.llvm import module_llvm_ir
    return module_llvm_ir(module, entry.name, optimized=optimized)


def types_for(fn, f, args, kwargs, signature) -> Tuple[Type, ...]:
    if signature is not None:
        return parse_signature(signature)
    if args or kwargs or not inspect.signature(f).parameters:
        return signature_of(f, bind_arguments(f, args, kwargs))
    seen = getattr(fn, "_primal", None)
    if seen:
        return list(seen)[-1]
    raise TypeError(f"adjoin: give example arguments (adjoint_source({f.__name__}, 1.0, ...)) "
                    "or signature=\"f64, ...\" so adjoin knows the argument types")



def show_text(fn: Callable, values, types, wrt: Optional[Sequence[str]], emit: str = "python"
              ) -> str:
    """What `adjoin show` prints: the generated gradient (or its LLVM IR / tangent code)."""
    f = unwrap(fn)
    if types is None:
        types = signature_of(f, bind_arguments(f, values or (), {}))
    names = list(inspect.signature(f).parameters)
    if wrt is None:
        floats = [n for n, t in zip(names, types) if t.differentiable()]
        wrt = floats[:1] or names[:1]
    indices, _ = wrt_indices(f, tuple(wrt))
    check_wrt_types(f, types, indices)
    if emit == "tangent":
        from .forward_api import tangent_source
        return tangent_source(f, signature=", ".join(map(str, types)), wrt=tuple(wrt))
    g, module = gradient_ir(f, types, indices)
    if emit == "llvm":
        check_backend("llvm")
        from .backends.llvm import module_llvm_ir
        return module_llvm_ir(module, g.name)
    from .backends.python import module_source
    return module_source(module, header_for(f, types, "gradient"))
