"""Canonicalization: constant folding and local simplifications.

Assumes: verified IR.
Guarantees: the result computes the same values (bit for bit for folded
scalars, whose folding follows Python's float and int semantics and is skipped
whenever Python would raise or the result would not fit the type; float32 folds
only exact arithmetic, rounded to float32). Rewrites: constant folding of scalar
ops; `if` on a constant; `if` results equal on both branches; loop-carried values
the body never changes; tuple_get of a tuple; conversions to the same type (not a
`checked` one: it makes a Python scalar, docs/ir.md); x[i][j] to x[i, j]; shapes of
fresh arrays; x*1, x/1, x-0, --x, not not x, a + -b. A rewritten op keeps its
`checked` attribute. No rewrite removes an op that may raise (`ops.may_raise`): a
read of the element just written, or the shape of a fresh array, is replaced, but
the write or the allocation stays for dead-code elimination to judge. Runs to a
fixpoint.
"""
from __future__ import annotations

import math
import operator
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..ir.core import Block, Function, Op, Value
from ..ir.types import ArrayType, BOOL, F32, F64, I64, ScalarType

_SCALAR_FOLD: Dict[str, Callable] = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
    "eq": operator.eq, "ne": operator.ne, "and": lambda a, b: a and b,
    "or": lambda a, b: a or b, "xor": lambda a, b: a != b,
    "minimum": lambda a, b: a if a < b or a != a else b,  # np.minimum (ir.md)
    "maximum": lambda a, b: a if a > b or a != a else b, "neg": operator.neg, "not": operator.not_, "abs": abs,
    "atan2": math.atan2, "hypot": math.hypot, "copysign": math.copysign,
}
for _n in ("sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "expm1", "log", "log2",
           "log10", "log1p", "sqrt", "erf", "erfc", "floor", "ceil", "trunc", "asin", "acos",
           "atan", "asinh", "acosh", "atanh"):
    _SCALAR_FOLD[_n] = getattr(math, _n)


class Subst:
    """Replacements of values, by identity. It holds each replaced value: an erased
    op's result may otherwise be freed and its id reused by a value made later."""

    def __init__(self) -> None:
        self.map: Dict[int, Tuple[Value, Value]] = {}

    def __setitem__(self, old: Value, new: Value) -> None:
        self.map[id(old)] = (old, new)

    def __contains__(self, old: Value) -> bool:
        entry = self.map.get(id(old))
        return entry is not None and entry[0] is old

    def get(self, old: Value, default: Value) -> Value:
        entry = self.map.get(id(old))
        return entry[1] if entry is not None and entry[0] is old else default


def canonicalize(f: Function) -> None:
    for _ in range(50):
        if not _block(f.body.block, Subst()):
            return


def _const(v: Value):
    """(True, python value) for a constant scalar, else (False, None)."""
    op = getattr(v, "op", None)
    if op is not None and op.name == "const":
        return True, op.attrs["value"]
    return False, None


def _block(b: Block, subst: Subst) -> bool:
    changed = False
    for op in list(b.ops):
        if op.parent is not b:
            continue
        op.operands = [subst.get(v, v) for v in op.operands]
        if op.name in ("for", "while"):
            changed |= _invariant_carried(op, subst)
        for region in op.regions:
            changed |= _block(region.block, subst)
        if op.name == "if" and _fold_if(op, subst):
            changed = True
            continue
        changed |= _promote_consts(op)
        repl = _rewrite(op)
        if repl is not None:
            for r, v in zip(op.results, repl):
                if isinstance(v, Value):
                    if not v.name and r.name:
                        v.name = r.name
                    subst[r] = v
            if all(isinstance(v, Value) for v in repl):
                op.erase()
            changed = True
    return changed


_PROMOTABLE = ("add", "sub", "mul", "div", "minimum", "maximum", "lt", "le", "gt", "ge", "eq",
               "ne", "atan2", "hypot", "copysign", "where", "select")


def _promote_consts(op: Op) -> bool:
    """An integer constant next to a float operand becomes a float constant (2 -> 2.0)."""
    if op.name not in _PROMOTABLE:
        return False
    elts = [v.type.dtype if isinstance(v.type, ArrayType) else v.type for v in op.operands]
    floats = [t for t in elts if isinstance(t, ScalarType) and t.is_float]
    if not floats:
        return False
    target = F64 if F64 in floats else floats[0]
    changed = False
    for i, v in enumerate(op.operands):
        ok, c = _const(v)
        if ok and elts[i] in (I64, BOOL) and not (op.name in ("where", "select") and i == 0):
            new = Op("const", [], [target], {"value": float(c), "type": target}, (), v.op.loc)
            op.parent.insert_before(op, new)
            op.operands[i] = new.result
            changed = True
    return changed


