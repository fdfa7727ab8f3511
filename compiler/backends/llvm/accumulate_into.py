"""Callees that accumulate into their caller's adjoint instead of a fresh zeroed one.

Assumes: a module prepared for the llvm backend (in-place writes marked, adjoint
accumulations turned into in-place `addat`s by accumulate.py).
Guarantees: `accumulate_into_callees(module)` rewrites the pattern reverse mode makes
of every call of a `_bwd` function,

    callee:  %z = zeros_like %p ... addat %z[...], ... (in place, through loops) ...
             return tuple(..., %z', ...)
    caller:  %c = call @f(...)   %e = tuple_get %c {index = j}
             %acc' = addat %acc[:, ...], %e {inplace}

into a call of a copy of the callee that takes %acc as one more parameter and adds
into it where it added into %z (`call {into = ((j, operand), ...)}`: result j is
that operand's memory); uses of %acc' read %e. It applies only where that is
unobservable: element j of the callee's result is a `zeros_like` of a parameter
whose every later value is only added into, in place, and returned; the caller's
`%acc` provably has that parameter's shape and dtype (passes/shapes.py), shares no
memory with the call's operands, and is read by nothing between the call and the
addition, which is its last use. The sums change order, `acc + (0 + a + b)`
becoming `(acc + a) + b`, so gradients may differ in the last bits. The caller
saves the zeroing of a fresh array and one pass adding it in.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ...ir.core import Function, Module, Op, Value, clone_function, replace_uses, use_counts
from ...ir.types import ArrayType
from ...passes.inplace import Objects
from ...passes.shapes import Shapes


def accumulate_into_callees(module: Module) -> None:
    chains = {f.name: _zero_chains(f) for f in list(module)}
    variants: Dict[Tuple[str, Tuple[int, ...]], str] = {}
    for g in list(module):
        sites = _call_sites(g, chains)
        for call, found in sites:
            js = tuple(j for j, _ in found)
            key = (call.attrs["callee"], js)
            if key not in variants:
                variants[key] = _variant(module, module[key[0]], js)
            _rewrite_call(g, call, found, variants[key])


# -- the callee: which results start as zeros and are only added into ---------------


def _zero_chains(f: Function) -> Dict[int, int]:
    """{result element j: index of the parameter whose zeros_like it starts as}."""
    ret = f.body.block.ops[-1]
    if ret.name != "return" or not ret.operands:
        return {}
    counts = use_counts(f.body.block)
    out = ret.operands[0]
    prod = getattr(out, "op", None)
    if prod is not None and prod.name == "tuple" and counts.get(id(out)) == 1:
        elements = list(enumerate(prod.operands))
    elif isinstance(out.type, ArrayType):
        elements = [(0, out)]
    else:
        return {}
    found = {}
    for j, v in elements:
        p = _start(v, counts, f)
        if p is not None and [e for _, e in elements].count(v) == 1:
            found[j] = p
    return found


def _start(v: Value, counts, f: Function) -> Optional[int]:
    """The parameter whose zeros_like `v` is after in-place additions only, or None."""
    while True:
        if counts.get(id(v), 0) != 1:
            return None
        op = getattr(v, "op", None)
        if op is None:
            return None
        if op.name == "addat" and op.attrs.get("inplace"):
            v = op.operands[0]
        elif op.name in ("for", "while"):
            v = _through_loop(op, v.index, counts)
            if v is None:
                return None
        elif op.name == "zeros_like" and op.parent is f.body.block:
            p = op.operands[0]
            return p.index if p in f.params and p.type == v.type else None
        else:
            return None


def _through_loop(loop: Op, k: int, counts) -> Optional[Value]:
    """The loop's initial value of carried slot k, when every iteration only adds into
    that slot's array in place; else None."""
    body = loop.regions[-1].block
    arg = body.args[k + 1] if loop.name == "for" else body.args[k]
    if loop.name == "while" and counts.get(id(loop.regions[0].block.args[k]), 0):
        return None  # the condition reads it
    y = body.ops[-1].operands[k]
    while y is not arg:
        op = getattr(y, "op", None)
        if op is None or op.name != "addat" or not op.attrs.get("inplace") or \
                counts.get(id(y), 0) != 1:
            return None
        y = op.operands[0]
    if counts.get(id(arg), 0) != 1:  # read by the first addition (or the yield) only
        return None
    return loop.operands[(3 if loop.name == "for" else 0) + k]


