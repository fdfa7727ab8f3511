"""Advanced indexing and sorting in LLVM IR: take, put, put_add, sort, argsort.

Assumes: the descriptor and loop helpers of `arrays.py`; the ops of `ir/ops_index.py`.
Guarantees: NumPy's results. Index arrays broadcast together (a mismatch raises
IndexError and ends the call); each index wraps when negative and is checked (error 1,
IndexError; the access goes to the scratch cell) unless ADJOIN_BOUNDSCHECK=0. A mask
of another shape than its array raises IndexError. `put` and `put_add` write into a
copy, in row-major order of the selected elements, so that with repeated positions the
last write wins (`put`) or all add up (`put_add`); a value that does not broadcast to
the selection raises ValueError. `sort`/`argsort` run a stable bottom-up merge sort
on each row (NaN after every number, as NumPy orders it).
"""
from __future__ import annotations

from typing import List

from llvmlite import ir

from ...ir.core import Op
from ...ir.ops_index import index_count
from ...ir.types import ArrayType, BOOL, I64 as T_I64
from . import scalar
from .arrays import (Arr, alloc, broadcast_offset, broadcast_shape, copy_array, counted,
                     element_pointer, handler, load, nd_loop, offset, pack, raise_, store,
                     unpack, wrap_index)
from .runtime_ir import CTXP, ERR_INDEX, ERR_SHAPE
from .types import I1, I64, element


def _index_shape(lw, arrays: List[Arr]) -> List:
    """The broadcast shape of the index arrays; IndexError where they do not broadcast."""
    return broadcast_shape(lw, arrays, max(a.ndim for a in arrays), ERR_INDEX)


class Selection:
    """x[index] for an integer-array form: the selected shape, and for an index of it
    the element's offset in x and whether its index was in range."""

    def __init__(self, lw, x: Arr, form: str, arrays: List[Arr]):
        self.lw, self.x, self.arrays = lw, x, arrays
        self.lead = 1 if form == ":a" else 0
        self.bshape = _index_shape(lw, arrays)
        self.shape = x.shape[:self.lead] + self.bshape + x.shape[len(form):]

    def locate(self, idx: List):
        b = self.lw.b
        lead, nb = self.lead, len(self.bshape)
        at = idx[lead:lead + nb]
        src, ok = list(idx[:lead]), I1(1)
        for j, a in enumerate(self.arrays):
            v = load(self.lw, a, broadcast_offset(b, a, at))
            i, good = wrap_index(self.lw, v, self.x.shape[lead + j])
            ok = b.and_(ok, good)
            src.append(b.select(good, i, I64(0)))
        src += idx[lead + nb:]
        return offset(b, self.x, src), ok


def _operands(lw, op: Op):
    form = op.attrs["form"]
    k = index_count(form)
    x = unpack(lw, op.operands[0])
    arrays = [unpack(lw, v) for v in op.operands[1:1 + k]]
    return form, x, arrays


def _check_mask(lw, x: Arr, mask: Arr) -> None:
    b = lw.b
    for k in range(x.ndim):
        with b.if_then(b.icmp_signed("!=", x.shape[k], mask.shape[k]), likely=False):
            raise_(lw, ERR_INDEX)


def _masked_loop(lw, x: Arr, mask: Arr, body) -> ir.Value:
    """body(idx, k) for each index of x where the mask is true, k counting them; returns
    the count. `body` None only counts."""
    b = lw.b
    slot = b.alloca(I64)
    b.store(I64(0), slot)

    def visit(idx):
        with b.if_then(load(lw, mask, offset(b, mask, idx))):
            k = b.load(slot)
            if body is not None:
                body(idx, k)
            b.store(b.add(k, I64(1)), slot)
    nd_loop(lw, x.shape, visit)
    return b.load(slot)


@handler("take")
def op_take(lw, op: Op) -> None:
    b = lw.b
    form, x, arrays = _operands(lw, op)
    t = op.result.type
    if form == "m":
        mask = arrays[0]
        _check_mask(lw, x, mask)
        count = _masked_loop(lw, x, mask, None)
        out = alloc(lw, t, [count])
        _masked_loop(lw, x, mask, lambda idx, k: store(lw, out, k,
                                                       load(lw, x, offset(b, x, idx))))
        lw.set(op.result, pack(lw, out))
        return
    sel = Selection(lw, x, form, arrays)
    out = alloc(lw, t, sel.shape)

    def body(idx):
        off, ok = sel.locate(idx)
        v = b.load(element_pointer(lw, x, off, ok))
        store(lw, out, offset(b, out, idx), b.icmp_unsigned("!=", v, ir.Constant(v.type, 0))
              if x.t.dtype == BOOL else v)
    nd_loop(lw, sel.shape, body)
    lw.set(op.result, pack(lw, out))


