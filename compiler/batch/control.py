"""Batching of control flow and calls: predicated `if`, masked loops, batched callees.

Assumes: the `Batcher` of `transform` (its env, lanes, builder and current mask).
Guarantees:
  * an `if` on an unbatched condition stays an `if` (a result batched in one branch is
    broadcast in the other); on a batched condition both branches run, each under the
    mask of the lanes that take it, and each result is `where(c, then, else)`;
  * a loop whose condition (or `for` bounds) is unbatched stays that loop, its carried
    values batched where some iteration makes them so (found by iterating to a fixed
    point); a loop with a batched condition runs while any lane is live, with the live
    lanes as the mask: a finished lane keeps its values (`where(live, new, old)`);
  * a call with batched arguments calls the callee batched for exactly those
    arguments (and the caller's mask, under one); recursion under a batched condition
    is a CompileError (each lane would recurse to its own depth).
"""
from __future__ import annotations

from typing import List, Optional

from ..ir.builder import new_region
from ..ir.core import Block, Op, Value
from ..ir.types import BOOL, I64, ArrayType, Type
from .lanes import Info, any_batched, batched_type, join_info, normal


def _batched(bt, v: Value) -> bool:
    return any_batched(bt.lanes.info_of(v))


# -- if ------------------------------------------------------------------------------------


def batch_if(bt, op: Op, args: List[Value]) -> List[Value]:
    c = args[0]
    if _batched(bt, c):
        return _predicated(bt, op, c)
    blocks, outs = [], []
    for region in op.regions:
        blk, vals = _detached(bt, region.block, [])
        blocks.append(blk)
        outs.append(vals)
    infos = [join_info(r.type, bt.lanes.info_of(t), bt.lanes.info_of(e))
             for r, t, e in zip(op.results, *outs)]
    for blk, vals in zip(blocks, outs):
        _fit_yield(bt, blk, [r.type for r in op.results], infos)
    return _rebuild(bt, op, [c], blocks, infos)


def _predicated(bt, op: Op, c: Value) -> List[Value]:
    saved = bt.mask
    then_mask = c if saved is None else bt.mask_op("and", saved, c)
    not_c = bt.mask_op("not", c)
    else_mask = not_c if saved is None else bt.mask_op("and", saved, not_c)
    outs = []
    for region, mask in zip(op.regions, (then_mask, else_mask)):
        bt.mask = bt.lanes.mark(mask, True)
        outs.append(bt.block(region.block))
    bt.mask = saved
    return [bt.merge(c, t, e, r.type) for r, t, e in zip(op.results, *outs)]


# -- loops ---------------------------------------------------------------------------------


def batch_for(bt, op: Op, args: List[Value]) -> List[Value]:
    bounds, inits = args[:3], args[3:]
    if any(_batched(bt, v) for v in bounds):
        return _masked_for(bt, op, bounds, inits)
    body = op.regions[0].block
    infos = _fixed_point(bt, op, inits, lambda infos: _try_body(bt, body, [False] + infos))
    blk, vals = _detached(bt, body, [False] + infos)
    _fit_yield(bt, blk, [r.type for r in op.results], infos)
    inits = [bt.lanes.to_info(v, r.type, i) for v, r, i in zip(inits, op.results, infos)]
    return _rebuild(bt, op, bounds + inits, [blk], infos)


def batch_while(bt, op: Op, args: List[Value]) -> List[Value]:
    cond, body = op.regions[0].block, op.regions[1].block

    def attempt(infos):
        (c,) = _try_body(bt, cond, infos)
        ys = _try_body(bt, body, infos)
        if c:  # lanes stop at different times: what the body changes becomes batched
            ys = [y or _changes(body, k) for k, y in enumerate(ys)]
        return ys
    infos = _fixed_point(bt, op, args, attempt)
    (c_info,) = _try_body(bt, cond, infos)
    inits = [bt.lanes.to_info(v, r.type, i) for v, r, i in zip(args, op.results, infos)]
    if any_batched(c_info):
        return _masked_loop(bt, op, inits, infos, cond, body)
    blocks = []
    for blk_old in (cond, body):
        blk, _ = _detached(bt, blk_old, infos)
        if blk_old is body:
            _fit_yield(bt, blk, [r.type for r in op.results], infos)
        blocks.append(blk)
    return _rebuild(bt, op, inits, blocks, infos)


