"""C-ABI entry points around internal functions (for the JIT and for shared libraries).

Assumes: a lowered module (`lower.ModuleLowering`).
Guarantees: `define_entry(ml, f, symbol)` adds an external function
    int32_t symbol(adjoin_ctx *ctx, <parameters>, <result pointers>)
where each parameter is flattened: f64 -> double, f32 -> float, i64 -> int64_t,
bool -> uint8_t, an array -> (T *data, const int64_t *shape, const int64_t *strides
in bytes), a tuple -> its parts in order; each result leaf gets a pointer: a scalar
-> T *, an array -> adjoin_array * ({void *data; int64_t shape[8]; int64_t
strides[8] in bytes}, data owned by ctx until it is reset). It returns the first
error code of the call (0 when none); a call that raised (adjoin_raise) leaves
the result slots unwritten. The entry point is where `adjoin_raise` jumps back to (its jump buffer
is in the entry's frame; the work runs in a separate, non-inlined body, so the
optimizer's caution around setjmp stays out of it); it starts the recursion
count at 0 and, with checked memory, verifies the guard words when the call
ends. `runtime/native.py` reads the same layout.
"""
from __future__ import annotations

from typing import List, Tuple

from llvmlite import ir

from ...ir.core import Function
from ...ir.types import ArrayType, BOOL, ScalarType, TapeType, TupleType, Type
from .runtime_ir import CTXP, F_DEPTH, F_JUMP, JMP_BUF_WORDS, field
from .types import I1, I32, I64, I8, I8P, MAX_DIMS, SIZES, element, lltype

ARRAY_OUT = ir.LiteralStructType([I8P, ir.ArrayType(I64, MAX_DIMS), ir.ArrayType(I64, MAX_DIMS)])


def leaves(t: Type) -> List[Type]:
    if isinstance(t, TupleType):
        return [x for e in t.elts for x in leaves(e)]
    return [t]


def param_types(t: Type) -> List[ir.Type]:
    out = []
    for leaf in leaves(t):
        if isinstance(leaf, ArrayType):
            out += [element(leaf.dtype).as_pointer(), I64.as_pointer(), I64.as_pointer()]
        elif isinstance(leaf, TapeType) or leaf == BOOL or str(leaf) == "none":
            out.append(I8)
        else:
            out.append(lltype(leaf))
    return out


def result_types(t: Type) -> List[ir.Type]:
    out = []
    for leaf in leaves(t):
        if isinstance(leaf, ArrayType):
            out.append(ARRAY_OUT.as_pointer())
        elif leaf == BOOL or str(leaf) == "none":
            out.append(I8.as_pointer())
        else:
            out.append(lltype(leaf).as_pointer())
    return out


def define_entry(ml, f: Function, symbol: str) -> ir.Function:
    params = [p for t in f.param_types for p in param_types(t)]
    outs = result_types(f.result_type)
    body = ir.Function(ml.m, ir.FunctionType(ir.VoidType(), [CTXP] + params + outs),
                       f"{symbol}.body")
    body.linkage = "internal"
    body.attributes.add("noinline")
    b = ir.IRBuilder(body.append_basic_block("entry"))
    args = list(body.args[1:])
    internal = [_build(b, t, args) for t in f.param_types]
    r = b.call(ml.functions[f.name], [body.args[0]] + internal)
    _store(b, f.result_type, r, list(body.args[1 + len(params):]))
    b.ret_void()
    fn = ir.Function(ml.m, ir.FunctionType(I32, [CTXP] + params + outs), symbol)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ctx = fn.args[0]
    buf = b.alloca(ir.ArrayType(I64, JMP_BUF_WORDS))
    buf.align = 16
    jump = field(b, ctx, F_JUMP)
    b.store(b.bitcast(buf, I8P), jump)
    b.store(I64(0), field(b, ctx, F_DEPTH))
    landed = b.call(ml.rt.setjmp, [b.bitcast(buf, I8P)])  # nonzero: adjoin_raise came back
    with b.if_then(b.icmp_signed("==", landed, I32(0)), likely=True):
        b.call(body, list(fn.args))
    b.store(ir.Constant(I8P, None), jump)
    if ml.rt.checked:
        b.call(ml.rt.check, [ctx])
    b.ret(b.call(ml.rt.error, [ctx]))
    return fn


def _build(b: ir.IRBuilder, t: Type, args: List[ir.Value]) -> ir.Value:
    """The internal value of type `t` from the flat arguments (consumed from `args`)."""
    if isinstance(t, TupleType):
        agg = ir.Constant(lltype(t), None)
        for k, e in enumerate(t.elts):
            agg = b.insert_value(agg, _build(b, e, args), k)
        return agg
    if isinstance(t, ArrayType):
        data, shape_p, strides_p = args.pop(0), args.pop(0), args.pop(0)
        size = I64(SIZES[t.dtype.name])
        shape = [b.load(b.gep(shape_p, [I64(k)])) for k in range(t.ndim)]
        strides = [b.sdiv(b.load(b.gep(strides_p, [I64(k)])), size) for k in range(t.ndim)]
        d = ir.Constant(lltype(t), None)
        d = b.insert_value(d, data, 0)
        for k in range(t.ndim):
            d = b.insert_value(d, shape[k], [1, k])
            d = b.insert_value(d, strides[k], [2, k])
        return d
    v = args.pop(0)
    if t == BOOL:
        return b.icmp_unsigned("!=", v, I8(0))
    return v


def _store(b: ir.IRBuilder, t: Type, v: ir.Value, outs: List[ir.Value]) -> None:
    if isinstance(t, TupleType):
        for k, e in enumerate(t.elts):
            _store(b, e, b.extract_value(v, k), outs)
        return
    p = outs.pop(0)
    if isinstance(t, ArrayType):
        size = I64(SIZES[t.dtype.name])
        b.store(b.bitcast(b.extract_value(v, 0), I8P), b.gep(p, [I32(0), I32(0)]))
        for k in range(t.ndim):
            b.store(b.extract_value(v, [1, k]), b.gep(p, [I32(0), I32(1), I32(k)]))
            b.store(b.mul(b.extract_value(v, [2, k]), size), b.gep(p, [I32(0), I32(2), I32(k)]))
        return
    if t == BOOL:
        v = b.zext(v, I8)
    b.store(v, p)


def signature(f: Function) -> Tuple[List[str], str]:
    """The parameter and result types as text, for the runtime's marshalling."""
    return [str(t) for t in f.param_types], str(f.result_type)


__all__ = ["define_entry", "signature", "I1", "ScalarType"]
