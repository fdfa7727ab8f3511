"""IR functions to LLVM functions: values, control flow, calls, tuples, the tape.

Assumes: verified IR prepared for a backend (markers lowered, in-place writes
marked); every callee is in the module.
Guarantees: each IR function becomes an internal LLVM function taking the call
context first. Structured control flow becomes basic blocks: `if` joins with
phis; `for` is a counted loop over Python's `range` (trip count computed once,
without overflow, `reversed` counting down); `while` tests its condition region
in the loop header. Every `while`, and every `for` whose body may record an
error, stops at the call's first error. Scalar ops go to `scalar.py`, array ops
to `arrays.py`. Pushed values are copied byte-wise onto the context's tape and
popped in reverse order.
"""
from __future__ import annotations

import os
from typing import Dict, List

from llvmlite import ir

from ...errors import BackendError
from ...ir.core import Block, Function, Module, Op, Value
from ...ir.types import ArrayType, BOOL, ScalarType, TupleType
from ...passes.callgraph import recursive_functions
from ...passes.inplace import Objects
from . import arrays, bounds, fuse, rank1, release, scalar
from .runtime_ir import CTXP, ERR_ASSERT, ERR_SHAPE, Runtime, check_memory
from .types import I1, I32, I64, I8, I8P, lltype, memory_type

FUSE = os.environ.get("ADJOIN_FUSE", "1") not in ("0", "")  # elementwise fusion (fuse.py)
# memory allocated by one loop iteration given back at its end (release.py)
RELEASE = os.environ.get("ADJOIN_RELEASE", "1") not in ("0", "")


class ModuleLowering:
    def __init__(self, module: Module, name: str = "adjoin", shared_runtime: bool = False):
        self.source = module
        self.m = ir.Module(name=name)
        self.rt = Runtime(self.m, checked=check_memory(), shared=shared_runtime)
        self.scalar = scalar.Scalar(self.m)
        self.functions: Dict[str, ir.Function] = {}
        self.helpers: Dict[tuple, ir.Function] = {}
        self.fresh_helpers: set = set()  # helpers returning a fresh contiguous array
        self._ipow = None
        self.recursive = recursive_functions(module)
        self.pushing = release.pushing_functions(module)
        for f in module:
            fnty = ir.FunctionType(lltype(f.result_type),
                                   [CTXP] + [lltype(t) for t in f.param_types])
            fn = ir.Function(self.m, fnty, f"adjoin.{f.name}")
            fn.linkage = "internal"
            self.functions[f.name] = fn
        for f in module:
            FunctionLowering(self, f).lower()

    def ipow(self) -> ir.Function:
        """`adjoin.ipow(base, exp)`: an integer power by squaring (exp >= 0), as
        {wrapped result, whether the exact result does not fit in 64 bits}."""
        if self._ipow is None:
            pair = ir.LiteralStructType([I64, I1])
            f = ir.Function(self.m, ir.FunctionType(pair, [I64, I64]), "adjoin.ipow")
            f.linkage = "internal"
            entry, loop, done = (f.append_basic_block(n) for n in ("entry", "loop", "done"))
            b = ir.IRBuilder(entry)
            b.branch(loop)
            b.position_at_end(loop)
            acc, base, e, wrapped = b.phi(I64), b.phi(I64), b.phi(I64), b.phi(I1)
            acc.add_incoming(I64(1), entry)
            base.add_incoming(f.args[0], entry)
            e.add_incoming(f.args[1], entry)
            wrapped.add_incoming(I1(0), entry)
            odd = b.icmp_signed("!=", b.and_(e, I64(1)), I64(0))
            times = b.smul_with_overflow(acc, base)
            acc2 = b.select(odd, b.extract_value(times, 0), acc)
            e2 = b.ashr(e, I64(1))
            square = b.smul_with_overflow(base, base)
            # a wrapped square matters only if a later bit multiplies it in
            lost = b.or_(b.and_(odd, b.extract_value(times, 1)),
                         b.and_(b.icmp_signed(">", e2, I64(0)), b.extract_value(square, 1)))
            wrapped2 = b.or_(wrapped, lost)
            acc.add_incoming(acc2, loop)
            base.add_incoming(b.extract_value(square, 0), loop)
            e.add_incoming(e2, loop)
            wrapped.add_incoming(wrapped2, loop)
            b.cbranch(b.icmp_signed(">", e2, I64(0)), loop, done)
            b.position_at_end(done)
            positive = b.icmp_signed(">", f.args[1], I64(0))
            out = b.insert_value(ir.Constant(pair, None), b.select(positive, acc2, I64(1)), 0)
            b.ret(b.insert_value(out, b.and_(positive, wrapped2), 1))
            self._ipow = f
        return self._ipow


