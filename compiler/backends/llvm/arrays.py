"""Array ops in LLVM IR: descriptors, loops, indexing, reductions, linear algebra.

Assumes: array values are descriptors {data, shape[N], strides[N] in elements};
arrays the code allocates are owned by the call context (freed when it resets).
Guarantees: NumPy's meaning for every array op the IR has: elementwise ops
broadcast (a shape mismatch raises error 2, ending the call), with a flat loop when all operands
are contiguous and of the result's shape; indices wrap when negative and are
bounds-checked (error 1, the access redirected to a scratch cell) unless
ADJOIN_BOUNDSCHECK=0; slices follow Python's rules and are views; writes marked
in place write into the target, others copy it first. Reductions run in order
(sums may differ from NumPy's pairwise sums in the last bits).
"""
from __future__ import annotations

import os
from typing import Callable, List, Sequence

from llvmlite import ir

from ...errors import BackendError
from ...ir.core import Op, Value
from ...ir.ops import OPS
from ...ir.types import ArrayType, BOOL
from . import scalar
from .runtime_ir import CTXP, ERR_INDEX, ERR_SHAPE, ERR_SIZE
from .types import I1, I32, I64, I8, SIZES, array_type, element

BOUNDS = os.environ.get("ADJOIN_BOUNDSCHECK", "1") not in ("0", "")


# ---------------------------------------------------------------------------
# Descriptors


class Arr:
    """An array descriptor split into LLVM values."""

    fresh = None  # set by alloc(): the ids of its contiguous strides, checked by pack()

    def __init__(self, t: ArrayType, data, shape: List, strides: List):
        self.t, self.data, self.shape, self.strides = t, data, list(shape), list(strides)

    @property
    def ndim(self) -> int:
        return len(self.shape)


def unpack(lw, v: Value) -> Arr:
    d = lw.get(v)
    b = lw.b
    n = v.type.ndim
    return Arr(v.type, b.extract_value(d, 0), [b.extract_value(d, [1, k]) for k in range(n)],
               [b.extract_value(d, [2, k]) for k in range(n)])


def pack(lw, a: Arr) -> ir.Value:
    b = lw.b
    d = ir.Constant(array_type(a.t), None)
    d = b.insert_value(d, a.data, 0)
    for k in range(a.ndim):
        d = b.insert_value(d, a.shape[k], [1, k])
        d = b.insert_value(d, a.strides[k], [2, k])
    if a.fresh == tuple(map(id, a.strides)):
        lw.fresh.add(id(d))
    return d


def fresh_result(lw, d: ir.Value, t: ArrayType) -> ir.Value:
    """A helper's result `d`, known to be a fresh contiguous allocation, with its strides
    recomputed here from its shape: the caller's optimizer then sees unit inner strides
    (and vectorizes loops over the array) instead of values loaded from a call's result."""
    b = lw.b
    shape = [b.extract_value(d, [1, k]) for k in range(t.ndim)]
    for k, s in enumerate(contiguous_strides(b, shape)):
        d = b.insert_value(d, s, [2, k])
    return d


def product(b, xs: Sequence) -> ir.Value:
    p = I64(1)
    for x in xs:
        p = b.mul(p, x)
    return p


def contiguous_strides(b, shape: List) -> List:
    strides, acc = [], I64(1)
    for d in reversed(shape):
        strides.insert(0, acc)
        acc = b.mul(acc, d)
    return strides


def alloc(lw, t: ArrayType, shape: List) -> Arr:
    """A fresh contiguous array of `shape` in the context. A negative dimension, or
    a size whose bytes overflow int64, raises ValueError and running out of memory
    MemoryError, as NumPy does: the call ends there, so no loop ever runs over
    memory that was not allocated."""
    b = lw.b
    nbytes = checked_bytes(lw, shape, SIZES[t.dtype.name])
    raw = b.call(lw.rt.alloc, [lw.ctx, nbytes])
    a = Arr(t, b.bitcast(raw, element(t.dtype).as_pointer()), shape,
            contiguous_strides(b, shape))
    a.fresh = tuple(map(id, a.strides))
    return a


def checked_bytes(lw, shape: List, itemsize: int) -> ir.Value:
    """The bytes of an array of `shape`, raising ERR_SIZE where NumPy raises ValueError:
    a negative dimension, or the product of the nonzero dimensions and the item size
    past int64 (checked even when another dimension is 0, as NumPy does)."""
    b = lw.b
    bad, nonzero, count = I1(0), I64(itemsize), I64(1)
    for d in shape:
        bad = b.or_(bad, b.icmp_signed("<", d, I64(0)))
        r = b.smul_with_overflow(nonzero, b.select(b.icmp_signed("==", d, I64(0)), I64(1), d))
        nonzero = b.extract_value(r, 0)
        bad = b.or_(bad, b.extract_value(r, 1))
        count = b.mul(count, d)
    with b.if_then(bad, likely=False):
        raise_(lw, ERR_SIZE)
    return b.mul(count, I64(itemsize))


