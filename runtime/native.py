"""Calling native adjoin code (JIT or a shared library) from Python with NumPy values.

Assumes: entry points with the layout of compiler/backends/llvm/entry.py, and the
runtime's context functions (adjoin_ctx_new, _reset, _free, _error, tape size).
This module imports nothing of the compiler: ahead-of-time artifacts use it.
Guarantees: `NativeFunction(...)(*args)` checks each argument's type against the
signature (TypeError naming it), passes arrays without copying (any strides),
runs the code (each thread with its own context, so threads may call at once;
each context given Python's recursion limit and the thread's stack limit, so deep
recursion raises RecursionError), raises the Python exception for an error code
(MemoryError when no context can be made), and returns
Python floats/ints/bools and NumPy arrays that own their memory; the call's
temporary memory is then released. A `NativeTape` keeps a context alive between
a forward and any number of backward calls (vjp).
"""
from __future__ import annotations

import ctypes
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .stack import STACK_KEY, thread_stack_low

MAX_DIMS = 8
ERRORS = {1: (IndexError, "index out of range"),
          2: (ValueError, "operands could not be broadcast together (or a bad shape/step)"),
          3: (AssertionError, "assertion failed in compiled code"),
          4: (ZeroDivisionError, "integer division or modulo by zero"),
          5: (RuntimeError, "the tape was read past its start"),
          6: (MemoryError, "out of memory"),
          7: (RecursionError, "maximum recursion depth exceeded"),
          8: (ValueError, "negative dimensions are not allowed, or the array is too big"),
          # 9 and up: scalar ops with CPython's semantics (`checked` ops, error_model="python")
          9: (ZeroDivisionError, "float division by zero"),
          10: (ZeroDivisionError, "float floor division by zero"),
          11: (ZeroDivisionError, "float modulo"),
          12: (ZeroDivisionError, "0.0 cannot be raised to a negative power"),
          13: (ValueError, "math domain error"),
          14: (OverflowError, "math range error"),
          15: (OverflowError, "(34, 'Numerical result out of range')"),
          16: (ValueError, "cannot convert float NaN to integer"),
          17: (OverflowError, "cannot convert float infinity to integer"),
          18: (OverflowError, "the int does not fit in 64 bits (CPython returns a larger int; "
                              "adjoin's native ints are 64-bit)"),
          19: (OverflowError, "integer overflow: the result does not fit in 64 bits (CPython's "
                              "ints grow; adjoin's native ints are 64-bit)"),
          20: (ValueError, "a negative number raised to a fractional power is complex in "
                           "CPython; adjoin does not support complex numbers"),
          21: (ZeroDivisionError, "division by zero"),
          22: (ZeroDivisionError, "integer modulo by zero"),
          23: (OverflowError, "complex exponentiation"),
          # np.linalg (the llvm backend's factorizations)
          24: (np.linalg.LinAlgError, "Singular matrix"),
          25: (np.linalg.LinAlgError, "Matrix is not positive definite"),
          26: (np.linalg.LinAlgError, "Last 2 dimensions of the array must be square"),
          64: (SystemError, "memory was written outside an array's allocation (found by "
                            "ADJOIN_CHECK_MEMORY=1): an index out of range under "
                            "ADJOIN_BOUNDSCHECK=0, or a bug in adjoin")}
# The C names of the codes (ADJOIN_ERR_<name> in an ahead-of-time library's header).
ERROR_NAMES = {1: "INDEX", 2: "SHAPE", 3: "ASSERT", 4: "ZERODIV", 5: "TAPE", 6: "MEMORY",
               7: "RECURSION", 8: "SIZE", 9: "FLOAT_DIV",
               10: "FLOAT_FLOORDIV", 11: "FLOAT_MOD", 12: "ZERO_POW", 13: "DOMAIN",
               14: "RANGE", 15: "POW_RANGE", 16: "NAN_TO_INT", 17: "INF_TO_INT",
               18: "INT_TOO_BIG", 19: "INT_OVERFLOW", 20: "FRACTIONAL_POW", 21: "DIV",
               22: "INT_MOD", 23: "COMPLEX_RANGE", 24: "SINGULAR",
               25: "NOT_POSITIVE_DEFINITE", 26: "NOT_SQUARE", 64: "GUARD"}
