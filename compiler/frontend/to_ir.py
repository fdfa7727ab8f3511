"""AST -> typed IR: statements, control flow, merges and loops.

Assumes: a desugared gast FunctionDef (one final return, no break/continue) and
the parameter types of the signature being specialized.
Guarantees: builds an IR function whose types are inferred while building: at
`if` merges and loop back-edges the types of a variable are joined (i64 with
f64 gives f64, a conversion is inserted); loops are rebuilt until their carried
variables and types stop changing. A name unbound on some path is a
CompileError where it is read (names the desugarer introduced are exempt: it
guarantees they are set where read); a name first bound inside a loop is unbound
after it, unless the loop is a `while True:` (its body runs at least once) whose
body binds it on every path. A write through one name to an array
reaches every other name bound to the same array (names bound to one array on
every path into an `if` merge or a loop share one merged value, so this holds
after branches and inside loops); a write that would change a view still read
under another name is refused. Parameters given as aliased (`aliases`: one array
passed twice, or overlapping views) are bound to one value, or share an origin so
that a write through one is refused while the other may see it.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import gast

from ..errors import CompileError, TypingError, UnsupportedSyntax
from ..checkpoint import DEFAULT_SNAPSHOTS, checkpointed
from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Region, Value
from ..ir.types import ArrayType, I64, TupleType, Type, UNKNOWN, UnknownType
from .desugar import enumerate_start, is_sequence_name, runs_at_least_once
from .exprs import BigInt, ExprTranslator
from . import fancy_index
from .function_values import bind
from .kinds import FunctionSig, Kind, captured_kind, join_kinded
from .scope import Closure, Env, Unbound, assigned_names, holds_arrays
from .struct_values import refuse_write

MAX_LOOP_PASSES = 8
FREE = "$free:"      # statics key prefix: extra parameters for a closure's free names
PARAM = "$param:"    # env key prefix: the current version of an array argument
ITER = "$iter:"      # env key prefix: the array a `for` loop iterates over


class FunctionTranslator(ExprTranslator):
    """Translates one function body for one signature."""

    def __init__(self, ctx, src, fdef, symbol: str, param_types: Sequence[Type],
                 hidden: set, statics: Optional[Dict[str, object]] = None,
                 aliases: Sequence[Tuple[str, Tuple[int, ...]]] = (),
                 param_kinds: Sequence[Kind] = ()):
        super().__init__(ctx, src)
        self.aliases = aliases
        self.fdef = fdef
        self.symbol = symbol
        self.param_types = list(param_types)
        self.param_kinds = list(param_kinds) or [False] * len(self.param_types)
        self.hidden = set(hidden)
        self.statics = dict(statics or {})
        self.returned: Optional[Value] = None
        self._reads = None

    # -- entry ---------------------------------------------------------------

    def param_names(self) -> List[str]:
        names = [a.id for a in self.fdef.args.args]
        return names + [k[len(FREE):] for k in self.statics if k.startswith(FREE)]

    def build(self) -> Function:
        names = self.param_names()
        f = Function(self.symbol, self.param_types, names, UNKNOWN, self.loc(self.fdef))
        self.function = f
        self.b = Builder(f.body.block, self.loc(self.fdef))
        self.env = Env()
        for name, p, k in zip(names, f.params, self.param_kinds):
            self.env[name] = self.kinds.set(p, k)
            if isinstance(k, FunctionSig):  # a function argument: callable again
                self.kinds.set(p, captured_kind(k))
                self.env[name] = bind(k, p)
                continue
            if holds_arrays(p.type):
                self.origins.fresh(p)
                self.env[PARAM + name] = p
        for kind, (first, *rest) in self.aliases:
            for i in rest:
                if kind == "same":  # one array passed twice: both names are one value
                    self.env[names[i]] = self.env[PARAM + names[i]] = f.params[first]
                else:  # overlapping views: writes through one are checked against the other
                    self.origins.same_as(f.params[first], f.params[first], f.params[i])
                    self.origins.same_as(f.params[i], f.params[first])
        self.initial = {n: self.env.get(PARAM + n) for n in names}
        for k, v in self.statics.items():
            if not k.startswith(FREE):
                self.env[k] = v
        self.block(self.fdef.body)
        if self.returned is None:
            self.emit_return(None, self.fdef)
        return f

    # -- statements ----------------------------------------------------------

    def block(self, stmts) -> None:
        for s in stmts:
            with self.b.at_loc(self.loc(s)):
                self.stmt(s)

    def stmt(self, s) -> None:
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            raise UnsupportedSyntax(f"'{type(s).__name__}' statements are not supported",
                                    self.loc(s), type(s).__name__)
        method(s)

    def stmt_Pass(self, s) -> None:
        pass

    def stmt_Expr(self, s) -> None:
        v = s.value
        if isinstance(v, gast.Constant):
            return  # a docstring: no effect
        if isinstance(v, gast.Call):
            self.expr(v)  # a call kept for its effect on array arguments
            return
        raise UnsupportedSyntax("this expression statement has no effect", self.loc(s),
                                "expression statement")

    def stmt_Assert(self, s) -> None:
        cond = self.truth(self.value(s.test), s.test)
        if self.const_value(cond) is True:
            return  # holds by construction
        msg = s.msg.value if isinstance(s.msg, gast.Constant) else ""
        self.b.op("assert", [cond], {"msg": msg} if msg else {}, result_types=[])

    def stmt_AnnAssign(self, s) -> None:
        if s.value is not None:
            self.assign(s.target, self.expr(s.value), s)

    def stmt_Assign(self, s) -> None:
        value = self.expr(s.value)
        for t in s.targets:
            self.assign(t, value, s)

    def stmt_AugAssign(self, s) -> None:
        t = s.target
        if isinstance(t, gast.Name):
            old = self.read_name(t.id, t)
            new = self.as_value(self.binop(s.op, old, self.expr(s.value), s), s)
            if isinstance(old.type, ArrayType):
                if not isinstance(new.type, ArrayType) or new.type.ndim != old.type.ndim:
                    raise TypingError(f"'{t.id} {self.op_text(s.op)}= ...' would change the "
                                      "shape of the array", self.loc(s), "augmented assignment")
                new = self.b.convert(new, old.type.dtype)
                self.name_value(new, t.id)
                self.write_array(t.id, old, new, s)
            else:
                self.bind(t.id, self.name_value(new, t.id))
            return
        if isinstance(t, gast.Subscript):
            self.refuse_structure_write(t)
            parts = fancy_index.index_parts(self, t.slice) \
                if isinstance(t.value, gast.Name) else None
            if parts is not None:  # x[i] += v with an index array
                fancy_index.assign(self, t, parts, s.value, s, aug_op=s.op)
                return
            base, spec, idx = self.subscript_target(t)
            arr = self.read_name(base, t)
            cur = self.getitem(arr, spec, idx, t)
            new = self.as_value(self.binop(s.op, cur, self.expr(s.value), s), s)
            self.store_item(base, arr, spec, idx, new, s)
            return
        raise UnsupportedSyntax("augmented assignment to this target is not supported",
                                self.loc(t), "augmented assignment")

    def stmt_FunctionDef(self, s) -> None:
        self.check_defaults(s.args)
        self.env[s.name] = Closure(s, s.name, self.env)

    def stmt_Return(self, s) -> None:
        if self.returned is not None:
            raise CompileError("internal: more than one return after desugaring", self.loc(s))
        value = self.expr(s.value) if s.value is not None else None
        self.emit_return(value, s)

    def emit_return(self, value, node) -> None:
        if value is not None:
            value = self.as_value(value, node)
        mutated = []
        for name, p in zip(self.param_names(), self.function.params):
            cur = self.env.get(PARAM + name)
            if isinstance(cur, Value) and cur is not self.initial[name]:
                mutated.append((p.index, cur))
        with self.b.at_loc(self.loc(node)):
            if value is None:
                value = self.b.const(None)
            self.function.attrs["aliases"] = self.returned_aliases(value)
            if mutated:
                self.function.attrs["mutates"] = tuple(i for i, _ in mutated)
                value = self.b.emit("tuple", value, *[v for _, v in mutated])
            self.function.attrs["result_kind"] = self.kind(value)
            self.function.result_type = value.type
            self.b.op("return", [value], result_types=[])
        self.returned = value

    def returned_aliases(self, value: Value) -> tuple:
        """Indices of array parameters the returned value may share memory with."""
        parts = value.op.operands if hasattr(value, "op") and value.op.name == "tuple" \
            else [value]
        mine = frozenset()
        for v in parts:
            mine |= self.origins.get(v)
        return tuple(p.index for p in self.function.params
                     if holds_arrays(p.type) and self.origins.get(p) & mine)

    def fresh_name(self, base: str) -> str:
        """A hidden variable name that clashes with nothing in the function."""
        k = 0
        name = base
        while name in self.env or name in self.hidden:
            k += 1
            name = f"{base}_{k}"
        self.hidden.add(name)
        return name

    # -- assignment ------------------------------------------------------------

    def bind(self, name: str, value) -> None:
        self.env[name] = value

    def name_value(self, v: Value, name: str) -> Value:
        """Give `v` the source name `name` unless it already carries one."""
        if isinstance(v, Value) and not v.name:
            v.name = name
        return v

    def assign(self, target, value, node) -> None:
        if isinstance(value, BigInt):
            value = self.as_value(value, node)
        if isinstance(target, gast.Name):
            if isinstance(value, Value):
                self.name_value(value, target.id)
            elif isinstance(value, Closure) and value.name == "lambda":
                value = Closure(value.node, target.id, value.env)  # `f = lambda ...` is `f`
            self.bind(target.id, value)
            return
        if isinstance(target, (gast.Tuple, gast.List)):
            self.unpack(target, value, node)
            return
        if isinstance(target, gast.Subscript):
            self.refuse_structure_write(target)
            parts = fancy_index.index_parts(self, target.slice) \
                if isinstance(target.value, gast.Name) else None
            if parts is not None:  # x[i] = v with an index array
                fancy_index.assign(self, target, parts, value, node)
                return
            base, spec, idx = self.subscript_target(target)
            arr = self.read_name(base, target)
            self.store_item(base, arr, spec, idx, self.as_value(value, node), node)
            return
        raise UnsupportedSyntax(f"assignment to {type(target).__name__} is not supported",
                                self.loc(target), "assignment target")

    def unpack(self, target, value, node) -> None:
        n = len(target.elts)
        if isinstance(value, tuple):  # a static sequence (e.g. from zip/enumerate)
            items = list(value)
        else:
            v = self.as_value(value, node)
            if isinstance(v.type, TupleType):
                items = [self.tuple_item(v, i) for i in range(len(v.type.elts))]
            else:
                raise TypingError(f"cannot unpack a value of type {v.type} (only tuples "
                                  "unpack)", self.loc(node), "unpacking")
        if len(items) != n:
            raise TypingError(f"cannot unpack {len(items)} values into {n} names",
                              self.loc(node), "unpacking")
        for t, item in zip(target.elts, items):
            self.assign(t, item, node)

    def refuse_structure_write(self, t) -> None:
        """`p["w"] = v` into a list, dict, ...: refused before its index is read."""
        base = t
        while isinstance(base, gast.Subscript):
            base = base.value
        current = self.env.get(base.id) if isinstance(base, gast.Name) else None
        if isinstance(current, Value):
            refuse_write(self, current, t)

    def subscript_target(self, t) -> Tuple[str, tuple, List[Value]]:
        """`a[i][j] = v` and `a[i, j] = v`: the base name and one merged index."""
        chain = []
        base = t
        while isinstance(base, gast.Subscript):
            chain.append(base.slice)
            base = base.value
        if not isinstance(base, gast.Name):
            raise UnsupportedSyntax("only assignments into named arrays are supported",
                                    self.loc(t), "subscript assignment")
        spec: tuple = ()
        idx: List[Value] = []
        for k, sl in enumerate(reversed(chain)):
            s2, i2 = self.index_spec(sl)
            if k < len(chain) - 1 and any(e != "i" for e in s2):
                raise UnsupportedSyntax("assigning through a slice of a slice is not "
                                        "supported; use one index a[i, j]", self.loc(t),
                                        "chained subscript assignment")
            spec, idx = spec + s2, idx + i2
        return base.id, spec, idx

    def store_item(self, base: str, arr: Value, spec, idx, value: Value, node) -> None:
        if not isinstance(arr.type, ArrayType):
            raise TypingError(f"'{base}' is {arr.type}, not an array: it cannot be assigned "
                              "into", self.loc(node), "subscript assignment")
        value = self.store_value(value, arr.type.dtype)
        new = self.b.op("setitem", [arr] + list(idx) + [value], {"index": tuple(spec)},
                        names=(base,)).result
        self.write_array(base, arr, new, node)

    def store_value(self, value: Value, dtype) -> Value:
        """The value stored into an array element: NumPy converts a float stored into an
        int array as int() does, raising for nan and inf (a `checked` convert)."""
        v = self.b.convert(value, dtype)
        if v is not value and dtype == I64 and not isinstance(value.type, ArrayType) \
                and value.type.is_float:
            v.op.attrs["checked"] = True
        return v

    def write_array(self, name: str, old: Value, new: Value, node) -> None:
        """Rebind `name` and every alias of `old` to `new`; refuse unsafe views."""
        self.origins.same_as(new, old)
        mine = self.origins.get(old)
        for other in self.env.names():
            v = self.env.get(other)
            if other == name or not isinstance(v, Value):
                continue
            if v is old:
                self.env[other] = new
            elif mine & self.origins.get(v):
                self.refuse_aliased_write(name, other, node)
        self.env[name] = new

    def refuse_aliased_write(self, name: str, other: str, node) -> None:
        if other.startswith(PARAM):
            raise CompileError(f"writing into '{name}' changes the argument '{other[7:]}' "
                               "through a view; write into the argument itself, or copy",
                               self.loc(node), "aliased write")
        if other.startswith(ITER) or (other in self.hidden and is_sequence_name(other)
                                      and self.may_read_later(other, node)):
            raise CompileError(f"writing into '{name}' changes the array a for loop iterates "
                               "over through a view; iterate over a copy, or by index",
                               self.loc(node), "aliased write")
        if other.startswith("$") or other in self.hidden or not self.may_read_later(other, node):
            return
        raise CompileError(f"writing into '{name}' would also change '{other}' (they share "
                           "memory); adjoin treats arrays as values: use .copy() to make "
                           "an independent array", self.loc(node), "aliased write")

    def may_read_later(self, name: str, node) -> bool:
        line = getattr(node, "lineno", 0) or 0
        if self._reads is None:
            loops = [(s.lineno, s.end_lineno or s.lineno) for s in gast.walk(self.fdef)
                     if isinstance(s, (gast.For, gast.While)) and getattr(s, "lineno", None)]
            self._reads = [(n.id, n.lineno or 0, [sp for sp in loops
                                                   if sp[0] <= (n.lineno or 0) <= sp[1]])
                           for n in gast.walk(self.fdef)
                           if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)]
        return any(n == name and (ln > line or any(a <= line <= b for a, b in spans))
                   for n, ln, spans in self._reads)

    # -- merges ----------------------------------------------------------------

    def merged_type(self, name: str, slots: List[Tuple[Type, Kind]], node) -> Tuple[Type, Kind]:
        """The type and kind of a variable where paths meet (kinds.join_kinded)."""
        t, k = slots[0]
        for u, ku in slots[1:]:
            j, k = join_kinded(t, k, u, ku)
            if j is None:
                what = "the function returns" if name in self.hidden and \
                    name.startswith("result") else f"'{name}' is"
                raise TypingError(f"{what} {t} on one path and {u} on another; adjoin needs "
                                  "one type per variable", self.loc(node), "type merge")
            t = j
        return t, k

    def coerce(self, v: Value, t: Type) -> Value:
        if v.type == t or isinstance(v.type, UnknownType) or isinstance(t, UnknownType):
            return v
        if isinstance(t, TupleType):
            parts = [self.coerce(self.tuple_item(v, i), et) for i, et in enumerate(t.elts)]
            return self.b.emit("tuple", *parts)
        return self.b.convert(v, t.dtype if isinstance(t, ArrayType) else t)

    def finish(self, op: Op, names: List[str], types: List[Type], kinds: List[Kind]) -> None:
        """Give `op` its results, bind them, and record their kinds and aliasing."""
        shown = [n[n.index(":") + 1:] if n.startswith("$") else n for n in names]
        op.set_results(types, shown)
        for name, r, k in zip(names, op.results, kinds):
            self.env[name] = self.kinds.set(r, k)
            if holds_arrays(r.type):
                srcs = [blk.ops[-1].operands[r.index] for blk in (rg.block for rg in op.regions)
                        if blk.ops and blk.ops[-1].name == "yield"]
                if op.name in ("for", "while"):
                    srcs.append(op.operands[r.index + (3 if op.name == "for" else 0)])
                self.origins.same_as(r, *srcs)

    def stmt_If(self, s) -> None:
        cond = self.truth(self.value(s.test), s.test)
        known = self.const_value(cond)
        if isinstance(known, bool):  # e.g. `if y is None`: only one branch exists
            self.block(s.body if known else s.orelse)
            return
        before = self.env
        op = self.b.insert(Op("if", [cond], [], {}, [Region([Block()]), Region([Block()])],
                              self.loc(s)))
        envs = []
        for region, body in zip(op.regions, (s.body, s.orelse)):
            self.env = before.copy()
            with self.b.at_end(region.block):
                self.block(body)
            envs.append(self.env)
        self.env = before
        names, types, kinds, pairs = [], [], [], []
        slots: Dict[Tuple[int, int], str] = {}
        followers: Dict[str, str] = {}
        for name in sorted(set(envs[0].names()) | set(envs[1].names())):
            a, b = envs[0].get(name), envs[1].get(name)
            unsure = name in envs[0].unsure or name in envs[1].unsure
            self.env.unsure.discard(name)  # bound on both paths now, unless marked below
            if a is b:
                if a is not None:
                    self.env[name] = a
                    if unsure:
                        self.env.unsure.add(name)
                continue
            if isinstance(a, Closure) or isinstance(b, Closure):
                raise UnsupportedSyntax(f"'{name}' is a function on one branch only",
                                        self.loc(s), "conditional function")
            vals = [v if isinstance(v, Value) else None for v in (a, b)]
            if vals == [None, None]:
                self.env[name] = Unbound(f"no path assigns it before line {s.lineno}")
                continue
            if None in vals or unsure:
                self.env.unsure.add(name)
            # Names bound to the same value on both sides (an array and its aliases)
            # merge into one value, so later writes through one reach the others.
            key = (id(a), id(b))
            if None not in vals and key in slots:
                followers[name] = slots[key]
                continue
            slots[key] = name
            names.append(name)
            t, k = self.merged_type(name, [(v.type, self.kind(v)) for v in vals
                                           if v is not None], s)
            types.append(t)
            kinds.append(k)
            pairs.append(vals)
        for k in range(2):
            with self.b.at_end(op.regions[k].block):
                self.b.yield_([self.coerce(p[k], t) if p[k] is not None else self.b.undef(t)
                               for p, t in zip(pairs, types)])
        unsure = set(self.env.unsure)
        self.finish(op, names, types, kinds)
        for name, rep in followers.items():
            self.env[name] = self.env[rep]
        self.env.unsure |= {n for n in unsure if n in names or n in followers}

    # -- loops -----------------------------------------------------------------

    def is_carriable(self, env: Env, n: str) -> bool:
        """Defined before the loop, or a desugarer variable with no value yet."""
        v = env.get(n)
        return isinstance(v, Value) or (n in self.hidden and isinstance(v, Unbound))

    def carried_guess(self, body) -> List[str]:
        names = [n for n in sorted(assigned_names(body)) if self.is_carriable(self.env, n)]
        values = {id(self.env.get(n)) for n in names if isinstance(self.env.get(n), Value)}
        names += [n for n in self.env.names()
                  if n not in names and id(self.env.get(n)) in values]
        return names

    @staticmethod
    def alias_groups(carried: List[str], env: Env) -> Tuple[List[str], Dict[str, str]]:
        """Carried names bound to one array share its slot: a write through one name
        must reach the others. Returns the slot names and follower -> slot name."""
        first: Dict[int, str] = {}
        slots, followers = [], {}
        for n in carried:
            v = env.get(n)
            if isinstance(v, Value) and isinstance(v.type, ArrayType):
                if id(v) in first:
                    followers[n] = first[id(v)]
                    continue
                first[id(v)] = n
            slots.append(n)
        return slots, followers

    def bind_carried(self, carried: List[str], args, followers: Dict[str, str]) -> None:
        for n, a in zip(carried, args):
            self.env[n] = a
        for n, rep in followers.items():
            self.env[n] = self.env[rep]

    def slot_before(self, env: Env, n: str) -> Tuple[Type, Kind]:
        """The type and kind of a carried name on entry (unknown when unbound)."""
        v = env.get(n)
        return (v.type, self.kind(v)) if isinstance(v, Value) else (UNKNOWN, False)

    def init_value(self, env: Env, n: str, t: Type) -> Value:
        v = env.get(n)
        return self.coerce(v, t) if isinstance(v, Value) else self.b.undef(t)

    def build_loop(self, node, kind: str, operands: List[Value], body_stmts,
                   bind_index=None, test=None, attrs=None) -> None:
        """Build a `for` (operands lo, hi, step) or a `while` loop over `body_stmts`."""
        before = self.env
        carried, followers = self.alias_groups(self.carried_guess(body_stmts), before)
        slots = [self.slot_before(before, n) for n in carried]
        for _ in range(MAX_LOOP_PASSES):
            mark = len(self.b.block.ops) if self.b.place == "end" else None
            op, body_env = self.loop_attempt(node, kind, operands, body_stmts, carried, slots,
                                             bind_index, test, before, followers)
            op.attrs.update(attrs or {})
            grown = [n for n in before.names() if n not in carried and n not in followers
                     and self.is_carriable(before, n) and body_env.get(n) is not before[n]]
            # A follower the body rebound apart from its slot needs its own slot.
            grown += [n for n, rep in followers.items() if body_env.get(n) is not body_env[rep]]
            followers = {n: rep for n, rep in followers.items() if n not in grown}
            if runs_at_least_once(node):
                grown += self.first_bound_in_body(before, body_env, carried + grown)
            new_slots = []
            for n, slot in zip(carried, slots):
                v = body_env.get(n)
                if not isinstance(v, Value):
                    raise CompileError(f"'{n}' may be unbound at the end of the loop body",
                                       self.loc(node), "loop variable")
                new_slots.append(self.merged_type(n, [slot, (v.type, self.kind(v))], node))
            if not grown and new_slots == slots:
                break
            self.discard(op, mark)
            carried = carried + grown
            slots = new_slots + [self.slot_before(before, n) for n in grown]
        else:
            raise CompileError("the types of the loop's variables do not settle",
                               self.loc(node), "loop")
        types = [t for t, _ in slots]
        with self.b.at_end(op.regions[-1].block):
            self.b.yield_([self.coerce(body_env[n], t) for n, t in zip(carried, types)])
        self.env = before
        self.finish(op, carried, types, [k for _, k in slots])
        self.bind_carried([], [], followers)
        for n in carried:  # first bound in a body that runs: bound where the body was
            if n in body_env.unsure:
                self.env.unsure.add(n)
        for n in body_env.names():
            if n not in before and n not in carried and isinstance(body_env.get(n), Value):
                self.env[n] = Unbound(f"it is assigned only inside the loop at line "
                                      f"{node.lineno}, which may run zero times; assign it "
                                      "before the loop")

    def first_bound_in_body(self, before: Env, body_env: Env, carried: List[str]) -> List[str]:
        """Names a loop body binds that had no value before the loop (carried from an
        undefined start, so they are bound after a loop whose body surely runs)."""
        return [n for n in body_env.names() if n not in carried and not n.startswith("$")
                and not isinstance(before.get(n), Value) and n not in self.hidden
                and isinstance(body_env.get(n), Value)]

    def discard(self, op: Op, mark: Optional[int]) -> None:
        blk = op.parent
        op.erase()
        if mark is not None:
            del blk.ops[mark:]

    def loop_attempt(self, node, kind, operands, body_stmts, carried, slots, bind_index,
                     test, before: Env, followers: Dict[str, str]):
        types = [t for t, _ in slots]
        inits = [self.init_value(before, n, t) for n, t in zip(carried, types)]
        shown = [n[n.index(":") + 1:] if n.startswith("$") else n for n in carried]
        if kind == "for":
            body = Block([I64] + types, [self.counter_name(node)] + shown)
            op = Op("for", list(operands) + inits, [], {}, [Region([body])], self.loc(node))
            args = body.args[1:]
        else:
            cond = Block(types, shown)
            body = Block(types, shown)
            op = Op("while", inits, [], {}, [Region([cond]), Region([body])], self.loc(node))
            args = body.args
            self.env = before.copy()
            self.set_kinds(cond.args, slots)
            self.bind_carried(carried, cond.args, followers)
            self.mark_unbound_at_entry(carried, before)
            with self.b.at_end(cond), self.b.at_loc(self.loc(node.test)):
                c = self.truth(self.value(test), test)
                self.b.op("condition", [c], result_types=[])
        self.b.insert(op)
        self.env = before.copy()
        self.set_kinds(args, slots)
        for n, a in zip(carried, args):
            if holds_arrays(a.type) and isinstance(before.get(n), Value):
                self.origins.same_as(a, before[n])
        self.bind_carried(carried, args, followers)
        self.mark_unbound_at_entry(carried, before)
        with self.b.at_end(body):
            if bind_index is not None:
                bind_index(body.args[0])
            self.block(body_stmts)
        body_env, self.env = self.env, before
        return op, body_env

    def set_kinds(self, values, slots: List[Tuple[Type, Kind]]) -> None:
        for v, (_, k) in zip(values, slots):
            self.kinds.set(v, k)

    def counter_name(self, node) -> str:
        """The name of a `for` counter: the target when it is the counter (range, or the
        index of an enumerate from 0), else a short name the function does not use."""
        it, target = node.iter, node.target
        callee = self.static_callee(it.func) if isinstance(it, gast.Call) else None
        if (callee is range or callee is checkpointed) and isinstance(target, gast.Name):
            return target.id
        if callee is enumerate and enumerate_start(it) is None and \
                isinstance(target, gast.Tuple) and isinstance(target.elts[0], gast.Name):
            return target.elts[0].id
        used = {n.id for n in gast.walk(self.fdef) if isinstance(n, gast.Name)}
        return next((c for c in ("k", "i", "j", "idx") if c not in used), "k")

    def mark_unbound_at_entry(self, carried: List[str], before: Env) -> None:
        """A carried name with no value before the loop is unbound in the first pass."""
        self.env.unsure.update(n for n in carried if not isinstance(before.get(n), Value)
                               and n not in self.hidden)

    def stmt_While(self, s) -> None:
        test, attrs = s.test, None
        if isinstance(test, gast.Call) and self.static_callee(test.func) is checkpointed:
            test, snapshots = self.checkpointed_args(test, loop="while")
            attrs = {"checkpoint": snapshots}
        self.build_loop(s, "while", [], s.body, test=test, attrs=attrs)

    def stmt_For(self, s) -> None:
        it = s.iter
        callee = self.static_callee(it.func) if isinstance(it, gast.Call) else None
        if callee is checkpointed:
            it, snapshots = self.checkpointed_args(it, loop="for")
            lo, hi, st = self.range_args(it)
            self.build_loop(s, "for", [lo, hi, st], s.body,
                            bind_index=lambda i: self.assign(s.target, i, s),
                            attrs={"checkpoint": snapshots})
            return
        if callee is range or (callee is reversed and self.reversed_range(it)):
            backwards = callee is reversed
            lo, hi, st = self.range_args(it.args[0] if backwards else it)
            self.build_loop(s, "for", [lo, hi, st], s.body,
                            bind_index=lambda i: self.assign(s.target, i, s),
                            attrs={"reversed": True} if backwards else None)
            return
        if callee is reversed:
            raise UnsupportedSyntax("reversed() is supported over range(...) only",
                                    self.loc(it), "reversed")
        if callee is enumerate or callee is zip:
            seqs = [self.value(a) for a in it.args[:1 if callee is enumerate else None]]
        else:
            seqs = [self.value(it)]
        if any(isinstance(q.type, TupleType) for q in seqs):
            self.unrolled_for(s, callee, seqs, it)
            return
        for q in seqs:
            if not isinstance(q.type, ArrayType):
                raise TypingError(f"cannot iterate over a value of type {q.type}",
                                  self.loc(it), "for loop")
        n = self.b.emit("dim", seqs[0], axis=0)
        for q in seqs[1:]:
            n = self.b.emit("minimum", n, self.b.emit("dim", q, axis=0))
        start = self.enumerate_start(it) if callee is enumerate else None
        # The loop reads the array object as it is at each step (the body may write
        # into it), so it is held under a name that writes reach and loops carry.
        nodes = it.args if callee is enumerate or callee is zip else [it]
        iters = [self.fresh_name(ITER + (e.id if isinstance(e, gast.Name) else "seq"))
                 for e, _ in zip(nodes, seqs)]
        for name, q in zip(iters, seqs):
            self.env[name] = q

        def bind(i):
            items = [self.getitem(self.env[name], ("i",), [i], s) for name in iters]
            if callee is enumerate:
                idx = i if start is None else self.arith("add", i, start)
                self.assign(s.target, (idx, items[0]), s)
            elif callee is zip:
                self.assign(s.target, tuple(items), s)
            else:
                self.assign(s.target, items[0], s)
        zero, one = self.b.const(0), self.b.const(1)
        self.build_loop(s, "for", [zero, n, one], s.body, bind_index=bind)
        for name in iters:
            self.env.vars.pop(name, None)

    def unrolled_for(self, s, callee, seqs, it) -> None:
        """A loop over a tuple: its elements may differ in type, so the body repeats."""
        lengths = [len(q.type.elts) if isinstance(q.type, TupleType) else self.static_dim(q)
                   for q in seqs]
        if any(n is None for n in lengths):
            raise CompileError("zip of a tuple with an array is not supported",
                               self.loc(it), "for loop")
        start = self.enumerate_start(it) if callee is enumerate else None
        for k in range(min(lengths)):
            items = [self.tuple_item(q, k) if isinstance(q.type, TupleType)
                     else self.getitem(q, ("i",), [self.b.const(k)], s) for q in seqs]
            if callee is enumerate:
                idx = self.b.const(k) if start is None else \
                    self.arith("add", self.b.const(k), start)
                self.assign(s.target, (idx, items[0]), s)
            elif callee is zip:
                self.assign(s.target, tuple(items), s)
            else:
                self.assign(s.target, items[0], s)
            self.block(s.body)

    def checkpointed_args(self, call, loop: str) -> Tuple[gast.expr, int]:
        """The range (condition, for a `while`) and snapshot count of
        `adjoin.checkpointed(range(...), snapshots=k)`:
        a constant count is checked here; another is checked where the loop starts (as
        CPython checks it, ValueError) and found there by the reverse transform
        (attribute value -1, see ad/checkpoint.py)."""
        kws = {k.arg: k.value for k in call.keywords}
        args = list(call.args) + ([kws.pop("snapshots")] if "snapshots" in kws else [])
        if kws or not 1 <= len(args) <= 2:
            raise TypingError("checkpointed(range(...), snapshots=k) takes a range (or a while "
                              "loop's condition) and an optional snapshot count",
                              self.loc(call), "checkpointed")
        it = args[0]
        if loop == "for" and not (isinstance(it, gast.Call)
                                  and self.static_callee(it.func) is range):
            raise TypingError("checkpointed() takes range(...) written in place",
                              self.loc(it), "checkpointed")
        if len(args) == 1:
            return it, DEFAULT_SNAPSHOTS
        k = self.value(args[1])
        if k.type != I64:
            raise TypingError(f"checkpointed(): snapshots must be an int, not {k.type}",
                              self.loc(args[1]), "checkpointed")
        known = self.const_value(k)
        if known is not None:
            if known < 1:
                raise TypingError("checkpointed(): snapshots must be at least 1",
                                  self.loc(args[1]), "checkpointed")
            return it, known
        with self.b.at_loc(self.loc(args[1])):
            ok = self.b.emit("ge", k, self.b.const(1))
            self.b.op("assert", [ok], {"msg": "checkpointed(): snapshots must be at least 1",
                                       "error": "ValueError", "snapshots": True},
                      result_types=[])
        return it, -1

    def enumerate_start(self, call) -> Optional[Value]:
        node = enumerate_start(call)
        return None if node is None else self.value(node)

    def reversed_range(self, call) -> bool:
        return len(call.args) == 1 and not call.keywords and isinstance(call.args[0], gast.Call) \
            and self.static_callee(call.args[0].func) is range

    def range_args(self, call) -> Tuple[Value, Value, Value]:
        if call.keywords or not 1 <= len(call.args) <= 3:
            raise TypingError("range() takes 1 to 3 positional arguments", self.loc(call),
                              "range")
        args = [self.value(a) for a in call.args]
        for a, node in zip(args, call.args):
            if a.type != I64 and not isinstance(a.type, UnknownType):
                if a.type.__class__.__name__ == "ScalarType" and a.type.name == "bool":
                    continue
                raise TypingError(f"range() needs integers, got {a.type}", self.loc(node),
                                  "range")
        args = [self.b.convert(a, I64) for a in args]
        if len(args) == 1:
            return self.b.const(0), args[0], self.b.const(1)
        if len(args) == 2:
            return args[0], args[1], self.b.const(1)
        return args[0], args[1], args[2]
