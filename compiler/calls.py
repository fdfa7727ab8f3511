"""Calls of compiled code from Python: a call's arguments to a specialization's inputs.

Assumes: plain Python functions (after `api.unwrap`).
Guarantees: `prepare(fn, args, kwargs)` first reports the function's unsupported syntax
(at its source, before any argument is looked at), then binds the arguments as Python
binds them (TypeError), appends the values its closure captures (read from the cells
now), types them (TypeError naming a bad one), turns structured values (lists, dicts,
namedtuples, dataclasses) into the nested tuples compiled code takes, and specializes
the function. For a
function that writes into its arguments it also finds the array arguments that share
memory (the same array, or views that overlap: `np.may_share_memory`, confirmed by
`np.shares_memory` within a bounded effort; arrays inside tuple arguments included) and
specializes for that aliasing; other functions skip the check, so ordinary calls stay
cheap. The specialization's symbol (`Call.primal.name`) names its code, closure kind,
types and aliasing: caches of compiled code use it, never the function object, so they
keep no function alive.
"""
from __future__ import annotations

import inspect
import weakref
from typing import Any, Callable, Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .errors import CompileError, Loc
from .frontend.captures import Aliases, alias_groups, captured_values, hidden_names
from .frontend.specialize import REGISTRY, typeof
from .frontend.kinds import FunctionSig
from .frontend.structs import has_structure, to_nested
from .ir.core import Function
from .ir.types import Type
from .runtime import is_tensor

_SIGNATURES: "weakref.WeakKeyDictionary[Callable, Tuple]" = weakref.WeakKeyDictionary()


def signature(fn: Callable) -> Tuple[inspect.Signature, Tuple[str, ...], bool]:
    """The signature of `fn` itself (never of a function it wraps), its parameter names,
    and whether all are plain positional ones (cached without keeping `fn` alive)."""
    hit = _SIGNATURES.get(fn)
    if hit is None:
        sig = inspect.signature(fn, follow_wrapped=False)
        plain = all(p.kind == p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values())
        hit = _SIGNATURES[fn] = (sig, tuple(sig.parameters), plain)
    return hit


def parameter_names(fn: Callable) -> Tuple[str, ...]:
    return signature(fn)[1]


def bind_arguments(fn: Callable, args: Sequence[Any], kwargs: Dict[str, Any]) -> Tuple[Any, ...]:
    """Positional argument values in parameter order, as Python would bind them."""
    sig, names, plain = signature(fn)
    if plain and not kwargs and len(args) == len(names):
        return tuple(args)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{fn.__name__}() {e}") from None
    bound.apply_defaults()
    return tuple(bound.arguments.values())


_TYPES_BY_KEY: Dict[Tuple[Any, ...], Tuple[Type, ...]] = {}


def fast_key(values: Sequence[Any]) -> Optional[Tuple[Any, ...]]:
    """A cheap key that fixes the argument types of the common cases (floats, bools,
    64-bit ints, arrays); None for the others, which take the general path."""
    key = []
    for v in values:
        t = type(v)
        if t is np.ndarray:
            key.append((v.dtype, v.ndim))
        elif t is float or t is bool or (t is int and -2**63 <= v < 2**63):
            key.append(t)
        else:
            return None
    return tuple(key)


def signature_of(fn: Callable, values: Sequence[Any]) -> Tuple[Type, ...]:
    """The IR types of argument values (TypeError naming a bad one)."""
    key = fast_key(values)
    types = _TYPES_BY_KEY.get(key) if key is not None else None
    if types is None:
        names = parameter_names(fn)
        types = tuple(typeof(v, f"argument '{n}' of {fn.__name__}()")
                      for n, v in zip(names, values))
        if key is not None and len(_TYPES_BY_KEY) < 4096:
            _TYPES_BY_KEY[key] = types
    return types


class Call(NamedTuple):
    """One call's inputs to compiled code and the specialization they select."""
    values: Tuple[Any, ...]   # the parameters in order, then the captured values
    types: Tuple[Type, ...]
    n_args: int               # how many of `values` are parameters
    aliases: Aliases          # array arguments sharing memory (functions writing into them)
    primal: Function

    def aliased(self) -> set:
        return {i for _, group in self.aliases for i in group}