_DTYPES = {"f64": np.float64, "f32": np.float32, "i64": np.int64, "bool": np.bool_}
_CTYPES = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
           "bool": ctypes.c_uint8, "none": ctypes.c_uint8, "tape": ctypes.c_uint8}


_SPELLED = {"f64": "a float", "f32": "a float", "i64": "an int", "bool": "a bool",
            "none": "None"}
_SHAPE = "shape"  # shapes and strides: int64 arrays (NumPy's ssize_t on 64-bit systems)
assert ctypes.sizeof(ctypes.c_ssize_t) == 8, "adjoin's native code needs a 64-bit platform"


class ArrayOut(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("shape", ctypes.c_int64 * MAX_DIMS),
                ("strides", ctypes.c_int64 * MAX_DIMS)]


# -- type text (the IR's spelling) ------------------------------------------------------------


def parse_type(text: str):
    """'f64' -> 'f64'; 'array<f64, 2>' -> ('array', 'f64', 2); 'tuple<a, b>' -> ('tuple', [...])."""
    t, rest = _parse(text.strip())
    if rest.strip():
        raise ValueError(f"bad type text {text!r}")
    return t


def _parse(s: str):
    s = s.lstrip()
    if s.startswith("array<"):
        inner, rest = s[6:].split(">", 1)
        dtype, ndim = (x.strip() for x in inner.split(","))
        return ("array", dtype, int(ndim)), rest
    if s.startswith("tuple<"):
        s = s[6:].lstrip()
        elts = []
        while not s.startswith(">"):
            t, s = _parse(s)
            elts.append(t)
            s = s.lstrip()
            if s.startswith(","):
                s = s[1:]
        return ("tuple", elts), s[1:]
    for name in ("bool", "none", "tape", "f64", "f32", "i64"):
        if s.startswith(name):
            return name, s[len(name):]
    raise ValueError(f"bad type text at {s[:20]!r}")


def _leaves(t) -> List[Any]:
    if isinstance(t, tuple) and t[0] == "tuple":
        return [x for e in t[1] for x in _leaves(e)]
    return [t]


def _argtypes(t) -> List[Any]:
    out = []
    for leaf in _leaves(t):
        if isinstance(leaf, tuple):
            out += [ctypes.c_void_p, _SHAPE, _SHAPE]
        else:
            out.append(_CTYPES[leaf])
    return out


# -- Python-callable entry points (compiler/backends/llvm/pyentry.py) --------------------------------


class Fallback(Exception):
    """Raised by a Python-callable entry point for arguments it does not convert itself."""


class _MethodDef(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("meth", ctypes.c_void_p), ("flags", ctypes.c_int),
                ("doc", ctypes.c_char_p)]


_METH_FASTCALL = 0x80
_SYMBOLS: Any = None


def python_symbols() -> Optional[Dict[str, int]]:
    """Addresses of the objects Python-callable entry points use, or None when NumPy's
    array layout is not the one they read (they are then not built)."""
    global _SYMBOLS
    if _SYMBOLS is None:
        _SYMBOLS = _find_symbols() or {}
    return _SYMBOLS or None


def _find_symbols() -> Optional[Dict[str, int]]:
    try:
        try:
            from numpy._core import _multiarray_umath as multiarray
        except ImportError:  # NumPy 1.x
            from numpy.core import _multiarray_umath as multiarray
        capsule = multiarray._ARRAY_API
        api = ctypes.pythonapi
        api.PyCapsule_GetName.restype = ctypes.c_char_p
        api.PyCapsule_GetName.argtypes = [ctypes.py_object]
        api.PyCapsule_GetPointer.restype = ctypes.c_void_p
        api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        table = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    except (ImportError, AttributeError, ValueError):
        return None
    if not table or not _layout_ok():
        return None
    objects = {"float": float, "int": int, "True": True, "False": False,
               "ndarray": np.ndarray, "Fallback": Fallback, "RuntimeError": RuntimeError,
               "stack_key": STACK_KEY}
    objects.update((exc.__name__, exc) for exc, _ in ERRORS.values())
    out = {f"adjoin.py.{k}": id(v) for k, v in objects.items()}
    out["adjoin.py.array_api"] = table
    return out


