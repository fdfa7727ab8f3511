"""The native runtime, written as LLVM IR into every module the backend builds.

Assumes: the C library (malloc, realloc, free) is linked, as it is in a JIT
process and in a shared library.
Guarantees: a call context (`adjoin_ctx`) owning
  * every array allocated during a call, carved from chunks by bumping a pointer
    (large ones get their own block) and freed together by `adjoin_ctx_reset`,
    which keeps the last chunk for the next call (so nothing leaks across calls,
    results stay valid until then, and small calls never reach malloc);
  * the tape: a byte stack that grows by doubling; `adjoin_push` / `adjoin_pop`
    move raw bytes, so any value (scalar, descriptor, tuple) can be taped;
  * the first error code raised during the call (1 index, 2 shape, 3 assertion,
    4 division by zero, 5 tape underflow, 9 and up scalar errors; runtime/native.py maps
    them to exceptions), read with `adjoin_error`, and a scratch cell where an
    out-of-bounds access is redirected so that it cannot touch memory.
The exported names are part of the ahead-of-time library's C API.
"""
from __future__ import annotations

from llvmlite import ir

from .types import I32, I64, I8P

# fields: 0 blocks malloc'ed for this call (i8**), 1 their count, 2 capacity,
# 3 tape bytes, 4 tape size, 5 tape capacity, 6 error code, 7 scratch cell,
# 8 current chunk, 9 bytes used in it, 10 its size, 11 bytes in blocks
CTX = ir.LiteralStructType([I8P.as_pointer(), I64, I64, I8P, I64, I64, I32,
                            ir.ArrayType(I64, 8), I8P, I64, I64, I64])
CHUNK = 1 << 16        # the first chunk; later ones double, up to MAX_CHUNK
MAX_CHUNK = 1 << 26
BIG = 1 << 18          # allocations this large get a block of their own
CTXP = CTX.as_pointer()
ERR_INDEX, ERR_SHAPE, ERR_ASSERT, ERR_ZERODIV, ERR_TAPE = 1, 2, 3, 4, 5
# Scalar ops with CPython's semantics (scalar.py); runtime/native.py has the messages.
(ERR_FLOAT_DIV, ERR_FLOAT_FLOORDIV, ERR_FLOAT_MOD, ERR_ZERO_POW, ERR_DOMAIN, ERR_RANGE,
 ERR_POW_RANGE, ERR_NAN_TO_INT, ERR_INF_TO_INT, ERR_INT_TOO_BIG, ERR_INT_OVERFLOW,
 ERR_FRACTIONAL_POW, ERR_DIV, ERR_INT_MOD, ERR_COMPLEX_RANGE) = range(9, 24)


def _fn(m: ir.Module, name: str, ret, args, linkage: str = "external") -> ir.Function:
    f = ir.Function(m, ir.FunctionType(ret, args), name)
    f.linkage = linkage
    return f


def _field(b: ir.IRBuilder, ctx, k: int):
    return b.gep(ctx, [I32(0), I32(k)], inbounds=True)


