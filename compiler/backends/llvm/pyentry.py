"""Python-callable entry points: argument and result conversion in machine code.

Assumes: a JIT module, run in this process: the CPython C API functions resolve
from the process, and `runtime/native.py` registers the objects named `adjoin.py.*`
(float, int, True, False, ndarray, the exceptions, NumPy's array API table) with
LLVM before the module is compiled, after checking NumPy's array layout.
Guarantees: `define_py_entry(ml, f, entry, symbol)` adds, for signatures of scalars
(f64, i64, bool) and arrays (f64, f32, i64, bool) with results of those types or
tuples of them,
    PyObject *symbol(PyObject *state, PyObject *const *args, Py_ssize_t nargs)
(METH_FASTCALL; `state` a capsule holding {context, busy flag, cached thread id,
its stack limit}). It converts only exactly the argument types the signature
names: any other count, type, dtype, rank, byte order or misaligned array raises
the runtime's `Fallback`, and the ctypes path converts or reports it (so does a
thread whose stack limit the runtime has not yet recorded). It gives the context
Python's recursion limit and the thread's stack limit, runs the entry with the
GIL released, on its own context (a call arriving while one runs falls back, to
a per-thread context); turns an error code into the exception CPython would
raise; returns floats, ints, bools and new contiguous NumPy arrays; and resets
the context.
Signatures it does not cover get no such entry (None).
"""
from __future__ import annotations

from typing import List, Optional

from llvmlite import ir

from ...ir.core import Function
from ...ir.types import ArrayType, ScalarType, TupleType, Type
from .types import F64, I32, I64, I8, I8P, SIZES, element

OBJ = I8P
NPY_ALIGNED = 0x100
# Field offsets (bytes) of PyObject, PyFloatObject, PyArrayObject and PyArray_Descr.
OB_TYPE, FLOAT_VAL = 8, 16
ARR_DATA, ARR_ND, ARR_DIMS, ARR_STRIDES, ARR_DESCR, ARR_FLAGS = 16, 24, 32, 40, 56, 64
DESCR_BYTEORDER, DESCR_TYPENUM = 26, 28
ARRAY_NEW = 93  # PyArray_New's slot in NumPy's array API table
TYPENUMS = {"f64": 12, "f32": 11, "i64": 7, "bool": 0}  # NumPy's numbers on LP64 systems


def supported(f: Function) -> bool:
    def ok(t: Type, result: bool) -> bool:
        if isinstance(t, TupleType):
            return result and all(ok(e, False) for e in t.elts)
        if isinstance(t, ArrayType):
            return t.dtype.name in TYPENUMS
        return isinstance(t, ScalarType) and t.name in ("f64", "i64", "bool")
    return all(ok(t, False) for t in f.param_types) and ok(f.result_type, True)


class _Api:
    """Declarations of the C API functions and objects one module uses."""

    def __init__(self, m: ir.Module):
        self.m = m

    def fn(self, name: str, ret, args) -> ir.Function:
        g = self.m.globals.get(name)
        return g if g is not None else ir.Function(self.m, ir.FunctionType(ret, args), name)

    def obj(self, name: str) -> ir.Value:
        g = self.m.globals.get(f"adjoin.py.{name}")
        if g is None:
            g = ir.GlobalVariable(self.m, I8, f"adjoin.py.{name}")
        return g