def _fold_if(op: Op, subst: Subst) -> bool:
    ok, c = _const(op.operands[0])
    if ok:
        taken = op.regions[0 if c else 1].block
        y = taken.ops[-1]
        blk = op.parent
        for inner in list(taken.ops[:-1]):
            taken.ops.remove(inner)
            blk.insert_before(op, inner)
        for r, v in zip(op.results, y.operands):
            subst[r] = subst.get(v, v)
        op.erase()
        return True
    changed = False
    t_y, e_y = (rg.block.ops[-1] for rg in op.regions)
    for r in op.results:
        a, b_ = t_y.operands[r.index], e_y.operands[r.index]
        if a is b_ and r not in subst:
            subst[r] = a
            changed = True
    return changed


def _invariant_carried(op: Op, subst: Subst) -> bool:
    offset, shift = (3, 1) if op.name == "for" else (0, 0)
    body = op.regions[-1].block
    y = body.ops[-1]
    changed = False
    for k, r in enumerate(op.results):
        arg = body.args[k + shift]
        if y.operands[k] is not arg or r in subst:
            continue
        init = op.operands[offset + k]
        subst[r] = init
        subst[arg] = init
        if op.name == "while":
            subst[op.regions[0].block.args[k]] = init
        y.operands[k] = init
        changed = True
    return changed


def _rewrite(op: Op) -> Optional[List[Value]]:
    name = op.name
    if name == "tuple_get":
        src = getattr(op.operands[0], "op", None)
        if src is not None and src.name == "tuple":
            return [src.operands[op.attrs["index"]]]
        return None
    if name == "convert":
        x = op.operands[0]
        if x.type == op.result.type and not op.attrs.get("checked"):
            return [x]
        return _fold_convert(op)
    if name == "getitem":
        return _merge_getitem(op)
    if name in ("dim", "size"):
        return _shape_of_fresh(op)
    if name in _SCALAR_FOLD and op.results and isinstance(op.result.type, ScalarType):
        folded = _fold_scalar(op)
        if folded is not None:
            return folded
    return _algebra(op)


def _make_const(op: Op, value) -> List[Value]:
    t = op.result.type
    c = Op("const", [], [t], {"value": value, "type": t}, (), op.loc)
    op.parent.insert_before(op, c)
    return [c.result]


_EXACT_F32 = ("add", "sub", "mul", "div", "neg", "abs", "minimum", "maximum", "lt", "le", "gt",
              "ge", "eq", "ne")


def _typed(value, t: ScalarType):
    if isinstance(value, complex):
        return None
    if t in (F64, F32):
        try:
            value = float(value)
        except OverflowError:
            return None
        if t == F32:
            with np.errstate(over="ignore"):
                return float(np.float32(value))  # NumPy rounds each float32 result
        return value
    if t == I64:
        if isinstance(value, float) or not -2**63 <= value < 2**63:
            return None
        return int(value)
    if t == BOOL:
        return bool(value)
    return None


def _fold_scalar(op: Op) -> Optional[List[Value]]:
    vals = []
    for v in op.operands:
        ok, c = _const(v)
        if not ok or c is None:
            return None
        vals.append(c)
    if any(isinstance(v, float) and (math.isnan(v) or math.isinf(v)) for v in vals) and \
            op.name in ("floordiv", "mod"):
        return None
    if op.name in ("floor", "ceil", "trunc"):
        vals = [float(v) for v in vals]
    if any(v.type == F32 for v in op.operands) and op.name not in _EXACT_F32:
        return None  # NumPy's float32 functions are not Python's float64 ones rounded
    try:
        value = _SCALAR_FOLD[op.name](*vals)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError):
        return None
    if op.name in ("floor", "ceil", "trunc"):
        value = float(value)
    value = _typed(value, op.result.type)
    return None if value is None else _make_const(op, value)


def _fold_convert(op: Op) -> Optional[List[Value]]:
    ok, c = _const(op.operands[0])
    t = op.result.type
    if not ok or c is None or not isinstance(t, ScalarType):
        return None
    if t == I64:
        if isinstance(c, float) and (math.isnan(c) or math.isinf(c)):
            return None
        return None if not -2**63 <= int(c) < 2**63 else _make_const(op, int(c))
    value = _typed(c, t)
    return None if value is None else _make_const(op, value)


