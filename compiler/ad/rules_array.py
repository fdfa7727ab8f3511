"""Derivative rules for array ops: indexing, reductions, linear algebra, shapes.

Assumes: as in `rules`; array shapes are read from primal values with `dim`.
Guarantees: reverse and forward rule side by side for each op. Indexing
contributes a `Scatter` (an index-add into the operand's adjoint, in place when
possible) rather than a dense array; reductions contribute a `Broadcast`.
Ties in max/min split the adjoint evenly (see registry.CONVENTIONS).
"""
from __future__ import annotations

from ..ir.types import ArrayType
from .registry import Broadcast, Scatter, TuplePart, jvp_rule, vjp_rule


def _spec(op):
    return op.attrs["index"]


def _index(op):
    return op.operands[1:1 + _count(_spec(op))]


def _count(spec) -> int:
    return sum(1 if e == "i" else e[1:].count("1") for e in spec)


# -- indexing ---------------------------------------------------------------------


@vjp_rule("getitem")
def getitem_vjp(ad, op, g, need):
    return [Scatter(_spec(op), _index(op), g[0])] + [None] * (len(op.operands) - 1)


@jvp_rule("getitem")
def getitem_jvp(ad, op, d):
    return [ad.b.op("getitem", [d[0]] + list(_index(op)), {"index": _spec(op)}).result]


@vjp_rule("setitem")
def setitem_vjp(ad, op, g, need):
    idx = list(_index(op))
    value = op.operands[-1]
    v_bar = None
    if need[-1]:  # read the written part first, so that zeroing it can happen in place
        part = ad.b.op("getitem", [g[0]] + idx, {"index": _spec(op)}).result
        if isinstance(part.type, ArrayType):
            part = ad.copy(part)  # a view of g otherwise, which the zeroing would clear
        v_bar = ad.unbroadcast(part, value)
    x_bar = None
    if need[0] and id(op) in ad.first_writes:
        x_bar = g[0]  # nothing reads the overwritten element's adjoint (first_writes.py)
    elif need[0]:
        zero = ad.b.const(0.0, g[0].type.dtype)
        x_bar = ad.b.op("setitem", [g[0]] + idx + [zero], {"index": _spec(op)}).result
    return [x_bar] + [None] * len(idx) + [v_bar]


@jvp_rule("setitem")
def setitem_jvp(ad, op, d):
    x, value = op.operands[0], op.operands[-1]
    base = d[0] if d[0] is not None else ad.zero(x)
    dv = d[-1] if d[-1] is not None else ad.zero(value)
    return [ad.b.op("setitem", [base] + list(_index(op)) + [dv], {"index": _spec(op)}).result]


@vjp_rule("addat")
def addat_vjp(ad, op, g, need):
    idx = list(_index(op))
    value = op.operands[-1]
    v_bar = None
    if need[-1]:
        part = ad.b.op("getitem", [g[0]] + idx, {"index": _spec(op)}).result
        v_bar = ad.unbroadcast(part, value)
    return [g[0] if need[0] else None] + [None] * len(idx) + [v_bar]


@jvp_rule("addat")
def addat_jvp(ad, op, d):
    x = op.operands[0]
    if d[-1] is None:
        return [d[0]]
    base = d[0] if d[0] is not None else ad.zero(x)
    return [ad.b.op("addat", [base] + list(_index(op)) + [d[-1]], {"index": _spec(op)}).result]


# -- reductions ----------------------------------------------------------------------


def _expand(ad, op, v):
    """A reduced value with the reduced axis put back (size 1), to broadcast against x."""
    axis = op.attrs.get("axis")
    return v if axis is None else ad.expand_dims(v, axis=axis)


def _count_of(ad, op):
    x = op.operands[0]
    axis = op.attrs.get("axis")
    n = ad.size(x) if axis is None else ad.dim(x, axis=axis)
    return ad.b.convert(n, op.result.type.dtype if isinstance(op.result.type, ArrayType)
                        else op.result.type)


@vjp_rule("sum")
def sum_vjp(ad, op, g, need):
    return [Broadcast(_expand(ad, op, g[0]))]


@jvp_rule("sum")
def sum_jvp(ad, op, d):
    return [ad.b.op("sum", [d[0]], dict(op.attrs)).result]


@vjp_rule("mean")
def mean_vjp(ad, op, g, need):
    return [Broadcast(_expand(ad, op, ad.div(g[0], _count_of(ad, op))))]


@jvp_rule("mean")
def mean_jvp(ad, op, d):
    return [ad.b.op("mean", [d[0]], dict(op.attrs)).result]


