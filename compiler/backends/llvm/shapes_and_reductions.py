"""Array ops in LLVM IR beside arrays.py: construction, shapes, reductions, and the adjoint
helpers sum_to and expand_dims (linear algebra is in linalg.py).

Assumes: the descriptor helpers of `arrays.py`.
Guarantees: NumPy's results (ordered summation aside); empty reductions without
an identity (max of nothing) record error 2.
"""
from __future__ import annotations

from llvmlite import ir

from ...ir.core import Op
from ...ir.types import ArrayType, BOOL, F64 as T_F64, I64 as T_I64, ScalarType
from . import scalar
from .arrays import (Arr, accumulate_loop, alloc, contiguous_strides, copy_array, copy_into,
                     counted, fill, handler, is_contiguous_as, load, nd_loop, offset,
                     pack, product, raise_, store, unpack)
from .runtime_ir import ERR_SHAPE, ERR_SIZE, ERR_ZERODIV
from .types import I1, I64, lltype


def const_like(t: ScalarType, x: float):
    return ir.Constant(lltype(t), int(x) if t in (T_I64, BOOL) else float(x))


# -- construction -------------------------------------------------------------------------


@handler("zeros", "ones", "empty", "full")
def op_alloc(lw, op: Op) -> None:
    t = op.result.type
    dims = op.operands[:-1] if op.name == "full" else op.operands
    shape = [scalar.convert(lw.b, lw.get(d), d.type, T_I64) for d in dims]
    out = alloc(lw, t, shape)
    if op.name == "full":
        v = op.operands[-1]
        fill(lw, out, scalar.convert(lw.b, lw.get(v), v.type, t.dtype))
    elif op.name != "empty":
        fill(lw, out, const_like(t.dtype, 1.0 if op.name == "ones" else 0.0))
    lw.set(op.result, pack(lw, out))


@handler("zeros_like", "ones_like", "empty_like", "full_like")
def op_alloc_like(lw, op: Op) -> None:
    like = unpack(lw, op.operands[0])
    t = op.result.type
    out = alloc(lw, t, like.shape)
    if op.name == "full_like":
        v = op.operands[1]
        fill(lw, out, scalar.convert(lw.b, lw.get(v), v.type, t.dtype))
    elif op.name != "empty_like":
        fill(lw, out, const_like(t.dtype, 1.0 if op.name == "ones_like" else 0.0))
    lw.set(op.result, pack(lw, out))


@handler("copy")
def op_copy(lw, op: Op) -> None:
    lw.set(op.result, pack(lw, copy_array(lw, unpack(lw, op.operands[0]))))


@handler("pack")
def op_pack(lw, op: Op) -> None:
    t = op.result.type
    b = lw.b
    items = op.operands
    if isinstance(items[0].type, ArrayType):
        first = unpack(lw, items[0])
        out = alloc(lw, t, [I64(len(items))] + first.shape)
        for k, v in enumerate(items):
            row = Arr(ArrayType(t.dtype, t.ndim - 1), b.gep(out.data, [b.mul(I64(k),
                                                                          out.strides[0])]),
                      out.shape[1:], out.strides[1:])
            copy_into(lw, row, unpack(lw, v))
    else:
        out = alloc(lw, t, [I64(len(items))])
        for k, v in enumerate(items):
            store(lw, out, I64(k), scalar.convert(b, lw.get(v), v.type, t.dtype))
    lw.set(op.result, pack(lw, out))


@handler("arange")
def op_arange(lw, op: Op) -> None:
    b, t = lw.b, op.result.type
    start, stop, step = (lw.get(v) for v in op.operands)
    kinds = [v.type for v in op.operands]
    if t.dtype == T_I64:
        with b.if_then(b.icmp_signed("==", step, I64(0)), likely=False):
            raise_(lw, ERR_ZERODIV)  # NumPy's ZeroDivisionError, where range() has ValueError
        n = lw.trip_count(start, stop, step)
        out = alloc(lw, t, [n])
        counted(lw, n, lambda k: store(lw, out, k, b.add(start, b.mul(k, step))))
    else:
        s0, s1, st = (scalar.convert(b, v, k, T_F64) for v, k in zip((start, stop, step), kinds))
        n = _float_arange_length(lw, s0, s1, st)
        out = alloc(lw, t, [n])
        counted(lw, n, lambda k: store(lw, out, k, b.fadd(s0, b.fmul(b.sitofp(k, s0.type), st))))
    lw.set(op.result, pack(lw, out))


