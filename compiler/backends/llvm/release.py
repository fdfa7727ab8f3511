"""Per-iteration memory: which loops may give back what one iteration allocated.

Assumes: verified IR prepared for the llvm backend (in-place writes marked); the
call context's arena of runtime_ir.py, where memory is only ever given back as a
whole (`adjoin_ctx_reset`) or, here, down to a mark (`adjoin.release`).
Guarantees: `plan(loop, pushing)` is True only when nothing an iteration of `loop`
allocates can be reached once the iteration ends, so that the lowering may take a
mark at the start of each iteration and release the arena down to it at the end:
  * no op of the body, nor any function it calls (transitively, `pushing` names
    those that push), pushes onto the tape, which keeps descriptors of arrays;
  * every value the body yields that holds arrays refers to memory older than the
    iteration: a value defined before the loop, the carried value itself, or either
    after in-place element writes (`setitem`/`addat` marked `inplace`), through
    nested loops (whose own carried values obey the same rule) and `if`s.
Values defined in the body are visible after it only through what it yields (SSA
with structured regions), so nothing else can hold on to the iteration's memory.
It is also False for loops that cannot allocate (no op handles arrays besides
element reads and writes, no call): marking them would only cost time.
`pushing_functions(module)` returns the names of the functions that may push.
"""
from __future__ import annotations

from typing import Set

from ...ir.core import Module, Op, Value
from ...ir.types import ArrayType, TupleType

_ELEMENT = ("getitem", "setitem", "addat")  # element reads and writes allocate nothing
_WRITES = ("setitem", "addat")


def _holds_array(t) -> bool:
    if isinstance(t, ArrayType):
        return True
    return isinstance(t, TupleType) and any(_holds_array(e) for e in t.elts)


def pushing_functions(module: Module) -> Set[str]:
    """Names of the functions that push onto the tape, directly or through calls."""
    calls = {f.name: set(f.callees()) for f in module}
    out = {f.name for f in module if any(op.name == "push" for op in f.walk())}
    changed = True
    while changed:
        changed = False
        for name, callees in calls.items():
            if name not in out and callees & out:
                out.add(name)
                changed = True
    return out


def _body(loop: Op):
    return loop.regions[-1].block


def _carried_args(loop: Op):
    return _body(loop).args[1:] if loop.name == "for" else _body(loop).args


def _may_allocate(op: Op) -> bool:
    if op.name == "call":
        return True
    if op.name in ("for", "while", "if", "yield", "condition"):
        return False  # their regions' ops are looked at one by one
    if op.name in _ELEMENT:  # a copy before a write, or fancy indexing, allocates
        return (op.name in _WRITES and not op.attrs.get("inplace")) or \
            any(_holds_array(v.type) for v in op.operands[1:])
    return any(_holds_array(v.type) for v in list(op.operands) + list(op.results))


def plan(loop: Op, pushing: Set[str]) -> bool:
    """Whether each iteration of `loop` may release what it allocated (see above)."""
    inside = {id(o) for o in loop.walk()}
    allocates = False
    for op in loop.walk():
        if op is loop:
            continue
        if op.name == "push" or (op.name == "call" and op.attrs["callee"] in pushing):
            return False
        allocates = allocates or _may_allocate(op)
    if not allocates:
        return False
    old = {id(a) for a in _carried_args(loop)}
    return all(_older(y, old, inside) for y in _body(loop).ops[-1].operands
               if _holds_array(y.type))


def _defined_outside(v: Value, inside: Set[int]) -> bool:
    op = getattr(v, "op", None)
    if op is not None:
        return id(op) not in inside
    owner = v.block.parent.parent if v.block.parent is not None else None
    return not isinstance(owner, Op) or id(owner) not in inside


