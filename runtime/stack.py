"""The stack a thread's compiled calls may use, for the llvm backend's recursion check.

Assumes: a thread created by Python or by C; Linux (glibc or musl:
`pthread_getattr_np`) or macOS (`pthread_get_stackaddr_np`); elsewhere nothing is
known and 0 is returned (no stack check, the recursion limit still holds).
Guarantees: `thread_stack_low()` returns the lowest stack address compiled code
may reach in the calling thread: the stack's end plus a margin (a quarter of the
stack, at most 256 KiB) for the non-recursive work below the last check. It is
computed once per thread and kept in the thread's state dictionary under
STACK_KEY, where machine-code entry points (compiler/backends/llvm/pyentry.py)
read it. Imports nothing of the compiler.
"""
from __future__ import annotations

import ctypes
import sys

STACK_KEY = "adjoin.stack_low"  # the thread's lowest stack address for compiled calls
_GET_DICT = ctypes.pythonapi.PyThreadState_GetDict
_GET_DICT.restype = ctypes.py_object  # ctypes takes it as a new reference; it is borrowed
_GET_DICT.argtypes = []
_INCREF = ctypes.pythonapi.Py_IncRef
_INCREF.argtypes = [ctypes.py_object]


def thread_stack_low() -> int:
    """The lowest stack address compiled code may reach in this thread (0: unknown),
    kept in the thread's state dictionary, where machine-code entry points read it."""
    d = _GET_DICT()
    _INCREF(d)  # the reference ctypes will drop
    low = d.get(STACK_KEY)
    if low is None:
        low = d[STACK_KEY] = _stack_low()
    return low


def _stack_low() -> int:
    """The thread's stack bottom plus a margin (a quarter of the stack, at most 256 KiB)
    for the non-recursive work below the last check; 0 where the platform does not say."""
    try:
        libc = ctypes.CDLL(None)
        libc.pthread_self.restype = ctypes.c_void_p
        me = ctypes.c_void_p(libc.pthread_self())
        if sys.platform == "darwin":
            libc.pthread_get_stackaddr_np.restype = ctypes.c_void_p
            libc.pthread_get_stacksize_np.restype = ctypes.c_size_t
            size = libc.pthread_get_stacksize_np(me)
            low = libc.pthread_get_stackaddr_np(me) - size
        else:
            attr = ctypes.create_string_buffer(256)  # a pthread_attr_t is at most 64 bytes
            if libc.pthread_getattr_np(me, attr) != 0:
                return 0
            addr, size_t = ctypes.c_void_p(), ctypes.c_size_t()
            ok = libc.pthread_attr_getstack(attr, ctypes.byref(addr), ctypes.byref(size_t)) == 0
            libc.pthread_attr_destroy(attr)
            if not ok or not addr.value:
                return 0
            low, size = addr.value, size_t.value
    except (AttributeError, OSError, TypeError):
        return 0
    return low + min(size // 4, 1 << 18)
