"""What a function's closure contributes to its compilation, and its cache keys.

Assumes: plain Python functions (`types.FunctionType`).
Guarantees: a compilation is keyed by what it depends on and never by the function
object, so compiled code keeps no function alive and the closures one factory makes
share their compilations:
  * `spec_key(fn, entry)` is the key of `fn`'s code: its code object, its globals and
    its closure. Compiled as the function a verb was given (`entry=True`), a captured
    number, array or tuple is a hidden argument (`hidden_cells`, read from the cell at
    every call by `captured_values`, so a cell rebound later is seen, as in Python) and
    contributes only the fact that it is one (its type is part of the signature).
    Global arrays the entry function (or a function nested in it) reads are hidden
    arguments too (`global_arrays`). Compiled as a callee (`entry=False`), captured
    values are constants of the code and contribute their values. Captured functions contribute their own keys and their
    defaults (a caller binds them); anything else its identity.
  * Code objects and globals, which keys name by identity, are kept alive by this
    module, so an identity is never reused by another object. Other captured objects are
    named through a weak reference (kept alive only when they allow none): a key naming
    an object that died matches no later object.
  * `alias_groups` groups the array arguments of one call that are one array ("same")
    or may share memory ("overlap"); aliasing is part of a specialization's key.
"""
from __future__ import annotations

import dis
import types
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

Aliases = Tuple[Tuple[str, Tuple[int, ...]], ...]  # ("same" | "overlap", parameter indices)
_VALUES = (bool, int, float, np.bool_, np.integer, np.floating, np.ndarray)
_KEPT: Dict[int, Any] = {}  # objects keys name by id: kept alive so the id stays theirs


def is_value(v: Any) -> bool:
    """A number, array or tuple of them: what compiled code takes as an argument."""
    if isinstance(v, tuple):
        return all(is_value(x) for x in v)
    return isinstance(v, _VALUES)


def _cell(cell) -> Tuple[bool, Any]:
    try:
        return True, cell.cell_contents
    except ValueError:  # an empty cell: a variable not assigned yet
        return False, None


def hidden_cells(fn) -> Tuple[int, ...]:
    """Indices of the closure cells an entry compilation takes as hidden arguments."""
    cells = fn.__closure__ or ()
    out = []
    for i, c in enumerate(cells):
        full, v = _cell(c)
        if full and is_value(v):
            out.append(i)
    return tuple(out)


def hidden_names(fn) -> Tuple[str, ...]:
    return tuple(fn.__code__.co_freevars[i] for i in hidden_cells(fn)) + global_arrays(fn)


def captured_values(fn) -> Tuple[Any, ...]:
    """The current values of the hidden cells (in `hidden_cells` order), then of the
    global arrays the function reads (`global_arrays`)."""
    cells = fn.__closure__
    own = tuple(cells[i].cell_contents for i in hidden_cells(fn)) if cells else ()
    return own + tuple(fn.__globals__[n] for n in global_arrays(fn))


_GLOBAL_NAMES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def global_arrays(fn) -> Tuple[str, ...]:
    """The global names `fn` (or a function nested in it) may read that hold NumPy arrays
    now: hidden arguments of an entry compilation, read at every call as Python reads
    them."""
    names = _GLOBAL_NAMES.get(fn.__code__)
    if names is None:
        names = _GLOBAL_NAMES[fn.__code__] = _loaded_names(fn.__code__)
    g = fn.__globals__
    return tuple(n for n in names if isinstance(g.get(n), np.ndarray))


def _loaded_names(code) -> Tuple[str, ...]:
    """The names `code` (and code nested in it) reads as globals: `LOAD_GLOBAL`
    instructions, never attribute names or locals (`x.T` reads no global `T`)."""
    names = dict.fromkeys(i.argval for i in dis.get_instructions(code)
                          if i.opname in ("LOAD_GLOBAL", "LOAD_NAME"))
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names.update(dict.fromkeys(_loaded_names(c)))
    return tuple(names)


def _keep(obj: Any) -> int:
    _KEPT.setdefault(id(obj), obj)
    return id(obj)


class _Identity:
    """A key part equal only for the same live object (no strong reference to it)."""

    __slots__ = ("id", "ref")

    def __init__(self, obj: Any):
        self.id = id(obj)
        try:
            self.ref = weakref.ref(obj)
        except TypeError:  # no weak references: kept alive instead
            self.ref = lambda: _KEPT.setdefault(id(obj), obj)

    def __hash__(self) -> int:
        return self.id

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, _Identity) or other.id != self.id:
            return False
        mine = self.ref()
        return mine is not None and mine is other.ref()


def _value_key(v: Any) -> Any:
    if isinstance(v, tuple):
        return tuple(_value_key(x) for x in v)
    if isinstance(v, np.ndarray):
        return ("array",)  # never a constant: compiling refuses it, whatever array it is
    return (type(v).__name__, repr(v))  # repr tells -0.0 from 0.0 and nan from itself


def spec_key(fn, entry: bool, _seen: Optional[set] = None) -> Tuple[Any, ...]:
    """The key of `fn`'s compilations (see the module docstring)."""
    code = fn.__code__
    if not fn.__closure__:
        return (_keep(code), _keep(fn.__globals__), ())
    seen = (_seen or set()) | {id(fn)}
    parts = []
    for i, c in enumerate(fn.__closure__ or ()):
        full, v = _cell(c)
        if not full:
            parts.append(("unbound",))
        elif is_value(v):
            parts.append(("arg",) if entry else ("value", _value_key(v)))
        else:
            parts.append(_static_key(v, seen))
    return (_keep(code), _keep(fn.__globals__), tuple(parts))


def _static_key(v: Any, seen: set) -> Any:
    inner = getattr(v, "__adjoin_function__", v)
    if isinstance(inner, types.FunctionType):
        if id(inner) in seen:  # a closure that refers to itself (recursion)
            return ("self", inner.__code__.co_name)
        defaults = tuple(_value_key(d) if is_value(d) else ("object", _Identity(d))
                         for d in inner.__defaults__ or ())
        return ("function", spec_key(inner, False, seen), defaults)
    if v is None:
        return ("none",)
    if isinstance(v, types.ModuleType):
        return ("module", v.__name__)
    return ("object", _Identity(v))


def alias_groups(arrays: Sequence[Tuple[int, Any]], same: Callable[[Any, Any], bool],
                 overlap: Callable[[Any, Any], bool]) -> Aliases:
    """Groups of the (index, array) pairs that are one array or may share memory, each
    array in at most one group of each kind, led by its first member."""
    groups: List[Tuple[str, Tuple[int, ...]]] = []
    done: set = set()
    for k, (i, a) in enumerate(arrays):
        if i in done:
            continue
        one = [j for j, b in arrays[k + 1:] if j not in done and same(a, b)]
        near = [j for j, b in arrays[k + 1:] if j not in done and j not in one and overlap(a, b)]
        if one:
            groups.append(("same", (i, *one)))
        if near:
            groups.append(("overlap", (i, *near)))
        done.update(one + near)
    return tuple(groups)