def _float_arange_length(lw, s0, s1, st) -> ir.Value:
    """NumPy's length of arange(s0, s1, st): ceil((s1 - s0) / st), with 1 where the
    quotient underflows to +0 (0 where to -0); a zero step raises ZeroDivisionError,
    a length that is nan or past int64 ValueError."""
    b = lw.b
    with b.if_then(b.fcmp_ordered("==", st, ir.Constant(st.type, 0.0)), likely=False):
        raise_(lw, ERR_ZERODIV)
    zero = ir.Constant(st.type, 0.0)
    delta = b.fsub(s1, s0)
    quotient = b.fdiv(delta, st)
    span = b.call(lw.scalar.intrinsic("ceil", quotient.type), [quotient])
    fits = b.and_(b.fcmp_ordered(">=", span, ir.Constant(span.type, -2.0 ** 63)),
                  b.fcmp_ordered("<", span, ir.Constant(span.type, 2.0 ** 63)))
    with b.if_then(b.not_(fits), likely=False):
        raise_(lw, ERR_SIZE)
    n = b.fptosi(b.select(fits, span, zero), I64)
    underflow = b.and_(b.fcmp_ordered("==", quotient, zero), b.fcmp_unordered("!=", delta, zero))
    positive = b.icmp_signed(">=", b.bitcast(quotient, I64), I64(0))  # the sign bit
    n = b.select(underflow, b.zext(positive, I64), n)
    return b.select(b.icmp_signed(">", n, I64(0)), n, I64(0))


@handler("linspace")
def op_linspace(lw, op: Op) -> None:
    b = lw.b
    a, z, n = (lw.get(v) for v in op.operands)
    n = scalar.convert(b, n, op.operands[2].type, T_I64)
    out = alloc(lw, op.result.type, [n])
    div = b.sitofp(b.select(b.icmp_signed(">", n, I64(1)), b.sub(n, I64(1)), I64(1)), a.type)
    step = b.fdiv(b.fsub(z, a), div)

    def body(k):
        v = b.fadd(a, b.fmul(b.sitofp(k, a.type), step))
        last = b.and_(b.icmp_signed("==", k, b.sub(n, I64(1))), b.icmp_signed(">", n, I64(1)))
        store(lw, out, k, b.select(last, z, v))
    counted(lw, n, body)
    lw.set(op.result, pack(lw, out))


# -- shapes ----------------------------------------------------------------------------------


@handler("dim")
def op_dim(lw, op: Op) -> None:
    a = unpack(lw, op.operands[0])
    lw.set(op.result, a.shape[op.attrs["axis"] % a.ndim])


@handler("size")
def op_size(lw, op: Op) -> None:
    lw.set(op.result, product(lw.b, unpack(lw, op.operands[0]).shape))


@handler("transpose")
def op_transpose(lw, op: Op) -> None:
    a = unpack(lw, op.operands[0])
    axes = op.attrs.get("axes") or range(a.ndim - 1, -1, -1)
    lw.set(op.result, pack(lw, Arr(a.t, a.data, [a.shape[k] for k in axes],
                                   [a.strides[k] for k in axes])))


def _reshaped(lw, a: Arr, t: ArrayType, shape) -> Arr:
    """A contiguous view of `a` with `shape` (copying first when `a` is strided)."""
    b = lw.b
    with b.if_then(b.icmp_signed("!=", product(b, shape), product(b, a.shape)), likely=False):
        raise_(lw, ERR_SHAPE)
    data = _contiguous_data(lw, a, is_contiguous_as(b, a, a.shape))
    return Arr(t, data, shape, contiguous_strides(b, shape))


def _contiguous_data(lw, a: Arr, contig):
    """`a`'s data if it is contiguous, else a contiguous copy's."""
    b = lw.b
    with b.if_else(contig) as (then, otherwise):
        with then:
            then_bb = b.block
        with otherwise:
            copied = copy_array(lw, a).data
            else_bb = b.block
    phi = b.phi(a.data.type)
    phi.add_incoming(a.data, then_bb)
    phi.add_incoming(copied, else_bb)
    return phi


@handler("reshape")
def op_reshape(lw, op: Op) -> None:
    a = unpack(lw, op.operands[0])
    shape = [scalar.convert(lw.b, lw.get(d), d.type, T_I64) for d in op.operands[1:]]
    shape = _infer_minus_one(lw, a, shape)
    lw.set(op.result, pack(lw, _reshaped(lw, a, op.result.type, shape)))