def _value_reader(lw, op: Op, target: Arr, shape: List):
    """A function of a selected index giving the value stored there (broadcast to
    `shape`, ValueError where it does not broadcast), in the target's dtype."""
    b = lw.b
    v = op.operands[-1]
    dst = target.t.dtype
    if not isinstance(v.type, ArrayType):
        c = scalar.convert(b, lw.get(v), v.type, dst)
        return lambda idx: c
    a = unpack(lw, v)
    lead = len(shape) - a.ndim
    for j in range(a.ndim):
        d = a.shape[j]
        bad = b.and_(b.icmp_signed("!=", d, I64(1)), b.icmp_signed("!=", d, shape[lead + j]))
        with b.if_then(bad, likely=False):
            raise_(lw, ERR_SHAPE)
    return lambda idx: scalar.convert(b, load(lw, a, broadcast_offset(b, a, idx)),
                                      a.t.dtype, dst)


def _write(lw, target: Arr, ptr, v, add: bool) -> None:
    b = lw.b
    if add:
        cur = b.load(ptr)
        v = b.fadd(cur, v) if target.t.dtype.is_float else b.add(cur, v)
    elif target.t.dtype == BOOL:
        v = b.zext(v, element(BOOL))
    b.store(v, ptr)


@handler("put", "put_add")
def op_put(lw, op: Op) -> None:
    form, x, arrays = _operands(lw, op)
    add = op.name == "put_add"
    target = copy_array(lw, x)
    if form == "m":
        _put_masked(lw, op, target, arrays[0])
    else:
        sel = Selection(lw, target, form, arrays)
        value = _value_reader(lw, op, target, sel.shape)

        def body(idx):
            off, ok = sel.locate(idx)
            _write(lw, target, element_pointer(lw, target, off, ok), value(idx), add)
        nd_loop(lw, sel.shape, body)
    lw.set(op.result, pack(lw, target))


def _put_masked(lw, op: Op, target: Arr, mask: Arr) -> None:
    b = lw.b
    _check_mask(lw, target, mask)
    v = op.operands[-1]
    if isinstance(v.type, ArrayType):
        a = unpack(lw, v)
        count = _masked_loop(lw, target, mask, None)
        n = a.shape[0]
        bad = b.and_(b.icmp_signed("!=", n, count), b.icmp_signed("!=", n, I64(1)))
        with b.if_then(bad, likely=False):
            raise_(lw, ERR_SHAPE)

        def value(k):
            at = b.select(b.icmp_signed("==", n, I64(1)), I64(0), k)
            return scalar.convert(b, load(lw, a, b.mul(at, a.strides[0])), a.t.dtype,
                                  target.t.dtype)
    else:
        c = scalar.convert(b, lw.get(v), v.type, target.t.dtype)

        def value(k):
            return c
    _masked_loop(lw, target, mask, lambda idx, k: _write(
        lw, target, b.gep(target.data, [offset(b, target, idx)]), value(k), False))


# -- sorting ------------------------------------------------------------------------------


def _less(b, dtype, p, q):
    """p < q in NumPy's sort order (NaN last)."""
    if dtype.is_float:
        nan_q = b.fcmp_unordered("uno", q, q)
        nan_p = b.fcmp_unordered("uno", p, p)
        return b.or_(b.fcmp_ordered("<", p, q), b.and_(nan_q, b.not_(nan_p)))
    if dtype == BOOL:
        return b.icmp_unsigned("<", p, q)
    return b.icmp_signed("<", p, q)


def _loop(lw, cond, body) -> None:
    """while cond(): body()."""
    b = lw.b
    head, inner, done = (lw.fn.append_basic_block(n) for n in ("w.head", "w.body", "w.end"))
    b.branch(head)
    b.position_at_end(head)
    b.cbranch(cond(), inner, done)
    b.position_at_end(inner)
    body()
    b.branch(head)
    b.position_at_end(done)


