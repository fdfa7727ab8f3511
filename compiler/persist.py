"""Whole compiled calls in the disk cache: a repeat run compiles nothing.

Assumes: verbs that run compiled code for a call (the primal, grad, value_and_grad)
and hand `compiled_call` the function that compiles it; backends that mark their
callables with `__adjoin_persist__` and can `restore` them (`backends.base`).
Guarantees: `compiled_call(fn, args, kwargs, what, target, compile)` returns the
call (`calls.Call`) and its compiled code. Looked up in this process first, then on
disk under a key of the environment (`cache_keys.environment_key`: adjoin, Python,
NumPy), the backend's versions and settings (`persist_version`), the target, `what`
(the verb and its options), the argument types and `cache_keys.function_key(fn)`
(the source of `fn` and of everything it reads). A hit runs no frontend, no AD and
no backend compiler: the call's `primal` is then a body-less stand-in with the
name, result type and attributes (`mutates`, `result_kind`) of the specialization
it replaces. A miss compiles as without the cache (`calls.prepare`, then `compile`)
and stores the result. Calls are never cached (and always compiled) when the cache
is off, the backend keeps nothing, an argument is a structure or a function, the
function reads something a key cannot describe (`Uncacheable`), or its array
arguments share memory with one it writes into. Anything that goes wrong reading an
entry is a miss; writing one, a skipped store.
"""
from __future__ import annotations

import pickle
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from . import cache_store
from .backends.base import Target
from .cache_keys import Uncacheable, digest, environment_key, function_key
from .calls import Call, array_aliases, bind_call, prepare
from .compile_phases import count
from .frontend.captures import spec_key
from .frontend.kinds import FunctionSig, split
from .frontend.specialize import COMPILE_LOCK, REGISTRY
from .frontend.structs import has_structure
from .ir.core import Function
from .ir.types import Type
from .primal import on_reset

_FORMAT = 1
# In this process: (code key, types, what, target) -> (primal or stand-in, compiled code)
_MEMORY: Dict[Tuple[Any, ...], Tuple[Function, Callable]] = {}


@on_reset
def reset() -> None:
    _MEMORY.clear()


def compiled_call(fn: Callable, args: Sequence[Any], kwargs: Dict[str, Any],
                  what: Tuple[Any, ...], target: Target,
                  compile: Callable[[Call], Callable]) -> Tuple[Call, Callable]:
    """The call of `fn` on these arguments and its code compiled by `compile(call)`, from
    memory, from disk, or compiled now (see the module docstring)."""
    try:
        values, types, n_args = bind_call(fn, args, kwargs)
    except TypeError:  # reported by `prepare`, after the function's unsupported syntax
        types = None
    if types is None or any(has_structure(t) or isinstance(t, FunctionSig) for t in types):
        c = prepare(fn, args, kwargs)
        return c, compile(c)
    memo = (spec_key(fn, True), types, what, target)
    hit = _MEMORY.get(memo)
    if hit is not None and _unshared(hit[0], values):
        return Call(values, types, n_args, (), hit[0]), hit[1]
    persistent = hit is None and cache_store.enabled() and \
        target.backend.persist_version(target.error_model) is not None
    key = _key(fn, types, what, target) if persistent else None
    if key is not None:
        loaded = _load(key, fn, types, target)
        count("disk_hit" if loaded is not None else "disk_miss")
        if loaded is not None:
            _MEMORY[memo] = loaded
            if _unshared(loaded[0], values):
                return Call(values, types, n_args, (), loaded[0]), loaded[1]
    c = prepare(fn, args, kwargs)
    compiled = compile(c)
    if not c.aliases:
        _MEMORY[memo] = (c.primal, compiled)
        if key is not None:
            _save(key, c.primal, compiled)
    return c, compiled


def _unshared(primal: Function, values: Sequence[Any]) -> bool:
    """Whether the code of `primal` serves these values: it writes into no argument, or
    no array arguments share memory."""
    return not primal.attrs.get("mutates") or not array_aliases(values)


def _key(fn: Callable, types: Sequence[Type], what: Tuple[Any, ...],
         target: Target) -> Optional[str]:
    try:
        source = function_key(fn)
    except (Uncacheable, RecursionError):
        return None
    return digest("call", _FORMAT, environment_key(),
                  target.backend.persist_version(target.error_model), target.name,
                  target.error_model, repr(what), repr(tuple(types)), source)


def _save(key: str, primal: Function, compiled: Callable) -> None:
    saved = getattr(compiled, "__adjoin_persist__", None)
    if saved is None:
        return
    meta = {"name": primal.name, "result_type": primal.result_type,
            "mutates": primal.attrs.get("mutates"),
            "result_kind": primal.attrs.get("result_kind", False)}
    try:
        blob = pickle.dumps((_FORMAT, meta, saved), protocol=pickle.HIGHEST_PROTOCOL)
        if pickle.loads(blob)[1] != meta:  # a structure that does not survive pickling
            return
    except Exception:  # noqa: BLE001 - an unpicklable result: not cached
        return
    if cache_store.store("entries", key, blob):
        count("disk_store")


def _load(key: str, fn: Callable, types: Sequence[Type],
          target: Target) -> Optional[Tuple[Function, Callable]]:
    blob = cache_store.load("entries", key)
    if blob is None:
        return None
    try:
        fmt, meta, (payload, index) = pickle.loads(blob)
        if fmt != _FORMAT:
            return None
        compiled = target.backend.restore(payload)[index]
    except Exception:  # noqa: BLE001 - a damaged or foreign entry is a miss
        return None
    compiled.__adjoin_persist__ = (payload, index)
    with COMPILE_LOCK:  # the symbol the frontend would give this specialization
        symbol = REGISTRY.symbol_for((spec_key(fn, True), tuple(types), ()), fn.__name__)
    params = split(list(types))[0]
    stand_in = Function(symbol, params, [f"p{i}" for i in range(len(params))],
                        meta["result_type"])
    stand_in.attrs.update(result_kind=meta["result_kind"], cached=True)
    if meta["mutates"]:
        stand_in.attrs["mutates"] = meta["mutates"]
    return stand_in, compiled
