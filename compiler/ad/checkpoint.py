"""Checkpointed loops: reverse mode that keeps k snapshots instead of a tape per iteration.

Assumes: a function about to be differentiated in reverse mode (a clone the caller owns),
whose `for` ops may carry `checkpoint = k` (from `adjoin.checkpointed(range(...), k)`);
the reverse context `ctx`, which owns the functions made here.
Guarantees:
  * `outline_checkpoints(ctx, f)` replaces each marked loop (innermost first) by
    `call @<f>_advance(carried..., outer..., start, step, 0, n, k)`, n the trip count
    (k is a constant or, written as a variable, the value checked before the loop). Four
    primal functions are made once per loop:
      - `<f>_loop(carried..., outer..., i)`: one iteration (the body, as written);
      - `<f>_steps(..., t0, t1)`: iterations t0 <= t < t1 (i = start + t * step), one
        scoped call of `_loop` each;
      - `<f>_advance(..., t0, t1)`: the same in about sqrt(t1 - t0) scoped blocks of
        `_steps`, so a backend that frees memory per scope keeps O(sqrt n) states;
      - `checkpoint_split(n, k)`: how many of n iterations the right part of a binomial
        split takes (see below).
    A zero step still raises CPython's ValueError: the first `_steps` runs the real range.
  * `reverse_checkpoint(rb, op, adj)` differentiates such a call: the forward sweep is the
    call itself (nothing is taped); the adjoint is one call of `<f>_loop_rev`, which
    reverses iterations [t0, t1) from the state at t0 by the binomial schedule
    (Griewank's treeverse, the recursive form of Revolve):
        while t1 - t0 > 1:  mid = t1 - split(t1 - t0, k); advance t0 -> mid (no tape);
                            reverse [mid, t1) with k - 1 snapshots (recursion); t1 = mid
        reverse iteration t0 alone: `<f>_loop_fwd` with a fresh tape, then `<f>_loop_bwd`.
    With C(k + r, k) >= n, each iteration runs forward at most r + 1 times; at most k + 1
    states are held at once (one per recursion level); recursion is at most k deep.
    Adjoints equal those of the unchecked loop (the same iteration vjps, in the same order).
  * calls marked `scoped` return values that own no memory of the callee's other
    allocations: the llvm backend runs them in a child arena it empties after copying the
    results out; other backends ignore the mark (their memory is garbage collected).
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Region, Value, clone_op, replace_uses
from ..ir.parser import parse_function
from ..ir.types import BOOL, F64, I64, TupleType, Type
from .emitter import Emitter

SPLIT = "checkpoint_split"

# The right part of a binomial split of n iterations with k snapshots: r is the least
# number with C(k + r, k) >= n; the right part, reversed with k - 1 snapshots, takes
# C(k + r - 1, k - 1) iterations (at most n - 1), the left part the rest.
_SPLIT_IR = """func @checkpoint_split(%n: i64, %k: i64) -> i64 {
  %0 = const 1 : i64
  %k_1 = maximum %k, %0 : i64
  %1 = const 0 : i64
  %c, %r = while iter(%c_1 = %0, %r_1 = %1) -> (i64, i64) {
    %2 = lt %c_1, %n : bool
    condition %2
  } do (%c_2, %r_2) {
    %r_3 = add %r_2, %0 : i64
    %3 = add %k_1, %r_3 : i64
    %4 = mul %c_2, %3 : i64
    %c_3 = floordiv %4, %r_3 : i64
    yield %c_3, %r_3
  }
  %5 = mul %c, %k_1 : i64
  %6 = add %k_1, %r : i64
  %right = floordiv %5, %6 : i64
  %7 = sub %n, %0 : i64
  %8 = minimum %right, %7 : i64
  %9 = maximum %8, %0 : i64
  return %9
}"""


class LoopFunctions:
    """The primal functions outlined from one checkpointed loop."""

    def __init__(self, body: str, advance: str, carried: List[Type], outer: List[Type]):
        self.body, self.advance = body, advance
        self.carried, self.outer = carried, outer


# -- outlining (before reverse mode) ------------------------------------------------------


def outline_checkpoints(ctx, f: Function, base: str) -> None:
    """Replace every `for` of `f` marked `checkpoint` by a call of its outlined loop."""
    loops = [op for op in f.walk() if op.name == "for" and op.attrs.get("checkpoint")]
    for op in reversed(loops):  # innermost first: an outer body then holds the call
        if op.results:
            _outline(ctx, f, op, base)
        else:
            del op.attrs["checkpoint"]  # carries nothing: nothing to differentiate


def _outline(ctx, f: Function, op: Op, base: str) -> None:
    lo, hi, step = op.operands[:3]
    inits = op.operands[3:]
    outer = _outer_values(op)
    fns = _loop_functions(ctx, op, outer, base)
    b = Builder(None, op.loc)
    with b.before(op), b.at_loc(op.loc):
        n = _trip_count(b, lo, hi, step)
        zero = b.const(0)
        k = op.attrs["checkpoint"]
        snapshots = b.const(k) if k > 0 else _checked_snapshots(op)
        call = b.op("call", list(inits) + outer + [lo, step, zero, n, snapshots],
                    {"callee": fns.advance, "checkpoint": op.attrs["checkpoint"],
                     "loop_body": fns.body, "carried": len(inits), "outer": len(outer)},
                    result_types=[_packed_type(fns.carried)], names=[_names(op)])
        parts = _unpack(b, call.result, len(inits))
    for r, p in zip(op.results, parts):
        p.name = p.name or r.name
        replace_uses(f.body.block, r, p)
    op.erase()


def _checked_snapshots(op: Op) -> Value:
    """A snapshot count known at run time: the one the check before the loop reads."""
    ops = op.parent.ops
    for o in reversed(ops[:ops.index(op)]):
        if o.name == "assert" and o.attrs.get("snapshots"):
            return o.operands[0].op.operands[0]
    raise AssertionError("checkpoint: no snapshot count before the loop")


def _names(op: Op) -> str:
    return op.results[0].name if len(op.results) == 1 else ""


def _outer_values(op: Op) -> List[Value]:
    """Values the loop body reads that are defined outside it (constants excluded)."""
    inside, seen, out = set(), set(), []
    for o in op.walk():
        for rg in o.regions:
            inside.update(id(a) for a in rg.block.args)
        if o is not op:
            inside.update(id(r) for r in o.results)
    for o in op.walk():
        if o is op:
            continue
        for v in o.operands:
            if id(v) in inside or id(v) in seen or _constant(v):
                continue
            seen.add(id(v))
            out.append(v)
    return out


def _constant(v: Value) -> bool:
    return getattr(v, "op", None) is not None and v.op.name == "const"


def _trip_count(b: Builder, lo: Value, hi: Value, step: Value) -> Value:
    """len(range(lo, hi, step)); 1 for a zero step, so the first block raises as CPython."""
    zero, one = b.const(0), b.const(1)
    known = step.op.attrs["value"] if _constant(step) else 0
    if known:
        n = b.emit("floordiv", b.emit("sub", lo, hi), step) if known > 0 else \
            b.emit("floordiv", b.emit("sub", hi, lo), b.const(-known))
        return b.emit("maximum", b.emit("neg", n), zero, name_hint="trips")
    is_zero = b.emit("eq", step, zero)
    safe = b.emit("select", is_zero, one, step)
    n = b.emit("neg", b.emit("floordiv", b.emit("sub", lo, hi), safe))
    n = b.emit("maximum", n, zero)
    return b.emit("select", is_zero, one, n, name_hint="trips")


def _loop_functions(ctx, op: Op, outer: List[Value], base: str) -> LoopFunctions:
    carried = [v.type for v in op.operands[3:]]
    names = [a.name or f"c{k}" for k, a in enumerate(op.regions[0].block.args[1:])]
    onames = [v.name or f"v{k}" for k, v in enumerate(outer)]
    index = op.regions[0].block.args[0].name or "i"
    body = _body_function(ctx, op, outer, base, names, onames, index)
    steps = _steps_function(ctx, body, carried, outer, names, onames, base)
    advance = _advance_function(ctx, steps, carried, outer, names, onames, base)
    ctx.pairs[("checkpoint-advance", body.name)] = advance.name
    split_function(ctx)
    return LoopFunctions(body.name, advance.name, carried, [v.type for v in outer])


def _new_function(ctx, name: str, types: Sequence[Type], names: Sequence[str], result: Type,
                  loc) -> Tuple[Function, Builder]:
    f = Function(ctx.fresh_name(name), list(types), list(names), result, loc)
    ctx.functions[f.name] = f
    return f, Builder(f.body.block, loc)


def _body_function(ctx, op: Op, outer, base, names, onames, index) -> Function:
    """One iteration: the loop body with its carried values, outer values and index as
    parameters, returning what it yields."""
    carried = [v.type for v in op.operands[3:]]
    f, b = _new_function(ctx, base + "_loop", carried + [v.type for v in outer] + [I64],
                         names + onames + [index], _packed_type(carried), op.loc)
    body = op.regions[0].block
    params = f.params
    mapping: Dict[int, Value] = {id(body.args[0]): params[-1]}
    for a, p in zip(body.args[1:], params):
        mapping[id(a)] = p
    for v, p in zip(outer, params[len(carried):]):
        mapping[id(v)] = p
    for o in body.ops[:-1]:
        _clone_constants(f, o, mapping)  # constants are cloned in, not passed
        f.body.block.append(clone_op(o, mapping))
    yielded = [mapping.get(id(v), v) for v in body.ops[-1].operands]
    with b.at_end(f.body.block), b.at_loc(op.loc):
        b.op("return", [_pack(b, yielded)], result_types=[])
    return f


def _clone_constants(f: Function, op: Op, mapping: Dict[int, Value]) -> None:
    for x in op.walk():
        for v in x.operands:
            if _constant(v) and id(v) not in mapping:
                f.body.block.append(clone_op(v.op, mapping))


def _steps_function(ctx, body: Function, carried, outer, names, onames, base) -> Function:
    """Iterations t0 <= t < t1 over the real range (a zero step raises), one scoped call
    of the body each."""
    f, b = _new_function(ctx, base + "_steps", carried + [v.type for v in outer] +
                         [I64] * 4, names + onames + ["start", "step", "t0", "t1"],
                         _packed_type(carried), body.loc)
    m, p = len(carried), len(outer)
    state, outs = f.params[:m], f.params[m:m + p]
    start, step, t0, t1 = f.params[m + p:]
    with b.at_loc(body.loc):
        lo = b.emit("add", start, b.emit("mul", t0, step))
        hi = b.emit("add", start, b.emit("mul", t1, step))
        blk = Block([I64] + carried, [body.params[-1].name] + names)
        loop = b.op("for", [lo, hi, step] + state, {}, result_types=carried,
                    names=names, regions=[Region([blk])])
        with b.at_end(blk):
            r = b.op("call", blk.args[1:] + outs + [blk.args[0]],
                     {"callee": body.name, "scoped": True},
                     result_types=[body.result_type]).result
            b.yield_(_unpack(b, r, m))
        b.op("return", [_pack(b, loop.results)], result_types=[])
    return f


def _advance_function(ctx, steps: Function, carried, outer, names, onames, base) -> Function:
    """Iterations t0 <= t < t1 in blocks of about sqrt(t1 - t0), each a scoped call."""
    f, b = _new_function(ctx, base + "_advance", steps.param_types + [I64],
                         [p.name for p in steps.params] + ["snapshots"], _packed_type(carried),
                         steps.loc)
    m, p = len(carried), len(outer)
    state, outs = f.params[:m], f.params[m:m + p]
    start, step, t0, t1 = f.params[m + p:m + p + 4]
    with b.at_loc(steps.loc):
        n = b.emit("convert", b.emit("sub", t1, t0), to=F64)
        size = b.emit("maximum", b.emit("convert", b.emit("sqrt", n), to=I64), b.const(1),
                      name_hint="block")
        blk = Block([I64] + carried, ["b0"] + names)
        loop = b.op("for", [t0, t1, size] + state, {}, result_types=carried, names=names,
                    regions=[Region([blk])])
        with b.at_end(blk):
            b1 = b.emit("minimum", b.emit("add", blk.args[0], size), t1)
            r = b.op("call", blk.args[1:] + outs + [start, step, blk.args[0], b1],
                     {"callee": steps.name, "scoped": True},
                     result_types=[steps.result_type]).result
            b.yield_(_unpack(b, r, m))
        b.op("return", [_pack(b, loop.results)], result_types=[])
    return f


def split_function(ctx) -> str:
    if SPLIT not in ctx.functions:
        ctx.functions[SPLIT] = parse_function(_SPLIT_IR)
    return SPLIT


# -- reverse mode ---------------------------------------------------------------------------


def reverse_checkpoint(rb, op: Op, adj) -> None:
    """The adjoint of a checkpointed loop's call: one call of its binomial reverse sweep."""
    g = rb.dense(op.result, adj.pop(id(op.result), None))
    m, p = op.attrs["carried"], op.attrs["outer"]
    inits, outer = op.operands[:m], op.operands[m:m + p]
    start, step, t0, t1, k = op.operands[m + p:]
    omask = tuple(rb.act.active(v) for v in outer)
    if g is None or not (any(rb.act.active(v) for v in inits) or any(omask)):
        return
    b = rb.b
    body = rb.ctx.functions[op.attrs["loop_body"]]
    rev = _reverse_function(rb.ctx, body, m, omask)
    results = _unpack(b, op.result, m)
    cbars = [rb.match_type(x, r) for x, r in zip(_unpack(b, g, m), results)]
    obars = [rb.zero_of(v) for v, a in zip(outer, omask) if a]
    r = b.op("call", list(inits) + list(outer) + [start, step, t0, t1, k] + cbars + obars, {"callee": rev.name}, result_types=[rev.result_type]).result
    parts = [b.op("tuple_get", [r], {"index": k}).result for k in range(len(rev.result_type.elts))]
    for v, x in zip(inits, parts[:m]):
        rb.accumulate(adj, v, x)
    for v, x in zip([v for v, a in zip(outer, omask) if a], parts[m:]):
        rb.accumulate(adj, v, x)