class FunctionLowering:
    def __init__(self, ml: ModuleLowering, f: Function, fn: ir.Function = None):
        self.ml = ml
        self.f = f
        self.fn = fn if fn is not None else ml.functions[f.name]
        self.rt = ml.rt
        self.scalar = ml.scalar
        self.ctx = self.fn.args[0]
        self.vals: Dict[int, ir.Value] = {}
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.op_name = ""
        self.in_array = False
        self.uses = None
        self.trusted: Dict[int, set] = {}  # op id -> axes indexed without checks (bounds.py)
        self.safe: set = set()  # ids of `checked` index ops that cannot overflow (bounds.py)
        self.fresh: set = set()  # ids of packed descriptors of fresh allocations (arrays.pack)
        self.depth = None  # a recursive function's depth on entry, restored on return
        self._objects = None

    def ipow(self) -> ir.Function:
        return self.ml.ipow()

    def outline(self, op: Op, emit) -> None:
        """Run `emit(lowering, op)` in a helper function shared by every op of the same
        kind, attributes and types in the module, and call it here: loops over arrays
        are generated and optimized once, not at every use."""
        key = (op.name, _frozen(op.attrs), tuple(str(v.type) for v in op.operands),
               tuple(str(r.type) for r in op.results))
        fn = self.ml.helpers.get(key)
        if fn is None:
            fnty = ir.FunctionType(lltype(op.result.type),
                                   [CTXP] + [lltype(v.type) for v in op.operands])
            fn = ir.Function(self.ml.m, fnty, f"adjoin.{op.name}.{len(self.ml.helpers)}")
            fn.linkage = "internal"
            fn.attributes.add("noinline")
            self.ml.helpers[key] = fn
            # A detached copy with one fresh placeholder per operand: `x @ x` must not
            # bind both parameters of the shared helper to the same value.
            template = Op(op.name, [Value(v.type, v.name) for v in op.operands],
                          [r.type for r in op.results], dict(op.attrs), (), op.loc)
            sub = FunctionLowering(self.ml, self.f, fn)
            for v, a in zip(template.operands, fn.args[1:]):
                sub.set(v, a)
            sub.op_name = op.name
            emit(sub, template)
            out = sub.get(template.result)
            if id(out) in sub.fresh:
                self.ml.fresh_helpers.add(fn.name)
            sub.b.ret(out)
        self.set(op.result, self.call_helper(fn, [self.get(v) for v in op.operands],
                                             op.result.type))

    def call_helper(self, fn: ir.Function, args: List[ir.Value], t) -> ir.Value:
        """Call an outlined helper; a fresh contiguous array result gets its strides
        recomputed here (arrays.fresh_result)."""
        out = self.b.call(fn, [self.ctx] + args)
        if fn.name in self.ml.fresh_helpers:
            from .arrays import fresh_result
            out = fresh_result(self, out, t)
        return out

    # -- values --------------------------------------------------------------------

    def get(self, v: Value) -> ir.Value:
        try:
            return self.vals[id(v)]
        except KeyError:
            raise BackendError(f"internal: value %{v.name or '?'} used before the llvm "
                               "backend defined it") from None

    def set(self, v: Value, x: ir.Value) -> None:
        self.vals[id(v)] = x

    def lower(self) -> None:
        for p, a in zip(self.f.params, self.fn.args[1:]):
            a.name = p.name or "arg"
            self.set(p, a)
        if self.f.name in self.ml.recursive:
            self.depth = self.rt.enter(self.b, self.ctx)
        self.block(self.f.body.block)

    def block(self, blk: Block) -> None:
        roots, absorbed = {}, set()
        if self.uses is None:
            self.uses = fuse.count_uses(self.f.walk())
        if FUSE:
            roots, absorbed = fuse.plan(blk, self.uses)
        updates = rank1.plan(blk, self.uses, self.objects)
        absorbed |= {id(outer) for outer in updates.values()}
        for op in blk.ops:
            if op.name in ("yield", "condition") or id(op) in absorbed:
                continue
            if id(op) in roots:
                fuse.emit(self, op, roots[id(op)])
            elif id(op) in updates:
                rank1.emit(self, op, updates[id(op)])
            else:
                self.op(op)

    def objects(self) -> Objects:
        """Which arrays each value may be (passes/inplace.py), computed once."""
        if self._objects is None:
            self._objects = Objects(self.f)
        return self._objects

    def op(self, op: Op) -> None:
        self.op_name = op.name
        handler = getattr(self, "op_" + op.name, None)
        if handler is not None:
            handler(op)
            return
        if op.results and isinstance(op.result.type, ScalarType) and \
                not any(isinstance(v.type, ArrayType) for v in op.operands):
            args = [(self.get(v), v.type) for v in op.operands]
            attrs = op.attrs if id(op) not in self.safe else \
                {k: v for k, v in op.attrs.items() if k != "checked"}
            self.set(op.result, scalar.emit(self, op.name, args, op.result.type, attrs))
            return
        arrays.emit(self, op)

    # -- simple ops --------------------------------------------------------------------

    def op_const(self, op: Op) -> None:
        t = op.result.type
        v = op.attrs["value"]
        if t == BOOL:
            self.set(op.result, I1(int(bool(v))))
        elif v is None:
            self.set(op.result, I8(0))
        else:
            self.set(op.result, ir.Constant(lltype(t), v))

    def op_undef(self, op: Op) -> None:
        self.set(op.result, ir.Constant(lltype(op.result.type), None))

    def op_tape_new(self, op: Op) -> None:
        self.set(op.result, I8(0))

    def op_tuple(self, op: Op) -> None:
        agg = ir.Constant(lltype(op.result.type), None)
        for k, v in enumerate(op.operands):
            agg = self.b.insert_value(agg, self.get(v), k)
        self.set(op.result, agg)

    def op_tuple_get(self, op: Op) -> None:
        self.set(op.result, self.b.extract_value(self.get(op.operands[0]), op.attrs["index"]))

    def op_call(self, op: Op) -> None:
        callee = self.ml.functions.get(op.attrs["callee"])
        if callee is None:
            raise BackendError(f"internal: no function @{op.attrs['callee']} in the module")
        if op.attrs.get("scoped"):
            from .scopes import lower_scoped_call
            lower_scoped_call(self, op, callee)
            return
        r = self.b.call(callee, [self.ctx] + [self.get(v) for v in op.operands])
        if op.results:
            self.set(op.result, r)

    def op_pycall(self, op: Op) -> None:
        raise BackendError("a custom rule's opaque Python function cannot run on the llvm "
                           "backend; use backend=\"python\"", op.loc, "custom rule")

    def op_return(self, op: Op) -> None:
        if self.depth is not None:
            self.rt.leave(self.b, self.ctx, self.depth)
        self.b.ret(self.get(op.operands[0]) if op.operands else I8(0))

    def op_assert(self, op: Op) -> None:
        with self.b.if_then(self.b.not_(self.get(op.operands[0])), likely=False):
            code = ERR_SHAPE if op.attrs.get("error") == "ValueError" else ERR_ASSERT
            self.b.call(self.rt.fail, [self.ctx, I32(code)])

    def op_print(self, op: Op) -> None:
        from .printing import lower_print
        lower_print(self, op)

    # -- the tape ------------------------------------------------------------------------

    def size_of(self, t: ir.Type) -> ir.Value:
        return self.b.ptrtoint(self.b.gep(ir.Constant(t.as_pointer(), None), [I32(1)]), I64)

    def op_push(self, op: Op) -> None:
        for v in op.operands[1:]:
            mt = memory_type(v.type)
            slot = self.entry_alloca(mt)
            self.b.store(self.to_memory(self.get(v), v.type), slot)
            self.b.call(self.rt.push, [self.ctx, self.b.bitcast(slot, I8P), self.size_of(mt)])

    def op_pop(self, op: Op) -> None:
        for r in reversed(op.results):
            mt = memory_type(r.type)
            slot = self.entry_alloca(mt)
            self.b.call(self.rt.pop, [self.ctx, self.b.bitcast(slot, I8P), self.size_of(mt)])
            self.set(r, self.from_memory(self.b.load(slot), r.type))

    def entry_alloca(self, t: ir.Type) -> ir.Value:
        """A stack slot in the entry block (so loops do not grow the stack)."""
        entry = self.fn.entry_basic_block
        saved = self.b.block
        with self.b.goto_block(entry):
            if entry.instructions:
                self.b.position_before(entry.instructions[0])
            slot = self.b.alloca(t)
        self.b.position_at_end(saved)
        return slot

    def to_memory(self, v: ir.Value, t) -> ir.Value:
        if isinstance(t, ScalarType) and t == BOOL:
            return self.b.zext(v, I8)
        if isinstance(t, TupleType) and any(e == BOOL for e in t.elts):
            agg = ir.Constant(memory_type(t), None)
            for k, et in enumerate(t.elts):
                agg = self.b.insert_value(agg, self.to_memory(self.b.extract_value(v, k), et), k)
            return agg
        return v

    def from_memory(self, v: ir.Value, t) -> ir.Value:
        if isinstance(t, ScalarType) and t == BOOL:
            return self.b.trunc(v, I1)
        if isinstance(t, TupleType) and any(e == BOOL for e in t.elts):
            agg = ir.Constant(lltype(t), None)
            for k, et in enumerate(t.elts):
                agg = self.b.insert_value(agg, self.from_memory(self.b.extract_value(v, k), et),
                                          k)
            return agg
        return v

    # -- control flow ----------------------------------------------------------------------

    def region_values(self, blk: Block) -> List[ir.Value]:
        """Lower a region's ops; return its terminator's operands."""
        self.block(blk)
        return [self.get(v) for v in blk.ops[-1].operands]

    def op_if(self, op: Op) -> None:
        then_bb = self.fn.append_basic_block("then")
        else_bb = self.fn.append_basic_block("else")
        join = self.fn.append_basic_block("endif")
        self.b.cbranch(self.get(op.operands[0]), then_bb, else_bb)
        incoming = []
        for bb, region in ((then_bb, op.regions[0]), (else_bb, op.regions[1])):
            self.b.position_at_end(bb)
            vals = self.region_values(region.block)
            incoming.append((vals, self.b.block))
            self.b.branch(join)
        self.b.position_at_end(join)
        for r in op.results:
            phi = self.b.phi(lltype(r.type), name=r.name or "")
            for vals, bb in incoming:
                phi.add_incoming(vals[r.index], bb)
            self.set(r, phi)

    def trip_count(self, lo, hi, st) -> ir.Value:
        """len(range(lo, hi, st)); a zero step records an error and runs nothing.
        Spans and steps are unsigned, so that no 64-bit range overflows
        (range(-2**63, 2**63 - 1, 2**62) runs 4 times)."""
        b = self.b
        zero = I64(0)
        with b.if_then(b.icmp_signed("==", st, zero), likely=False):
            b.call(self.rt.fail, [self.ctx, I32(ERR_SHAPE)])
        pos = b.icmp_signed(">", st, zero)
        some = b.select(pos, b.icmp_signed("<", lo, hi), b.icmp_signed("<", hi, lo))
        span = b.select(pos, b.sub(hi, lo), b.sub(lo, hi))  # exact as unsigned when `some`
        step = b.select(pos, st, b.neg(st))  # -(-2**63) is 2**63 unsigned
        step = b.select(b.icmp_signed("==", step, zero), I64(1), step)
        n = b.add(b.udiv(b.sub(span, I64(1)), step), I64(1))
        return b.select(some, _at_most_max(b, n), zero)

    def op_for(self, op: Op) -> None:
        lo, hi, st = (self.get(v) for v in op.operands[:3])
        step_one = getattr(op.operands[2], "op", None)
        unit = step_one is not None and step_one.name == "const" and \
            step_one.attrs["value"] == 1
        n = self.b.select(self.b.icmp_signed(">", hi, lo), _at_most_max(self.b, self.b.sub(
            hi, lo)), I64(0)) if unit else self.trip_count(lo, hi, st)
        backwards = bool(op.attrs.get("reversed"))
        start = self.b.sub(n, I64(1)) if backwards else I64(0)
        inits = [self.get(v) for v in op.operands[3:]]

        def run() -> None:
            self.loop(op, inits, start, n, backwards,
                      lambda k: self.b.add(lo, k) if unit else self.b.add(lo, self.b.mul(k, st)))
        accesses = bounds.plan(op) if unit and arrays.BOUNDS else []
        if not accesses:
            run()
            return
        # Two versions: without index checks where they provably pass, else checked.
        safe = bounds.precondition(self, accesses, lo, hi, n)
        outs = []
        with self.b.if_else(safe, likely=True) as (fast, checked):
            for branch, trusted, safe in ((fast, bounds.trusted(accesses),
                                           bounds.safe_ops(accesses)), (checked, {}, set())):
                with branch:
                    self.trusted, self.safe = trusted, safe
                    run()
                    outs.append(([self.get(r) for r in op.results], self.b.block))
        self.trusted, self.safe = {}, set()
        for r in op.results:
            phi = self.b.phi(lltype(r.type), name=r.name or "")
            for vals, bb in outs:
                phi.add_incoming(vals[r.index], bb)
            self.set(r, phi)

    def loop(self, op: Op, inits, start, n, backwards: bool, index_of) -> None:
        pre = self.b.block
        head = self.fn.append_basic_block("loop")
        body = self.fn.append_basic_block("body")
        done = self.fn.append_basic_block("endloop")
        self.b.branch(head)
        self.b.position_at_end(head)
        k = self.b.phi(I64, name="k")
        k.add_incoming(start, pre)
        blk = op.regions[0].block
        phis, fixed = [], []
        for v, r, a, y in zip(inits, op.results, blk.args[1:], blk.ops[-1].operands):
            fixed.append(bounds.same_buffer(y, a))
            if fixed[-1]:  # written in place only: the descriptor stays as it came in
                phis.append(v)
                continue
            phi = self.b.phi(lltype(r.type), name=r.name or "")
            phi.add_incoming(v, pre)
            phis.append(phi)
        self.b.position_at_end(body)
        mark = self.iteration_mark(op)
        self.set(blk.args[0], index_of(k))
        for a, phi in zip(blk.args[1:], phis):
            self.set(a, phi)
        yields = self.region_values(blk)
        if mark is not None:
            release.release(self, mark)
        latch = self.b.block
        k.add_incoming(self.b.sub(k, I64(1)) if backwards else self.b.add(k, I64(1)), latch)
        for phi, y, same in zip(phis, yields, fixed):
            if not same:
                phi.add_incoming(y, latch)
        self.b.branch(head)
        self.b.position_at_end(head)  # the test, now that the body is known
        more = self.b.icmp_signed(">=", k, I64(0)) if backwards else \
            self.b.icmp_signed("<", k, n)
        blocks = self.fn.blocks
        if _may_fail([body] + blocks[blocks.index(done) + 1:]):
            # the first error ends the loop, as CPython's exception would (a loop of
            # 2**63 iterations must not run on); loops that cannot fail, the
            # vectorizable ones, are left alone
            more = self.b.and_(more, self.b.not_(self.rt.failed(self.b, self.ctx)))
        self.b.cbranch(more, body, done)
        self.b.position_at_end(done)
        for r, phi in zip(op.results, phis):
            self.set(r, phi)

    def iteration_mark(self, op: Op):
        """The arena's mark at the start of an iteration whose allocations can all be
        released at its end (release.py), else None."""
        if not RELEASE or not release.plan(op, self.ml.pushing):
            return None
        return release.take_mark(self)

    def op_while(self, op: Op) -> None:
        pre = self.b.block
        head = self.fn.append_basic_block("while")
        body = self.fn.append_basic_block("do")
        done = self.fn.append_basic_block("endwhile")
        self.b.branch(head)
        self.b.position_at_end(head)
        phis = []
        for v, r in zip(op.operands, op.results):
            phi = self.b.phi(lltype(r.type), name=r.name or "")
            phi.add_incoming(self.get(v), pre)
            phis.append(phi)
        mark = self.iteration_mark(op)
        cond_blk, body_blk = op.regions[0].block, op.regions[1].block
        for a, phi in zip(cond_blk.args, phis):
            self.set(a, phi)
        (c,) = self.region_values(cond_blk)
        # after an error the call runs on to its end: a loop whose exit depends on a
        # harmless stand-in value must not spin forever, so the first error ends it
        self.b.cbranch(self.b.and_(c, self.b.not_(self.rt.failed(self.b, self.ctx))), body,
                       done)
        self.b.position_at_end(body)
        for a, phi in zip(body_blk.args, phis):
            self.set(a, phi)
        yields = self.region_values(body_blk)
        if mark is not None:
            release.release(self, mark)
        for phi, y in zip(phis, yields):
            phi.add_incoming(y, self.b.block)
        self.b.branch(head)
        self.b.position_at_end(done)
        for r, phi in zip(op.results, phis):
            self.set(r, phi)


def _may_fail(blocks: List[ir.Block]) -> bool:
    """Whether code in `blocks` may record an error: it calls the runtime or other
    adjoin functions (math from libm and LLVM's intrinsics never fail)."""
    return any(isinstance(ins, ir.CallInstr) and ins.callee.name.startswith("adjoin")
               and ins.callee.name not in _NEVER_FAIL
               for blk in blocks for ins in blk.instructions)


_NEVER_FAIL = ("adjoin.ipow", "adjoin_push", "adjoin.release")


def _at_most_max(b: ir.IRBuilder, n: ir.Value) -> ir.Value:
    """A count of 2**63 or more iterations (unsigned `n`) as 2**63 - 1: no loop gets
    that far."""
    return b.select(b.icmp_signed("<", n, I64(0)), I64(2**63 - 1), n)


def _frozen(attrs) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in attrs.items()))