def _changes(body: Block, k: int) -> bool:
    return body.ops[-1].operands[k] is not body.args[k]


def _fixed_point(bt, op: Op, inits: List[Value], attempt) -> List[Info]:
    """Infos of the carried values: batched where the start or some iteration is."""
    infos = [normal(r.type, bt.lanes.info_of(v)) for v, r in zip(inits, op.results)]
    for _ in range(len(infos) + 2):
        ys = attempt(infos)
        new = [join_info(r.type, i, y) for r, i, y in zip(op.results, infos, ys)]
        if new == infos:
            return infos
        infos = new
    return infos


def _try_body(bt, blk: Block, infos: List[Info]) -> List[Info]:
    """The infos of `blk`'s terminator operands when its arguments have `infos`."""
    _, vals = _detached(bt, blk, infos)
    return [bt.lanes.info_of(v) for v in vals]


def _masked_loop(bt, op: Op, inits: List[Value], infos: List[Info], cond: Block,
                 body: Block) -> List[Value]:
    """while any lane is live: run the body under the live lanes, freeze the others."""
    b, lanes = bt.b, bt.lanes
    types = [r.type for r in op.results]
    live0 = _live(bt, _inline(bt, cond, inits)[0], bt.mask)
    new_types = [ArrayType(BOOL, 1)] + [batched_type(t, i) for t, i in zip(types, infos)]
    loop = b.op("while", [live0] + inits, {}, result_types=new_types,
                regions=[new_region(new_types), new_region(new_types)],
                names=["live"] + [r.name for r in op.results])
    c_blk, d_blk = loop.regions[0].block, loop.regions[1].block
    for blk in (c_blk, d_blk):
        for a, i in zip(blk.args, [True] + infos):
            lanes.mark(a, i)
    with b.at_end(c_blk):
        b.yield_([lanes.any_lane(c_blk.args[0])], "condition")
    with b.at_end(d_blk):
        live, carried = d_blk.args[0], list(d_blk.args[1:])
        saved, bt.mask = bt.mask, live
        ys = _inline(bt, body, carried)
        kept = [bt.merge(live, y, c, t) for y, c, t in zip(ys, carried, types)]
        kept = [lanes.to_info(v, t, i) for v, t, i in zip(kept, types, infos)]
        again = _live(bt, _inline(bt, cond, kept)[0], live)
        bt.mask = saved
        b.yield_([again] + kept)
    for r in loop.results:
        lanes.mark(r, True if r.index == 0 else infos[r.index - 1])
    return list(loop.results[1:])


def _masked_for(bt, op: Op, bounds: List[Value], inits: List[Value]) -> List[Value]:
    """`for i in range(lo, hi, step)` with per-lane bounds: a masked loop over a
    per-lane counter."""
    b, lanes = bt.b, bt.lanes
    lo, hi, step = (lanes.to_info(v, I64, True) for v in bounds)
    body = op.regions[0].block
    types = [r.type for r in op.results]
    infos = [normal(t, True) for t in types]
    inits = [lanes.to_info(v, t, i) for v, t, i in zip(inits, types, infos)]
    new_types = [ArrayType(BOOL, 1), ArrayType(I64, 1)] + [batched_type(t, True) for t in types]
    live0 = _live(bt, _in_range(bt, lo, hi, step), bt.mask)
    loop = b.op("while", [live0, lo] + inits, {}, result_types=new_types,
                regions=[new_region(new_types), new_region(new_types)])
    c_blk, d_blk = loop.regions[0].block, loop.regions[1].block
    for blk in (c_blk, d_blk):
        for a in blk.args:
            lanes.mark(a, True)
    with b.at_end(c_blk):
        b.yield_([lanes.any_lane(c_blk.args[0])], "condition")
    with b.at_end(d_blk):
        live, i, carried = d_blk.args[0], d_blk.args[1], list(d_blk.args[2:])
        saved, bt.mask = bt.mask, live
        ys = _inline(bt, body, [i] + carried)
        kept = [lanes.to_info(bt.merge(live, y, c, t), t, True)
                for y, c, t in zip(ys, carried, types)]
        nxt = lanes.mark(b.emit("add", i, step), True)
        again = _live(bt, _in_range(bt, nxt, hi, step), live)
        bt.mask = saved
        b.yield_([again, nxt] + kept)
    for r in loop.results:
        lanes.mark(r, True)
    return list(loop.results[2:])