def define_py_entry(ml, f: Function, entry: ir.Function, symbol: str) -> Optional[ir.Function]:
    if not supported(f):
        return None
    api = _Api(ml.m)
    fn = ir.Function(ml.m, ir.FunctionType(OBJ, [OBJ, OBJ.as_pointer(), I64]), symbol)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    fallback = fn.append_basic_block("fallback")
    state = b.bitcast(b.call(api.fn("PyCapsule_GetPointer", I8P, [OBJ, I8P]),
                             [fn.args[0], ir.Constant(I8P, None)]), I8P.as_pointer())
    busy = b.bitcast(b.gep(state, [I32(1)]), I8P)
    flat = _arguments(b, api, f, fn, fallback)
    won = b.extract_value(b.cmpxchg(busy, I8(0), I8(1), "acquire", "monotonic"), 1)
    run = fn.append_basic_block("run")
    b.cbranch(won, run, fallback)
    b.position_at_end(run)
    ctx = b.bitcast(b.load(state), entry.args[0].type)
    low = _stack_low(b, api, fn, state, busy, fallback)
    depth = b.call(api.fn("Py_GetRecursionLimit", I32, []), [])
    b.call(ml.rt.set_limits, [ctx, b.sext(depth, I64), low])
    outs = [b.alloca(t.pointee) for t in entry.function_type.args[1 + len(flat):]]
    saved = b.call(api.fn("PyEval_SaveThread", I8P, []), [])
    status = b.call(entry, [ctx] + flat + outs)
    b.call(api.fn("PyEval_RestoreThread", ir.VoidType(), [I8P]), [saved])
    failed = fn.append_basic_block("failed")
    box = fn.append_basic_block("box")
    b.cbranch(b.icmp_signed("!=", status, I32(0)), failed, box)
    b.position_at_end(failed)
    _raise(b, api, status, f.name)
    _finish(b, ml, ctx, busy, ir.Constant(OBJ, None))
    b.position_at_end(box)
    _finish(b, ml, ctx, busy, _results(b, api, f.result_type, outs))
    b.position_at_end(fallback)
    b.call(api.fn("PyErr_SetNone", ir.VoidType(), [OBJ]), [api.obj("Fallback")])
    b.ret(ir.Constant(OBJ, None))
    return fn


def _finish(b, ml, ctx, busy, value) -> None:
    b.call(ml.rt.ctx_reset, [ctx])
    b.store_atomic(I8(0), busy, "release", 1)
    b.ret(value)


def _field(b, p, offset: int, t: ir.Type) -> ir.Value:
    return b.load(b.bitcast(b.gep(p, [I64(offset)]), t.as_pointer()))


def _require(b, cond, fallback, fn) -> None:
    ok = fn.append_basic_block("ok")
    b.cbranch(cond, ok, fallback)
    b.position_at_end(ok)


def _arguments(b, api: _Api, f: Function, fn, fallback) -> List[ir.Value]:
    """The entry's flattened arguments from `args`, or a jump to `fallback`."""
    want = len(f.param_types)
    _require(b, b.icmp_signed("==", fn.args[2], I64(want)), fallback, fn)
    flat: List[ir.Value] = []
    for i, t in enumerate(f.param_types):
        obj = b.load(b.gep(fn.args[1], [I64(i)]))
        kind = _field(b, obj, OB_TYPE, I8P)
        if isinstance(t, ArrayType):
            flat += _array(b, api, obj, kind, t, fallback, fn)
        elif t.name == "f64":
            _require(b, b.icmp_unsigned("==", kind, api.obj("float")), fallback, fn)
            flat.append(_field(b, obj, FLOAT_VAL, F64))
        elif t.name == "i64":
            _require(b, b.icmp_unsigned("==", kind, api.obj("int")), fallback, fn)
            v = b.call(api.fn("PyLong_AsLongLong", I64, [OBJ]), [obj])
            err = b.call(api.fn("PyErr_Occurred", OBJ, []), [])
            too_big = b.icmp_unsigned("!=", err, ir.Constant(OBJ, None))
            with b.if_then(too_big, likely=False):  # beyond 64 bits: the slow path says so
                b.call(api.fn("PyErr_Clear", ir.VoidType(), []), [])
            _require(b, b.not_(too_big), fallback, fn)
            flat.append(v)
        else:  # bool: exactly True or False
            is_true = b.icmp_unsigned("==", obj, api.obj("True"))
            is_false = b.icmp_unsigned("==", obj, api.obj("False"))
            _require(b, b.or_(is_true, is_false), fallback, fn)
            flat.append(b.zext(is_true, I8))
    return flat