def prepare(fn: Callable, args: Sequence[Any], kwargs: Dict[str, Any]) -> Call:
    REGISTRY.parse(fn)  # unsupported syntax is reported before argument types
    values, types, n_args = bind_call(fn, args, kwargs)
    primal = REGISTRY.specialize(fn, list(types), entry=True)
    aliases: Aliases = ()
    if primal.attrs.get("mutates"):
        aliases = array_aliases(values)
        if aliases:
            primal = REGISTRY.specialize(fn, list(types), entry=True, aliases=aliases)
    return Call(values, types, n_args, aliases, primal)


def bind_call(fn: Callable, args: Sequence[Any], kwargs: Dict[str, Any]
              ) -> Tuple[Tuple[Any, ...], Tuple[Type, ...], int]:
    """The values compiled code takes (parameters, then captured values), their types,
    and how many are parameters: `prepare` without specializing."""
    values = bind_arguments(fn, args, kwargs)
    types = signature_of(fn, values)
    n_args = len(values)
    captured = captured_values(fn)  # closure cells, global arrays
    if captured:
        types += tuple(typeof(v, f"the captured variable '{n}' of {fn.__name__}()")
                       for n, v in zip(hidden_names(fn), captured))
        values += captured
    if any(has_structure(t) or isinstance(t, FunctionSig) for t in types):
        # lists, dicts, ...: as nested tuples; functions: specialized on, passed as None
        values = tuple(None if isinstance(t, FunctionSig) else to_nested(v, t)
                       for v, t in zip(values, types))
    return values, types, n_args


def array_aliases(values: Sequence[Any]) -> Aliases:
    """Groups of argument values that are one array ("same": equal data, shape, strides
    and dtype) or may share memory ("overlap", also for arrays inside tuples). Torch
    tensors count as arrays (memory shared with a NumPy array included)."""
    arrays = [(i, v) for i, v in enumerate(values) if _leaves(v)]
    if len(arrays) < 2:
        return ()
    return alias_groups(arrays, _same_array, lambda a, b: any(
        _may_share(x, y) for x in _leaves(a) for y in _leaves(b)))


def _leaves(v: Any) -> list:
    if _is_array(v):
        return [v]
    return [x for e in v for x in _leaves(e)] if isinstance(v, tuple) else []


def _layout(a: Any) -> Tuple[int, Tuple[int, ...], Tuple[int, ...], str, int, int]:
    """Address of the first element, shape, strides (bytes), dtype, and the byte range the
    array may touch."""
    if isinstance(a, np.ndarray):
        lo, hi = np.lib.array_utils.byte_bounds(a) if hasattr(np.lib, "array_utils") \
            else np.byte_bounds(a)
        return (a.__array_interface__["data"][0], a.shape, a.strides, str(a.dtype), lo, hi)
    size = a.element_size()
    start = a.data_ptr()
    extent = sum((n - 1) * st for n, st in zip(a.shape, a.stride()) if n > 0) + 1
    device = 0 if a.device.type == "cpu" else hash(str(a.device)) | 1
    lo = start + device
    return (lo, tuple(a.shape), tuple(st * size for st in a.stride()),
            str(a.dtype).replace("torch.", ""), lo, lo + extent * size)


def _is_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) or (is_tensor(v) and v.dim() > 0)


def _same_array(a: Any, b: Any) -> bool:
    if not (_is_array(a) and _is_array(b)):
        return False
    return a is b or _layout(a)[:4] == _layout(b)[:4]


def _may_share(x: Any, y: Any) -> bool:
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        return np.may_share_memory(x, y) and _shares(x, y)
    lx, ly = _layout(x), _layout(y)
    return lx[4] < ly[5] and ly[4] < lx[5]  # overlapping byte ranges (decided coarsely)


def _shares(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        return bool(np.shares_memory(a, b, max_work=100_000))
    except np.exceptions.TooHardError:
        return True  # undecided: treated as sharing (refused, never wrong)


def check_not_aliased(fn: Callable, call: Call, indices: Sequence[int], what: str) -> None:
    """Derivatives with respect to an argument that shares memory with another, in a
    function writing into its arguments, are ill-defined: a CompileError."""
    bad = sorted(set(indices) & call.aliased()) if call.aliases else ()
    if bad:
        names = parameter_names(fn) + hidden_names(fn)
        other = next(j for _, g in call.aliases if bad[0] in g for j in g if j != bad[0])
        code = fn.__code__
        raise CompileError(
            f"cannot take the {what} of {fn.__name__}() with respect to '{names[bad[0]]}': it "
            f"shares memory with '{names[other]}' and {fn.__name__}() writes into its "
            "arguments, so that derivative is not defined; pass a copy",
            Loc(code.co_filename, code.co_firstlineno, 0), "aliased argument")
