"""The batched functions of a program: built once per (function, batching, mask).

Assumes: a registry with `by_symbol` (functions by symbol), `symbol_for` (fresh
symbols) and a `batched` cache dict (cleared with the registry).
Guarantees: `batched(f, infos, masked, loc)` returns `f` batched for argument
batching `infos` (and a trailing mask parameter when `masked`) with the batching of
its result, registered by symbol so modules, and the derivative transforms, find it;
the default passes have run on it. A recursive call under a condition that differs
per lane is an UnsupportedSyntax error at the call (each lane would recurse to a depth
of its own); recursion on unbatched conditions is batched like any call.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from ..errors import Loc, UnsupportedSyntax
from ..ir.core import Function
from ..ir.types import BOOL, ArrayType
from .lanes import Info, batched_type, full_info, normal
from .transform import Batcher


class BatchContext:
    def __init__(self, registry):
        self.registry = registry
        self.progress: Dict[Any, Dict[str, Any]] = {}

    def function(self, symbol: str) -> Function:
        return self.registry.by_symbol[symbol]

    def by_lanes(self, f: Function, infos) -> Tuple[Function, Info]:
        """`f` for a batch run as a compiled loop over the lanes, each lane calling `f`
        (a backend whose loops are native code: no masks, no per-op arrays)."""
        infos = tuple(normal(p.type, i) for p, i in zip(f.params, infos))
        key = ("lanes", f.name, infos)
        hit = self.registry.batched.get(key)
        if hit is None:
            name = self.registry.symbol_for(("vmap",) + key, f"{f.name}_lanes")
            bt = Batcher(self, f, list(infos), False, by_lanes=True)
            g = bt.build(name)
            from ..passes.manager import run_default_pipeline
            run_default_pipeline(g)
            self.registry.by_symbol[name] = g
            hit = self.registry.batched[key] = (g, bt.result_info)
        return hit

    def batched(self, f: Function, infos, masked: bool, loc: Loc,
                under_condition: bool = False) -> Tuple[Function, Info]:
        infos = tuple(normal(p.type, i) for p, i in zip(f.params, infos))
        key = (f.name, infos, masked)
        hit = self.registry.batched.get(key)
        if hit is not None:
            return hit
        entry = self.progress.get(key)
        if entry is not None:  # a recursive call: its result is taken batched
            if under_condition:
                raise UnsupportedSyntax(
                    f"vmap: the recursive call of {f.name.split('_vmap')[0]}() is under a "
                    "condition that differs per lane, so each lane would recurse to a depth of "
                    "its own; make the condition the same for every lane, or loop instead",
                    loc, "vmap")
            entry["used"] = True
            return entry["stub"], full_info(f.result_type, True)
        name = self.registry.symbol_for(("vmap",) + key, f"{f.name}_vmap")
        types = [batched_type(p.type, i) for p, i in zip(f.params, infos)]
        stub = Function(name, types + ([ArrayType(BOOL, 1)] if masked else []), [],
                        batched_type(f.result_type, True), f.loc)
        self.progress[key] = entry = {"stub": stub, "used": False}
        try:
            bt = Batcher(self, f, list(infos), masked)
            bt.progress = entry
            g = bt.build(name)
        finally:
            del self.progress[key]
        from ..passes.manager import run_default_pipeline
        run_default_pipeline(g)
        self.registry.by_symbol[name] = g
        hit = self.registry.batched[key] = (g, bt.result_info)
        return hit

    def result_info_for(self, bt: Batcher, info: Info) -> Info:
        if getattr(bt, "progress", {}).get("used"):
            return full_info(bt.src.result_type, True)
        return info


_CONTEXT = None


def batch_context(registry) -> BatchContext:
    """The context batching the functions of `registry`."""
    global _CONTEXT
    if _CONTEXT is None or _CONTEXT.registry is not registry:
        _CONTEXT = BatchContext(registry)
    return _CONTEXT
