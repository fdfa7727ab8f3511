"""Reverse mode for whole functions: the gradient function and split pairs for calls.

Assumes: primal IR functions from the specialization registry (by symbol).
Guarantees:
  * `gradient(f, wrt, with_value)` builds `f_grad(params..., out_bar)`: the
    forward code, then the adjoint code, in one function; it returns the
    adjoints of the `wrt` parameters (preceded by the value when `with_value`).
    Values the adjoint needs are read directly where they are in scope; only
    what loops produce per iteration goes through the tape.
  * a call to `g` with active arguments uses the split pair `g_fwd(params...,
    tape) -> result` / `g_bwd(params..., tape, result_bar) -> adjoints`, built
    once per (g, active arguments) and shared by every gradient that needs it;
    recursion needs nothing special.
  * every function produced verifies and has run through the default passes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import Loc
from ..ir.builder import Builder
from ..ir.core import Function, Module, Op, clone_function
from ..ir.types import TAPE, TupleType, Type
from ..passes.manager import checkpoint, run_passes, default_pipeline
from .activity import Activity
from .caches import all_or_nothing
from .checkpoint import outline_checkpoints
from .naming import output_bar
from ..passes.dce import dce
from ..passes.shapes import Shapes
from .residuals import Resolver, prune_tape
from .reverse import ReverseBuilder, adjoint_type


@dataclass
class SplitPair:
    fwd_name: str
    bwd_name: str
    bwd_type: Type
    fwd: Optional[Function] = None
    bwd: Optional[Function] = None


class ReverseContext:
    """Builds and caches the functions reverse mode generates."""

    def __init__(self, registry):
        self.registry = registry
        self.pairs: Dict[Tuple[str, Tuple[bool, ...]], SplitPair] = {}
        self.functions: Dict[str, Function] = {}
        self.queue: List[Tuple[SplitPair, Function, Tuple[bool, ...]]] = []
        self.gradients: Dict[Tuple, Function] = {}

    def fresh_name(self, base: str) -> str:
        taken = set(self.functions) | set(self.registry.by_symbol)
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        return name

    def primal(self, symbol: str) -> Function:
        f = self.registry.by_symbol.get(symbol)
        return f if f is not None else self.functions[symbol]  # made here (checkpoint.py)

    def split(self, symbol: str, mask: Tuple[bool, ...], loc: Optional[Loc] = None) -> SplitPair:
        key = (symbol, tuple(mask))
        pair = self.pairs.get(key)
        if pair is None:
            primal = self.primal(symbol)
            active = [adjoint_type(t) for t, m in zip(primal.param_types, mask) if m]
            bwd_type = active[0] if len(active) == 1 else TupleType(tuple(active))
            pair = SplitPair(self.fresh_name(symbol + "_fwd"), "", bwd_type)
            self.functions[pair.fwd_name] = None  # reserve the name
            pair.bwd_name = self.fresh_name(symbol + "_bwd")
            self.functions[pair.bwd_name] = None
            self.pairs[key] = pair
            self.queue.append((pair, primal, tuple(mask)))
        return pair

    def drain(self) -> None:
        while self.queue:
            pair, primal, mask = self.queue.pop()
            self.build_split(pair, primal, mask)

    def transaction(self):
        """Undo every reservation of a build that fails (see caches.py)."""
        return all_or_nothing(self.pairs, self.functions, self.queue, self.gradients)

    def split_pair(self, symbol: str, mask: Tuple[bool, ...]) -> SplitPair:
        """The built split pair of `symbol` (for `vjp`)."""
        with self.transaction():
            pair = self.split(symbol, mask)
            self.drain()
        return pair

    # -- split pair ---------------------------------------------------------------------

    def build_split(self, pair: SplitPair, primal: Function, mask: Tuple[bool, ...]) -> None:
        fwd = clone_function(primal, pair.fwd_name)
        outline_checkpoints(self, fwd, primal.name)
        tape_fwd = fwd.body.block.add_arg(TAPE, "tape")
        ret_op = fwd.body.block.ops[-1]
        ret = ret_op.operands[0]
        out_t = adjoint_type(primal.result_type)
        names = [p.name for p in primal.params] + ["tape", output_bar(ret.name)]
        bwd = Function(pair.bwd_name, primal.param_types + [TAPE, out_t], names, pair.bwd_type,
                       primal.loc)
        wrt = [i for i, m in enumerate(mask) if m]
        act = Activity(fwd, wrt, ret)
        b = Builder(bwd.body.block, primal.loc)
        rb = ReverseBuilder(self, act, b, tape_fwd, bwd.params[-2], self.shapes(fwd))
        for p, q in zip(fwd.params, bwd.params):
            rb.equiv[id(p)] = q
        rb.mirror[id(fwd.body.block)] = bwd.body.block
        adj: Dict[int, object] = {}
        rb.accumulate(adj, ret, bwd.params[-1])
        rb.block(fwd.body.block, adj)
        outs = [rb.dense(fwd.params[i], adj.get(id(fwd.params[i]))) or rb.zero_of(fwd.params[i])
                for i in wrt]
        value = outs[0] if len(outs) == 1 else b.emit("tuple", *outs)
        b.op("return", [value], result_types=[])
        resolver = Resolver(rb)
        resolver.run(list(bwd.body.block.ops))
        fwd.attrs = {k: v for k, v in primal.attrs.items() if k in ("mutates",)}
        pair.fwd, pair.bwd = fwd, bwd
        self.functions[fwd.name] = fwd
        self.functions[bwd.name] = bwd
        self.finish([fwd, bwd], resolver)

    def uses_tape(self, name: str, seen: Optional[set] = None) -> bool:
        """Whether calling `name` pushes or pops (directly or through its callees)."""
        seen = seen if seen is not None else set()
        if name in seen:
            return False
        if name in self.functions and self.functions[name] is None:
            return True  # not built yet: assume it records
        f = self.functions.get(name)
        if f is None:
            return False
        seen.add(name)
        return any(op.name in ("push", "pop") or (op.name == "call" and op.attrs.get("effects")
                                                  and self.uses_tape(op.attrs["callee"], seen))
                   for op in f.walk())

    def finish(self, fs: List[Function], resolver: Resolver) -> None:
        """Verify, optimize, then drop tape slots optimization left unread."""
        for f in fs:
            checkpoint(f, "reverse")
            for op in f.walk():  # a callee that records nothing is pure again
                if op.name == "call" and op.attrs.get("effects") and \
                        not self.uses_tape(op.attrs["callee"]):
                    del op.attrs["effects"]
            run_passes(f, default_pipeline())
        prune_tape(resolver.pairs, [f.body.block for f in fs])
        for f in fs:
            run_passes(f, [("dce", dce)])

    def shapes(self, f: Function) -> Shapes:
        return Shapes(f, lambda name: self.functions.get(name) or
                      self.registry.by_symbol.get(name))

    # -- gradient -----------------------------------------------------------------------

    def gradient(self, primal: Function, wrt: Sequence[int], with_value: bool) -> Function:
        key = (primal.name, tuple(wrt), with_value)
        if key not in self.gradients:
            with self.transaction():
                self.gradients[key] = self.build_gradient(primal, wrt, with_value)
        return self.gradients[key]

    def build_gradient(self, primal: Function, wrt: Sequence[int], with_value: bool) -> Function:
        suffix = "_value_and_grad" if with_value else "_grad"
        g = clone_function(primal, self.fresh_name(primal.name + suffix))
        self.functions[g.name] = g
        outline_checkpoints(self, g, primal.name)
        body = g.body.block
        ret_op = body.ops[-1]
        ret = ret_op.operands[0]
        ret_op.erase()
        out = _first_output(g, ret)
        out_bar = body.add_arg(adjoint_type(out.type), output_bar(out.name))
        g.attrs = {"defaults": {len(g.params) - 1: 1.0}} \
            if getattr(out.type, "is_float", False) else {}
        b = Builder(body, primal.loc)
        tape = Op("tape_new", [], [TAPE], {}, (), primal.loc, ["tape"])
        body.insert(0, tape)
        act = Activity(g, wrt, out)
        rb = ReverseBuilder(self, act, b, tape.result, tape.result, self.shapes(g))
        rb.mirror[id(body)] = body
        mark = len(body.ops)
        adj: Dict[int, object] = {}
        rb.accumulate(adj, out, out_bar)
        rb.block(body, adj)
        with b.at_loc(primal.loc):
            bars = [rb.dense(g.params[i], adj.get(id(g.params[i]))) or rb.zero_of(g.params[i])
                    for i in wrt]
            outs = ([out] if with_value else []) + bars
            value = outs[0] if len(outs) == 1 else b.emit("tuple", *outs)
            b.op("return", [value], result_types=[])
        g.result_type = value.type
        resolver = Resolver(rb)
        resolver.run(list(body.ops[mark:]))
        self.drain()
        self.finish([g], resolver)
        return g

    def module_for(self, entry: Function) -> Module:
        return Module.reachable(entry, lambda name: self.functions.get(name) or self.registry.by_symbol.get(name))


def _first_output(f: Function, ret):
    """The differentiated output: the returned value, or its first part when the
    function also returns the arrays it wrote into."""
    if f.attrs.get("mutates") and getattr(ret, "op", None) is not None and \
            ret.op.name == "tuple":
        return ret.op.operands[0]
    return ret
