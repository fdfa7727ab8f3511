"""Out of SSA for the Python backend: which values become expressions, which variables.

Assumes: verified IR on which `passes.inplace.mark_inplace` ran.
Guarantees:
  * `inlined` values are emitted as expressions at their single use: pure,
    region-free temporaries (no source name) used once in the same block with no
    array write, region op or effect in between; unnamed constants anywhere. No
    inlined expression nests deeper than MAX_EXPR_DEPTH ops: a named temporary
    splits a deeper one.
  * every other value gets a Python variable. Values joined by control flow (a
    loop's initial value, block argument, yielded value and result; an if's
    yields and result) and an in-place write's target and result share one
    variable whenever their live ranges do not overlap, so code reads
    `acc = acc + t` rather than `acc_1 = acc + t; acc = acc_1`. A write emitted
    as `r = <target>` (a copy, or an inlined target) then `r[i] = v` keeps `r`'s
    variable apart from everything `i` and `v` read. Where sharing is
    impossible the emitter copies, and the copy's own live range is accounted
    for (a loop's entry merge already reserves room for a back-edge copy, so no
    merged value is live where a copy writes). Names come from source names;
    clashes get `_1`, `_2` suffixes.
  * `maybe_undef` holds the values that may carry an `undef` at run time (the
    emitter writes undef as None, so a conversion of one must let None through).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

from ...ir.core import BlockArg, Function, Op, OpResult, Value
from ...ir.ops import is_pure, may_raise
from ...ir.types import I64
from ...passes.liveness import Liveness, overlap

BARRIERS = ("setitem", "addat", "push", "pop", "assert", "print", "tape_new")
CHEAP_INT = ("add", "sub", "mul", "neg")
MAX_EXPR_DEPTH = 32  # deeper inlined expressions are split by named temporaries


class Naming:
    def __init__(self, f: Function, reserved: Set[str]):
        self.f = f
        self.lv = Liveness(f)
        self.reserved = set(reserved)
        self.uses: Dict[int, List[Op]] = {}
        for op in f.walk():
            for v in op.operands:
                self.uses.setdefault(id(v), []).append(op)
        self.inlined: Set[int] = set()
        self._raising = self._find_raising()
        self.and_or: Dict[int, str] = {}
        self.expr_ifs: Set[int] = set()
        self._decide_inlining(f.body.block)
        self._cap_expression_depth()
        self._extend_inlined_operands()
        self.parent: Dict[int, int] = {}
        self.members: Dict[int, List[Value]] = {}
        self.spans: Dict[int, List[Tuple[int, int]]] = {}
        self._classes()
        self.var: Dict[int, str] = {}
        self._names()
        self.maybe_undef = self._maybe_undef()

    # -- inlining ----------------------------------------------------------------

    def use_count(self, v: Value) -> int:
        return len(self.uses.get(id(v), []))

    def _decide_inlining(self, block) -> None:
        for op in block.ops:
            for region in op.regions:
                self._decide_inlining(region.block)
        for op in reversed(block.ops):
            if len(op.results) != 1:
                continue
            r = op.result
            if op.name in ("const", "undef") and (not r.name or self.use_count(r) <= 1):
                self.inlined.add(id(r))
            elif self._cheap(op):
                self.inlined.add(id(r))
            elif op.name == "if":
                self._inline_if(op)
            elif self._inlinable(op):
                self.inlined.add(id(r))

    def _cheap(self, op: Op) -> bool:
        """Shapes and integer index arithmetic: recomputed at each use, never named."""
        r = op.result
        if r.name or not self.uses.get(id(r)):
            return False
        if op.name in ("dim", "size"):
            return True
        if op.name in CHEAP_INT and r.type == I64 and all(
                v.type == I64 and (getattr(v, "op", None) is None or v.op.name == "const"
                                   or id(v) in self.inlined) for v in op.operands):
            return all(u.parent is op.parent for u in self.uses[id(r)])
        return False

    def _inlinable(self, op: Op) -> bool:
        r = op.result
        if r.name or op.regions or not is_pure(op) or op.name in BARRIERS or \
                _updates_in_place(op):
            return False
        users = self.uses.get(id(r), [])
        if len(users) != 1 or users[0].parent is not op.parent:
            return False
        user = users[0]
        if _updates_in_place(user) and user.operands[0] is r:
            return False  # updated in place: a variable, not an expression
        blk = op.parent.ops
        between = blk[blk.index(op) + 1:blk.index(user)]
        raises = self._raises(op)  # exceptions must come in program order
        return not any(b.regions or b.name in BARRIERS or _updates_in_place(b) or
                       not is_pure(b) or
                       (raises and self._raises(b) and not self._evaluated_after(b, op, user))
                       for b in between) and user.name not in ("for", "while")

    def _raises(self, op: Op) -> bool:
        return self._raising[id(op)]

    def _find_raising(self) -> Dict[int, bool]:
        """Per op: whether it, or an operand it may inline (a pure single-use value of its
        block, transitively), may raise. Program order: operands come first."""
        out: Dict[int, bool] = {}
        for op in self.f.walk():
            out[id(op)] = may_raise(op) or any(
                isinstance(v, OpResult) and v.op.parent is op.parent and not v.op.regions
                and self.use_count(v) == 1 and is_pure(v.op) and out.get(id(v.op), False)
                for v in op.operands)
        return out

    def _evaluated_after(self, b: Op, op: Op, user: Op) -> bool:
        """Whether `b` is inlined into `user`'s expression at an operand after `op`'s,
        so Python evaluates it after `op` there too (decided already: later ops first)."""
        while len(b.results) == 1 and id(b.result) in self.inlined:
            nxt = self.uses[id(b.result)][0]
            if nxt is user:
                ops = user.operands
                return ops.index(b.result) > ops.index(op.result)
            b = nxt
        return False

    def _cap_expression_depth(self) -> None:
        """Name every MAX_EXPR_DEPTH-th level of a deeply nested inlined expression, so
        that lines stay readable and emitting them never recurses without bound."""
        depth: Dict[int, int] = {}
        for op in self.f.walk():  # program order: operands before their users
            if len(op.results) != 1 or id(op.result) not in self.inlined:
                continue
            d = 1 + max((depth.get(id(v), 0) for v in op.operands), default=0)
            owner = op.parent_op()
            users = self.uses.get(id(op.result), [])
            if d > MAX_EXPR_DEPTH and not op.regions and all(u.name != "if" for u in users) \
                    and not (owner is not None and id(owner) in self.expr_ifs):
                self.inlined.discard(id(op.result))
                d = 0
            depth[id(op.result)] = d

    def leaves(self, op: Op) -> List[Value]:
        """The variables an op's (inlined) expression reads."""
        out: List[Value] = []
        for v in op.operands:
            if id(v) in self.inlined:
                out += self.leaves(v.op)
            else:
                out.append(v)
        for rg in op.regions if id(op) in self.expr_ifs else ():
            for inner in rg.block.ops:
                out += self.leaves(inner)
        return out

    def _extend_inlined_operands(self) -> None:
        """An inlined expression runs at its use: its operands must live until then."""
        for op in self.f.walk():
            owner = op.parent_op()
            if owner is not None and id(owner) in self.expr_ifs:
                continue  # evaluated wherever the whole if-expression is
            if len(op.results) == 1 and id(op.result) in self.inlined:
                continue
            for leaf in self.leaves(op):
                self.lv.add_use(leaf, op)

    def region_is_expression(self, block) -> bool:
        return all(id(o.result) in self.inlined for o in block.ops[:-1]
                   if len(o.results) == 1) and all(len(o.results) == 1 for o in block.ops[:-1])

    def _inline_if(self, op: Op) -> None:
        """An if with one result and expression-only branches becomes an expression."""
        if not all(self.region_is_expression(rg.block) for rg in op.regions):
            return
        self.expr_ifs.add(id(op))
        cond = op.operands[0]
        t_val = op.regions[0].block.ops[-1].operands[0]
        e_val = op.regions[1].block.ops[-1].operands[0]
        if e_val is cond and len(op.regions[1].block.ops) == 1:
            self.and_or[id(op)] = "and"
        elif t_val is cond and len(op.regions[0].block.ops) == 1:
            self.and_or[id(op)] = "or"
        if id(op) in self.and_or:
            # The pattern reads the condition once: discount its yield use.
            self.uses[id(cond)] = [u for u in self.uses[id(cond)]
                                   if not (u.name == "yield" and u.parent_op() is op)]
            self._maybe_inline_value(cond, op)
        r = op.result
        users = self.uses.get(id(r), [])
        if not r.name and len(users) == 1 and users[0].parent is op.parent \
                and users[0].name not in ("for", "while"):
            blk = op.parent.ops
            between = blk[blk.index(op) + 1:blk.index(users[0])]
            if not any(b.regions or b.name in BARRIERS for b in between):
                self.inlined.add(id(r))

    def _maybe_inline_value(self, v: Value, user: Op) -> None:
        if isinstance(v, OpResult) and len(v.op.results) == 1 and self._inlinable(v.op):
            self.inlined.add(id(v))

    # -- classes of values sharing a variable ---------------------------------------

    def find(self, k: int) -> int:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def needs_var(self, v: Value) -> bool:
        return id(v) not in self.inlined

    def add(self, v: Value, span: Optional[Tuple[int, int]] = None) -> None:
        k = id(v)
        if k in self.parent:
            return
        self.parent[k] = k
        self.members[k] = [v]
        self.spans[k] = [span] if span else self.lv.segments(v)

    def hint(self, k: int) -> str:
        for v in self.members[self.find(k)]:
            if isinstance(v, BlockArg) and v.block.parent is not None and \
                    v.block.parent.parent is self.f and v.name:
                return v.name  # a parameter's name wins
        for v in self.members[self.find(k)]:
            if v.name:
                return v.name
        return ""

    def is_param_class(self, k: int) -> bool:
        return any(isinstance(v, BlockArg) and v.block is self.f.body.block
                   for v in self.members[self.find(k)])

    def merge(self, a: Value, b: Value, force: bool = False,
              pending: Tuple[Tuple[int, int], ...] = ()) -> bool:
        """Share one variable between the classes of `a` and `b`, if their live ranges
        (and `pending`: copies into `b`'s variable that may still be needed) are apart."""
        if not (self.needs_var(a) and self.needs_var(b)):
            return False
        ka, kb = self.find(id(a)), self.find(id(b))
        if ka == kb:
            return True
        if any(overlap(x, y) for x in self.spans[ka] for y in self.spans[kb] + list(pending)):
            if force:
                raise AssertionError(f"cannot share a variable between %{a.name} and %{b.name}")
            return False
        if not force:
            ha, hb = self.hint(ka), self.hint(kb)
            pa, pb = self.is_param_class(ka), self.is_param_class(kb)
            if (pa and pb) or ((pa or pb) and ha != hb) or (ha and hb and ha != hb):
                return False
        self.parent[kb] = ka
        self.members[ka] += self.members.pop(kb)
        self.spans[ka] += self.spans.pop(kb)
        return True

    def add_span(self, v: Value, span: Tuple[int, int]) -> None:
        self.spans[self.find(id(v))].append(span)

    def _classes(self) -> None:
        for k, v in self.lv.values.items():
            if self.needs_var(v):
                self.add(v)
        ops = list(self.f.walk())
        for op in ops:  # forced: a loop's result and its block arguments are one variable
            if op.name in ("for", "while"):
                shift = 1 if op.name == "for" else 0
                for r in op.results:
                    self.merge(r, op.regions[-1].block.args[r.index + shift], force=True)
                    if op.name == "while":
                        self.merge(r, op.regions[0].block.args[r.index], force=True)
        for op in ops:
            if _updates_in_place(op):  # `a += b`: one variable where possible
                self.merge(op.operands[0], op.result)
            if op.name in ("setitem", "addat") and not (
                    op.attrs.get("inplace") and self.merge(op.operands[0], op.result)):
                # The emitter assigns the result's variable (a copy, or the target's
                # inlined expression) before it evaluates the index and the value, so
                # nothing they read may live in that variable.
                at = self.lv.pos[id(op)]
                self.add_span(op.result, (at - 1, at))
        for op in ops:
            if op.name in ("for", "while"):
                self._loop_copies(op)
            elif op.name == "if":
                self._if_copies(op)
        by_hint: Dict[str, List[Value]] = {}
        for v in self.lv.values.values():
            if self.needs_var(v) and v.name:
                by_hint.setdefault(v.name, []).append(v)
        for vals in by_hint.values():
            vals.sort(key=lambda v: self.lv.defs[id(v)])
            for a, b in zip(vals, vals[1:]):
                self.merge(a, b)

    def _loop_copies(self, op: Op) -> None:
        offset, shift = (3, 1) if op.name == "for" else (0, 0)
        body = op.regions[-1].block
        y = body.ops[-1]
        start, end = self.lv.pos[id(op)], self.lv.end[id(op)]
        for r in op.results:
            k = r.index
            enter, back = (start - 1, start), (self.lv.pos[id(y)] - 1, end)
            # Both copies write the loop's variable: whichever edge merges must not be
            # live where the other edge's copy may go (entry decides first, assuming
            # the back edge copies).
            entered = self.merge(op.operands[offset + k], r, pending=(back,))
            if not self.merge(y.operands[k], r, pending=() if entered else (enter,)):
                self.add_span(r, back)
            if not entered:
                self.add_span(r, enter)

    def _if_copies(self, op: Op) -> None:
        if id(op) in self.expr_ifs:
            return
        for rg in op.regions:
            y = rg.block.ops[-1]
            at = self.lv.pos[id(y)]
            for r in op.results:
                if not self.merge(y.operands[r.index], r):
                    self.add_span(r, (at - 1, at))

    # -- undefined values ------------------------------------------------------------

    def _maybe_undef(self) -> Set[int]:
        """Values that may hold an `undef` (emitted as None) when they run: undef itself,
        and what control flow, tuples and conversions pass it on to."""
        out: Set[int] = set()
        ops = list(self.f.walk())
        changed = True
        while changed:
            changed = False
            for op in ops:
                for target, sources in _undef_flow(op):
                    if id(target) not in out and (sources is None or
                                                  any(id(v) in out for v in sources)):
                        out.add(id(target))
                        changed = True
        return out

    # -- names -------------------------------------------------------------------

    def _names(self) -> None:
        taken = set(self.reserved)
        roots = sorted({self.find(k) for k in self.parent},
                       key=lambda k: (not self.is_param_class(k),
                                      min(self.lv.defs[id(v)] for v in self.members[k])))
        for k in roots:
            hint = self.hint(k)
            base = hint or "t"  # unnamed temporaries are t1, t2, ...
            name, i = (base, 1) if hint else ("t1", 2)
            while name in taken:
                name = f"{base}_{i}" if hint else f"t{i}"
                i += 1
            taken.add(name)
            for v in self.members[k]:
                self.var[id(v)] = name

    def name(self, v: Value) -> str:
        return self.var[id(v)]


def _undef_flow(op: Op):
    """(value, values it may take an undef from; None: always undef) for one op."""
    if op.name == "undef":
        return [(op.result, None)]
    if op.name in ("convert", "tuple", "tuple_get"):
        return [(r, op.operands) for r in op.results]
    if op.name == "if":
        return [(r, [rg.block.ops[-1].operands[r.index] for rg in op.regions])
                for r in op.results]
    if op.name in ("for", "while"):
        offset, shift = (3, 1) if op.name == "for" else (0, 0)
        back = op.regions[-1].block.ops[-1]
        flow = []
        for r in op.results:
            k = r.index
            sources = [op.operands[offset + k], back.operands[k]]
            targets = [r, op.regions[-1].block.args[k + shift]]
            if op.name == "while":
                targets.append(op.regions[0].block.args[k])
            flow += [(t, sources) for t in targets]
        return flow
    return []


def _updates_in_place(op: Op) -> bool:
    """An adjoint accumulation a backend emits as `a += b`."""
    return op.name == "add" and bool(op.attrs.get("inplace"))
