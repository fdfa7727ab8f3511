"""Rank-one updates: `T[idx] += np.outer(a, b)` without the outer product's array.

Assumes: a block of a function prepared for the backend (in-place writes marked);
`Objects` of passes/inplace.py over the whole function (which arrays each value may
be).
Guarantees: `plan(blk, uses, objects)` pairs each in-place float64 `addat` whose
value is an `outer` of the same block, used there only, with that `outer`, when
neither of its operands may share memory with the target nor with anything written
in place between the two ops (so both hold, where the update runs, what they held
where the outer product was taken). `emit` then adds a[r] * b[c] to each element
T[idx][r, c] directly: the same fmul and fadd per element as the product followed
by the addition, so the same values. Where the shapes differ (the product would be
broadcast, or not fit: NumPy's cases and errors), the product is made and added as
before.
"""
from __future__ import annotations

from typing import Dict

from ...ir.core import Block, Op
from ...ir.types import F64, ArrayType

_WRITES = ("setitem", "addat")


def _region_ndim(op: Op) -> int:
    spec = op.attrs["index"]
    return op.operands[0].type.ndim - sum(e == "i" for e in spec)


def plan(blk: Block, uses: Dict[int, int], objects) -> Dict[int, Op]:
    """{id(addat): its outer op} for the updates computed in place (`objects()` is
    called, once, only when a candidate is found)."""
    ops = blk.ops
    pos = {id(op): i for i, op in enumerate(ops)}
    out: Dict[int, Op] = {}
    objs = None
    for j, op in enumerate(ops):
        if op.name != "addat" or not op.attrs.get("inplace") or op.result.type.dtype != F64:
            continue
        value = op.operands[-1]
        prod = getattr(value, "op", None)
        if prod is None or prod.name != "outer" or id(prod) not in pos or \
                uses.get(id(value), 0) != 1 or _region_ndim(op) != 2 or \
                any(v.type.dtype != F64 for v in prod.operands):
            continue
        objs = objs or objects()
        read = objs.union(prod.operands)
        written = [op.operands[0]] + [w.operands[0] for between in ops[pos[id(prod)] + 1:j]
                                      for w in between.walk() if w.name in _WRITES]
        if not any(objs.get(w) & read for w in written):
            out[id(op)] = prod
    return out


def emit(lw, op: Op, outer: Op) -> None:
    """Lower `op` (an addat of `outer`), in a helper shared by updates of its types."""
    operands = list(op.operands[:-1]) + list(outer.operands)
    template = Op("addouter", operands, [op.result.type], dict(op.attrs), (), op.loc)
    lw.outline(template, _update)
    lw.set(op.result, lw.get(template.result))


def _update(lw, op: Op) -> None:
    from . import arrays
    from .linalg import _axpy
    from .types import I64
    b = lw.b
    target = arrays.unpack(lw, op.operands[0])
    x, y = (arrays.unpack(lw, v) for v in op.operands[-2:])
    spec = op.attrs["index"]
    view_t = ArrayType(F64, 2)
    res, _ = arrays.index_view(lw, target, spec, op.operands[1:-2], view_t)
    fits = b.and_(b.icmp_signed("==", res.shape[0], x.shape[0]),
                  b.icmp_signed("==", res.shape[1], y.shape[0]))
    with b.if_else(fits, likely=True) as (direct, broadcast):
        with direct:
            unit = b.and_(b.icmp_signed("==", res.strides[1], I64(1)),
                          b.icmp_signed("==", y.strides[0], I64(1)))

            def rows(stride_res, stride_y):
                arrays.counted(lw, res.shape[0], lambda r: _axpy(
                    lw, res, b.mul(r, res.strides[0]), stride_res, res.shape[1],
                    arrays.load(lw, x, b.mul(r, x.strides[0])), y, I64(0), stride_y, F64),
                    "r")
            with b.if_else(unit, likely=True) as (fast, strided):
                with fast:
                    rows(I64(1), I64(1))
                with strided:
                    rows(res.strides[1], y.strides[0])
        with broadcast:  # NumPy's broadcasting (or its shape error), as without fusion
            product = arrays.alloc(lw, view_t, [x.shape[0], y.shape[0]])
            arrays.nd_loop(lw, product.shape, lambda idx: arrays.store(
                lw, product, arrays.offset(b, product, idx), b.fmul(
                    arrays.load(lw, x, b.mul(idx[0], x.strides[0])),
                    arrays.load(lw, y, b.mul(idx[1], y.strides[0])))))
            arrays.copy_into(lw, res, product, add=True)
    lw.set(op.result, arrays.pack(lw, target))