def _infer_minus_one(lw, a: Arr, shape):
    """A -1 dimension takes what the others leave; more than one -1, another negative
    dimension, or a -1 beside a zero dimension raises ValueError as NumPy does."""
    b = lw.b
    known, unknown, bad = I64(1), I64(0), I1(0)
    for d in shape:
        minus_one = b.icmp_signed("==", d, I64(-1))
        unknown = b.add(unknown, b.zext(minus_one, I64))
        bad = b.or_(bad, b.icmp_signed("<", d, I64(-1)))
        known = b.mul(known, b.select(minus_one, I64(1), d))
    zero = b.icmp_signed("==", known, I64(0))
    bad = b.or_(bad, b.icmp_signed(">", unknown, I64(1)))
    with b.if_then(b.or_(bad, b.and_(zero, b.icmp_signed(">", unknown, I64(0)))),
                   likely=False):
        raise_(lw, ERR_SHAPE)
    rest = b.sdiv(product(b, a.shape), b.select(zero, I64(1), known))
    return [b.select(b.icmp_signed("==", d, I64(-1)), rest, d) for d in shape]


@handler("ravel")
def op_ravel(lw, op: Op) -> None:
    a = unpack(lw, op.operands[0])
    shape = [product(lw.b, a.shape)]
    lw.set(op.result, pack(lw, _reshaped(lw, a, op.result.type, shape)))


@handler("expand_dims")
def op_expand_dims(lw, op: Op) -> None:
    v = op.operands[0]
    axis = op.attrs.get("axis", 0)
    if not isinstance(v.type, ArrayType):
        out = alloc(lw, op.result.type, [I64(1)])
        store(lw, out, I64(0), lw.get(v))
        lw.set(op.result, pack(lw, out))
        return
    a = unpack(lw, v)
    shape = a.shape[:axis] + [I64(1)] + a.shape[axis:]
    strides = a.strides[:axis] + [I64(0)] + a.strides[axis:]
    lw.set(op.result, pack(lw, Arr(op.result.type, a.data, shape, strides)))


# -- reductions ---------------------------------------------------------------------------------


def _reduce_step(lw, name: str, t: ScalarType):
    b = lw.b

    def step(acc, x):
        if name in ("sum", "mean"):
            return b.fadd(acc, x) if t.is_float else b.add(acc, x)
        if name == "prod":
            return b.fmul(acc, x) if t.is_float else b.mul(acc, x)
        op = ">" if name == "amax" else "<"
        if t.is_float:  # NaN wins, as in NumPy
            take = b.or_(b.fcmp_ordered(op, x, acc), b.fcmp_unordered("uno", x, x))
            return b.select(b.fcmp_unordered("uno", acc, acc), acc, b.select(take, x, acc))
        cmp = b.icmp_unsigned if t == BOOL else b.icmp_signed  # i1 true is -1 signed
        return b.select(cmp(op, x, acc), x, acc)
    return step


def _identity(name: str, t: ScalarType):
    if name in ("sum", "mean"):
        return const_like(t, 0.0)
    return const_like(t, 1.0)


def _reduce_all(lw, a: Arr, name: str, rt: ScalarType):
    """Reduce every element of `a` (row-major order)."""
    b = lw.b
    t = a.t.dtype
    work = T_I64 if t == BOOL and name in ("sum", "prod") else t
    n = product(b, a.shape)
    if name in ("amax", "amin"):
        with b.if_then(b.icmp_signed("==", n, I64(0)), likely=False):
            raise_(lw, ERR_SHAPE)
    dense = _contiguous_data(lw, a, is_contiguous_as(b, a, a.shape))
    flat = Arr(a.t, dense, [n], [I64(1)])
    elem = (lambda k: scalar.convert(b, load(lw, flat, k), t, work))
    if name in ("argmax", "argmin"):
        return _arg_extreme(lw, flat, name)
    if name in ("amax", "amin"):
        init = elem(I64(0))
        step = _reduce_step(lw, name, work)
        acc = accumulate_loop(lw, n, init, lambda acc, k: step(acc, elem(k)))
    else:
        step = _reduce_step(lw, name, work)
        acc = accumulate_loop(lw, n, _identity(name, work), lambda acc, k: step(acc, elem(k)))
    if name == "mean":
        acc = b.fdiv(scalar.convert(b, acc, work, rt), b.sitofp(n, lltype(rt)))
    return scalar.convert(b, acc, work if name != "mean" else rt, rt)


def _arg_extreme(lw, flat: Arr, name: str):
    b = lw.b
    t = flat.t.dtype
    best = ir.Constant(ir.LiteralStructType([lltype(t), I64]), None)
    best = b.insert_value(best, load(lw, flat, I64(0)), 0)
    op = ">" if name == "argmax" else "<"

    def step(acc, k):
        x, cur = load(lw, flat, k), b.extract_value(acc, 0)
        if t.is_float:
            take = b.and_(b.fcmp_ordered("ord", cur, cur),
                          b.or_(b.fcmp_ordered(op, x, cur), b.fcmp_unordered("uno", x, x)))
        else:
            take = (b.icmp_unsigned if t == BOOL else b.icmp_signed)(op, x, cur)
        nxt = b.insert_value(acc, b.select(take, x, cur), 0)
        return b.insert_value(nxt, b.select(take, k, b.extract_value(acc, 1)), 1)
    return b.extract_value(accumulate_loop(lw, flat.shape[0], best, step), 1)


