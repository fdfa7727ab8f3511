"""The native runtime, written as LLVM IR into every module the backend builds.

Assumes: the C library (malloc, realloc, free, _setjmp, _longjmp) is linked, as it
is in a JIT process and in a shared library; every call of compiled code goes
through an entry point (entry.py), which sets the context's jump target.
Guarantees: a call context (`adjoin_ctx`) owning
  * every array allocated during a call, carved from chunks by bumping a pointer
    (large ones get their own block) and freed together by `adjoin_ctx_reset`,
    which keeps the last chunk for the next call (so nothing leaks across calls,
    results stay valid until then, and small calls never reach malloc); a chunk
    always holds the request that made it;
  * the tape: a byte stack that grows by doubling; `adjoin_push` / `adjoin_pop`
    move raw bytes, so any value (scalar, descriptor, tuple) can be taped;
  * the first error code of the call, read with `adjoin_error`. `adjoin_fail`
    records a code and lets the call run on harmless values (1 index, 2 shape,
    3 assertion, 4 division by zero, 5 tape underflow, 9 and up scalar errors;
    a scratch cell takes out-of-bounds accesses); `adjoin_raise` records one and
    leaves the call at once, jumping back to its entry point (6 out of memory,
    7 recursion too deep, 8 a negative or too large array size, 24 to 26 np.linalg's
    LinAlgError), so nothing runs
    on memory it lacks; runtime/native.py maps the codes to exceptions;
  * the recursion depth and its limits (`adjoin_ctx_set_limits`: the deepest
    nesting of recursive calls, by default CPython's 1000, and the lowest stack
    address a call may reach, 0 for no such check);
  * with checked memory (guards.py), guard words around every allocation;
  * a child context for scoped calls (`adjoin_scope_enter`, see scopes.py), made on
    first use, reset with its parent and freed with it.
The exported names are part of the ahead-of-time library's C API.
"""
from __future__ import annotations

import os

from llvmlite import ir

from .types import I32, I64, I8P

# fields: 0 blocks malloc'ed for this call (i8**), 1 their count, 2 capacity,
# 3 tape bytes, 4 tape size, 5 tape capacity, 6 error code, 7 scratch cell,
# 8 current chunk, 9 bytes used in it, 10 its size, 11 bytes in blocks,
# 12 recursion depth, 13 its limit, 14 lowest stack address allowed (0: any),
# 15 the entry point's jump buffer (null outside a call), 16 the last guarded
# allocation (checked memory only), 17 the child context of scoped calls (or null)
CTX = ir.LiteralStructType([I8P.as_pointer(), I64, I64, I8P, I64, I64, I32,
                            ir.ArrayType(I64, 8), I8P, I64, I64, I64, I64, I64, I64, I8P, I8P,
                            I8P])
F_DEPTH, F_LIMIT, F_STACK, F_JUMP, F_GUARDED, F_CHILD = 12, 13, 14, 15, 16, 17
CHUNK = 1 << 16        # the first chunk; later ones double, up to MAX_CHUNK
MAX_CHUNK = 1 << 26
BIG = 1 << 18          # allocations this large get a block of their own
MAX_BYTES = 1 << 62    # larger requests fail as malloc's would (and cannot overflow here)
DEFAULT_DEPTH = 1000   # CPython's default recursion limit
JMP_BUF_WORDS = 64     # room for any libc's jmp_buf (glibc: 25 words on x86-64, 39 on arm64)
CTXP = CTX.as_pointer()
ERR_INDEX, ERR_SHAPE, ERR_ASSERT, ERR_ZERODIV, ERR_TAPE = 1, 2, 3, 4, 5
# Scalar ops with CPython's semantics (scalar.py); runtime/native.py has the messages.
(ERR_FLOAT_DIV, ERR_FLOAT_FLOORDIV, ERR_FLOAT_MOD, ERR_ZERO_POW, ERR_DOMAIN, ERR_RANGE,
 ERR_POW_RANGE, ERR_NAN_TO_INT, ERR_INF_TO_INT, ERR_INT_TOO_BIG, ERR_INT_OVERFLOW,
 ERR_FRACTIONAL_POW, ERR_DIV, ERR_INT_MOD, ERR_COMPLEX_RANGE) = range(9, 24)
ERR_MEMORY, ERR_RECURSION, ERR_SIZE = 6, 7, 8
# np.linalg's LinAlgError (factorizations.py): raised, ending the call
ERR_SINGULAR, ERR_NOT_POSITIVE_DEFINITE, ERR_NOT_SQUARE = 24, 25, 26
ERR_GUARD = 64         # checked memory: a write outside an allocation (guards.py)