def offset(b, a: Arr, idx: List) -> ir.Value:
    off = I64(0)
    for i, s in zip(idx, a.strides):
        off = b.add(off, b.mul(i, s))
    return off


def load(lw, a: Arr, off) -> ir.Value:
    v = lw.b.load(lw.b.gep(a.data, [off]))
    return lw.b.icmp_unsigned("!=", v, I8(0)) if a.t.dtype == BOOL else v


def store(lw, a: Arr, off, v) -> None:
    if a.t.dtype == BOOL:
        v = lw.b.zext(v, I8)
    lw.b.store(v, lw.b.gep(a.data, [off]))


def fail(lw, code: int) -> None:
    """Record an error; the call goes on, on harmless values."""
    lw.b.call(lw.rt.fail, [lw.ctx, I32(code)])


def raise_(lw, code: int) -> None:
    """Record an error and end the call here: for errors after which the loops that
    follow would reach memory outside their arrays (shapes that do not match)."""
    lw.b.call(lw.rt.raise_, [lw.ctx, I32(code)])


# ---------------------------------------------------------------------------
# Loops


def counted(lw, n, body: Callable[[ir.Value], None], name: str = "i") -> None:
    """for k in range(n): body(k)."""
    b = lw.b
    pre = b.block
    head = lw.fn.append_basic_block(f"{name}.loop")
    inner = lw.fn.append_basic_block(f"{name}.body")
    done = lw.fn.append_basic_block(f"{name}.end")
    b.branch(head)
    b.position_at_end(head)
    k = b.phi(I64, name=name)
    k.add_incoming(I64(0), pre)
    b.cbranch(b.icmp_signed("<", k, n), inner, done)
    b.position_at_end(inner)
    body(k)
    k.add_incoming(b.add(k, I64(1)), b.block)
    b.branch(head)
    b.position_at_end(done)


def nd_loop(lw, shape: List, body: Callable[[List], None]) -> None:
    """Nested loops over every index of `shape` (row-major)."""
    def level(k: int, idx: List) -> None:
        if k == len(shape):
            body(idx)
            return
        counted(lw, shape[k], lambda i: level(k + 1, idx + [i]), f"d{k}")
    level(0, [])


def accumulate_loop(lw, n, init: ir.Value, step: Callable[[ir.Value, ir.Value], ir.Value]):
    """acc = init; for k in range(n): acc = step(acc, k); return acc."""
    b = lw.b
    pre = b.block
    head = lw.fn.append_basic_block("acc.loop")
    inner = lw.fn.append_basic_block("acc.body")
    done = lw.fn.append_basic_block("acc.end")
    b.branch(head)
    b.position_at_end(head)
    k = b.phi(I64)
    acc = b.phi(init.type)
    k.add_incoming(I64(0), pre)
    acc.add_incoming(init, pre)
    b.cbranch(b.icmp_signed("<", k, n), inner, done)
    b.position_at_end(inner)
    nxt = step(acc, k)
    k.add_incoming(b.add(k, I64(1)), b.block)
    acc.add_incoming(nxt, b.block)
    b.branch(head)
    b.position_at_end(done)
    return acc


# ---------------------------------------------------------------------------
# Broadcasting and elementwise ops


def broadcast_shape(lw, arrays: List[Arr], ndim: int, error: int = ERR_SHAPE) -> List:
    """The shape `arrays` broadcast to (`error` raised where they do not)."""
    b = lw.b
    shape = []
    for k in range(ndim):
        d = I64(1)
        for a in arrays:
            j = k - (ndim - a.ndim)
            if j < 0:
                continue
            x = a.shape[j]
            bad = b.and_(b.and_(b.icmp_signed("!=", d, I64(1)), b.icmp_signed("!=", x, I64(1))),
                         b.icmp_signed("!=", d, x))
            with b.if_then(bad, likely=False):
                raise_(lw, error)
            d = b.select(b.icmp_signed("==", d, I64(1)), x, d)
        shape.append(d)
    return shape


