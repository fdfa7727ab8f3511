"""Checked memory: guard words around every allocation of a call context.

Assumes: the runtime of runtime_ir.py, built with `checked=True` (the environment
variable ADJOIN_CHECK_MEMORY=1 when the module is built).
Guarantees: `define_guards(rt)` returns an allocator with the raw one's contract
that surrounds each n-byte allocation with guard words,
    [previous header | n | GUARD | GUARD] [n bytes returned] [GUARD | GUARD]
(the header 32 bytes, so the data stays 16-byte aligned; the trailer right after
the n-th byte, so a write one element past the end of any dtype lands on it),
and links it into the context (field F_GUARDED); and `adjoin_check_memory(ctx)`,
which every entry point calls when its call ends, walks the allocations and, on
the first broken guard, replaces the call's error code with ERR_GUARD (raised as
SystemError), so a write outside an allocation fails loudly instead of
corrupting memory silently. Writes that skip over the guards are not seen.
"""
from __future__ import annotations

from typing import Tuple

from llvmlite import ir

from .runtime_ir import CTXP, ERR_GUARD, F_GUARDED, I32, I64, I8P, field

GUARD = 0x5AFE_AD10_1A6E_C0DE
HEADER, TRAILER = 32, 16
I64P = I64.as_pointer()


def define_guards(rt) -> Tuple[ir.Function, ir.Function]:
    rt.check_until = _check_until(rt)
    return _alloc(rt), _check(rt)


def _store_guard(b: ir.IRBuilder, p, offset) -> None:
    """GUARD at byte `offset` of `p`, unaligned (a trailer follows any element size)."""
    slot = b.bitcast(b.gep(p, [offset]), I64P)
    b.store(I64(GUARD), slot, align=1)


def _is_guard(b: ir.IRBuilder, p, offset) -> ir.Value:
    return b.icmp_unsigned("==", b.load(b.bitcast(b.gep(p, [offset]), I64P), align=1),
                           I64(GUARD))


def _alloc(rt) -> ir.Function:
    f = ir.Function(rt.m, ir.FunctionType(I8P, [CTXP, I64]), "adjoin.alloc_guarded")
    f.linkage = "internal"
    ctx, n = f.args
    b = ir.IRBuilder(f.append_basic_block())
    raw = b.call(rt.alloc, [ctx, b.add(n, I64(HEADER + TRAILER))])
    head = b.bitcast(raw, I64P)
    last = field(b, ctx, F_GUARDED)
    b.store(b.ptrtoint(b.load(last), I64), head)
    b.store(n, b.gep(head, [I64(1)]))
    for k in (16, 24):
        _store_guard(b, raw, I64(k))
    end = b.add(n, I64(HEADER))
    for k in (0, 8):
        _store_guard(b, raw, b.add(end, I64(k)))
    b.store(raw, last)
    b.ret(b.gep(raw, [I64(HEADER)]))
    return f


def _check(rt) -> ir.Function:
    f = ir.Function(rt.m, ir.FunctionType(ir.VoidType(), [CTXP]), "adjoin_check_memory")
    b = ir.IRBuilder(f.append_basic_block())
    b.call(rt.check_until, [f.args[0], ir.Constant(I8P, None)])
    b.ret_void()
    return f


def _check_until(rt) -> ir.Function:
    """`adjoin.check_until(ctx, stop)`: check the allocations made after `stop` (a
    guarded allocation, or null for all of them), newest first."""
    f = ir.Function(rt.m, ir.FunctionType(ir.VoidType(), [CTXP, I8P]), "adjoin.check_until")
    f.linkage = "internal"
    ctx, stop = f.args
    entry, loop, body, broken, done = (f.append_basic_block(x) for x in
                                       ("entry", "loop", "body", "broken", "done"))
    b = ir.IRBuilder(entry)
    first = b.load(field(b, ctx, F_GUARDED))
    b.branch(loop)
    b.position_at_end(loop)
    p = b.phi(I8P)
    p.add_incoming(first, entry)
    b.cbranch(b.or_(b.icmp_unsigned("==", p, ir.Constant(I8P, None)),
                    b.icmp_unsigned("==", p, stop)), done, body)
    b.position_at_end(body)
    head = b.bitcast(p, I64P)
    header_ok = b.and_(_is_guard(b, p, I64(16)), _is_guard(b, p, I64(24)))
    trailer = f.append_basic_block("trailer")
    b.cbranch(header_ok, trailer, broken)  # a broken header's size is not to be trusted
    b.position_at_end(trailer)
    end = b.add(b.load(b.gep(head, [I64(1)])), I64(HEADER))
    trailer_ok = b.and_(_is_guard(b, p, end), _is_guard(b, p, b.add(end, I64(8))))
    nxt = b.inttoptr(b.load(head), I8P)
    p.add_incoming(nxt, b.block)
    b.cbranch(trailer_ok, loop, broken)
    b.position_at_end(broken)
    b.store(I32(ERR_GUARD), field(b, ctx, 6))
    b.branch(done)
    b.position_at_end(done)
    b.ret_void()
    return f
