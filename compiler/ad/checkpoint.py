"""Checkpointed loops: reverse mode that keeps k snapshots instead of a tape per iteration.

Assumes: a function about to be differentiated in reverse mode (a clone the caller owns),
whose `for` ops may carry `checkpoint = k` (from `adjoin.checkpointed(range(...), k)`);
the reverse context `ctx`, which owns the functions made here.
Guarantees:
  * `outline_checkpoints(ctx, f)` replaces each marked loop (innermost first) by
    `call @<f>_advance(carried..., outer..., start, step, 0, n, k)`, n the trip count
    (k is a constant or, written as a variable, the value checked before the loop); a
    marked `while` by `call @<f>_run(carried..., outer..., k)`, which runs it as written
    and also returns its trip count (so its reverse sweep is that of range(trips)). Four
    primal functions are made once per loop:
      - `<f>_loop(carried..., outer..., i)`: one iteration (the body, as written);
      - `<f>_steps(..., t0, t1)`: iterations t0 <= t < t1 (i = start + t * step), one
        scoped call of `_loop` each;
      - `<f>_advance(..., t0, t1)`: the same in about sqrt(t1 - t0) scoped blocks of
        `_steps`, so a backend that frees memory per scope keeps O(sqrt n) states;
      - `checkpoint_split(n, k)`: how many of n iterations the right part of a binomial
        split takes (see below).
    A zero step still raises CPython's ValueError: the first `_steps` runs the real range.
  * the adjoint of such a call is built by checkpoint_reverse.py.
  * calls marked `scoped` return values that own no memory of the callee's other
    allocations: the llvm backend runs them in a child arena it empties after copying the
    results out; other backends ignore the mark (their memory is garbage collected).
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Region, Value, clone_op, replace_uses
from ..ir.parser import parse_function
from ..ir.types import F64, I64, TupleType, Type

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
    loops = [op for op in f.walk() if op.name in ("for", "while")
             and op.attrs.get("checkpoint")]
    for op in reversed(loops):  # innermost first: an outer body then holds the call
        if not op.results:
            del op.attrs["checkpoint"]  # carries nothing: nothing to differentiate
        elif op.name == "for":
            _outline(ctx, f, op, base)
        else:
            _outline_while(ctx, f, op, base)


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
                    result_types=[packed_type(fns.carried)], names=[_names(op)])
        parts = unpack(b, call.result, len(inits))
    for r, p in zip(op.results, parts):
        p.name = p.name or r.name
        replace_uses(f.body.block, r, p)
    op.erase()


def _outline_while(ctx, f: Function, op: Op, base: str) -> None:
    """A `while`: the forward run (`<f>_run`) also counts the iterations, which the reverse
    sweep then treats as a loop over range(trips)."""
    inits, outer = list(op.operands), _outer_values(op)
    fns = _loop_functions(ctx, op, outer, base)
    run = _run_function(ctx, op, fns, outer, base)
    b = Builder(None, op.loc)
    with b.before(op), b.at_loc(op.loc):
        k = op.attrs["checkpoint"]
        snapshots = b.const(k) if k > 0 else _checked_snapshots(op)
        call = b.op("call", inits + outer + [snapshots],
                    {"callee": run.name, "checkpoint": k, "loop_body": fns.body,
                     "carried": len(inits), "outer": len(outer), "loop": "while"},
                    result_types=[run.result_type])
        parts = unpack(b, call.result, len(inits) + 1)
    for r, v in zip(op.results, parts):
        v.name = v.name or r.name
        replace_uses(f.body.block, r, v)
    op.erase()


def _run_function(ctx, op: Op, fns: LoopFunctions, outer: List[Value], base: str) -> Function:
    """`<f>_run(carried..., outer..., snapshots)`: the loop as written, one scoped call of
    the body per iteration, returning the carried values and the trip count."""
    body = ctx.functions[fns.body]
    m = len(fns.carried)
    f, b = new_function(ctx, base + "_run", body.param_types[:-1] + [I64],
                         [p.name for p in body.params[:-1]] + ["snapshots"],
                         TupleType(tuple(fns.carried) + (I64,)), op.loc)
    state, outs = f.params[:m], f.params[m:-1]
    cond_old = op.regions[0].block
    mapping: Dict[int, Value] = {id(v): p for v, p in zip(outer, outs)}
    for o in cond_old.ops:  # constants first: they are defined before the loop
        _clone_constants(f, o, mapping)
    with b.at_loc(op.loc):
        cond = Block(fns.carried + [I64], [a.name for a in cond_old.args] + ["trips"])
        blk = Block(fns.carried + [I64], [a.name for a in cond_old.args] + ["trips"])
        loop = b.op("while", list(state) + [b.const(0)], {}, result_types=fns.carried + [I64],
                    names=[r.name for r in op.results] + ["trips"],
                    regions=[Region([cond]), Region([blk])])
        mapping.update({id(a): n for a, n in zip(cond_old.args, cond.args)})
        for o in cond_old.ops:
            cond.append(clone_op(o, mapping))
        with b.at_end(blk):
            r = b.op("call", blk.args[:m] + list(outs) + [blk.args[m]],
                     {"callee": body.name, "scoped": True},
                     result_types=[body.result_type]).result
            b.yield_(unpack(b, r, m) + [b.emit("add", blk.args[m], b.const(1))])
        b.op("return", [b.emit("tuple", *loop.results)], result_types=[])
    return f


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
    carried = [r.type for r in op.results]
    args = op.regions[-1].block.args
    skip = 1 if op.name == "for" else 0
    names = [a.name or f"c{k}" for k, a in enumerate(args[skip:])]
    onames = [v.name or f"v{k}" for k, v in enumerate(outer)]
    index = (args[0].name or "i") if skip else "trip"
    body = _body_function(ctx, op, outer, base, names, onames, index)
    steps = _steps_function(ctx, body, carried, outer, names, onames, base)
    advance = _advance_function(ctx, steps, carried, outer, names, onames, base)
    ctx.pairs[("checkpoint-advance", body.name)] = advance.name
    split_function(ctx)
    return LoopFunctions(body.name, advance.name, carried, [v.type for v in outer])


def new_function(ctx, name: str, types: Sequence[Type], names: Sequence[str], result: Type,
                  loc) -> Tuple[Function, Builder]:
    f = Function(ctx.fresh_name(name), list(types), list(names), result, loc)
    ctx.functions[f.name] = f
    return f, Builder(f.body.block, loc)


def _body_function(ctx, op: Op, outer, base, names, onames, index) -> Function:
    """One iteration: the loop body with its carried values, outer values and index as
    parameters, returning what it yields."""
    carried = [r.type for r in op.results]
    f, b = new_function(ctx, base + "_loop", carried + [v.type for v in outer] + [I64],
                         names + onames + [index], packed_type(carried), op.loc)
    body = op.regions[-1].block
    params = f.params
    mapping: Dict[int, Value] = {}
    if op.name == "for":  # a `while` body has no index: the parameter goes unused
        mapping[id(body.args[0])] = params[-1]
    for a, p in zip(body.args[1:] if op.name == "for" else body.args, params):
        mapping[id(a)] = p
    for v, p in zip(outer, params[len(carried):]):
        mapping[id(v)] = p
    for o in body.ops[:-1]:
        _clone_constants(f, o, mapping)  # constants are cloned in, not passed
        f.body.block.append(clone_op(o, mapping))
    yielded = [mapping.get(id(v), v) for v in body.ops[-1].operands]
    with b.at_end(f.body.block), b.at_loc(op.loc):
        b.op("return", [pack(b, yielded)], result_types=[])
    return f


def _clone_constants(f: Function, op: Op, mapping: Dict[int, Value]) -> None:
    for x in op.walk():
        for v in x.operands:
            if _constant(v) and id(v) not in mapping:
                f.body.block.append(clone_op(v.op, mapping))


def _steps_function(ctx, body: Function, carried, outer, names, onames, base) -> Function:
    """Iterations t0 <= t < t1 over the real range (a zero step raises), one scoped call
    of the body each."""
    f, b = new_function(ctx, base + "_steps", carried + [v.type for v in outer] +
                         [I64] * 4, names + onames + ["start", "step", "t0", "t1"],
                         packed_type(carried), body.loc)
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
            b.yield_(unpack(b, r, m))
        b.op("return", [pack(b, loop.results)], result_types=[])
    return f


def _advance_function(ctx, steps: Function, carried, outer, names, onames, base) -> Function:
    """Iterations t0 <= t < t1 in blocks of about sqrt(t1 - t0), each a scoped call."""
    f, b = new_function(ctx, base + "_advance", steps.param_types + [I64],
                         [p.name for p in steps.params] + ["snapshots"], packed_type(carried),
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
            b.yield_(unpack(b, r, m))
        b.op("return", [pack(b, loop.results)], result_types=[])
    return f


def split_function(ctx) -> str:
    if SPLIT not in ctx.functions:
        ctx.functions[SPLIT] = parse_function(_SPLIT_IR)
    return SPLIT


# -- small helpers --------------------------------------------------------------------------


def packed_type(types: Sequence[Type]) -> Type:
    return types[0] if len(types) == 1 else TupleType(tuple(types))


def pack(b: Builder, values: Sequence[Value]) -> Value:
    return values[0] if len(values) == 1 else b.emit("tuple", *values)


def unpack(b: Builder, v: Value, n: int, tuple_always: bool = False) -> List[Value]:
    if n == 1 and not tuple_always:
        return [v]
    return [b.op("tuple_get", [v], {"index": k}).result for k in range(n)]
