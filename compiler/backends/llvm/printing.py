"""`print` in LLVM IR: calls into the runtime's Python callbacks (runtime/printing.py).

Assumes: JIT code in this process (the callbacks resolve by symbol); a `print` op's
operands are scalars and arrays.
Guarantees: each value goes to `adjoin_print_item` (a scalar with its kind; an array
as its data pointer, dtype, shape and strides in bytes), then the template's id to
`adjoin_print_done`, which prints the line as CPython does; nothing is printed once the
call has recorded an error (CPython raised before reaching the print). Nothing is printed by an
ahead-of-time library: `aot` refuses functions that print.
"""
from __future__ import annotations

from llvmlite import ir

from ...ir.core import Op
from ...ir.types import ArrayType, BOOL, F32
from ...runtime import printing
from .arrays import unpack
from .types import F64, I64, I8P, SIZES

_ITEM = ir.FunctionType(ir.VoidType(), [I64, F64, I64, I8P, I8P, I8P, I64])
_DONE = ir.FunctionType(ir.VoidType(), [I64])
_DTYPE_CODES = {"f64": 0, "f32": 1, "i64": 2, "bool": 3}


def _declared(m: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    g = m.globals.get(name)
    return g if g is not None else ir.Function(m, fnty, name)


def lower_print(lw, op: Op) -> None:
    # After an error the call runs on to its end on harmless values (runtime_ir.py) and
    # then raises: CPython never reached this print, so it prints nothing.
    with lw.b.if_then(lw.b.not_(lw.rt.failed(lw.b, lw.ctx)), likely=True):
        _print_values(lw, op)


def _print_values(lw, op: Op) -> None:
    b = lw.b
    item = _declared(b.module, "adjoin_print_item", _ITEM)
    done = _declared(b.module, "adjoin_print_done", _DONE)
    null = ir.Constant(I8P, None)
    for v in op.operands:
        t = v.type
        if isinstance(t, ArrayType):
            b.call(item, _array_args(lw, v, null))
        elif t.is_float:
            x = lw.get(v)
            kind = printing.F32 if t == F32 else printing.F64
            b.call(item, [I64(kind), b.fpext(x, F64) if t == F32 else x, I64(0), null, null,
                          null, I64(0)])
        else:
            i = lw.get(v)
            kind = printing.BOOL if t == BOOL else printing.I64
            i = b.zext(i, I64) if t == BOOL else i
            b.call(item, [I64(kind), F64(0.0), i, null, null, null, I64(0)])
    options = {k: op.attrs[k] for k in ("sep", "end", "flush") if k in op.attrs}
    template = printing.register(tuple(op.attrs["texts"]), tuple(op.attrs["at"]), options)
    b.call(done, [I64(template)])


def _array_args(lw, v, null):
    """The item arguments of an array: dtype code, data, shape and byte strides."""
    b = lw.b
    a = unpack(lw, v)
    n = max(a.ndim, 1)
    shape = lw.entry_alloca(ir.ArrayType(I64, n))
    strides = lw.entry_alloca(ir.ArrayType(I64, n))
    size = SIZES[a.t.dtype.name]
    for k in range(a.ndim):
        b.store(a.shape[k], b.gep(shape, [ir.Constant(ir.IntType(32), 0),
                                          ir.Constant(ir.IntType(32), k)]))
        b.store(b.mul(a.strides[k], I64(size)),
                b.gep(strides, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), k)]))
    return [I64(printing.ARRAY), F64(0.0), I64(_DTYPE_CODES[a.t.dtype.name]),
            b.bitcast(a.data, I8P), b.bitcast(shape, I8P), b.bitcast(strides, I8P),
            I64(a.ndim)]