def _layout_ok() -> bool:
    """The fields the entry points read, checked on a real array (NumPy's documented
    PyArrayObject layout: data at 16, nd at 24, dimensions at 32, strides at 40, descr
    at 56, flags at 64; a descr's byte order at 26 and type number at 28)."""
    if sys.byteorder != "little" or ctypes.sizeof(ctypes.c_void_p) != 8:
        return False
    a = np.zeros((3, 4))[:, ::2]
    base = id(a)

    def word(off, t=ctypes.c_int64):
        return t.from_address(base + off).value
    descr = word(56)
    return (word(16) == a.ctypes.data and word(24, ctypes.c_int32) == 2
            and [ctypes.c_int64.from_address(word(32) + 8 * k).value for k in (0, 1)] == [3, 2]
            and [ctypes.c_int64.from_address(word(40) + 8 * k).value for k in (0, 1)] == [32, 16]
            and ctypes.c_int32.from_address(descr + 28).value == a.dtype.num == 12
            and word(64, ctypes.c_int32) & 0x100 != 0
            and np.dtype(np.int64).num == 7)


class PyEntry:
    """A Python-callable entry point: a builtin function over a {context, busy} state."""

    def __init__(self, address: int, runtime: "Runtime", name: str):
        api = ctypes.pythonapi
        api.PyCapsule_New.restype = ctypes.py_object
        api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
        api.PyCFunction_NewEx.restype = ctypes.py_object
        api.PyCFunction_NewEx.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.c_void_p]
        self.runtime = runtime
        # {context, busy flag, id of the thread whose stack limit is cached, the limit}
        self.state = (ctypes.c_void_p * 4)(_new_context(runtime), 0, 0, 0)
        self.name = name.encode()
        self.method = _MethodDef(self.name, address, _METH_FASTCALL, None)
        capsule = api.PyCapsule_New(ctypes.addressof(self.state), None, None)
        self.call = api.PyCFunction_NewEx(ctypes.addressof(self.method), capsule, None)

    def __del__(self):
        try:
            self.runtime.ctx_free(self.state[0])
        except Exception:  # interpreter shutdown
            pass


# -- contexts -------------------------------------------------------------------------------------

def _new_context(runtime: "Runtime") -> int:
    ctx = runtime.ctx_new()
    if not ctx:
        raise MemoryError("adjoin: no memory for a call context")
    return ctx



class Runtime:
    """The context functions of one compiled module or library."""

    def __init__(self, lookup: Callable[[str], int]):
        def fn(name, restype, *argtypes):
            return ctypes.CFUNCTYPE(restype, *argtypes)(lookup(name))
        self.ctx_new = fn("adjoin_ctx_new", ctypes.c_void_p)
        self.ctx_reset = fn("adjoin_ctx_reset", None, ctypes.c_void_p)
        self.ctx_free = fn("adjoin_ctx_free", None, ctypes.c_void_p)
        self.tape_size = fn("adjoin_tape_size", ctypes.c_int64, ctypes.c_void_p)
        self.tape_set = fn("adjoin_tape_set", None, ctypes.c_void_p, ctypes.c_int64)
        self.ctx_bytes = fn("adjoin_ctx_bytes", ctypes.c_int64, ctypes.c_void_p)
        self.set_limits = fn("adjoin_ctx_set_limits", None, ctypes.c_void_p, ctypes.c_int64,
                             ctypes.c_int64)

    def limit(self, ctx: int) -> int:
        """Give `ctx` this thread's limits: Python's recursion limit, and its stack's."""
        depth = sys.getrecursionlimit()
        self.set_limits(ctx, depth, thread_stack_low())
        return depth