def _extremum_weights(ad, op):
    """1/k at the k elements equal to the max (or min), 0 elsewhere."""
    x = op.operands[0]
    hit = ad.b.convert(ad.eq(x, _expand(ad, op, op.result)), x.type.dtype)
    count = ad.b.op("sum", [hit], dict(op.attrs)).result
    return ad.div(hit, _expand(ad, op, count))


def _extremum_vjp(ad, op, g, need):
    return [ad.mul(_extremum_weights(ad, op), _expand(ad, op, g[0]))]


def _extremum_jvp(ad, op, d):
    return [ad.b.op("sum", [ad.mul(_extremum_weights(ad, op), d[0])], dict(op.attrs)).result]


for _name in ("amax", "amin"):
    vjp_rule(_name)(_extremum_vjp)
    jvp_rule(_name)(_extremum_jvp)


def _prod_weights(ad, op):
    """d prod / d x_i, the product of the other elements, exact to first order also where
    x has zeros (so Hessians are exact there too): with m_i zeros among the others it is
    rest / x_i (m_i = 0), z_i * rest / x_i (m_i = 1: z_i, the other zero, carries the
    derivative) or 0 (m_i >= 2), where rest is the product of the nonzero elements and a
    zero x_i counts as 1 in the division."""
    x = op.operands[0]
    zero, one = ad.const(0.0, x), ad.const(1.0, x)
    is_zero = ad.eq(x, zero)
    nonzero = ad.where(is_zero, one, x)
    zero_x = ad.where(is_zero, x, zero)  # 0 in value, the zeros' derivatives

    def reduced(opname, v):
        return _expand(ad, op, ad.b.op(opname, [v], dict(op.attrs)).result)
    rest = reduced("prod", nonzero)
    others = ad.sub(reduced("sum", ad.b.convert(is_zero, x.type.dtype)),
                    ad.b.convert(is_zero, x.type.dtype))
    other_zero = ad.sub(reduced("sum", zero_x), zero_x)
    share = ad.div(rest, nonzero)
    return ad.where(ad.eq(others, zero), share,
                    ad.where(ad.eq(others, one), ad.mul(other_zero, share), zero))


@vjp_rule("prod")
def prod_vjp(ad, op, g, need):
    return [ad.mul(_prod_weights(ad, op), _expand(ad, op, g[0]))]


@jvp_rule("prod")
def prod_jvp(ad, op, d):
    return [ad.b.op("sum", [ad.mul(_prod_weights(ad, op), d[0])], dict(op.attrs)).result]


# -- broadcast helpers of gradient code (differentiated again for higher order) ---------


@vjp_rule("sum_to")
def sum_to_vjp(ad, op, g, need):
    return [ad.broadcast(g[0], op.operands[0]), None]


@jvp_rule("sum_to")
def sum_to_jvp(ad, op, d):
    return [None if d[0] is None else ad.sum_to(d[0], op.operands[1])]


@vjp_rule("expand_dims")
def expand_dims_vjp(ad, op, g, need):
    if not isinstance(op.operands[0].type, ArrayType):
        return [ad.sum(g[0])]
    return [ad.b.op("sum", [g[0]], {"axis": op.attrs.get("axis", 0)}).result]


@jvp_rule("expand_dims")
def expand_dims_jvp(ad, op, d):
    return [ad.b.op("expand_dims", [d[0]], dict(op.attrs)).result]


# -- linear algebra ----------------------------------------------------------------------


def _dot_partials(ad, op, g):
    """Adjoints of a and b in a @ b for every supported rank combination."""
    a, b = op.operands
    ra, rb = a.type.ndim, b.type.ndim
    if max(ra, rb) > 2:  # batched matmul (both at least 2-d): batch axes summed back
        return (ad.unbroadcast(ad.matmul(g, _swap_last(ad, b)), a),
                ad.unbroadcast(ad.matmul(_swap_last(ad, a), g), b))
    if ra == 1 and rb == 1:
        return ad.mul(g, b), ad.mul(g, a)
    if ra == 2 and rb == 1:
        return ad.outer(g, b), ad.dot(ad.transpose(a), g)
    if ra == 1 and rb == 2:
        return ad.dot(b, g), ad.outer(a, g)
    return ad.dot(g, ad.transpose(b)), ad.dot(ad.transpose(a), g)


def _swap_last(ad, v):
    n = v.type.ndim
    return ad.transpose(v, axes=tuple(range(n - 2)) + (n - 1, n - 2))


def _dot_vjp(ad, op, g, need):
    ga, gb = _dot_partials(ad, op, g[0])
    return [ga if need[0] else None, gb if need[1] else None]


def _dot_jvp(ad, op, d):
    a, b = op.operands
    left = ad.b.emit(op.name, d[0], b) if d[0] is not None else None
    right = ad.b.emit(op.name, a, d[1]) if d[1] is not None else None
    return [ad.plus(left, right)]


