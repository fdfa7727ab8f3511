"""Forward mode for whole functions: `f_jvp(params..., dots...) -> (value, value_dot)`.

Assumes: functions found by symbol through `lookup` (primal functions and the
functions reverse mode generated, so that gradients can be differentiated again).
Guarantees: one JVP function per (function, active parameters), built once and
cached; calls inside are transformed on demand (recursion works). A function that
uses the tape is transformed even where nothing is active, so that every push
keeps its pop's layout. The functions produced verify and have been optimized.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

from ..errors import CompileError, Loc
from ..ir.builder import Builder
from ..ir.core import Function, Module, clone_function
from ..ir.types import TupleType, Type
from ..passes.manager import checkpoint, default_pipeline, run_passes
from ..passes.shapes import Shapes
from .activity import Activity
from .caches import all_or_nothing
from .forward import ForwardBuilder
from .naming import dot
from .reverse import adjoint_type


class ForwardContext:
    def __init__(self, lookup: Callable[[str], Optional[Function]], taken: Callable[[], set]):
        self.lookup = lookup
        self.taken = taken
        self.functions: Dict[str, Function] = {}
        self.jvps: Dict[Tuple[str, Tuple[bool, ...]], Tuple[str, Type]] = {}
        self.queue: List[Tuple[str, Tuple[bool, ...], str]] = []
        self._tape: Dict[str, bool] = {}

    def function(self, name: str) -> Optional[Function]:
        return self.functions.get(name) or self.lookup(name)

    @property
    def tape_users(self) -> "TapeUsers":
        return TapeUsers(self)

    def uses_tape(self, name: str, seen=None) -> bool:
        if name in self._tape:
            return self._tape[name]
        seen = seen or set()
        if name in seen:
            return False
        seen.add(name)
        f = self.function(name)
        used = f is not None and any(
            op.name in ("push", "pop") or (op.name == "call" and
                                           self.uses_tape(op.attrs["callee"], seen))
            for op in f.walk())
        self._tape[name] = used
        return used

    def fresh_name(self, base: str) -> str:
        taken = self.taken() | set(self.functions)
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        return name

    def jvp_of(self, symbol: str, mask: Tuple[bool, ...],
               loc: Optional[Loc] = None) -> Tuple[str, Type]:
        key = (symbol, tuple(mask))
        hit = self.jvps.get(key)
        if hit is None:
            f = self.function(symbol)
            if f is None:
                raise CompileError(f"internal: no function @{symbol} to differentiate", loc)
            rtype = TupleType((f.result_type, adjoint_type(f.result_type)))
            name = self.fresh_name(symbol + "_jvp")
            self.functions[name] = None  # reserve the name
            hit = self.jvps[key] = (name, rtype)
            self.queue.append((symbol, tuple(mask), name))
        return hit

    def drain(self) -> None:
        while self.queue:
            symbol, mask, name = self.queue.pop()
            self.functions[name] = self.build(self.function(symbol), mask, name)

    def jvp_function(self, f: Function, mask: Tuple[bool, ...]) -> Function:
        with all_or_nothing(self.functions, self.jvps, self.queue, self._tape):
            if f.name not in self.functions and self.lookup(f.name) is None:
                self.functions[f.name] = f
            name, _ = self.jvp_of(f.name, mask, f.loc)
            self.drain()
        return self.functions[name]

    def build(self, primal: Function, mask: Tuple[bool, ...], name: str) -> Function:
        f = clone_function(primal, name)
        f.attrs = {}
        active = [i for i, m in enumerate(mask) if m]
        tans = {}
        for i in active:
            p = f.params[i]
            tans[id(p)] = f.body.block.add_arg(adjoint_type(p.type), dot(p.name))
        ret_op = f.body.block.ops[-1]
        ret = ret_op.operands[0]
        act = Activity(f, active, ret)
        fb = ForwardBuilder(self, act, Builder(f.body.block, primal.loc),
                            Shapes(f, self.function))
        fb.block(f.body.block, tans)
        ret = ret_op.operands[0]  # the transform may have replaced it (a call's result)
        with fb.b.before(ret_op):
            value = fb.b.emit("tuple", ret, fb.tangent(tans, ret))
        ret_op.operands = [value]
        f.result_type = value.type
        checkpoint(f, "forward")
        run_passes(f, default_pipeline())
        return f

    def module_for(self, entry: Function) -> Module:
        return Module.reachable(entry, self.function)


class TapeUsers:
    """`name in ctx.tape_users`: whether calling `name` pushes or pops."""

    def __init__(self, ctx: ForwardContext):
        self.ctx = ctx

    def __contains__(self, name: str) -> bool:
        return self.ctx.uses_tape(name)