def check_memory() -> bool:
    """Whether modules built now get guard words (ADJOIN_CHECK_MEMORY=1, read at each
    build: the flag changes the LLVM IR, so the disk cache keys it too)."""
    return os.environ.get("ADJOIN_CHECK_MEMORY", "0") not in ("0", "")


def _fn(m: ir.Module, name: str, ret, args, linkage: str = "external") -> ir.Function:
    f = ir.Function(m, ir.FunctionType(ret, args), name)
    f.linkage = linkage
    return f


def field(b: ir.IRBuilder, ctx, k: int):
    return b.gep(ctx, [I32(0), I32(k)], inbounds=True)




class Runtime:
    """Declares and defines the runtime functions in module `m`."""

    def __init__(self, m: ir.Module, checked: bool = False, shared: bool = False):
        """`shared`: the process's compiled runtime (shared_runtime.py) defines the
        functions; `m` only declares them, but keeps the bodies its code inlines (fail,
        push, pop, alloc, error) as available_externally copies, so the code is the same."""
        self.m = m
        self.checked = checked
        self.shared = shared and not checked
        self.malloc = _fn(m, "malloc", I8P, [I64])
        self.calloc = _fn(m, "calloc", I8P, [I64, I64])
        self.realloc = _fn(m, "realloc", I8P, [I8P, I64])
        self.free = _fn(m, "free", ir.VoidType(), [I8P])
        self.setjmp = _fn(m, "_setjmp", I32, [I8P])
        self.setjmp.attributes.add("returns_twice")
        self.longjmp = _fn(m, "_longjmp", ir.VoidType(), [I8P, I32])
        self.longjmp.attributes.add("noreturn")
        self.memcpy = m.declare_intrinsic("llvm.memcpy", [I8P, I8P, I64])
        self.frameaddress = _fn(m, "llvm.frameaddress.p0i8", I8P, [I32])
        self.fail = self._inlined(self._fail())
        self.raise_ = self._declared(self._raise, "adjoin_raise", ir.VoidType(), [CTXP, I32])
        if self.shared:
            self.raise_.attributes.add("cold")
        self.ctx_new = self._declared(self._ctx_new, "adjoin_ctx_new", CTXP, [])
        self.ctx_reset = self._declared(self._ctx_reset, "adjoin_ctx_reset", ir.VoidType(),
                                        [CTXP])
        self.ctx_free = self._declared(self._ctx_free, "adjoin_ctx_free", ir.VoidType(), [CTXP])
        self.set_limits = self._declared(self._set_limits, "adjoin_ctx_set_limits",
                                         ir.VoidType(), [CTXP, I64, I64])
        self.alloc = self._inlined(self._alloc())
        if checked:
            from .guards import define_guards
            self.alloc, self.check = define_guards(self)
        self.push = self._inlined(self._push())
        self.pop = self._inlined(self._pop())
        self.error = self._inlined(self._error())
        if not self.shared:  # only Python calls these: the shared runtime has them
            self.tape_size = self._tape_size()
            self.tape_set = self._tape_set()
            self.bytes = self._bytes()
        self.scope_enter = self._scope_enter()

    def _declared(self, define, name: str, ret, args) -> ir.Function:
        return _fn(self.m, name, ret, args) if self.shared else define()

    def _inlined(self, f: ir.Function) -> ir.Function:
        if self.shared:
            f.linkage = "available_externally"
        return f

    def _ctx_new(self) -> ir.Function:
        """A zeroed context with the default recursion limit; NULL when out of memory."""
        f = _fn(self.m, "adjoin_ctx_new", CTXP, [])
        b = ir.IRBuilder(f.append_basic_block())
        size = b.ptrtoint(b.gep(ir.Constant(CTXP, None), [I32(1)]), I64)
        ctx = b.bitcast(b.call(self.calloc, [I64(1), size]), CTXP)
        with b.if_then(b.icmp_unsigned("!=", ctx, ir.Constant(CTXP, None)), likely=True):
            b.store(I64(DEFAULT_DEPTH), field(b, ctx, F_LIMIT))
        b.ret(ctx)
        return f

    def _ctx_reset(self) -> ir.Function:
        """Free the call's blocks except the current chunk, which is kept, emptied."""
        f = _fn(self.m, "adjoin_ctx_reset", ir.VoidType(), [CTXP])
        ctx = f.args[0]
        entry, loop, done = (f.append_basic_block(n) for n in ("entry", "loop", "done"))
        b = ir.IRBuilder(entry)
        allocs = b.load(field(b, ctx, 0))
        n = b.load(field(b, ctx, 1))
        chunk = b.load(field(b, ctx, 8))
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
        b.store(b.zext(kept, I64), field(b, ctx, 1))
        b.store(b.select(kept, b.load(field(b, ctx, 10)), I64(0)), field(b, ctx, 11))
        for k in (4, 9, F_DEPTH):
            b.store(I64(0), field(b, ctx, k))
        b.store(ir.Constant(I8P, None), field(b, ctx, F_GUARDED))
        b.store(I32(0), field(b, ctx, 6))
        child = b.bitcast(b.load(field(b, ctx, F_CHILD)), CTXP)
        with b.if_then(b.icmp_unsigned("!=", child, ir.Constant(CTXP, None))):
            b.call(f, [child])  # a call left by an error may have left it in use
        b.ret_void()
        return f

    def _ctx_free(self) -> ir.Function:
        f = _fn(self.m, "adjoin_ctx_free", ir.VoidType(), [CTXP])
        ctx = f.args[0]
        b = ir.IRBuilder(f.append_basic_block())
        b.call(self.ctx_reset, [ctx])
        child = b.bitcast(b.load(field(b, ctx, F_CHILD)), CTXP)
        with b.if_then(b.icmp_unsigned("!=", child, ir.Constant(CTXP, None))):
            b.call(f, [child])
        b.call(self.free, [b.load(field(b, ctx, 8))])  # the chunk reset kept
        b.call(self.free, [b.bitcast(b.load(field(b, ctx, 0)), I8P)])
        b.call(self.free, [b.load(field(b, ctx, 3))])
        b.call(self.free, [b.bitcast(ctx, I8P)])
        b.ret_void()
        return f

    def _set_limits(self) -> ir.Function:
        """adjoin_ctx_set_limits(ctx, depth, stack_low): the deepest nesting of recursive
        calls, and the lowest stack address a call may reach (0: unchecked)."""
        f = _fn(self.m, "adjoin_ctx_set_limits", ir.VoidType(), [CTXP, I64, I64])
        ctx, depth, low = f.args
        b = ir.IRBuilder(f.append_basic_block())
        b.store(depth, field(b, ctx, F_LIMIT))
        b.store(low, field(b, ctx, F_STACK))
        b.ret_void()
        return f

    def _grow(self, b: ir.IRBuilder, ctx, ptr_field, cap_field, need, elem: int):
        """Make the buffer at `ptr_field` hold `need` items of `elem` bytes (doubling);
        out of memory raises, leaving the old buffer in place."""
        cap = b.load(cap_field)
        with b.if_then(b.icmp_signed(">", need, cap), likely=False):
            twice = b.mul(cap, I64(2))
            new_cap = b.select(b.icmp_signed(">", need, twice), need, twice)
            new_cap = b.select(b.icmp_signed("<", new_cap, I64(64)), I64(64), new_cap)
            old = b.bitcast(b.load(ptr_field), I8P)
            grown = b.call(self.realloc, [old, b.mul(new_cap, I64(elem))])
            self.raise_if_null(b, ctx, grown)
            b.store(b.bitcast(grown, ptr_field.type.pointee), ptr_field)
            b.store(new_cap, cap_field)

    def raise_if_null(self, b: ir.IRBuilder, ctx, p) -> None:
        with b.if_then(b.icmp_unsigned("==", p, ir.Constant(p.type, None)), likely=False):
            b.call(self.raise_, [ctx, I32(ERR_MEMORY)])

    def _block(self, b: ir.IRBuilder, ctx, size) -> ir.Value:
        """malloc `size` bytes and record the block in the context."""
        n = b.load(field(b, ctx, 1))
        self._grow(b, ctx, field(b, ctx, 0), field(b, ctx, 2), b.add(n, I64(1)), 8)
        p = b.call(self.malloc, [size])
        self.raise_if_null(b, ctx, p)
        b.store(b.add(b.load(field(b, ctx, 11)), size), field(b, ctx, 11))
        b.store(p, b.gep(b.load(field(b, ctx, 0)), [n]))
        b.store(b.add(n, I64(1)), field(b, ctx, 1))
        return p

    def _alloc(self) -> ir.Function:
        """adjoin_alloc(ctx, nbytes): 16-byte aligned memory owned by the context."""
        f = _fn(self.m, "adjoin_alloc", I8P, [CTXP, I64])
        ctx, nbytes = f.args
        entry, big, bump, fresh, done = (f.append_basic_block(x) for x in
                                         ("entry", "big", "bump", "fresh", "done"))
        b = ir.IRBuilder(entry)
        with b.if_then(b.icmp_unsigned(">", nbytes, I64(MAX_BYTES)), likely=False):
            b.call(self.raise_, [ctx, I32(ERR_MEMORY)])  # also a negative size
        size = b.and_(b.add(b.select(b.icmp_signed("<", nbytes, I64(16)), I64(16), nbytes),
                            I64(15)), I64(-16))
        b.cbranch(b.icmp_signed(">", size, I64(BIG)), big, bump)
        b.position_at_end(big)
        b.ret(self._block(b, ctx, size))
        b.position_at_end(bump)
        used, cap = b.load(field(b, ctx, 9)), b.load(field(b, ctx, 10))
        b.cbranch(b.icmp_signed(">", b.add(used, size), cap), fresh, done)
        b.position_at_end(fresh)  # a new chunk: twice the last one, and never less than asked
        grown = b.select(b.icmp_signed("<", cap, I64(CHUNK)), I64(CHUNK), b.mul(cap, I64(2)))
        grown = b.select(b.icmp_signed(">", grown, I64(MAX_CHUNK)), I64(MAX_CHUNK), grown)
        grown = b.select(b.icmp_signed("<", grown, size), size, grown)
        b.store(self._block(b, ctx, grown), field(b, ctx, 8))
        b.store(I64(0), field(b, ctx, 9))
        b.store(grown, field(b, ctx, 10))
        b.branch(done)
        b.position_at_end(done)
        at = b.load(field(b, ctx, 9))
        b.store(b.add(at, size), field(b, ctx, 9))
        b.ret(b.gep(b.load(field(b, ctx, 8)), [at]))
        return f

    def _push(self) -> ir.Function:
        f = _fn(self.m, "adjoin_push", ir.VoidType(), [CTXP, I8P, I64])
        ctx, src, n = f.args
        b = ir.IRBuilder(f.append_basic_block())
        size = b.load(field(b, ctx, 4))
        self._grow(b, ctx, field(b, ctx, 3), field(b, ctx, 5), b.add(size, n), 1)
        dst = b.gep(b.load(field(b, ctx, 3)), [size])
        b.call(self.memcpy, [dst, src, n, ir.Constant(ir.IntType(1), 0)])
        b.store(b.add(size, n), field(b, ctx, 4))
        b.ret_void()
        return f

    def _pop(self) -> ir.Function:
        f = _fn(self.m, "adjoin_pop", ir.VoidType(), [CTXP, I8P, I64])
        ctx, dst, n = f.args
        b = ir.IRBuilder(f.append_basic_block())
        size = b.sub(b.load(field(b, ctx, 4)), n)
        with b.if_then(b.icmp_signed("<", size, I64(0)), likely=False):
            # popping what was never pushed (a tape used wrongly): fail, read the start
            b.call(self.fail, [ctx, I32(ERR_TAPE)])
            b.store(n, field(b, ctx, 4))
        size = b.sub(b.load(field(b, ctx, 4)), n)
        b.store(size, field(b, ctx, 4))
        src = b.gep(b.load(field(b, ctx, 3)), [size])
        b.call(self.memcpy, [dst, src, n, ir.Constant(ir.IntType(1), 0)])
        b.ret_void()
        return f

    def _fail(self) -> ir.Function:
        f = _fn(self.m, "adjoin_fail", ir.VoidType(), [CTXP, I32])
        ctx, code = f.args
        b = ir.IRBuilder(f.append_basic_block())
        slot = field(b, ctx, 6)
        with b.if_then(b.icmp_signed("==", b.load(slot), I32(0))):
            b.store(code, slot)
        b.ret_void()
        return f

    def _raise(self) -> ir.Function:
        """adjoin_raise(ctx, code): record `code` (unless an earlier error stands) and
        leave the call: jump back to the entry point that started it."""
        f = _fn(self.m, "adjoin_raise", ir.VoidType(), [CTXP, I32])
        f.attributes.add("noinline")
        f.attributes.add("cold")
        ctx, code = f.args
        b = ir.IRBuilder(f.append_basic_block())
        b.call(self.fail, [ctx, code])
        target = b.load(field(b, ctx, F_JUMP))
        with b.if_then(b.icmp_unsigned("!=", target, ir.Constant(I8P, None)), likely=True):
            b.call(self.longjmp, [target, I32(1)])
            b.unreachable()
        b.ret_void()
        return f

    def _error(self) -> ir.Function:
        f = _fn(self.m, "adjoin_error", I32, [CTXP])
        b = ir.IRBuilder(f.append_basic_block())
        b.ret(b.load(field(b, f.args[0], 6)))
        return f

    def _tape_size(self) -> ir.Function:
        f = _fn(self.m, "adjoin_tape_size", I64, [CTXP])
        b = ir.IRBuilder(f.append_basic_block())
        b.ret(b.load(field(b, f.args[0], 4)))
        return f

    def _bytes(self) -> ir.Function:
        """Bytes the context holds: its blocks (arrays, chunks) and the tape's buffer,
        its child's included."""
        f = _fn(self.m, "adjoin_ctx_bytes", I64, [CTXP])
        entry, deeper, done = (f.append_basic_block(x) for x in ("entry", "deeper", "done"))
        b = ir.IRBuilder(entry)
        own = b.add(b.load(field(b, f.args[0], 11)), b.load(field(b, f.args[0], 5)))
        child = b.bitcast(b.load(field(b, f.args[0], F_CHILD)), CTXP)
        b.cbranch(b.icmp_unsigned("!=", child, ir.Constant(CTXP, None)), deeper, done)
        b.position_at_end(deeper)
        below = b.call(f, [child])
        b.branch(done)
        b.position_at_end(done)
        total = b.phi(I64)
        total.add_incoming(I64(0), entry)
        total.add_incoming(below, deeper)
        b.ret(b.add(own, total))
        return f

    def _scope_enter(self) -> ir.Function:
        """adjoin_scope_enter(ctx): the child context a scoped call runs in (made on first
        use), with the parent's recursion depth, limits and jump target."""
        f = _fn(self.m, "adjoin_scope_enter", CTXP, [CTXP], linkage="internal")
        ctx = f.args[0]
        b = ir.IRBuilder(f.append_basic_block())
        slot = field(b, ctx, F_CHILD)
        with b.if_then(b.icmp_unsigned("==", b.load(slot), ir.Constant(I8P, None)),
                       likely=False):
            made = b.call(self.ctx_new, [])
            self.raise_if_null(b, ctx, made)
            b.store(b.bitcast(made, I8P), slot)
        child = b.bitcast(b.load(slot), CTXP)
        for k in (F_DEPTH, F_LIMIT, F_STACK, F_JUMP):
            b.store(b.load(field(b, ctx, k)), field(b, child, k))
        b.ret(child)
        return f

    def _tape_set(self) -> ir.Function:
        f = _fn(self.m, "adjoin_tape_set", ir.VoidType(), [CTXP, I64])
        b = ir.IRBuilder(f.append_basic_block())
        b.store(f.args[1], field(b, f.args[0], 4))
        b.ret_void()
        return f

    def enter(self, b: ir.IRBuilder, ctx) -> ir.Value:
        """Count one more level of recursion (at the start of a recursive function);
        past the depth limit or below the lowest stack address allowed, raise
        RecursionError. Returns the depth to restore on leaving."""
        slot = field(b, ctx, F_DEPTH)
        depth = b.load(slot)
        deeper = b.add(depth, I64(1))
        b.store(deeper, slot)
        frame = b.ptrtoint(b.call(self.frameaddress, [I32(0)]), I64)
        bad = b.or_(b.icmp_signed(">", deeper, b.load(field(b, ctx, F_LIMIT))),
                    b.icmp_unsigned("<", frame, b.load(field(b, ctx, F_STACK))))
        with b.if_then(bad, likely=False):
            b.call(self.raise_, [ctx, I32(ERR_RECURSION)])
        return depth

    def leave(self, b: ir.IRBuilder, ctx, depth) -> None:
        b.store(depth, field(b, ctx, F_DEPTH))

    def scratch(self, b: ir.IRBuilder, ctx) -> ir.Value:
        """A harmless place to read or write when an index was out of range."""
        return b.bitcast(field(b, ctx, 7), I8P)

    def failed(self, b: ir.IRBuilder, ctx) -> ir.Value:
        """An i1: the call has recorded an error (loops use it to stop early)."""
        return b.icmp_signed("!=", b.load(field(b, ctx, 6)), I32(0))