def _merge_getitem(op: Op) -> Optional[List[Value]]:
    inner = getattr(op.operands[0], "op", None)
    if inner is not None and inner.name == "setitem" and _same_element(inner, op):
        v = inner.operands[-1]
        return [v] if v.type == op.result.type else None
    if inner is None or inner.name != "getitem" or any(e != "i" for e in inner.attrs["index"]):
        return None
    base = inner.operands[0]
    spec = tuple(inner.attrs["index"]) + tuple(op.attrs["index"])
    if len(spec) > base.type.ndim:
        return None
    merged = Op("getitem", [base] + inner.operands[1:] + op.operands[1:], [op.result.type],
                {"index": spec}, (), op.loc, [op.result.name])
    op.parent.insert_before(op, merged)
    return [merged.result]


def _same_element(store: Op, load: Op) -> bool:
    """Whether `load` reads exactly the element `store` wrote (x[i, j] after x[i, j] = v)."""
    spec = store.attrs["index"]
    return spec == load.attrs["index"] and all(e == "i" for e in spec) and \
        len(spec) == store.result.type.ndim and store.operands[1:-1] == load.operands[1:]


_SHAPE_PRESERVING = ("zeros_like", "ones_like", "empty_like", "full_like", "copy", "setitem",
                     "addat")


def _shape_of_fresh(op: Op) -> Optional[List[Value]]:
    src = getattr(op.operands[0], "op", None)
    if src is None:
        return None
    if src.name in _SHAPE_PRESERVING:
        new = Op(op.name, [src.operands[0]], [op.result.type], dict(op.attrs), (), op.loc)
        op.parent.insert_before(op, new)
        return [new.result]
    if op.name == "dim" and src.name in ("zeros", "ones", "empty", "full"):
        return [src.operands[op.attrs["axis"] % src.result.type.ndim]]
    return None


def _is(v: Value, number) -> bool:
    ok, c = _const(v)
    return ok and not isinstance(c, bool) and c == number and isinstance(c, (int, float))


def _algebra(op: Op) -> Optional[List[Value]]:
    name, ops = op.name, op.operands
    if len(op.results) != 1:
        return None
    t = op.result.type
    if name == "mul":
        if _is(ops[1], 1) and ops[0].type == t:
            return [ops[0]]
        if _is(ops[0], 1) and ops[1].type == t:
            return [ops[1]]
    if name == "div" and _is(ops[1], 1) and ops[0].type == t:
        return [ops[0]]
    if name == "sub" and _is(ops[1], 0) and ops[0].type == t:
        return [ops[0]]
    if name == "add" and ops[0].type == t and _elt_int(t) and _is(ops[1], 0):
        return [ops[0]]
    if name in ("add", "sub") and ops[0].type == t:
        neg = _negated(ops[1])
        if neg is not None and neg.type == t:  # a + -b -> a - b, a - -b -> a + b
            return [_replace(op, "sub" if name == "add" else "add", ops[0], neg)]
    if name == "add" and ops[1].type == t:
        neg = _negated(ops[0])
        if neg is not None and neg.type == t:  # -a + b -> b - a
            return [_replace(op, "sub", ops[1], neg)]
    if name in ("mul", "div"):  # (-a) * b -> -(a * b), so that negations meet and cancel
        for k in (0, 1):
            inner = _negated(ops[k])
            if inner is not None and inner.type == ops[k].type:
                args = [inner, ops[1]] if k == 0 else [ops[0], inner]
                prod = _replace(op, name, *args)
                neg = Op("neg", [prod], [t], _checked(op) if t == I64 else {}, (), op.loc,
                         [op.result.name])
                op.parent.insert_before(op, neg)
                prod.name = ""
                return [neg.result]
    if name in ("neg", "not"):
        inner = getattr(ops[0], "op", None)
        if inner is not None and inner.name == name and inner.operands[0].type == t:
            return [inner.operands[0]]
    if name == "select" and ops[1] is ops[2]:
        return [ops[1]]
    return None


def _checked(op: Op) -> dict:
    return {"checked": True} if op.attrs.get("checked") else {}


def _negated(v: Value) -> Optional[Value]:
    src = getattr(v, "op", None)
    return src.operands[0] if src is not None and src.name == "neg" else None


def _replace(op: Op, name: str, a: Value, b: Value) -> Value:
    new = Op(name, [a, b], [op.result.type], _checked(op), (), op.loc, [op.result.name])
    op.parent.insert_before(op, new)
    return new.result


def _elt_int(t) -> bool:
    return (t.dtype if isinstance(t, ArrayType) else t) == I64