def _in_range(bt, i: Value, hi: Value, step: Value) -> Value:
    b = bt.b
    zero = b.const(0)
    up = b.emit("and", b.emit("gt", step, zero), b.emit("lt", i, hi))
    down = b.emit("and", b.emit("lt", step, zero), b.emit("gt", i, hi))
    return bt.lanes.mark(b.emit("or", up, down), True)


def _live(bt, c: Value, mask: Optional[Value]) -> Value:
    c = bt.lanes.to_info(c, BOOL, True)
    if mask is not None:
        c = bt.b.emit("and", mask, c)
    return bt.lanes.mark(c, True)


def _inline(bt, blk: Block, values: List[Value]) -> List[Value]:
    """Emit `blk`'s ops here with its arguments bound to `values`."""
    for a, v in zip(blk.args, values):
        bt.env[id(a)] = v
    return bt.block(blk)


# -- regions -------------------------------------------------------------------------------


def _detached(bt, blk: Block, infos: List[Info]):
    """A new block: `blk` batched with arguments of `infos`, and its terminator's values."""
    types = [batched_type(a.type, i) for a, i in zip(blk.args, infos)]
    nb = Block(types, [a.name for a in blk.args])
    for old, new, i in zip(blk.args, nb.args, infos):
        bt.env[id(old)] = bt.lanes.mark(new, i)
    with bt.b.at_end(nb):
        vals = bt.block(blk)
        term = blk.ops[-1]
        bt.b.op(term.name, vals, dict(term.attrs), result_types=[])
    return nb, vals


def _fit_yield(bt, blk: Block, types: List[Type], infos: List[Info]) -> None:
    term = blk.ops[-1]
    with bt.b.before(term):
        term.operands = [bt.lanes.to_info(v, t, i)
                         for v, t, i in zip(term.operands, types, infos)]


def _rebuild(bt, op: Op, operands: List[Value], blocks: List[Block], infos: List[Info]
             ) -> List[Value]:
    from ..ir.core import Region
    types = [batched_type(r.type, i) for r, i in zip(op.results, infos)]
    new = Op(op.name, operands, types, dict(op.attrs), [Region([blk]) for blk in blocks],
             op.loc, [r.name for r in op.results])
    bt.b.insert(new)
    return [bt.lanes.mark(r, i) for r, i in zip(new.results, infos)]


# -- calls ---------------------------------------------------------------------------------


def batch_call(bt, op: Op, args: List[Value]) -> List[Value]:
    infos = tuple(bt.lanes.info_of(a) for a in args)
    if not any(any_batched(i) for i in infos):
        return bt.clone(op, args)
    callee = bt.ctx.function(op.attrs["callee"])
    g, info = bt.ctx.batched(callee, infos, bt.mask is not None, op.loc,
                             bt.mask is not None and bt.mask is not bt.param_mask)
    attrs = {k: v for k, v in op.attrs.items() if k != "nothrow"}
    attrs["callee"] = g.name
    operands = list(args) + ([bt.mask] if bt.mask is not None else [])
    r = bt.b.op("call", operands, attrs, result_types=[g.result_type]).result
    return [bt.lanes.mark(r, info)]