def _array(b, api: _Api, obj, kind, t: ArrayType, fallback, fn) -> List[ir.Value]:
    _require(b, b.icmp_unsigned("==", kind, api.obj("ndarray")), fallback, fn)
    descr = _field(b, obj, ARR_DESCR, I8P)
    ok = b.and_(b.icmp_signed("==", _field(b, obj, ARR_ND, I32), I32(t.ndim)),
                b.icmp_signed("==", _field(b, descr, DESCR_TYPENUM, I32),
                              I32(TYPENUMS[t.dtype.name])))
    ok = b.and_(ok, b.icmp_unsigned("!=", _field(b, descr, DESCR_BYTEORDER, I8), I8(ord(">"))))
    aligned = b.and_(_field(b, obj, ARR_FLAGS, I32), I32(NPY_ALIGNED))
    _require(b, b.and_(ok, b.icmp_unsigned("!=", aligned, I32(0))), fallback, fn)
    data = b.bitcast(_field(b, obj, ARR_DATA, I8P), element(t.dtype).as_pointer())
    return [data, _field(b, obj, ARR_DIMS, I64.as_pointer()),
            _field(b, obj, ARR_STRIDES, I64.as_pointer())]


def _stack_low(b, api: _Api, fn, state, busy, fallback) -> ir.Value:
    """The calling thread's stack limit. It is cached in the state (slot 2: the thread's
    unique id, never reused; slot 3: the limit); on a miss it is read from the thread's
    state dictionary, where runtime.native puts it on the thread's first call through
    ctypes; without it, the busy flag is released and the call falls back."""
    tid = b.call(api.fn("PyThreadState_GetID", I64, [OBJ]),
                 [b.call(api.fn("PyThreadState_Get", OBJ, []), [])])
    slot_id, slot_low = (b.bitcast(b.gep(state, [I32(k)]), I64.as_pointer()) for k in (2, 3))
    hit_bb, miss, ready = b.block, fn.append_basic_block("stack.miss"), \
        fn.append_basic_block("stack.ready")
    cached = b.load(slot_low)
    b.cbranch(b.icmp_unsigned("==", b.load(slot_id), tid), ready, miss)
    b.position_at_end(miss)
    found, give_up, lookup = (fn.append_basic_block(f"stack.{x}")
                              for x in ("found", "unknown", "lookup"))
    d = b.call(api.fn("PyThreadState_GetDict", OBJ, []), [])
    b.cbranch(b.icmp_unsigned("!=", d, ir.Constant(OBJ, None)), lookup, give_up)
    b.position_at_end(lookup)
    item = b.call(api.fn("PyDict_GetItemWithError", OBJ, [OBJ, OBJ]), [d, api.obj("stack_key")])
    b.cbranch(b.icmp_unsigned("!=", item, ir.Constant(OBJ, None)), found, give_up)
    b.position_at_end(give_up)
    b.store_atomic(I8(0), busy, "release", 1)
    b.branch(fallback)
    b.position_at_end(found)
    low = b.call(api.fn("PyLong_AsLongLong", I64, [OBJ]), [item])
    b.store(tid, slot_id)
    b.store(low, slot_low)
    b.branch(ready)
    b.position_at_end(ready)
    phi = b.phi(I64)
    phi.add_incoming(cached, hit_bb)
    phi.add_incoming(low, found)
    return phi


def _raise(b, api: _Api, status, name: str) -> None:
    """PyErr_SetString with the exception and the message of an error code."""
    from ...runtime.native import ERRORS
    exc, msg = api.obj("RuntimeError"), _text(api.m, f"error in compiled {name}")
    for code, (kind, text) in ERRORS.items():
        hit = b.icmp_signed("==", status, I32(code))
        exc = b.select(hit, api.obj(kind.__name__), exc)
        msg = b.select(hit, _text(api.m, f"{text} (in compiled {name})"), msg)
    b.call(api.fn("PyErr_SetString", ir.VoidType(), [OBJ, I8P]), [exc, msg])


def _text(m: ir.Module, text: str) -> ir.Value:
    data = bytearray(text.encode()) + b"\0"
    name = f"adjoin.py.text.{len(m.globals)}"
    g = ir.GlobalVariable(m, ir.ArrayType(I8, len(data)), name)
    g.global_constant = True
    g.linkage = "private"
    g.initializer = ir.Constant(g.type.pointee, data)
    return g.bitcast(I8P)


