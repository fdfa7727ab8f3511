"""Control-flow desugaring: break, continue and early return become structured code.

Assumes: a gast FunctionDef that passed `checks.check_function`.
Guarantees: the returned FunctionDef has no `break`, `continue` or loop `else`,
and at most one `return`, as its last statement. The rewrite is:
  * statements after an `if` with a branch that always exits move into the other
    branch (no flag needed: the common `if c: return a` / `...` shape);
  * otherwise an exit sets a flag (`broke`, `cont`, `returned`) and the statements
    after it are guarded by `if not flag:`;
  * a `for` loop left early by break/return becomes a `while` over a counter, so
    no iteration runs after the exit (never guarded no-op iterations); a sequence
    it walks is first bound to a fresh name (`is_sequence_name`), because Python
    iterates the object even if the body rebinds the name it came from;
  * a `while` loop left early tests its flags first: `while not broke and cond:`.
Flags that nothing reads are dropped, so code without early exits is unchanged.
Names introduced are fresh (never clash with the function's own names). The
marker name `UNDEF` stands for "no value yet" and is read only by `to_ir`. The
item reads `seq[k]` of such a counter loop carry the attribute `COUNTER_INDEX`:
`k` is in range, so `to_ir` may index even a tuple with it. A `while` rewritten
from `while True:` carries `RUNS_ONCE` (see `runs_at_least_once`).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import List, Optional, Set, Tuple

import gast

UNDEF = "__adjoin_undef__"
SEQ = "seq"  # base of the fresh names holding a sequence a rewritten loop walks


def is_sequence_name(name: str) -> bool:
    """Whether `name` is one this module gives to the sequence of a rewritten loop."""
    return re.fullmatch(SEQ + r"(_\d+)?", name) is not None
COUNTER_INDEX = "adjoin_counter_index"  # marks `seq[k]` whose k is in range by construction
RUNS_ONCE = "adjoin_runs_once"  # marks a `while` made from `while True:` (body runs >= once)

Exits = Tuple[Set[str], bool]  # kinds of exit that may happen, and whether one always does


def _name(id_: str, ctx=None) -> gast.Name:
    return gast.Name(id=id_, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def _assign(target: str, value: gast.expr, at) -> gast.Assign:
    node = gast.Assign(targets=[_name(target, gast.Store())], value=value, type_comment=None)
    return _located(node, at)


def _const(value) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def _not(e: gast.expr) -> gast.expr:
    return gast.UnaryOp(op=gast.Not(), operand=e)


def _and(parts: List[gast.expr]) -> gast.expr:
    return parts[0] if len(parts) == 1 else gast.BoolOp(op=gast.And(), values=parts)


def _located(node, at):
    """Give `node`, and its children that have no position, the position of `at`."""
    for n in gast.walk(node):
        if "lineno" in getattr(n, "_attributes", ()) and not getattr(n, "lineno", None):
            gast.copy_location(n, at)
    gast.copy_location(node, at)
    return node


def _is_true(e) -> bool:
    return isinstance(e, gast.Constant) and e.value is True


@dataclass
class LoopCtx:
    broke: str
    cont: str


@dataclass
class Desugarer:
    taken: Set[str]
    result: Optional[str] = None
    returned: Optional[str] = None
    hidden: Set[str] = field(default_factory=set)

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            name = f"{base}_{k}"
            k += 1
        self.taken.add(name)
        self.hidden.add(name)
        return name

    # -- exit analysis (on original statements) ----------------------------

    def exits(self, stmts) -> Exits:
        kinds: Set[str] = set()
        for s in stmts:
            k, always = self.exits_stmt(s)
            kinds |= k
            if always:
                return kinds, True
        return kinds, False

    def exits_stmt(self, s) -> Exits:
        if isinstance(s, gast.Return):
            return {"return"}, True
        if isinstance(s, gast.Break):
            return {"break"}, True
        if isinstance(s, gast.Continue):
            return {"continue"}, True
        if isinstance(s, gast.If):
            k1, a1 = self.exits(s.body)
            k2, a2 = self.exits(s.orelse)
            return k1 | k2, a1 and a2
        if isinstance(s, (gast.For, gast.While)):
            inner, _ = self.exits(s.body)
            k2, a2 = self.exits(s.orelse)
            kinds = ({"return"} & inner) | k2
            if isinstance(s, gast.While) and _is_true(s.test) and "break" not in inner:
                return kinds, True  # `while True` without break leaves only by return
            return kinds, a2 and "break" not in inner
        return set(), False

    # -- rewriting ----------------------------------------------------------

    def block(self, stmts, loop: Optional[LoopCtx]) -> list:
        out: list = []
        for i, s in enumerate(stmts):
            rest = list(stmts[i + 1:])
            if isinstance(s, gast.Return):
                out += self.return_(s)
                return out
            if isinstance(s, gast.Break):
                out.append(_assign(loop.broke, _const(True), s))
                return out
            if isinstance(s, gast.Continue):
                out.append(_assign(loop.cont, _const(True), s))
                return out
            if isinstance(s, gast.If):
                done = self.if_(s, rest, loop, out)
                if done:
                    return out
                continue
            if isinstance(s, (gast.For, gast.While)):
                out += self.loop(s, loop)
                kinds, always = self.exits_stmt(s)
                if always:
                    return out
                if kinds and rest:
                    out.append(self.guard(kinds, rest, loop, s))
                    return out
                continue
            out.append(s)
        return out

    def if_(self, s: gast.If, rest: list, loop, out: list) -> bool:
        """Rewrite `s` into `out`; True when `rest` was consumed."""
        _, a_then = self.exits(s.body)
        _, a_else = self.exits(s.orelse)
        kinds, always = self.exits_stmt(s)
        if rest and kinds and (a_then or a_else) and not always:
            # One branch always leaves: the rest belongs to the other branch.
            if a_then:
                s.orelse = list(s.orelse) + rest
            else:
                s.body = list(s.body) + rest
            rest = []
        new = gast.If(test=s.test, body=self.block(s.body, loop) or [gast.Pass()],
                      orelse=self.block(s.orelse, loop))
        out.append(_located(new, s))
        if always or not rest:
            return True
        if kinds:
            out.append(self.guard(kinds, rest, loop, s))
            return True
        return False

    def flag_of(self, kind: str, loop: Optional[LoopCtx]) -> str:
        if kind == "return":
            return self.returned_flag()
        return loop.broke if kind == "break" else loop.cont

    def guard(self, kinds: Set[str], rest: list, loop, at) -> gast.If:
        flags = [self.flag_of(k, loop) for k in ("return", "break", "continue") if k in kinds]
        test = _not(_name(flags[0])) if len(flags) == 1 else \
            _not(gast.BoolOp(op=gast.Or(), values=[_name(f) for f in flags]))
        body = self.block(rest, loop)
        return _located(gast.If(test=test, body=body or [gast.Pass()], orelse=[]), rest[0])

    def returned_flag(self) -> str:
        if self.returned is None:
            self.returned = self.fresh("returned")
        return self.returned

    def return_(self, s: gast.Return) -> list:
        if self.result is None:
            self.result = self.fresh("result")
        value = s.value if s.value is not None else _const(None)
        return [_assign(self.result, value, s), _assign(self.returned_flag(), _const(True), s)]

    def loop(self, s, outer: Optional[LoopCtx]) -> list:
        inner, _ = self.exits(s.body)
        ctx = LoopCtx(self.fresh("broke"), self.fresh("cont"))
        body = self.block(s.body, ctx)
        body = [_assign(ctx.cont, _const(False), s)] + body
        stops = []
        if "return" in inner:
            stops.append(_not(_name(self.returned_flag())))
        if "break" in inner:
            stops.append(_not(_name(ctx.broke)))
        pre = [_assign(ctx.broke, _const(False), s)] if "break" in inner else []
        if isinstance(s, gast.While):
            test = s.test
            if stops:
                test = _and(stops) if _is_true(test) else _and(stops + [test])
            new = _located(gast.While(test=test, body=body, orelse=[]), s)
            if _is_true(s.test):
                setattr(new, RUNS_ONCE, True)
        elif stops:
            new = self.for_to_while(s, body, stops, pre)
        else:
            new = _located(gast.For(target=s.target, iter=s.iter, body=body, orelse=[],
                                    type_comment=None), s)
        post = []
        if s.orelse:
            orelse = self.block(s.orelse, outer)
            conds = [copy.deepcopy(c) for c in stops]
            post = [_located(gast.If(test=_and(conds), body=orelse, orelse=[]), s.orelse[0])] \
                if conds else orelse
        return pre + [new] + post

    def for_to_while(self, s: gast.For, body: list, stops: list, pre: list) -> gast.While:
        """`for t in it` left early: a counter loop that stops at the exit."""
        it, target = s.iter, s.target
        base = target.id if isinstance(target, gast.Name) else "k"
        k = self.fresh(f"{base}_next")
        func = it.func.id if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) else ""
        if func == "reversed" and _forward_range(it) is not None:
            it, func = _forward_range(it), "range"
        if func == "range" and isinstance(target, gast.Name) and not it.keywords:
            cond, head = self.range_header(it, k, base, pre, s)
            head = [_assign(target.id, _name(k), s)] + head
        else:
            cond, head = self.sequence_header(it, func, target, k, pre, s)
        test = _and(stops + [cond])
        return _located(gast.While(test=test, body=head + body, orelse=[]), s)

    def hoist(self, e: gast.expr, base: str, pre: list, at) -> gast.expr:
        """Evaluate `e` once before the loop (constants stay inline)."""
        if isinstance(e, gast.Constant) or (isinstance(e, gast.UnaryOp)
                                            and isinstance(e.operand, gast.Constant)):
            return e
        name = self.fresh(base)
        pre.append(_assign(name, e, at))
        return _name(name)

    def range_header(self, it: gast.Call, k: str, base: str, pre: list, at):
        args = list(it.args)
        start, stop, step = (_const(0), args[0], _const(1)) if len(args) == 1 else \
            (args[0], args[1], args[2] if len(args) > 2 else _const(1))
        pre.append(_assign(k, start, at))
        stop = self.hoist(stop, f"{base}_stop", pre, at)
        step = self.hoist(step, f"{base}_step", pre, at)
        sign = _constant_sign(step)
        lt = gast.Compare(left=_name(k), ops=[gast.Lt()], comparators=[stop])
        gt = gast.Compare(left=_name(k), ops=[gast.Gt()], comparators=[stop])
        if sign is None:
            pos = gast.Compare(left=step, ops=[gast.Gt()], comparators=[_const(0)])
            cond = gast.BoolOp(op=gast.Or(), values=[
                gast.BoolOp(op=gast.And(), values=[pos, lt]),
                gast.BoolOp(op=gast.And(), values=[_not(copy.deepcopy(pos)), gt])])
        else:
            cond = lt if sign > 0 else gt
        incr = _assign(k, gast.BinOp(left=_name(k), op=gast.Add(), right=copy.deepcopy(step)), at)
        return cond, [incr]

    def sequence_header(self, it, func: str, target, k: str, pre: list, at):
        start = None
        if func == "enumerate":
            seqs, start = [it.args[0]], enumerate_start(it)
        elif func == "zip":
            seqs = list(it.args)
        else:
            seqs = [it]
        names = [self.hoist(q, SEQ, pre, at) for q in seqs]
        lens = [gast.Call(func=_name("len"), args=[copy.deepcopy(n)], keywords=[]) for n in names]
        n = lens[0] if len(lens) == 1 else gast.Call(func=_name("min"), args=lens, keywords=[])
        count = self.hoist(n, "count", pre, at)
        pre.append(_assign(k, _const(0), at))
        items = [gast.Subscript(value=copy.deepcopy(q), slice=_name(k), ctx=gast.Load())
                 for q in names]
        for item in items:
            setattr(item, COUNTER_INDEX, True)
        if func == "enumerate":
            index = _name(k) if start is None else gast.BinOp(left=_name(k), op=gast.Add(),
                                                              right=start)
            value: gast.expr = gast.Tuple(elts=[index, items[0]], ctx=gast.Load())
        elif func == "zip":
            value = gast.Tuple(elts=items, ctx=gast.Load())
        else:
            value = items[0]
        bind = _located(gast.Assign(targets=[target], value=value, type_comment=None), at)
        incr = _assign(k, gast.BinOp(left=_name(k), op=gast.Add(), right=_const(1)), at)
        cond = gast.Compare(left=_name(k), ops=[gast.Lt()], comparators=[count])
        return cond, [bind, incr]


def enumerate_start(call: gast.Call) -> Optional[gast.expr]:
    """The `start` of an `enumerate(seq, start)` call, given by position or keyword."""
    if len(call.args) > 1:
        return call.args[1]
    return next((k.value for k in call.keywords if k.arg == "start"), None)


def runs_at_least_once(loop) -> bool:
    """True for a `while` whose body surely runs once: `while True:`, or its rewrite."""
    return isinstance(loop, gast.While) and (getattr(loop, RUNS_ONCE, False)
                                             or _is_true(loop.test))


def _forward_range(it):
    """`reversed(range(a, b, s))` with a constant step as the same values in a forward range:
    `range(a + (b - a - sign) // s * s, a - sign, -s)`."""
    inner = it.args[0] if len(it.args) == 1 else None
    if not (isinstance(inner, gast.Call) and isinstance(inner.func, gast.Name)
            and inner.func.id == "range" and 1 <= len(inner.args) <= 3):
        return None
    args = list(inner.args)
    a, b, step = (_const(0), args[0], _const(1)) if len(args) == 1 else \
        (args[0], args[1], args[2] if len(args) == 3 else _const(1))
    sign = _constant_sign(step)
    if sign is None:
        return None
    sgn = _const(sign)
    span = gast.BinOp(left=gast.BinOp(left=copy.deepcopy(b), op=gast.Sub(), right=copy.deepcopy(a)),
                      op=gast.Sub(), right=sgn)
    last = gast.BinOp(left=copy.deepcopy(a), op=gast.Add(), right=gast.BinOp(
        left=gast.BinOp(left=span, op=gast.FloorDiv(), right=copy.deepcopy(step)),
        op=gast.Mult(), right=copy.deepcopy(step)))
    stop = gast.BinOp(left=copy.deepcopy(a), op=gast.Sub(), right=_const(sign))
    back = gast.UnaryOp(op=gast.USub(), operand=copy.deepcopy(step))
    call = gast.Call(func=_name("range"), args=[last, stop, back], keywords=[])
    return _located(call, it)


def _constant_sign(e) -> Optional[int]:
    if isinstance(e, gast.Constant) and isinstance(e.value, (int, float)):
        return 1 if e.value > 0 else -1
    if isinstance(e, gast.UnaryOp) and isinstance(e.operand, gast.Constant):
        v = e.operand.value
        if isinstance(e.op, gast.USub):
            return -1 if v > 0 else 1
        return 1 if v > 0 else -1
    return None


def _all_names(fdef) -> Set[str]:
    names = {a.id for a in fdef.args.args}
    for n in gast.walk(fdef):
        if isinstance(n, gast.Name):
            names.add(n.id)
        elif isinstance(n, gast.FunctionDef):
            names.add(n.name)
    return names


def _reads(stmts) -> Set[str]:
    out = set()
    for s in stmts:
        for n in gast.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                out.add(n.id)
    return out


def _drop_unread(stmts: list, unread: Set[str]) -> list:
    """Remove assignments to hidden flags that nothing reads."""
    out = []
    for s in stmts:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and s.targets[0].id in unread:
            continue
        for fld in ("body", "orelse"):
            if isinstance(s, (gast.If, gast.For, gast.While)):
                setattr(s, fld, _drop_unread(getattr(s, fld), unread))
        if isinstance(s, gast.If) and not s.body:
            s.body = [gast.Pass()]
        out.append(s)
    return out


def desugar(fdef: gast.FunctionDef) -> Tuple[gast.FunctionDef, Set[str]]:
    """Desugar `fdef` in place; return it and the set of names it introduced."""
    d = Desugarer(_all_names(fdef))
    if _simple(fdef.body):
        return fdef, set()
    kinds, always = d.exits(fdef.body)
    body = d.block(fdef.body, None)
    if d.result is not None:
        init = _const(None) if not always else _name(UNDEF)
        pre = [_assign(d.result, init, fdef)]
        if d.returned is not None:
            pre.append(_assign(d.returned, _const(False), fdef))
        ret = _located(gast.Return(value=_name(d.result)), fdef.body[-1])
        body = pre + body + [ret]
    unread = d.hidden - _reads(body)
    fdef.body = _drop_unread(body, unread) or [gast.Pass()]
    return fdef, d.hidden


def _simple(body) -> bool:
    """No break/continue/loop-else anywhere and at most a final return."""
    for i, s in enumerate(body):
        for n in gast.walk(s):
            if isinstance(n, (gast.FunctionDef, gast.Lambda)):
                continue
            if isinstance(n, (gast.Break, gast.Continue)):
                return False
            if isinstance(n, (gast.For, gast.While)) and n.orelse:
                return False
            if isinstance(n, gast.Return) and not (i == len(body) - 1 and n is s):
                return False
    return True