for _name in ("dot", "matmul"):
    vjp_rule(_name)(_dot_vjp)
    jvp_rule(_name)(_dot_jvp)


@vjp_rule("outer")
def outer_vjp(ad, op, g, need):
    a, b = op.operands
    return [ad.dot(g[0], b) if need[0] else None,
            ad.dot(ad.transpose(g[0]), a) if need[1] else None]


@jvp_rule("outer")
def outer_jvp(ad, op, d):
    a, b = op.operands
    left = ad.outer(d[0], b) if d[0] is not None else None
    return [ad.plus(left, ad.outer(a, d[1]) if d[1] is not None else None)]


# -- shapes and construction ------------------------------------------------------------


@vjp_rule("transpose")
def transpose_vjp(ad, op, g, need):
    axes = op.attrs.get("axes")
    if axes is None:
        return [ad.transpose(g[0])]
    return [ad.transpose(g[0], axes=tuple(sorted(range(len(axes)), key=axes.__getitem__)))]


@jvp_rule("transpose")
def transpose_jvp(ad, op, d):
    return [ad.b.op("transpose", [d[0]], dict(op.attrs)).result]


def _reshape_back(ad, g, x):
    dims = [ad.dim(x, axis=k) for k in range(x.type.ndim)]
    return ad.reshape(g, *dims)


@vjp_rule("reshape")
def reshape_vjp(ad, op, g, need):
    return [_reshape_back(ad, g[0], op.operands[0])] + [None] * (len(op.operands) - 1)


@jvp_rule("reshape")
def reshape_jvp(ad, op, d):
    return [ad.reshape(d[0], *op.operands[1:])]


@vjp_rule("ravel")
def ravel_vjp(ad, op, g, need):
    return [_reshape_back(ad, g[0], op.operands[0])]


@jvp_rule("ravel")
def ravel_jvp(ad, op, d):
    return [ad.ravel(d[0])]


@vjp_rule("copy")
def copy_vjp(ad, op, g, need):
    return [g[0]]


@jvp_rule("copy")
def copy_jvp(ad, op, d):
    return [d[0]]


@vjp_rule("full")
def full_vjp(ad, op, g, need):
    return [None] * (len(op.operands) - 1) + [ad.sum(g[0])]


@jvp_rule("full")
def full_jvp(ad, op, d):
    return [None if d[-1] is None else ad.full(*op.operands[:-1], d[-1])]


@vjp_rule("full_like")
def full_like_vjp(ad, op, g, need):
    return [None, ad.sum(g[0])]


@jvp_rule("full_like")
def full_like_jvp(ad, op, d):
    return [None if d[1] is None else ad.full_like(op.operands[0], d[1])]


@vjp_rule("pack")
def pack_vjp(ad, op, g, need):
    out = []
    for k, v in enumerate(op.operands):
        out.append(ad.b.op("getitem", [g[0], ad.b.const(k)], {"index": ("i",)}).result
                   if need[k] else None)
    return out


@jvp_rule("pack")
def pack_jvp(ad, op, d):
    return [ad.pack(*[dk if dk is not None else ad.zero(v) for dk, v in zip(d, op.operands)])]


@vjp_rule("linspace")
def linspace_vjp(ad, op, g, need):
    t = ad.linspace(ad.const(0.0, g[0]), ad.const(1.0, g[0]), op.operands[2])
    one_minus = ad.sub(ad.const(1.0, g[0]), t)
    return [ad.sum(ad.mul(g[0], one_minus)), ad.sum(ad.mul(g[0], t)), None]


@jvp_rule("linspace")
def linspace_jvp(ad, op, d):
    t = ad.linspace(ad.const(0.0, op.result), ad.const(1.0, op.result), op.operands[2])
    da = ad.scale(d[0], ad.sub(ad.const(1.0, t), t)) if d[0] is not None else None
    # t has the result's shape, so each term has it
    return [ad.broadcast(ad.plus(da, ad.scale(d[1], t)), op.result, [op.result])]


# -- tuples ------------------------------------------------------------------------------


@vjp_rule("tuple")
def tuple_vjp(ad, op, g, need):
    return [ad.b.op("tuple_get", [g[0]], {"index": k}).result if need[k] else None
            for k in range(len(op.operands))]


@jvp_rule("tuple")
def tuple_jvp(ad, op, d):
    return [ad.tuple(*[dk if dk is not None else ad.zero_tangent(v)
                       for dk, v in zip(d, op.operands)])]


@vjp_rule("tuple_get")
def tuple_get_vjp(ad, op, g, need):
    return [TuplePart(op.attrs["index"], g[0])]


@jvp_rule("tuple_get")
def tuple_get_jvp(ad, op, d):
    return [ad.b.op("tuple_get", [d[0]], dict(op.attrs)).result]