def broadcast_offset(b, a: Arr, idx: List) -> ir.Value:
    """Offset of the element of `a` that broadcasts to index `idx` of the result."""
    off = I64(0)
    lead = len(idx) - a.ndim
    for k in range(a.ndim):
        i = b.select(b.icmp_signed("==", a.shape[k], I64(1)), I64(0), idx[lead + k])
        off = b.add(off, b.mul(i, a.strides[k]))
    return off


def is_contiguous_as(b, a: Arr, shape: List) -> ir.Value:
    ok = I1(1)
    if a.ndim != len(shape):
        return I1(0)
    expect = I64(1)
    for k in reversed(range(a.ndim)):
        ok = b.and_(ok, b.icmp_signed("==", a.shape[k], shape[k]))
        ok = b.and_(ok, b.or_(b.icmp_signed("==", a.strides[k], expect),
                              b.icmp_signed("==", a.shape[k], I64(1))))
        expect = b.mul(expect, a.shape[k])
    return ok


def elementwise(lw, name: str, operands: List[Value], rt: ArrayType, attrs) -> ir.Value:
    """The op on every element: one flat loop over contiguous operands of the result's
    shape; an operand that is strided or broadcast is first copied into that form by a
    helper shared by the whole module."""
    b = lw.b
    arrays = [unpack(lw, v) if isinstance(v.type, ArrayType) else None for v in operands]
    shape = broadcast_shape(lw, [a for a in arrays if a is not None], rt.ndim)
    flat = [dense_as(lw, a, shape) if a is not None else None for a in arrays]
    out = alloc(lw, rt, shape)

    def body(k):
        args = [(load(lw, a, k), v.type.dtype) if a is not None else (lw.get(v), v.type)
                for a, v in zip(flat, operands)]
        lw.in_array, lw.op_name = True, name
        r = scalar.emit(lw, name, args, rt.dtype, attrs)
        lw.in_array = False
        store(lw, out, k, r)
    counted(lw, product(b, shape), body, "flat")
    return pack(lw, out)


def dense_as(lw, a: Arr, shape: List) -> Arr:
    """`a` as a contiguous array of `shape`: itself when it already is, else a copy
    broadcast to `shape`."""
    b = lw.b
    ok = is_contiguous_as(b, a, shape)
    with b.if_else(ok, likely=True) as (then, otherwise):
        with then:
            then_bb = b.block
        with otherwise:
            helper = broadcast_helper(lw.ml, a.t, len(shape))
            copied = b.call(helper, [lw.ctx, pack(lw, a)] + list(shape))
            data = b.extract_value(copied, 0)
            else_bb = b.block
    phi = b.phi(a.data.type)
    phi.add_incoming(a.data, then_bb)
    phi.add_incoming(data, else_bb)
    return Arr(ArrayType(a.t.dtype, len(shape)), phi, shape, contiguous_strides(b, shape))


def broadcast_helper(ml, t: ArrayType, ndim: int) -> ir.Function:
    """`adjoin.broadcast(ctx, a, shape...)`: a contiguous copy of `a` broadcast to shape."""
    from .lower import FunctionLowering
    key = ("broadcast", str(t), ndim)
    fn = ml.helpers.get(key)
    if fn is not None:
        return fn
    out_t = ArrayType(t.dtype, ndim)
    fnty = ir.FunctionType(array_type(out_t), [CTXP, array_type(t)] + [I64] * ndim)
    fn = ir.Function(ml.m, fnty, f"adjoin.broadcast.{t.dtype}.{t.ndim}.{ndim}")
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    ml.helpers[key] = fn
    lw = FunctionLowering(ml, None, fn)
    d = fn.args[1]
    b = lw.b
    src = Arr(t, b.extract_value(d, 0), [b.extract_value(d, [1, k]) for k in range(t.ndim)],
              [b.extract_value(d, [2, k]) for k in range(t.ndim)])
    out = alloc(lw, out_t, list(fn.args[2:]))
    nd_loop(lw, out.shape, lambda idx: store(lw, out, offset(b, out, idx),
                                            load(lw, src, broadcast_offset(b, src, idx))))
    b.ret(pack(lw, out))
    return fn


