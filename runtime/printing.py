"""`print` from machine code: the llvm backend's calls back into Python.

Assumes: called by code the llvm backend compiled into this process (the symbols
`adjoin_print_item` and `adjoin_print_done` resolve to the callbacks here); ctypes takes
the GIL for each callback.
Guarantees: a `print` op registers its texts, `sep`, `end` and `flush` once (`register`,
at compile time) and gets an id; at run time the code hands over each value
(`adjoin_print_item`: a number with its kind, or an array's data, dtype, shape and
strides, copied at once) and then the id (`adjoin_print_done`), and Python's `print`
prints the values as CPython would (`str` of floats, ints, bools, NumPy float32 and
arrays), the texts in place. Values are gathered per thread.
"""
from __future__ import annotations

import ctypes
import threading
from typing import Dict, List, Tuple

import numpy as np

# Kinds of values (the first argument of adjoin_print_item).
F64, F32, I64, BOOL, ARRAY = 0, 1, 2, 3, 4
DTYPES = {0: np.float64, 1: np.float32, 2: np.int64, 3: np.bool_}

_TEMPLATES: List[Tuple[tuple, tuple, dict]] = []
_INDEX: Dict[Tuple, int] = {}
_LOCK = threading.Lock()
_PENDING = threading.local()

ITEM = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_double, ctypes.c_int64,
                        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
DONE = ctypes.CFUNCTYPE(None, ctypes.c_int64)


def register(texts: tuple, at: tuple, options: dict) -> int:
    """The id of a print template: constant texts, their positions, sep/end/flush."""
    key = (texts, at, tuple(sorted(options.items())))
    with _LOCK:
        hit = _INDEX.get(key)
        if hit is None:
            hit = _INDEX[key] = len(_TEMPLATES)
            _TEMPLATES.append((texts, at, dict(options)))
    return hit


def _pending() -> list:
    items = getattr(_PENDING, "items", None)
    if items is None:
        items = _PENDING.items = []
    return items


def _item(kind, x, i, data, shape, strides, ndim) -> None:
    try:
        _pending().append(_value(kind, x, i, data, shape, strides, ndim))
    except Exception as e:  # a callback must not raise into machine code
        _pending().append(f"<adjoin: cannot print this value: {e}>")


def _value(kind, x, i, data, shape, strides, ndim):
    if kind == F64:
        return x
    if kind == F32:
        return np.float32(x)
    if kind == I64:
        return i
    if kind == BOOL:
        return bool(i)
    dtype = np.dtype(DTYPES[i])
    dims = [ctypes.c_int64.from_address(shape + 8 * k).value for k in range(ndim)]
    steps = [ctypes.c_int64.from_address(strides + 8 * k).value for k in range(ndim)]
    if not all(dims):
        return np.zeros(dims, dtype)
    span = sum((n - 1) * abs(s) for n, s in zip(dims, steps)) + dtype.itemsize
    lo = data + sum((n - 1) * s for n, s in zip(dims, steps) if s < 0)
    buf = (ctypes.c_char * span).from_address(lo)
    base = np.frombuffer(buf, dtype=np.uint8)
    return np.lib.stride_tricks.as_strided(base[data - lo:].view(dtype), dims, steps).copy()


def _done(template: int) -> None:
    values = _pending()
    _PENDING.items = []
    texts, at, options = _TEMPLATES[template]
    items: list = list(values)
    for pos, text in zip(at, texts):
        items.insert(pos, text)
    print(*items, **options)


_CALLBACKS = (ITEM(_item), DONE(_done))  # kept alive: machine code holds their addresses


def symbols() -> Dict[str, int]:
    """The addresses the llvm backend's `print` code calls."""
    return {"adjoin_print_item": ctypes.cast(_CALLBACKS[0], ctypes.c_void_p).value,
            "adjoin_print_done": ctypes.cast(_CALLBACKS[1], ctypes.c_void_p).value}