def _older(v: Value, old: Set[int], inside: Set[int]) -> bool:
    """`v` refers only to memory allocated before the iteration (values in `old` do)."""
    while True:
        if id(v) in old or _defined_outside(v, inside):
            return True
        op = getattr(v, "op", None)
        if op is None:
            return False
        if op.name in _WRITES and op.attrs.get("inplace"):
            v = op.operands[0]
            continue
        if op.name == "if":
            return all(_older(rg.block.ops[-1].operands[v.index], old, inside)
                       for rg in op.regions)
        if op.name in ("for", "while"):
            start = 3 if op.name == "for" else 0
            if not _older(op.operands[start + v.index], old, inside):
                return False
            arg = _carried_args(op)[v.index]
            return _older(_body(op).ops[-1].operands[v.index], old | {id(arg)}, inside)
        if op.name == "tuple":
            return all(_older(e, old, inside) for e in op.operands if _holds_array(e.type))
        into = accumulated_operand(v)
        if into is None:
            return False
        v = into


def accumulated_operand(v: Value):
    """The operand whose memory `v` is, where `v` is a result (or a tuple_get of one) of
    a call that accumulates into that operand (accumulate_into.py); else None."""
    op = getattr(v, "op", None)
    j = 0
    if op is not None and op.name == "tuple_get":
        j, op = op.attrs["index"], getattr(op.operands[0], "op", None)
    if op is None or op.name != "call" or not op.attrs.get("into"):
        return None
    return next((op.operands[k] for i, k in op.attrs["into"] if i == j), None)


# -- lowering: a mark at the start of an iteration, a release at its end ------------------

_MARKED = (1, 8, 9, 11)  # block count, current chunk, bytes used in it, bytes in blocks


def take_mark(lw) -> list:
    """The arena's state now (and, with checked memory, the newest guarded allocation)."""
    from .runtime_ir import F_GUARDED, field
    fields = _MARKED + ((F_GUARDED,) if lw.rt.checked else ())
    return [lw.b.load(field(lw.b, lw.ctx, k)) for k in fields]


def release(lw, mark: list) -> None:
    lw.b.call(_release_function(lw.rt), [lw.ctx] + mark)


def _release_function(rt):
    """`adjoin.release(ctx, count, chunk, used, bytes[, guarded])`: free what was
    allocated since the mark. Blocks made since are freed, but for the current
    chunk, which stays (emptied) so that the next iteration reuses it; with checked
    memory the guards of the released allocations are checked first."""
    from llvmlite import ir
    from .runtime_ir import CTXP, F_GUARDED, I8P, field
    from .types import I64
    fn = rt.m.globals.get("adjoin.release")
    if fn is not None:
        return fn
    params = [CTXP, I64, I8P, I64, I64] + ([I8P] if rt.checked else [])
    fn = ir.Function(rt.m, ir.FunctionType(ir.VoidType(), params), "adjoin.release")
    fn.linkage = "internal"
    ctx, count, chunk, used, nbytes = fn.args[:5]
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    if rt.checked:
        b.call(rt.check_until, [ctx, fn.args[5]])
        b.store(fn.args[5], field(b, ctx, F_GUARDED))
    blocks, now = b.load(field(b, ctx, 0)), b.load(field(b, ctx, 1))
    current = b.load(field(b, ctx, 8))
    entry, loop, done = b.block, fn.append_basic_block("free"), fn.append_basic_block("done")
    b.cbranch(b.icmp_signed("<", count, now), loop, done)
    b.position_at_end(loop)  # the blocks made since the mark, but the current chunk
    j = b.phi(I64)
    j.add_incoming(count, entry)
    block = b.load(b.gep(blocks, [j]))
    with b.if_then(b.icmp_unsigned("!=", block, current)):
        b.call(rt.free, [block])
    nxt = b.add(j, I64(1))
    j.add_incoming(nxt, b.block)
    b.cbranch(b.icmp_signed("<", nxt, now), loop, done)
    b.position_at_end(done)
    same = b.icmp_unsigned("==", current, chunk)
    with b.if_else(same, likely=True) as (kept, fresh):
        with kept:
            b.store(count, field(b, ctx, 1))
            b.store(used, field(b, ctx, 9))
            b.store(nbytes, field(b, ctx, 11))
        with fresh:  # a chunk made since the mark becomes the current one, emptied
            b.store(current, b.gep(blocks, [count]))
            b.store(b.add(count, I64(1)), field(b, ctx, 1))
            b.store(I64(0), field(b, ctx, 9))
            b.store(b.add(nbytes, b.load(field(b, ctx, 10))), field(b, ctx, 11))
    b.ret_void()
    return fn
