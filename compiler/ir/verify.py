"""IR verifier: checks the invariants every pass must preserve.

Assumes: nothing about its input (that is the point).
Guarantees: raises `VerifyError` naming the function, the op and the broken rule
when: a value is defined twice or used where it does not dominate; a block lacks
its terminator or has one in the middle; region counts, block-argument counts or
yield arities do not match their op; an op's result types differ from what its
typing rule gives; a call names a missing callee or passes the wrong types.
"""
from __future__ import annotations

from typing import Optional, Set

from ..errors import VerifyError
from . import ops as opdefs
from .core import Block, Function, Module, Op
from .types import BOOL, I64, NONE, TAPE


class Verifier:
    def __init__(self, f: Function, module: Optional[Module]):
        self.f = f
        self.module = module
        self.defined: Set[int] = set()

    def fail(self, op: Optional[Op], msg: str) -> VerifyError:
        where = f" in '{op.name}' at {op.loc}" if op is not None else ""
        return VerifyError(f"@{self.f.name}{where}: {msg}")

    def define(self, op: Optional[Op], values) -> None:
        for v in values:
            if id(v) in self.defined:
                raise self.fail(op, f"value %{v.name} defined twice")
            self.defined.add(id(v))

    def run(self) -> None:
        body = self.f.body
        if len(body.blocks) != 1:
            raise self.fail(None, "function body must have one block")
        self.define(None, self.f.params)
        self.block(body.block, {"return"}, None)

    def block(self, b: Block, terminators: Set[str], owner: Optional[Op]) -> None:
        visible_before = set(self.defined)
        if not b.ops or b.ops[-1].name not in terminators:
            last = b.ops[-1].name if b.ops else "nothing"
            raise self.fail(owner, f"block must end in {'/'.join(sorted(terminators))}, "
                                   f"ends in {last}")
        for i, op in enumerate(b.ops):
            if op.parent is not b:
                raise self.fail(op, "op's parent link is wrong")
            d = opdefs.OPS.get(op.name)
            if d is None:
                raise self.fail(op, "unknown op")
            if d.terminator and i != len(b.ops) - 1:
                raise self.fail(op, "terminator in the middle of a block")
            for v in op.operands:
                if id(v) not in self.defined:
                    raise self.fail(op, f"operand %{v.name or '?'} does not dominate this use")
            self.check_op(op)
            self.define(op, op.results)
        # Values defined inside a block are invisible after it.
        self.defined = visible_before

    def nested(self, op: Op, index: int, terminators: Set[str]) -> Block:
        region = op.regions[index]
        if len(region.blocks) != 1:
            raise self.fail(op, "region must have exactly one block")
        blk = region.block
        if region.parent is not op or blk.parent is not region:
            raise self.fail(op, "region parent links are wrong")
        saved = set(self.defined)
        self.define(op, blk.args)
        self.block(blk, terminators, op)
        self.defined = saved
        return blk

    def check_types(self, op: Op, got, want, what: str) -> None:
        got, want = [t for t in got], [t for t in want]
        if got != want:
            raise self.fail(op, f"{what}: expected ({', '.join(map(str, want))}), "
                                f"got ({', '.join(map(str, got))})")

    def check_op(self, op: Op) -> None:
        n_regions = opdefs.OPS[op.name].regions
        if len(op.regions) != n_regions:
            raise self.fail(op, f"expected {n_regions} regions, found {len(op.regions)}")
        handler = getattr(self, "op_" + op.name, None)
        if handler is not None:
            handler(op)
            return
        try:
            want = opdefs.infer(op.name, [v.type for v in op.operands], op.attrs)
        except opdefs.TypeRuleError as e:
            raise self.fail(op, f"ill-typed: {e}") from None
        self.check_types(op, [r.type for r in op.results], want, "result types")

    def yields(self, op: Op, blk: Block, types, what: str) -> None:
        self.check_types(op, [v.type for v in blk.ops[-1].operands], types, what)

    def op_if(self, op: Op) -> None:
        if len(op.operands) != 1 or op.operands[0].type != BOOL:
            raise self.fail(op, "if takes one bool condition")
        types = [r.type for r in op.results]
        for i in range(2):
            blk = self.nested(op, i, {"yield"})
            if blk.args:
                raise self.fail(op, "if regions take no arguments")
            self.yields(op, blk, types, "branch yields")

    def op_for(self, op: Op) -> None:
        if len(op.operands) < 3 or any(v.type != I64 for v in op.operands[:3]):
            raise self.fail(op, "for takes i64 lower bound, upper bound and step")
        inits = [v.type for v in op.operands[3:]]
        types = [r.type for r in op.results]
        self.check_types(op, types, inits, "loop results vs initial values")
        blk = op.regions[0].block
        self.check_types(op, [a.type for a in blk.args], [I64] + inits, "body arguments")
        self.nested(op, 0, {"yield"})
        self.yields(op, blk, types, "body yields")

    def op_while(self, op: Op) -> None:
        inits = [v.type for v in op.operands]
        types = [r.type for r in op.results]
        self.check_types(op, types, inits, "loop results vs initial values")
        for i in range(2):
            blk = op.regions[i].block
            self.check_types(op, [a.type for a in blk.args], inits, "region arguments")
        cond = self.nested(op, 0, {"condition"})
        term = cond.ops[-1]
        if len(term.operands) != 1 or term.operands[0].type != BOOL:
            raise self.fail(term, "condition takes one bool")
        body = self.nested(op, 1, {"yield"})
        self.yields(op, body, types, "body yields")

    def op_return(self, op: Op) -> None:
        got = [v.type for v in op.operands]
        want = [] if self.f.result_type == NONE and not got else [self.f.result_type]
        self.check_types(op, got, want, "returned value")

    def op_yield(self, op: Op) -> None:
        if op.parent is None or not isinstance(op.parent_op(), Op):
            raise self.fail(op, "yield outside a region")

    def op_condition(self, op: Op) -> None:
        owner = op.parent_op()
        if owner is None or owner.name != "while":
            raise self.fail(op, "condition outside a while")

    def op_call(self, op: Op) -> None:
        if len(op.results) > 1:
            raise self.fail(op, "call has at most one result")
        if self.module is None:
            return
        callee = self.module.functions.get(op.attrs.get("callee", ""))
        if callee is None:
            raise self.fail(op, f"unknown callee @{op.attrs.get('callee')}")
        self.check_types(op, [v.type for v in op.operands], callee.param_types, "call arguments")
        self.check_types(op, [r.type for r in op.results], [callee.result_type], "call result")

    def op_pycall(self, op: Op) -> None:
        if len(op.results) != 1 or "fn" not in op.attrs:
            raise self.fail(op, "pycall names its function and has one result")

    def op_push(self, op: Op) -> None:
        if not op.operands or op.operands[0].type != TAPE:
            raise self.fail(op, "push takes a tape first")

    def op_pop(self, op: Op) -> None:
        if len(op.operands) != 1 or op.operands[0].type != TAPE:
            raise self.fail(op, "pop takes a tape")


def verify_function(f: Function, module: Optional[Module] = None) -> None:
    Verifier(f, module).run()


def verify_module(m: Module) -> None:
    for f in m:
        verify_function(f, m)