@handler("sum", "prod", "mean", "amax", "amin", "argmax", "argmin")
def op_reduce(lw, op: Op) -> None:
    a = unpack(lw, op.operands[0])
    axis = op.attrs.get("axis")
    rt = op.result.type
    if axis is None or a.ndim == 1:
        lw.set(op.result, _reduce_all(lw, a, op.name, rt if isinstance(rt, ScalarType)
                                      else rt.dtype))
        return
    b = lw.b
    axis %= a.ndim
    out_t = rt if isinstance(rt, ArrayType) else ArrayType(rt, 1)
    out = alloc(lw, out_t, a.shape[:axis] + a.shape[axis + 1:])

    def body(idx):
        lane = Arr(a.t, b.gep(a.data, [offset(b, Arr(a.t, a.data, a.shape[:axis] +
                                                      a.shape[axis + 1:],
                                                      a.strides[:axis] + a.strides[axis + 1:]),
                                                  idx)]),
                   [a.shape[axis]], [a.strides[axis]])
        store(lw, out, offset(b, out, idx), _reduce_all(lw, lane, op.name, out_t.dtype))
    nd_loop(lw, out.shape, body)
    lw.set(op.result, pack(lw, out))


# -- adjoint helpers -----------------------------------------------------------------------------


@handler("sum_to")
def op_sum_to(lw, op: Op) -> None:
    """g brought to like's shape: summed over the axes a broadcast added or stretched,
    or, when g is the smaller one (a lazily broadcast adjoint), expanded."""
    b = lw.b
    g_v, like_v = op.operands
    if not isinstance(like_v.type, ArrayType):
        lw.set(op.result, _reduce_all(lw, unpack(lw, g_v), "sum", like_v.type))
        return
    like, t = unpack(lw, like_v), like_v.type
    if not isinstance(g_v.type, ArrayType):
        out = alloc(lw, t, like.shape)
        fill(lw, out, scalar.convert(b, lw.get(g_v), g_v.type, t.dtype))
        lw.set(op.result, pack(lw, out))
        return
    g = unpack(lw, g_v)
    if g.ndim == like.ndim:  # the common case: nothing was broadcast, g is the answer
        same = I1(1)
        for k in range(g.ndim):
            same = b.and_(same, b.icmp_signed("==", g.shape[k], like.shape[k]))
        pre = b.block
        work = lw.fn.append_basic_block("sum_to.work")
        done = lw.fn.append_basic_block("sum_to.done")
        b.cbranch(same, done, work)
        b.position_at_end(work)
        result = _sum_to_work(lw, g, like, t)
        work_end = b.block
        b.branch(done)
        b.position_at_end(done)
        phi = b.phi(result.type)
        phi.add_incoming(lw.get(g_v), pre)
        phi.add_incoming(result, work_end)
        lw.set(op.result, phi)
        return
    lw.set(op.result, _sum_to_work(lw, g, like, t))


def _sum_to_work(lw, g: Arr, like: Arr, t: ArrayType):
    b = lw.b
    out = alloc(lw, t, like.shape)
    if g.ndim < like.ndim:
        copy_into(lw, out, g)
        return pack(lw, out)
    lead = g.ndim - like.ndim
    expand = I1(1) if lead == 0 else I1(0)
    for k in range(like.ndim):
        if lead == 0:
            expand = b.and_(expand, b.or_(b.icmp_signed("==", g.shape[k], like.shape[k]),
                                          b.icmp_signed("==", g.shape[k], I64(1))))
    with b.if_else(expand) as (then, otherwise):
        with then:
            copy_into(lw, out, g)
        with otherwise:
            fill(lw, out, const_like(t.dtype, 0.0))

            def body(idx):
                mapped = [b.select(b.icmp_signed("==", like.shape[k], I64(1)), I64(0),
                                   idx[lead + k]) for k in range(like.ndim)]
                dst = offset(b, out, mapped)
                v = scalar.convert(b, load(lw, g, offset(b, g, idx)), g.t.dtype, t.dtype)
                store(lw, out, dst, b.fadd(load(lw, out, dst), v))
            nd_loop(lw, g.shape, body)
    return pack(lw, out)
