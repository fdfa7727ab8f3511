"""The reverse sweep of a checkpointed loop (see checkpoint.py for the outlining).

Assumes: a call marked `checkpoint` made by checkpoint.py (its operands: the carried
values, the outer values, then the range's start, step, t0, t1 and the snapshot count k,
or for a `while` only k, its trips being the call's last result), met by the reverse
transform with the adjoint of its result.
Guarantees:
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
"""
from __future__ import annotations

from typing import List, Tuple

from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Region
from ..ir.types import I64, TupleType, Type
from .checkpoint import SPLIT, new_function, pack, unpack
from .emitter import Emitter


def reverse_checkpoint(rb, op: Op, adj) -> None:
    """The adjoint of a checkpointed loop's call: one call of its binomial reverse sweep."""
    g = rb.dense(op.result, adj.pop(id(op.result), None))
    m, p = op.attrs["carried"], op.attrs["outer"]
    inits, outer = op.operands[:m], op.operands[m:m + p]
    omask = tuple(rb.act.active(v) for v in outer)
    if g is None or not (any(rb.act.active(v) for v in inits) or any(omask)):
        return
    b = rb.b
    if op.attrs.get("loop") == "while":
        k = op.operands[m + p]
        start, step, t0 = b.const(0), b.const(1), b.const(0)
        t1 = b.op("tuple_get", [op.result], {"index": m}).result
    else:
        start, step, t0, t1, k = op.operands[m + p:]
    body = rb.ctx.functions[op.attrs["loop_body"]]
    rev = _reverse_function(rb.ctx, body, m, omask)
    whole = m + (op.attrs.get("loop") == "while")  # a while's call also returns its trips
    results = unpack(b, op.result, whole)[:m]
    cbars = [rb.match_type(x, r) for x, r in zip(unpack(b, g, whole), results)]
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
    f, b = new_function(ctx, body.name + "_rev", carried + outer + [I64] * 5 + bar_types,
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
            r = b.op("call", unpack(b, c, m) + list(outs) + [start, step, mid, hi,
                                                                b.emit("sub", k, one)]
                     + blk.args[1:], {"callee": f.name, "scoped": True},
                     result_types=[f.result_type]).result
            b.yield_([mid] + unpack(b, r, len(bar_types), tuple_always=True))
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
    f, b = new_function(ctx, body.name + "_step_rev", body.param_types + bar_types,
                         names + bar_names, TupleType(tuple(bar_types)), body.loc)
    args = f.params[:len(body.params)]
    cbars = f.params[len(body.params):len(body.params) + m]
    obars = f.params[len(body.params) + m:]
    with b.at_loc(body.loc):
        tape = b.op("tape_new", [], {}, result_types=None, names=["tape"]).result
        b.op("call", list(args) + [tape], {"callee": pair.fwd_name, "effects": True},
             result_types=[body.result_type])
        out_bar = pack(b, list(cbars))
        if out_bar.type != adjoint_type(body.result_type):
            raise AssertionError("checkpoint: adjoint type mismatch")
        got = b.op("call", list(args) + [tape, out_bar],
                   {"callee": pair.bwd_name, "effects": True},
                   result_types=[pair.bwd_type]).result
        n_active = sum(cmask) + sum(omask)
        parts = unpack(b, got, n_active)
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