def copy_into(lw, dst: Arr, src: Arr, add: bool = False) -> None:
    """dst[...] = src (or += src), src broadcast to dst's shape; one flat loop with
    unit strides (which vectorizes) where both are contiguous and of one shape."""
    b = lw.b
    broadcast_shape(lw, [dst, src], dst.ndim)

    def element(dst_off, src_off):
        v = scalar.convert(b, load(lw, src, src_off), src.t.dtype, dst.t.dtype)
        if add:
            cur = load(lw, dst, dst_off)
            v = b.fadd(cur, v) if dst.t.dtype.is_float else b.add(cur, v)
        store(lw, dst, dst_off, v)
    flat = b.and_(is_contiguous_as(b, dst, dst.shape), is_contiguous_as(b, src, dst.shape))
    with b.if_else(flat, likely=True) as (dense, general):
        with dense:
            counted(lw, product(b, dst.shape), lambda k: element(k, k), "flat")
        with general:
            nd_loop(lw, dst.shape, lambda idx: element(offset(b, dst, idx),
                                                       broadcast_offset(b, src, idx)))


def fill(lw, dst: Arr, value, add: bool = False) -> None:
    b = lw.b

    def body(idx):
        off = offset(b, dst, idx)
        v = value
        if add:
            cur = load(lw, dst, off)
            v = b.fadd(cur, v) if dst.t.dtype.is_float else b.add(cur, v)
        store(lw, dst, off, v)
    nd_loop(lw, dst.shape, body)


def copy_array(lw, a: Arr) -> Arr:
    out = alloc(lw, a.t, a.shape)
    copy_into(lw, out, a)
    return out


# ---------------------------------------------------------------------------
# Indexing


def wrap_index(lw, i, dim):
    """A Python index (negative counts from the end), bounds-checked."""
    b = lw.b
    i = b.select(b.icmp_signed("<", i, I64(0)), b.add(i, dim), i)
    if BOUNDS:
        ok = b.and_(b.icmp_signed(">=", i, I64(0)), b.icmp_signed("<", i, dim))
        with b.if_then(b.not_(ok), likely=False):
            fail(lw, ERR_INDEX)
        return i, ok
    return i, I1(1)


def slice_range(lw, dim, lo, hi, step):
    """(start, length, step) of Python's slice lo:hi:step over `dim` elements."""
    b = lw.b
    step = step if step is not None else I64(1)
    with b.if_then(b.icmp_signed("==", step, I64(0)), likely=False):
        fail(lw, ERR_SHAPE)
    step = b.select(b.icmp_signed("==", step, I64(0)), I64(1), step)
    neg = b.icmp_signed("<", step, I64(0))

    def adjust(x, default_pos, default_neg):
        if x is None:
            return b.select(neg, default_neg, default_pos)
        x = b.select(b.icmp_signed("<", x, I64(0)), b.add(x, dim), x)
        low = b.select(neg, I64(-1), I64(0))
        high = b.select(neg, b.sub(dim, I64(1)), dim)
        x = b.select(b.icmp_signed("<", x, I64(0)), low, x)
        return b.select(b.icmp_signed(">=", x, dim), high, x)
    start = adjust(lo, I64(0), b.sub(dim, I64(1)))
    stop = adjust(hi, dim, I64(-1))
    up = b.add(b.sdiv(b.sub(b.sub(stop, start), I64(1)), step), I64(1))
    down = b.add(b.sdiv(b.sub(b.sub(start, stop), I64(1)), b.neg(step)), I64(1))
    length = b.select(neg, b.select(b.icmp_signed("<", stop, start), down, I64(0)),
                      b.select(b.icmp_signed("<", start, stop), up, I64(0)))
    return start, length, step


def index_view(lw, a: Arr, spec, operands: List[Value], result_t, trusted=None):
    """The element offset (a full integer index) or the view descriptor for `spec`.
    Axes in `trusted` hold indices known to be in range (bounds.py): used as they are;
    where `trusted[axis]` is true, the axis is also known to have stride 1."""
    trusted = trusted or {}
    b = lw.b
    base = I64(0)
    shape, strides = [], []
    vals = [lw.get(v) for v in operands]
    ok_all = I1(1)
    k = 0
    for axis, e in enumerate(spec):
        dim, stride = a.shape[axis], a.strides[axis]
        if trusted.get(axis):
            stride = I64(1)
        if e == "i":
            i, ok = (vals[k], I1(1)) if axis in trusted else wrap_index(lw, vals[k], dim)
            ok_all = b.and_(ok_all, ok)
            k += 1
            base = b.add(base, b.mul(b.select(ok, i, I64(0)), stride))
            continue
        parts = []
        for flag in e[1:]:
            parts.append(vals[k] if flag == "1" else None)
            k += flag == "1"
        start, length, step = slice_range(lw, dim, *parts)
        base = b.add(base, b.mul(start, stride))
        shape.append(length)
        strides.append(b.mul(stride, step))
    shape += a.shape[len(spec):]
    strides += a.strides[len(spec):]
    if isinstance(result_t, ArrayType):
        data = b.gep(a.data, [base])
        return Arr(result_t, data, shape, strides), ok_all
    return base, ok_all