def _reverse_function(ctx, body: Function, m: int, omask: Tuple[bool, ...]) -> Function:
    key = ("checkpoint", body.name, omask)
    hit = ctx.pairs.get(key)
    if hit is not None:
        return hit
    from .reverse import adjoint_type
    carried, outer = body.param_types[:m], body.param_types[m:-1]
    bar_types = [adjoint_type(t) for t in carried] + [t for t, a in zip(outer, omask) if a]
    step_bwd = _step_reverse_function(ctx, body, m, omask, bar_types)
    names = [p.name for p in body.params[:-1]]
    bar_names = [f"{n}_bar" for n in names[:m]] + \
        [f"{n}_bar" for n, a in zip(names[m:], omask) if a]
    f, b = _new_function(ctx, body.name + "_rev", carried + outer + [I64] * 5 + bar_types,
                         names + ["start", "step", "t0", "t1", "snapshots"] + bar_names,
                         TupleType(tuple(bar_types)), body.loc)
    ctx.pairs[key] = f
    _fill_reverse(ctx, f, b, body, m, len(outer), step_bwd, bar_types)
    return f


def _fill_reverse(ctx, f: Function, b: Builder, body: Function, m: int, p: int,
                  step_bwd: Function, bar_types: List[Type]) -> None:
    state, outs = f.params[:m], f.params[m:m + p]
    start, step, t0, t1, k = f.params[m + p:m + p + 5]
    bars = f.params[m + p + 5:]
    advance = _advance_of(ctx, body)
    with b.at_loc(body.loc):
        one = b.const(1)
        cond = Block([I64] + bar_types, ["t1"] + [a.name for a in bars])
        blk = Block([I64] + bar_types, ["t1"] + [a.name for a in bars])
        loop = b.op("while", [t1] + list(bars), {}, result_types=[I64] + bar_types,
                    names=["t1"] + [a.name for a in bars], regions=[Region([cond]), Region([blk])])
        with b.at_end(cond):
            b.yield_([b.emit("gt", b.emit("sub", cond.args[0], t0), one)], "condition")
        with b.at_end(blk):
            hi = blk.args[0]
            right = b.op("call", [b.emit("sub", hi, t0), k], {"callee": SPLIT},
                         result_types=[I64]).result
            mid = b.emit("sub", hi, right, name_hint="mid")
            c = b.op("call", list(state) + list(outs) + [start, step, t0, mid, k],
                     {"callee": advance.name, "scoped": True},
                     result_types=[advance.result_type]).result
            r = b.op("call", _unpack(b, c, m) + list(outs) + [start, step, mid, hi,
                                                                b.emit("sub", k, one)]
                     + blk.args[1:], {"callee": f.name, "scoped": True},
                     result_types=[f.result_type]).result
            b.yield_([mid] + _unpack(b, r, len(bar_types), tuple_always=True))
        last, rest = loop.results[0], loop.results[1:]
        single = b.emit("eq", b.emit("sub", last, t0), one)
        branch = b.op("if", [single], {}, result_types=[f.result_type],
                      regions=[Region([Block()]), Region([Block()])])
        with b.at_end(branch.regions[0].block):
            i = b.emit("add", start, b.emit("mul", t0, step), name_hint="i")
            r = b.op("call", list(state) + list(outs) + [i] + rest,
                     {"callee": step_bwd.name, "scoped": True},
                     result_types=[f.result_type]).result
            b.yield_([r])
        with b.at_end(branch.regions[1].block):
            b.yield_([b.emit("tuple", *rest)])
        b.op("return", [branch.result], result_types=[])


