"""Scoped calls: a callee's temporaries are freed when it returns.

Assumes: a `call` op marked `scoped` (checkpoint.py marks the calls of a checkpointed
loop's outlined steps), whose results are values: nothing after the call relies on a
result aliasing memory the callee was given.
Guarantees: the callee runs in the caller context's child (runtime_ir.py,
`adjoin_scope_enter`), so everything it allocates lands in the child's arena; its
results are copied, arrays element by element, into the caller's context, and the child
is reset (its blocks freed, one chunk kept for the next scoped call). An error the
callee recorded is recorded in the caller; one that ends the call jumps to the entry
point as usual (the child is then reset with its parent). Memory held across a loop of
scoped calls is therefore the loop's carried values, not every iteration's temporaries.
"""
from __future__ import annotations

from llvmlite import ir

from ...ir.types import ArrayType, TupleType, Type
from .arrays import Arr, copy_array, pack
from .runtime_ir import I32, field


def lower_scoped_call(lw, op, callee: ir.Function) -> None:
    b = lw.b
    child = b.call(lw.rt.scope_enter, [lw.ctx])
    r = b.call(callee, [child] + [lw.get(v) for v in op.operands])
    code = b.load(field(b, child, 6))
    with b.if_then(b.icmp_signed("!=", code, I32(0)), likely=False):
        b.call(lw.rt.fail, [lw.ctx, code])
    if op.results:
        r = _copy_out(lw, r, op.result.type)
    b.call(lw.rt.ctx_reset, [child])
    if op.results:
        lw.set(op.result, r)


def _copy_out(lw, v: ir.Value, t: Type) -> ir.Value:
    b = lw.b
    if isinstance(t, ArrayType):
        n = t.ndim
        a = Arr(t, b.extract_value(v, 0), [b.extract_value(v, [1, k]) for k in range(n)],
                [b.extract_value(v, [2, k]) for k in range(n)])
        return pack(lw, copy_array(lw, a))
    if isinstance(t, TupleType):
        for k, et in enumerate(t.elts):
            v = b.insert_value(v, _copy_out(lw, b.extract_value(v, k), et), k)
        return v
    return v