class NativeTape:
    """A context kept between a forward call and its backward calls."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.ctx = _new_context(runtime)
        self.mark = 0
        self.lock = threading.Lock()

    def __del__(self):
        try:
            self.runtime.ctx_free(self.ctx)
        except Exception:  # interpreter shutdown
            pass


# -- calls ----------------------------------------------------------------------------------------


class NativeFunction:
    def __init__(self, address: int, params: Sequence[str], result: str, runtime: Runtime,
                 name: str = "function", keepalive: Any = None, py_address: int = 0):
        self.name = name
        # Calls convert their arguments in machine code when the module has a
        # Python-callable entry point, and here (ctypes) otherwise or on Fallback.
        self.py_entry = PyEntry(py_address, runtime, name) if py_address else None
        self.fast = self.py_entry.call if self.py_entry is not None else None
        self.params = [parse_type(p) for p in params]
        self.result = parse_type(result)
        self.runtime = runtime
        self.keepalive = keepalive  # the engine or library owning the code
        argtypes = [ctypes.c_void_p]
        for p in self.params:
            argtypes += _argtypes(p)
        argtypes = [ctypes.c_void_p if a is _SHAPE else a for a in argtypes]
        self.out_leaves = _leaves(self.result)
        argtypes += [ctypes.c_void_p] * len(self.out_leaves)
        self.cfunc = ctypes.CFUNCTYPE(ctypes.c_int32, *argtypes)(address)
        self.fast_dtype = [np.dtype(_DTYPES[p[1]]) if isinstance(p, tuple) and p[0] == "array"
                           else None for p in self.params]
        self.tape_at = next((i for i, p in enumerate(self.params) if p == "tape"), None)
        self.local = threading.local()  # ctypes lets other threads run during a call

    def state(self) -> "_CallState":
        st = getattr(self.local, "state", None)
        if st is None:
            st = self.local.state = _CallState(self)
        return st

    def __call__(self, *args: Any) -> Any:
        if self.fast is not None:
            try:
                return self.fast(*args)
            except Fallback:
                pass
        return self.convert_and_call(*args)

    @property
    def direct(self) -> Callable:
        """The cheapest callable equivalent to this function: a closure that tries the
        machine-code entry point first (callers on hot paths keep it)."""
        fast, slow = self.fast, self.convert_and_call
        if fast is None:
            return slow

        def call(*args: Any) -> Any:
            try:
                return fast(*args)
            except Fallback:
                return slow(*args)
        return call

    def convert_and_call(self, *args: Any) -> Any:
        """The call through ctypes: any argument the signature accepts."""
        if len(args) != len(self.params):
            raise TypeError(f"{self.name}() takes {len(self.params)} arguments, got {len(args)}")
        st = self.local.__dict__.get("state") or self.state()
        tape = args[self.tape_at] if self.tape_at is not None else None
        if isinstance(tape, NativeTape):
            with tape.lock:  # one call at a time on a kept context
                self.runtime.tape_set(tape.ctx, tape.mark)
                self.runtime.limit(tape.ctx)
                return self._run(st, tape.ctx, args, reset=False)
        if st.depth != sys.getrecursionlimit():
            st.depth = self.runtime.limit(st.ctx)
        return self._run(st, st.ctx, args, reset=True)

    def _run(self, st: "_CallState", ctx, args, reset: bool) -> Any:
        flat, keep = [], []
        for i, a in enumerate(args):  # the common cases inline, the rest in _flatten
            t = self.params[i]
            if t == "f64" and type(a) is float:
                flat.append(a)
            elif type(a) is np.ndarray and self.fast_dtype[i] == a.dtype and \
                    a.ndim == t[2] and a.flags.aligned:
                shape, strides = st.buffers[i]
                shape[:] = a.shape
                strides[:] = a.strides
                keep.append(a)
                flat += [a.ctypes.data, *st.addresses[i]]
            else:
                _flatten(a, t, flat, keep, f"argument {i} of {self.name}()")
        status = self.cfunc(ctx, *flat, *st.out_addresses)
        try:
            if status:
                exc, msg = ERRORS.get(status, (RuntimeError, f"error {status}"))
                raise exc(f"{msg} (in compiled {self.name})")
            if self.result == "f64":
                return st.outs[0].value
            values = [_value(o, x) for o, x in zip(st.outs, self.out_leaves)]
            return _rebuild(self.result, iter(values))
        finally:
            if reset:
                self.runtime.ctx_reset(ctx)


class _CallState:
    """What one thread's calls of one function reuse: a context, and the shape, stride
    and result buffers passed by address (plain integers are ctypes' fastest arguments)."""

    def __init__(self, fn: NativeFunction):
        self.runtime = fn.runtime
        self.ctx = _new_context(fn.runtime)
        self.depth = fn.runtime.limit(self.ctx)  # the recursion limit it was given
        self.buffers = [((ctypes.c_ssize_t * p[2])(), (ctypes.c_ssize_t * p[2])())
                        if isinstance(p, tuple) and p[0] == "array" else None
                        for p in fn.params]
        self.addresses = [(ctypes.addressof(b[0]), ctypes.addressof(b[1])) if b else None
                          for b in self.buffers]
        self.outs = [ArrayOut() if isinstance(x, tuple) else _CTYPES[x]()
                     for x in fn.out_leaves]
        self.out_addresses = [ctypes.addressof(o) for o in self.outs]

    def __del__(self):
        try:
            self.runtime.ctx_free(self.ctx)
        except Exception:  # interpreter shutdown
            pass


def _flatten(a: Any, t, flat: List[Any], keep: List[Any], what: str) -> None:
    if isinstance(t, tuple) and t[0] == "tuple":
        if not isinstance(a, tuple) or len(a) != len(t[1]):
            raise TypeError(f"{what} must be a tuple of {len(t[1])}")
        for k, (x, e) in enumerate(zip(a, t[1])):
            _flatten(x, e, flat, keep, f"{what}[{k}]")
        return
    if isinstance(t, tuple):  # an array
        _, dtype, ndim = t
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{what} must be a NumPy array of {dtype}, got {type(a).__name__}")
        if a.ndim != ndim:
            raise TypeError(f"{what} must have {ndim} dimensions, got {a.ndim}")
        want = np.dtype(_DTYPES[dtype])
        if a.dtype != want or any(s % want.itemsize for s in a.strides):
            a = np.ascontiguousarray(a, dtype=want)
        shape = (ctypes.c_ssize_t * ndim)(*a.shape)
        strides = (ctypes.c_ssize_t * ndim)(*a.strides)
        keep += [a, shape, strides]  # all must outlive the call
        flat += [a.ctypes.data, ctypes.addressof(shape), ctypes.addressof(strides)]
        return
    if t == "tape":
        flat.append(0)
        return
    if t in ("f64", "f32") and isinstance(a, (float, int, np.floating, np.integer)):
        flat.append(float(a))
    elif t == "i64" and isinstance(a, (int, np.integer)):
        if not -2**63 <= int(a) < 2**63:
            raise TypeError(f"{what} = {a} does not fit in 64 bits")
        flat.append(int(a))
    elif t == "bool" and isinstance(a, (bool, np.bool_)):
        flat.append(int(bool(a)))
    elif t == "none" and a is None:
        flat.append(0)
    else:
        raise TypeError(f"{what} must be {_SPELLED.get(t, t)}, got {type(a).__name__}")


def _value(o: Any, t) -> Any:
    if isinstance(t, tuple):
        _, dtype, ndim = t
        dt = np.dtype(_DTYPES[dtype])
        shape = tuple(o.shape[:ndim])
        strides = tuple(o.strides[:ndim])
        if any(s == 0 for s in shape):
            return np.zeros(shape, dtype=dt)
        span = sum((d - 1) * abs(s) for d, s in zip(shape, strides)) + dt.itemsize
        lo = sum((d - 1) * s for d, s in zip(shape, strides) if s < 0)
        buf = (ctypes.c_char * span).from_address(o.data + lo)
        view = np.ndarray(shape, dt, buffer=buf, offset=-lo, strides=strides)
        return view.copy()
    if t in ("f64", "f32"):
        return float(o.value)
    if t == "i64":
        return int(o.value)
    if t == "bool":
        return bool(o.value)
    return None


def _rebuild(t, values):
    if isinstance(t, tuple) and t[0] == "tuple":
        return tuple(_rebuild(e, values) for e in t[1])
    return next(values)


__all__ = ["NativeFunction", "NativeTape", "Runtime", "parse_type", "Tuple"]