def _advance_of(ctx, body: Function) -> Function:
    return ctx.functions[ctx.pairs[("checkpoint-advance", body.name)]]


def _step_reverse_function(ctx, body: Function, m: int, omask, bar_types) -> Function:
    """The vjp of one iteration: its forward with a fresh tape, then its adjoint; outer
    adjoints accumulate."""
    from .reverse import adjoint_type
    carried = body.param_types[:m]
    cmask = tuple(t.differentiable() for t in carried)
    pair = ctx.split(body.name, cmask + tuple(omask) + (False,), body.loc)
    names = [p.name for p in body.params]
    bar_names = [f"{n}_bar" for n in names[:m]] + \
        [f"{n}_bar" for n, a in zip(names[m:-1], omask) if a]
    f, b = _new_function(ctx, body.name + "_step_rev", body.param_types + bar_types,
                         names + bar_names, TupleType(tuple(bar_types)), body.loc)
    args = f.params[:len(body.params)]
    cbars = f.params[len(body.params):len(body.params) + m]
    obars = f.params[len(body.params) + m:]
    with b.at_loc(body.loc):
        tape = b.op("tape_new", [], {}, result_types=None, names=["tape"]).result
        b.op("call", list(args) + [tape], {"callee": pair.fwd_name, "effects": True},
             result_types=[body.result_type])
        out_bar = _pack(b, list(cbars))
        if out_bar.type != adjoint_type(body.result_type):
            raise AssertionError("checkpoint: adjoint type mismatch")
        got = b.op("call", list(args) + [tape, out_bar],
                   {"callee": pair.bwd_name, "effects": True},
                   result_types=[pair.bwd_type]).result
        n_active = sum(cmask) + sum(omask)
        parts = _unpack(b, got, n_active)
        em = Emitter(b, None)
        new, j = [], 0
        for x, active in zip(cbars, cmask):
            new.append(parts[j] if active else x)
            j += active
        for x in obars:
            new.append(em.add(x, parts[j]))
            j += 1
        b.op("return", [b.emit("tuple", *new)], result_types=[])
    return f


# -- small helpers --------------------------------------------------------------------------


def _packed_type(types: Sequence[Type]) -> Type:
    return types[0] if len(types) == 1 else TupleType(tuple(types))


def _pack(b: Builder, values: Sequence[Value]) -> Value:
    return values[0] if len(values) == 1 else b.emit("tuple", *values)


def _unpack(b: Builder, v: Value, n: int, tuple_always: bool = False) -> List[Value]:
    if n == 1 and not tuple_always:
        return [v]
    return [b.op("tuple_get", [v], {"index": k}).result for k in range(n)]
