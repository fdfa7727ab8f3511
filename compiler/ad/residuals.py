"""Residuals: make every forward value that backward code reads available there.

Assumes: backward code built by `reverse.ReverseBuilder`, whose `mirror` maps each
forward block (loop body, if branch, function body) to the backward block that
runs its adjoint, and whose `equiv` maps forward values to backward equivalents
(a loop's index, the parameters of a split function).
Guarantees: afterwards every operand dominates its use. A forward value `v` read
in backward block B is, in order of preference:
  * used directly, when its definition is visible from B (the same function, an
    enclosing block);
  * recomputed in B just before its first use there, when it is a cheap op
    (arithmetic, indexing, shapes) whose operands are themselves available
    without the tape;
  * lifted out of an `if` branch as an extra result of the `if`, then resolved
    in the enclosing block;
  * pushed on the tape at the end of its forward block (a loop body or a split
    function's body) and popped at the top of the mirror backward block.
Each forward block pushes one group per execution and its mirror pops that
group, so pushes and pops always balance, and nothing is pushed that is not
popped and read.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..errors import CompileError
from ..ir.core import Block, BlockArg, Op, OpResult, Value, use_counts
from ..ir.types import ArrayType

RECOMPUTABLE = {
    "const", "add", "sub", "mul", "div", "neg", "convert", "dim", "size", "getitem",
    "lt", "le", "gt", "ge", "eq", "ne", "not", "and", "or", "select", "tuple_get",
    "minimum", "maximum", "abs", "floordiv", "mod", "transpose",
}
MAX_DEPTH = 6
VIEWS = ("getitem", "transpose", "reshape", "ravel")


def _users(v: Value) -> List[Op]:
    """The ops reading `v` in the block that defines it (nested ones included)."""
    return [u for op in def_block(v).ops for u in op.walk() if any(x is v for x in u.operands)]


def def_block(v: Value) -> Block:
    return v.block if isinstance(v, BlockArg) else v.op.parent


def ancestors(b: Block) -> List[Block]:
    out = []
    while b is not None:
        out.append(b)
        owner = b.parent.parent if b.parent is not None else None
        b = owner.parent if isinstance(owner, Op) else None
    return out


class Resolver:
    def __init__(self, rb):
        self.rb = rb
        self.cache: Dict[Tuple[int, int], Value] = {}
        self.pushes: Dict[int, Op] = {}
        self.pops: Dict[int, Op] = {}
        self.pairs: List[Tuple[Op, Op]] = []
        self.lifted: Dict[int, Value] = {}

    def run(self, ops: List[Op]) -> None:
        for op in ops:
            self.fix(op)

    def fix(self, op: Op) -> None:
        blk = op.parent
        op.operands = [self.resolve(v, blk, op) for v in op.operands]
        for region in op.regions:
            for inner in list(region.block.ops):
                self.fix(inner)

    # -- resolution -------------------------------------------------------------------

    def visible(self, v: Value, blk: Block) -> bool:
        return any(a is def_block(v) for a in ancestors(blk))

    def resolve(self, v: Value, blk: Block, anchor: Op) -> Value:
        found = self.available(v, blk, 0, anchor)
        if found is not None:
            return found
        home = def_block(v)
        mirror = self.rb.mirror.get(id(home))
        if mirror is None or not any(a is mirror for a in ancestors(blk)):
            raise CompileError(f"internal: backward code reads %{v.name or '?'} outside the "
                               "adjoint of the block that defines it")
        key = (id(v), id(mirror))
        if key not in self.cache:
            owner = home.parent.parent
            if isinstance(owner, Op) and owner.name == "if":
                self.cache[key] = self.resolve(self.lift(v, owner, home), mirror, anchor)
            else:
                self.cache[key] = self.pop(v, home, mirror)
        return self.cache[key]

    def available(self, v: Value, blk: Block, depth: int, anchor: Op) -> Optional[Value]:
        """`v` usable in `blk` without the tape, or None."""
        if self.visible(v, blk):
            return v
        e = self.rb.equiv.get(id(v))
        if e is not None and self.visible(e, blk):
            return e
        mirror = self.rb.mirror.get(id(def_block(v)))
        if mirror is None or not any(a is mirror for a in ancestors(blk)):
            return None
        key = (id(v), id(mirror))
        if key in self.cache:
            return self.cache[key]
        r = self.recompute(v, mirror, depth, anchor)
        if r is not None:
            self.cache[key] = r
        return r

    def recompute(self, v: Value, blk: Block, depth: int, anchor: Op) -> Optional[Value]:
        if not isinstance(v, OpResult) or depth > MAX_DEPTH:
            return None
        op = v.op
        if op.name not in RECOMPUTABLE or op.regions or len(op.results) != 1:
            return None
        args = []
        for o in op.operands:
            a = self.available(o, blk, depth + 1, anchor)
            if a is None:
                return None
            args.append(a)
        clone = Op(op.name, args, [v.type], dict(op.attrs), (), anchor.loc, [v.name])
        at = anchor
        while at.parent is not blk:
            at = at.parent_op()
        blk.insert_before(at, clone)
        return clone.result

    # -- moving values ------------------------------------------------------------------

    def pop(self, v: Value, home: Block, mirror: Block) -> Value:
        pushed = self.detach_view(v)
        push = self.pushes.get(id(home))
        if push is None:
            push = Op("push", [self.rb.tape_fwd], [], {}, (), home.ops[-1].loc)
            home.insert(len(home.ops) - 1, push)
            self.pushes[id(home)] = push
        push.operands.append(pushed)
        pop = self.pops.get(id(mirror))
        if pop is None:
            pop = Op("pop", [self.rb.tape_bwd], [], {}, (), push.loc)  # plumbing: no comment
            mirror.insert(0, pop)
            self.pops[id(mirror)] = pop
            self.pairs.append((push, pop))
        r = OpResult(pop, len(pop.results), v.type, v.name)
        pop.results.append(r)
        return r

    def detach_view(self, v: Value) -> Value:
        """A view of an array that is later written is saved as a copy made right away:
        keeping the view would pin the whole array and force every later write to copy it."""
        base = v
        while isinstance(base, OpResult) and base.op.name in VIEWS and \
                isinstance(base.type, ArrayType):
            base = base.op.operands[0]
        if base is v or not any(u.name in ("setitem", "addat") and u.operands[0] is base
                                for u in _users(base)):
            return v
        copy = Op("copy", [v], [v.type], {}, (), v.op.loc, [v.name])
        v.op.parent.insert(v.op.parent.ops.index(v.op) + 1, copy)
        return copy.result

    def lift(self, v: Value, if_op: Op, home: Block) -> Value:
        """Make `v`, defined in a branch of `if_op`, an extra result of it."""
        if id(v) in self.lifted:
            return self.lifted[id(v)]
        for region in if_op.regions:
            y = region.block.ops[-1]
            if region.block is home:
                y.operands.append(v)
            else:
                undef = Op("undef", [], [v.type], {"type": v.type}, (), y.loc)
                region.block.insert(len(region.block.ops) - 1, undef)
                y.operands.append(undef.result)
        r = OpResult(if_op, len(if_op.results), v.type, v.name)
        if_op.results.append(r)
        self.lifted[id(v)] = r
        return r



def prune_tape(pairs: List[Tuple[Op, Op]], roots: List[Block]) -> None:
    """Drop the tape slots whose popped value nothing reads (after optimization)."""
    counts: Dict[int, int] = {}
    for root in roots:
        for k, n in use_counts(root).items():
            counts[k] = counts.get(k, 0) + n
    for push, pop in pairs:
        if pop.parent is None or push.parent is None:
            continue
        keep = [k for k, r in enumerate(pop.results) if counts.get(id(r), 0)]
        if len(keep) == len(pop.results):
            continue
        push.operands = [push.operands[0]] + [push.operands[1 + k] for k in keep]
        pop.results = [pop.results[k] for k in keep]
        for i, r in enumerate(pop.results):
            r.index = i
        if not keep:
            push.erase()
            pop.erase()