class Runtime:
    """Declares and defines the runtime functions in module `m`."""

    def __init__(self, m: ir.Module):
        self.m = m
        self.malloc = _fn(m, "malloc", I8P, [I64])
        self.calloc = _fn(m, "calloc", I8P, [I64, I64])
        self.realloc = _fn(m, "realloc", I8P, [I8P, I64])
        self.free = _fn(m, "free", ir.VoidType(), [I8P])
        self.memcpy = m.declare_intrinsic("llvm.memcpy", [I8P, I8P, I64])
        self.ctx_new = self._ctx_new()
        self.ctx_reset = self._ctx_reset()
        self.ctx_free = self._ctx_free()
        self.alloc = self._alloc()
        self.push = self._push()
        self.fail = self._fail()
        self.pop = self._pop()
        self.error = self._error()
        self.tape_size = self._tape_size()
        self.tape_set = self._tape_set()
        self.bytes = self._bytes()

    def _ctx_new(self) -> ir.Function:
        f = _fn(self.m, "adjoin_ctx_new", CTXP, [])
        b = ir.IRBuilder(f.append_basic_block())
        size = b.ptrtoint(b.gep(ir.Constant(CTXP, None), [I32(1)]), I64)
        b.ret(b.bitcast(b.call(self.calloc, [I64(1), size]), CTXP))
        return f

    def _ctx_reset(self) -> ir.Function:
        """Free the call's blocks except the current chunk, which is kept, emptied."""
        f = _fn(self.m, "adjoin_ctx_reset", ir.VoidType(), [CTXP])
        ctx = f.args[0]
        entry, loop, done = (f.append_basic_block(n) for n in ("entry", "loop", "done"))
        b = ir.IRBuilder(entry)
        allocs = b.load(_field(b, ctx, 0))
        n = b.load(_field(b, ctx, 1))
        chunk = b.load(_field(b, ctx, 8))
        b.cbranch(b.icmp_signed(">", n, I64(0)), loop, done)
        b.position_at_end(loop)
        i = b.phi(I64)
        i.add_incoming(I64(0), entry)
        block = b.load(b.gep(allocs, [i]))
        with b.if_then(b.icmp_unsigned("!=", block, chunk)):
            b.call(self.free, [block])
        nxt = b.add(i, I64(1))
        i.add_incoming(nxt, b.block)
        b.cbranch(b.icmp_signed("<", nxt, n), loop, done)
        b.position_at_end(done)
        kept = b.icmp_unsigned("!=", chunk, ir.Constant(I8P, None))
        with b.if_then(kept):  # the kept chunk is the one block still owned
            b.store(chunk, allocs)
        b.store(b.zext(kept, I64), _field(b, ctx, 1))
        b.store(b.select(kept, b.load(_field(b, ctx, 10)), I64(0)), _field(b, ctx, 11))
        for k in (4, 9):
            b.store(I64(0), _field(b, ctx, k))
        b.store(I32(0), _field(b, ctx, 6))
        b.ret_void()
        return f

    def _ctx_free(self) -> ir.Function:
        f = _fn(self.m, "adjoin_ctx_free", ir.VoidType(), [CTXP])
        ctx = f.args[0]
        b = ir.IRBuilder(f.append_basic_block())
        b.call(self.ctx_reset, [ctx])
        b.call(self.free, [b.load(_field(b, ctx, 8))])  # the chunk reset kept
        b.call(self.free, [b.bitcast(b.load(_field(b, ctx, 0)), I8P)])
        b.call(self.free, [b.load(_field(b, ctx, 3))])
        b.call(self.free, [b.bitcast(ctx, I8P)])
        b.ret_void()
        return f

    def _grow(self, b: ir.IRBuilder, ptr_field, cap_field, need, elem: int):
        """Make the buffer at `ptr_field` hold `need` items of `elem` bytes (doubling)."""
        cap = b.load(cap_field)
        with b.if_then(b.icmp_signed(">", need, cap), likely=False):
            twice = b.mul(cap, I64(2))
            new_cap = b.select(b.icmp_signed(">", need, twice), need, twice)
            new_cap = b.select(b.icmp_signed("<", new_cap, I64(64)), I64(64), new_cap)
            old = b.bitcast(b.load(ptr_field), I8P)
            grown = b.call(self.realloc, [old, b.mul(new_cap, I64(elem))])
            b.store(b.bitcast(grown, ptr_field.type.pointee), ptr_field)
            b.store(new_cap, cap_field)

    def _block(self, b: ir.IRBuilder, ctx, size) -> ir.Value:
        """malloc `size` bytes and record the block in the context."""
        n = b.load(_field(b, ctx, 1))
        self._grow(b, _field(b, ctx, 0), _field(b, ctx, 2), b.add(n, I64(1)), 8)
        p = b.call(self.malloc, [size])
        b.store(b.add(b.load(_field(b, ctx, 11)), size), _field(b, ctx, 11))
        b.store(p, b.gep(b.load(_field(b, ctx, 0)), [n]))
        b.store(b.add(n, I64(1)), _field(b, ctx, 1))
        return p

    def _alloc(self) -> ir.Function:
        f = _fn(self.m, "adjoin_alloc", I8P, [CTXP, I64])
        ctx, nbytes = f.args
        entry, big, bump, fresh, done = (f.append_basic_block(x) for x in
                                         ("entry", "big", "bump", "fresh", "done"))
        b = ir.IRBuilder(entry)
        size = b.and_(b.add(b.select(b.icmp_signed("<", nbytes, I64(16)), I64(16), nbytes),
                            I64(15)), I64(-16))
        b.cbranch(b.icmp_signed(">", size, I64(BIG)), big, bump)
        b.position_at_end(big)
        b.ret(self._block(b, ctx, size))
        b.position_at_end(bump)
        used, cap = b.load(_field(b, ctx, 9)), b.load(_field(b, ctx, 10))
        b.cbranch(b.icmp_signed(">", b.add(used, size), cap), fresh, done)
        b.position_at_end(fresh)  # a new chunk, twice the last one
        grown = b.select(b.icmp_signed("<", cap, I64(CHUNK)), I64(CHUNK), b.mul(cap, I64(2)))
        grown = b.select(b.icmp_signed(">", grown, I64(MAX_CHUNK)), I64(MAX_CHUNK), grown)
        b.store(self._block(b, ctx, grown), _field(b, ctx, 8))
        b.store(I64(0), _field(b, ctx, 9))
        b.store(grown, _field(b, ctx, 10))
        b.branch(done)
        b.position_at_end(done)
        at = b.load(_field(b, ctx, 9))
        b.store(b.add(at, size), _field(b, ctx, 9))
        b.ret(b.gep(b.load(_field(b, ctx, 8)), [at]))
        return f

    def _push(self) -> ir.Function:
        f = _fn(self.m, "adjoin_push", ir.VoidType(), [CTXP, I8P, I64])
        ctx, src, n = f.args
        b = ir.IRBuilder(f.append_basic_block())
        size = b.load(_field(b, ctx, 4))
        self._grow(b, _field(b, ctx, 3), _field(b, ctx, 5), b.add(size, n), 1)
        dst = b.gep(b.load(_field(b, ctx, 3)), [size])
        b.call(self.memcpy, [dst, src, n, ir.Constant(ir.IntType(1), 0)])
        b.store(b.add(size, n), _field(b, ctx, 4))
        b.ret_void()
        return f

    def _pop(self) -> ir.Function:
        f = _fn(self.m, "adjoin_pop", ir.VoidType(), [CTXP, I8P, I64])
        ctx, dst, n = f.args
        b = ir.IRBuilder(f.append_basic_block())
        size = b.sub(b.load(_field(b, ctx, 4)), n)
        with b.if_then(b.icmp_signed("<", size, I64(0)), likely=False):
            # popping what was never pushed (a tape used wrongly): fail, read the start
            b.call(self.fail, [ctx, I32(ERR_TAPE)])
            b.store(n, _field(b, ctx, 4))
        size = b.sub(b.load(_field(b, ctx, 4)), n)
        b.store(size, _field(b, ctx, 4))
        src = b.gep(b.load(_field(b, ctx, 3)), [size])
        b.call(self.memcpy, [dst, src, n, ir.Constant(ir.IntType(1), 0)])
        b.ret_void()
        return f

    def _fail(self) -> ir.Function:
        f = _fn(self.m, "adjoin_fail", ir.VoidType(), [CTXP, I32])
        ctx, code = f.args
        b = ir.IRBuilder(f.append_basic_block())
        slot = _field(b, ctx, 6)
        with b.if_then(b.icmp_signed("==", b.load(slot), I32(0))):
            b.store(code, slot)
        b.ret_void()
        return f

    def _error(self) -> ir.Function:
        f = _fn(self.m, "adjoin_error", I32, [CTXP])
        b = ir.IRBuilder(f.append_basic_block())
        b.ret(b.load(_field(b, f.args[0], 6)))
        return f

    def _tape_size(self) -> ir.Function:
        f = _fn(self.m, "adjoin_tape_size", I64, [CTXP])
        b = ir.IRBuilder(f.append_basic_block())
        b.ret(b.load(_field(b, f.args[0], 4)))
        return f

    def _bytes(self) -> ir.Function:
        """Bytes the context holds: its blocks (arrays, chunks) and the tape's buffer."""
        f = _fn(self.m, "adjoin_ctx_bytes", I64, [CTXP])
        b = ir.IRBuilder(f.append_basic_block())
        b.ret(b.add(b.load(_field(b, f.args[0], 11)), b.load(_field(b, f.args[0], 5))))
        return f

    def _tape_set(self) -> ir.Function:
        f = _fn(self.m, "adjoin_tape_set", ir.VoidType(), [CTXP, I64])
        b = ir.IRBuilder(f.append_basic_block())
        b.store(f.args[1], _field(b, f.args[0], 4))
        b.ret_void()
        return f

    def scratch(self, b: ir.IRBuilder, ctx) -> ir.Value:
        """A harmless place to read or write when an index was out of range."""
        return b.bitcast(_field(b, ctx, 7), I8P)


    def failed(self, b: ir.IRBuilder, ctx) -> ir.Value:
        """An i1: the call has recorded an error (loops use it to stop early)."""
        return b.icmp_signed("!=", b.load(_field(b, ctx, 6)), I32(0))
