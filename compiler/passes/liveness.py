"""Program positions and live ranges on structured IR.

Assumes: verified IR (dominance holds).
Guarantees: every op gets a pre-order position; a region op also gets an end
position (after everything nested in it). A value's live range is the half-open
interval (definition, last use], where a use inside a loop the value was defined
outside of counts as a use at the end of that loop (the next iteration reads it
again). Results of region ops are defined at the op's end; block arguments at the
start of their region; a loop's initial values and an if's condition are used at
the op's start, a loop body's yield at the loop's end (its value flows over the
back edge there), an if's yield at its own position. Positions are even numbers, so that a backend can
place a copy at an odd position between two ops. `live_after` also knows that
the two branches of an `if` exclude each other: a read in the else branch does
not keep a value live after a point in the then branch.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from ..ir.core import Block, BlockArg, Function, Op, OpResult, Value


class Liveness:
    def __init__(self, f: Function):
        self.pos: Dict[int, int] = {}
        self.end: Dict[int, int] = {}
        self.parent_loops: Dict[int, List[Op]] = {}
        self.defs: Dict[int, int] = {}
        self.values: Dict[int, Value] = {}
        self.uses: Dict[int, List[Op]] = {}
        self.branches: List[List[Tuple[int, int]]] = []  # per `if`: its regions' spans
        self.ifs: List[Tuple[int, int, List[Tuple[int, int]]]] = []  # (start, end, spans)
        self.counter = 0
        for p in f.params:
            self._define(p, -1)
        self._block(f.body.block, [])
        self.last: Dict[int, int] = {k: self._last_use(k) for k in self.values}

    def _define(self, v: Value, at: int) -> None:
        self.defs[id(v)] = at
        self.values[id(v)] = v
        self.uses.setdefault(id(v), [])

    def _block(self, b: Block, loops: List[Op]) -> None:
        for op in b.ops:
            self.pos[id(op)] = self.counter
            self.parent_loops[id(op)] = loops
            self.counter += 2
            for v in op.operands:
                self.uses.setdefault(id(v), []).append(op)
            inner = loops + [op] if op.name in ("for", "while") else loops
            spans = []
            for k, region in enumerate(op.regions):
                start = self.pos[id(op)] if k == 0 else self.counter - 2
                for a in region.block.args:
                    self._define(a, start)
                first = self.counter
                self._block(region.block, inner)
                spans.append((first, self.counter))
            if op.name == "if":
                self.branches.append(spans)
                self.ifs.append((self.pos[id(op)], self.counter, spans))
            self.end[id(op)] = self.counter if op.regions else self.pos[id(op)]
            if op.regions:
                self.counter += 2
            for r in op.results:
                self._define(r, self.end[id(op)])

    def use_position(self, op: Op) -> int:
        if op.name == "yield" and op.parent_op().name in ("for", "while"):
            return self.end[id(op.parent_op())]  # read again over the back edge
        return self.pos[id(op)]

    def _last_use(self, key: int) -> int:
        last = self.defs[key]
        for u in self.uses.get(key, []):
            last = max(last, self._effective_use(self.values[key], u))
        return last

    def _effective_use(self, v: Value, u: Op) -> int:
        p = self.use_position(u)
        home = self.home_loops(v)
        for loop in self.parent_loops[id(u)]:
            if loop not in home:
                return max(p, self.end[id(loop)])
        return p

    def add_use(self, v: Value, u: Op) -> None:
        """Record that `v` is also read at `u` (e.g. inside an expression inlined there)."""
        if id(v) in self.last:
            self.last[id(v)] = max(self.last[id(v)], self._effective_use(v, u))
            self.uses[id(v)].append(u)

    def exclusive(self, p: int, q: int) -> bool:
        """Whether positions p and q lie in different branches of one `if`."""
        for spans in self.branches:
            where = [k for k, (a, b) in enumerate(spans) for x in (p, q) if a <= x < b]
            if len(where) == 2 and where[0] != where[1]:
                return True
        return False

    def home_loops(self, v: Value) -> List[Op]:
        """The loops that contain the definition of `v` (a loop's own block args included)."""
        if isinstance(v, BlockArg):
            owner = v.block.parent.parent if v.block.parent is not None else None
            if isinstance(owner, Op):
                base = self.parent_loops.get(id(owner), [])
                return base + [owner] if owner.name in ("for", "while") else base
            return []
        if isinstance(v, OpResult):
            return self.parent_loops.get(id(v.op), [])
        return []

    def interval(self, v: Value) -> Tuple[int, int]:
        """(definition, last use] of `v`."""
        return self.defs[id(v)], self.last[id(v)]

    def segments(self, v: Value) -> List[Tuple[int, int]]:
        """The live range of `v` as half-open segments: (definition, last use], without
        the end of each `if` branch (after the definition) past the branch's last read of
        `v`, when nothing after that `if` reads `v`: the branches exclude each other."""
        d, e = self.interval(v)
        uses = [self._effective_use(v, u) for u in self.uses.get(id(v), [])]
        cuts = []
        for start, end, spans in self.ifs:
            if start <= d or start >= e or any(q >= end for q in uses):
                continue
            for a, b in spans:
                inside = [q for q in uses if a <= q < b]
                cuts.append((max(inside) if inside else a - 1, b - 1))
        out, lo = [], d
        for a, b in sorted(cuts):
            if min(a, e) > lo:
                out.append((lo, min(a, e)))
            lo = max(lo, b)
        if e > lo or not out:
            out.append((min(lo, e), e))
        return out

    def live_after(self, v: Value, p: int) -> bool:
        """Whether `v` is defined by `p` and may still be read after position `p`."""
        d, e = self.interval(v)
        if not d <= p < e:
            return False
        return any(q > p and not self.exclusive(p, q)
                   for q in (self._effective_use(v, u) for u in self.uses[id(v)]))

    def enclosing_loops(self, op: Op) -> List[Op]:
        return self.parent_loops.get(id(op), [])


def overlap(a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    """Whether half-open intervals (d, e] intersect."""
    return max(a[0], b[0]) < min(a[1], b[1])