def _results(b, api: _Api, t: Type, outs: List[ir.Value]) -> ir.Value:
    """The Python object for result type `t`, consuming the result slots `outs`."""
    if isinstance(t, TupleType):
        items = [_results(b, api, e, outs) for e in t.elts]
        tup = b.call(api.fn("PyTuple_New", OBJ, [I64]), [I64(len(items))])
        for k, item in enumerate(items):  # PyTuple_SetItem takes the item's reference
            b.call(api.fn("PyTuple_SetItem", I32, [OBJ, I64, OBJ]), [tup, I64(k), item])
        return tup
    slot = outs.pop(0)
    if isinstance(t, ArrayType):
        return _new_array(b, api, t, slot)
    if t.name == "f64":
        return b.call(api.fn("PyFloat_FromDouble", OBJ, [F64]), [b.load(slot)])
    if t.name == "i64":
        return b.call(api.fn("PyLong_FromLongLong", OBJ, [I64]), [b.load(slot)])
    return b.call(api.fn("PyBool_FromLong", OBJ, [I64]), [b.zext(b.load(slot), I64)])


def _new_array(b, api: _Api, t: ArrayType, slot) -> ir.Value:
    """A new C-contiguous NumPy array holding a copy of the result in `slot`."""
    dims = b.gep(slot, [I32(0), I32(1), I32(0)])
    table = b.bitcast(api.obj("array_api"), I8P.as_pointer())
    new_t = ir.FunctionType(OBJ, [OBJ, I32, I64.as_pointer(), I32, I64.as_pointer(), I8P, I32,
                                  I32, OBJ])
    new = b.bitcast(b.load(b.gep(table, [I64(ARRAY_NEW)])), new_t.as_pointer())
    arr = b.call(new, [api.obj("ndarray"), I32(t.ndim), dims, I32(TYPENUMS[t.dtype.name]),
                       ir.Constant(I64.as_pointer(), None), ir.Constant(I8P, None), I32(0),
                       I32(0), ir.Constant(OBJ, None)])
    made = b.icmp_unsigned("!=", arr, ir.Constant(OBJ, None))
    with b.if_then(made, likely=True):  # else NumPy has set MemoryError
        _copy_out(b, t, slot, _field(b, arr, ARR_DATA, I8P))
    return arr


def _copy_out(b, t: ArrayType, slot, dst) -> None:
    """Copy the (possibly strided) result array in `slot` to contiguous memory at `dst`."""
    size = SIZES[t.dtype.name]
    src = b.load(b.gep(slot, [I32(0), I32(0)]))
    shape = [b.load(b.gep(slot, [I32(0), I32(1), I32(k)])) for k in range(t.ndim)]
    strides = [b.load(b.gep(slot, [I32(0), I32(2), I32(k)])) for k in range(t.ndim)]
    cell = element(t.dtype).as_pointer()
    fn = b.function

    def level(k: int, src_off, dst_off):
        if k == t.ndim:
            v = b.load(b.bitcast(b.gep(src, [src_off]), cell))
            b.store(v, b.bitcast(b.gep(dst, [dst_off]), cell))
            return
        inner = I64(size)
        for d in shape[k + 1:]:
            inner = b.mul(inner, d)
        pre = b.block
        head, body, done = (fn.append_basic_block(f"copy{k}.{x}") for x in ("loop", "body", "end"))
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(I64)
        i.add_incoming(I64(0), pre)
        b.cbranch(b.icmp_signed("<", i, shape[k]), body, done)
        b.position_at_end(body)
        level(k + 1, b.add(src_off, b.mul(i, strides[k])), b.add(dst_off, b.mul(i, inner)))
        i.add_incoming(b.add(i, I64(1)), b.block)
        b.branch(head)
        b.position_at_end(done)
    level(0, I64(0), I64(0))


__all__ = ["define_py_entry", "supported"]