def element_pointer(lw, a: Arr, off, ok):
    """Pointer to element `off`, or to the scratch cell when the index was bad."""
    b = lw.b
    p = b.gep(a.data, [off])
    if not BOUNDS:
        return p
    scratch = b.bitcast(lw.rt.scratch(b, lw.ctx), p.type)
    return b.select(ok, p, scratch)


def op_getitem(lw, op: Op) -> None:
    a = unpack(lw, op.operands[0])
    res, ok = index_view(lw, a, op.attrs["index"], op.operands[1:], op.result.type,
                         lw.trusted.get(id(op)))
    if isinstance(op.result.type, ArrayType):
        lw.set(op.result, pack(lw, res))
        return
    v = lw.b.load(element_pointer(lw, a, res, ok))
    if a.t.dtype == BOOL:
        v = lw.b.icmp_unsigned("!=", v, I8(0))
    lw.set(op.result, v)


def op_setitem(lw, op: Op, add: bool = False) -> None:
    b = lw.b
    target = unpack(lw, op.operands[0])
    if not op.attrs.get("inplace"):
        target = copy_array(lw, target)
    spec = op.attrs["index"]
    n_idx = sum(1 if e == "i" else e[1:].count("1") for e in spec)
    value = op.operands[1 + n_idx]
    region_t = op.result.type if (len(spec) < target.ndim or any(e != "i" for e in spec)) \
        else op.result.type.dtype
    if isinstance(region_t, ArrayType):
        region_t = ArrayType(target.t.dtype, target.ndim - sum(e == "i" for e in spec))
    res, ok = index_view(lw, target, spec, op.operands[1:1 + n_idx], region_t,
                         lw.trusted.get(id(op)))
    if isinstance(region_t, ArrayType):
        if isinstance(value.type, ArrayType):
            copy_into(lw, res, unpack(lw, value), add)
        else:
            v = scalar.convert(b, lw.get(value), value.type, target.t.dtype)
            fill(lw, res, v, add)
    else:
        p = element_pointer(lw, target, res, ok)
        v = scalar.convert(b, lw.get(value), value.type, target.t.dtype)
        stored = b.zext(v, I8) if target.t.dtype == BOOL else v
        if add:
            cur = b.load(p)
            stored = b.fadd(cur, stored) if target.t.dtype.is_float else b.add(cur, stored)
        b.store(stored, p)
    lw.set(op.result, pack(lw, target))


# ---------------------------------------------------------------------------
# Dispatch


INLINE = ("getitem", "dim", "size", "transpose", "expand_dims")


def _element_write(op: Op) -> bool:
    spec = op.attrs.get("index", ())
    return all(e == "i" for e in spec) and len(spec) == op.operands[0].type.ndim


def emit(lw, op: Op) -> None:
    handler = _HANDLERS.get(op.name)
    if handler is None:
        d = OPS.get(op.name)
        if d is not None and ("elementwise" in d.tags or op.name in ("convert",)) \
                and isinstance(op.result.type, ArrayType):
            handler = _elementwise_op
    if handler is None:
        raise BackendError(f"the llvm backend cannot compile '{op.name}' on "
                           f"{', '.join(str(v.type) for v in op.operands)}; use "
                           "backend=\"python\"", op.loc, op.name)
    cheap = op.name in INLINE or (op.name in ("setitem", "addat") and _element_write(op))
    if cheap:
        handler(lw, op)
    else:
        lw.outline(op, handler)


def _elementwise_op(lw, op: Op) -> None:
    lw.set(op.result, elementwise(lw, op.name, op.operands, op.result.type, op.attrs))


_HANDLERS = {}


def handler(*names: str):
    def deco(fn):
        for n in names:
            _HANDLERS[n] = fn
        return fn
    return deco


@handler("select")
def op_select(lw, op: Op) -> None:
    """`a if c else b` for arrays (a scalar condition): one of the two descriptors."""
    c, a, b = (lw.get(v) for v in op.operands)
    lw.set(op.result, lw.b.select(c, a, b))


handler("getitem")(op_getitem)
handler("setitem")(op_setitem)
handler("addat")(lambda lw, op: op_setitem(lw, op, add=True))

# linalg, factorizations, jacobi and shapes_and_reductions register the remaining handlers
# (batched_matmul after linalg: it takes over matmul)
from . import factorizations, gather, jacobi, linalg, shapes_and_reductions  # noqa: E402,F401
from . import batched_matmul, cumulative  # noqa: E402,F401
