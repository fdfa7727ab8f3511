"""Derivatives of opaque calls (`pycall`) from the rules users attach.

Assumes: `pycall` ops name a `custom.CustomFunction` whose `vjp_rule` and/or
`jvp_rule` are plain Python functions.
Guarantees: a rule is compiled by adjoin when it can be (a `call`, so it can be
differentiated again for higher order) and otherwise run by CPython (a `pycall`).
The reverse rule comes from `vjp_rule`, or from `jvp_rule` for scalar inputs
(one tangent per input); the forward rule from `jvp_rule`, or from `vjp_rule` for
a scalar output (one cotangent). Any other case is NotDifferentiable at the call.
"""
from __future__ import annotations

from typing import List, Optional

from ..custom import REGISTRY, CustomFunction
from ..errors import CompileError, NotDifferentiable
from ..ir.core import Op, Value
from ..ir.types import ArrayType, F64, TupleType, Type
from .reverse import adjoint_type


def spec_of(op: Op) -> CustomFunction:
    return REGISTRY[op.attrs["fn"]]


def _name(op: Op) -> str:
    return getattr(spec_of(op).fn, "__name__", "custom function")


def rule_call(b, rule, args: List[Value], fallback: Type, loc) -> Value:
    """Call a user's rule: compiled when adjoin can compile it, else run by CPython."""
    from ..frontend.specialize import REGISTRY as FUNCTIONS
    try:
        if getattr(rule, "__adjoin_opaque__", False):  # a rule that is never compiled
            raise CompileError("an opaque rule", loc)
        f = FUNCTIONS.specialize(rule, [a.type for a in args], loc)
    except CompileError:
        opaque = CustomFunction(rule)
        return b.op("pycall", args, {"fn": opaque.key}, result_types=[fallback]).result
    return b.op("call", args, {"callee": f.name}, result_types=[f.result_type]).result


def parts(b, r: Value, n: int) -> List[Value]:
    """The n values a rule returned (a tuple, or one value for n == 1)."""
    if isinstance(r.type, TupleType):
        return [b.op("tuple_get", [r], {"index": k}).result for k in range(len(r.type.elts))]
    if n != 1:
        raise NotDifferentiable(f"a derivative rule returned {r.type} where {n} values "
                                "(one per argument) were expected")
    return [r]


def contract(ad, a: Value, d: Value) -> Value:
    """<a, d>: the product summed over elements when they are arrays."""
    p = ad.mul(a, d)
    return ad.sum(p) if isinstance(p.type, ArrayType) else p


def reverse_pycall(rb, op: Op, adj) -> None:
    g = rb.dense(op.result, adj.pop(id(op.result), None))
    need = [rb.act.active(v) for v in op.operands]
    if g is None or not any(need):
        return
    spec, b, args = spec_of(op), rb.b, list(op.operands)
    if spec.vjp_rule is not None:
        hint = [adjoint_type(v.type) for v in args]
        fallback = hint[0] if len(args) == 1 else TupleType(tuple(hint))
        r = rule_call(b, spec.vjp_rule, args + [op.result, g], fallback, op.loc)
        for v, c, n in zip(args, parts(b, r, len(args)), need):
            if n and c.type.differentiable():
                rb.accumulate(adj, v, c)
        return
    if spec.jvp_rule is None:
        raise NotDifferentiable(f"'{_name(op)}' is a custom function without a derivative "
                                "rule; attach one with .defvjp or .defjvp", op.loc, "custom")
    for i, (v, n) in enumerate(zip(args, need)):
        if not n:
            continue
        if isinstance(v.type, ArrayType):
            raise NotDifferentiable(f"reverse mode through '{_name(op)}' needs its .defvjp "
                                    "rule (its .defjvp rule gives it only for scalar inputs)",
                                    op.loc, "custom")
        dots = [b.const(1.0 if k == i else 0.0, F64) if w.type.differentiable() else
                b.const(0, w.type) for k, w in enumerate(args)]
        fallback = TupleType((op.result.type, adjoint_type(op.result.type)))
        r = rule_call(b, spec.jvp_rule, args + dots, fallback, op.loc)
        rb.accumulate(adj, v, contract(rb.ad, g, parts(b, r, 2)[1]))


def forward_pycall(fb, op: Op, tans) -> Optional[Value]:
    mask = [fb.act.active(v) for v in op.operands]
    if not any(mask) or not fb.act.active(op.result):
        return None
    spec, b, args = spec_of(op), fb.b, list(op.operands)
    if spec.jvp_rule is not None:
        dots = [fb.tangent(tans, v) if v.type.differentiable() else b.const(0, v.type)
                for v in args]
        fallback = TupleType((op.result.type, adjoint_type(op.result.type)))
        r = rule_call(b, spec.jvp_rule, args + dots, fallback, op.loc)
        return parts(b, r, 2)[1]
    if spec.vjp_rule is None or op.result.type != F64:
        raise NotDifferentiable(f"forward mode through '{_name(op)}' needs its .defjvp rule "
                                "(its .defvjp rule gives it only for a float result)",
                                op.loc, "custom")
    hint = [adjoint_type(v.type) for v in args]
    fallback = hint[0] if len(args) == 1 else TupleType(tuple(hint))
    r = rule_call(b, spec.vjp_rule, args + [op.result, b.const(1.0)], fallback, op.loc)
    total = None
    for v, c, m in zip(args, parts(b, r, len(args)), mask):
        if m and c.type.differentiable():
            total = fb.ad.plus(total, contract(fb.ad, c, fb.tangent(tans, v)))
    return total