def _argsort_helper(lw, dtype) -> ir.Function:
    """`adjoin.argsort.<dtype>(ctx, data, stride, n, perm, tmp)`: perm[0:n] = the stable
    sorting permutation of data[0], data[stride], ... (tmp: n scratch slots)."""
    from .lower import FunctionLowering
    key = ("argsort_row", dtype.name)
    fn = lw.ml.helpers.get(key)
    if fn is not None:
        return fn
    ptr = element(dtype).as_pointer()
    fnty = ir.FunctionType(ir.VoidType(), [CTXP, ptr, I64, I64, I64.as_pointer(),
                                           I64.as_pointer()])
    fn = ir.Function(lw.ml.m, fnty, f"adjoin.argsort.{dtype.name}")
    fn.linkage = "internal"
    lw.ml.helpers[key] = fn
    sub = FunctionLowering(lw.ml, None, fn)
    _merge_sort(sub, dtype, *fn.args[1:])
    sub.b.ret_void()
    return fn


def _merge_sort(lw, dtype, data, stride, n, perm, tmp) -> None:
    b = lw.b
    slots = {k: b.alloca(I64, name=k) for k in ("width", "lo", "i", "j", "k")}
    src, dst = b.alloca(perm.type), b.alloca(perm.type)

    def get(k):
        return b.load(slots[k])

    def put(k, v):
        b.store(v, slots[k])
    counted(lw, n, lambda i: b.store(i, b.gep(perm, [i])))
    b.store(perm, src)
    b.store(tmp, dst)
    put("width", I64(1))

    def value(p, at):
        v = b.load(b.gep(data, [b.mul(b.load(b.gep(p, [at])), stride)]))
        return b.icmp_unsigned("!=", v, ir.Constant(v.type, 0)) if dtype == BOOL else v

    def merge_pass():
        width = get("width")
        put("lo", I64(0))

        def merge_runs():
            lo = get("lo")
            mid = _min(b, b.add(lo, width), n)
            hi = _min(b, b.add(lo, b.add(width, width)), n)
            put("i", lo)
            put("j", mid)
            put("k", lo)

            def step():
                s, d = b.load(src), b.load(dst)
                i, j, k = get("i"), get("j"), get("k")
                left_ok, right_ok = b.icmp_signed("<", i, mid), b.icmp_signed("<", j, hi)
                li, rj = b.select(left_ok, i, lo), b.select(right_ok, j, lo)
                right = b.and_(right_ok, b.or_(b.not_(left_ok),
                                               _less(b, dtype, value(s, rj), value(s, li))))
                b.store(b.load(b.gep(s, [b.select(right, rj, li)])), b.gep(d, [k]))
                put("i", b.select(right, i, b.add(i, I64(1))))
                put("j", b.select(right, b.add(j, I64(1)), j))
                put("k", b.add(k, I64(1)))
            _loop(lw, lambda: b.icmp_signed("<", get("k"), hi), step)
            put("lo", b.add(lo, b.add(width, width)))
        _loop(lw, lambda: b.icmp_signed("<", get("lo"), n), merge_runs)
        s, d = b.load(src), b.load(dst)
        b.store(d, src)
        b.store(s, dst)
        put("width", b.add(width, width))
    _loop(lw, lambda: b.icmp_signed("<", get("width"), n), merge_pass)
    final = b.load(src)
    with b.if_then(b.icmp_unsigned("!=", final, perm)):
        counted(lw, n, lambda i: b.store(b.load(b.gep(final, [i])), b.gep(perm, [i])))


def _min(b, p, q):
    return b.select(b.icmp_signed("<", p, q), p, q)


@handler("sort", "argsort")
def op_sort(lw, op: Op) -> None:
    b = lw.b
    x = unpack(lw, op.operands[0])
    rows = I64(1) if x.ndim == 1 else x.shape[0]
    n = x.shape[-1]
    perm = alloc(lw, ArrayType(T_I64, x.ndim), x.shape)
    tmp = alloc(lw, ArrayType(T_I64, 1), [n])
    fn = _argsort_helper(lw, x.t.dtype)

    def row(r):
        start = I64(0) if x.ndim == 1 else b.mul(r, x.strides[0])
        b.call(fn, [lw.ctx, b.gep(x.data, [start]), x.strides[-1], n,
                    b.gep(perm.data, [b.mul(r, n)]), tmp.data])
    counted(lw, rows, row)
    if op.name == "argsort":
        lw.set(op.result, pack(lw, perm))
        return
    out = alloc(lw, x.t, x.shape)

    def body(idx):
        src = idx[:-1] + [load(lw, perm, offset(b, perm, idx))]
        v = load(lw, x, offset(b, x, src))
        store(lw, out, offset(b, out, idx), v)
    nd_loop(lw, x.shape, body)
    lw.set(op.result, pack(lw, out))