def _variant(module: Module, f: Function, js: Tuple[int, ...]) -> str:
    """A copy of `f` taking one accumulator per element in `js` (appended parameters)."""
    name = f"{f.name}.into.{'.'.join(map(str, js))}"
    g = clone_function(f, name)
    for j in js:
        z = _chain_zero(g, j)
        acc = g.body.block.add_arg(z.result.type, f"acc{j}")
        replace_uses(g.body.block, z.result, acc)
        z.erase()
    module.add(g)
    return name


def _chain_zero(g: Function, j: int) -> Optional[Op]:
    """The zeros_like op that result element j starts as."""
    out = g.body.block.ops[-1].operands[0]
    v = out.op.operands[j] if getattr(out, "op", None) is not None and \
        out.op.name == "tuple" else out
    while True:
        op = v.op
        if op.name == "zeros_like":
            return op
        if op.name == "addat":
            v = op.operands[0]
        else:  # a loop's result: its initial value
            v = op.operands[(3 if op.name == "for" else 0) + v.index]


# -- the caller: calls whose result element is added into an accumulator, last -------


def _call_sites(g: Function, chains) -> List[Tuple[Op, List[Tuple[int, Op]]]]:
    counts = use_counts(g.body.block)
    shapes = objs = None
    out = []
    for call in g.walk():
        if call.name != "call" or not chains.get(call.attrs["callee"]) or call.attrs.get("into"):
            continue
        found = []
        for j, p in sorted(chains[call.attrs["callee"]].items()):
            add = _accumulation(call, j, counts)
            if add is None:
                continue
            shapes = shapes or Shapes(g)
            objs = objs or Objects(g)
            if _safe(call, add, p, shapes, objs):
                found.append((j, add))
        if found:
            out.append((call, found))
    return out


def _accumulation(call: Op, j: int, counts) -> Optional[Op]:
    """The full-array in-place addat that is the only use of result element j."""
    blk = call.parent
    after = blk.ops[blk.ops.index(call) + 1:]
    tuple_result = not isinstance(call.result.type, ArrayType)
    e = call.result
    if tuple_result:
        gets = [o for o in after if o.name == "tuple_get" and o.operands[0] is call.result
                and o.attrs["index"] == j]
        if len(gets) != 1:
            return None
        e = gets[0].result
    if counts.get(id(e), 0) != 1:
        return None
    for o in after:
        if o.name == "addat" and len(o.operands) == 2 and o.operands[1] is e:
            full = all(s == "s000" for s in o.attrs["index"]) and \
                len(o.attrs["index"]) == e.type.ndim
            ok = full and o.attrs.get("inplace") and o.operands[0].type == e.type
            return o if ok else None
    return None


def _safe(call: Op, add: Op, p: int, shapes: Shapes, objs: Objects) -> bool:
    acc = add.operands[0]
    if any(v is acc for v in call.operands) or not shapes.same(acc, call.operands[p]):
        return False
    mine = objs.get(acc)
    if not mine or objs.union(call.operands) & mine:
        return False
    blk = call.parent
    between = blk.ops[blk.ops.index(call) + 1:blk.ops.index(add)]
    return not any(objs.get(v) & mine for o in between for inner in o.walk()
                   for v in inner.operands)


def _rewrite_call(g: Function, call: Op, found: List[Tuple[int, Op]], variant: str) -> None:
    into = []
    for j, add in found:
        into.append((j, len(call.operands)))
        call.operands = list(call.operands) + [add.operands[0]]
        replace_uses(g.body.block, add.result, add.operands[1])
        add.erase()
    call.attrs = dict(call.attrs, callee=variant, into=tuple(into))
