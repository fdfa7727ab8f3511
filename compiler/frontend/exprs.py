"""AST -> typed IR: expressions (operators, names, indexing, short-circuit logic).

Assumes: used as the base class of `to_ir.FunctionTranslator`, which provides
the builder `b`, the environment `env`, the function's tree `fdef`, the names the
desugarer introduced (`hidden`) and statement translation.
Guarantees: a name assigned anywhere in the function is local, as in Python: it
never resolves to a global. `expr` returns an IR `Value`, a `Static` (a Python object known at
compile time: a module, a function, a class), a `Closure`, a Python tuple of
those (a static sequence), or a `BigInt` (an integer constant beyond 64 bits,
arith.py). `value` insists on an IR value. `and`, `or`, chained
comparisons and conditional expressions evaluate lazily, as in Python.
"""
from __future__ import annotations

import types as pytypes
from typing import Any, List, Optional, Tuple

import gast
import numpy as np

from ..errors import CompileError, Loc, TypingError, UnsupportedSyntax
from ..ir.core import Block, Op, Region, Value
from ..ir.types import ArrayType, BOOL, F32, I64, NONE, ScalarType, TupleType, UnknownType
from .arith import OP_TEXT, Arithmetic, BigInt, elt as _elt, fits as _fits
from .desugar import COUNTER_INDEX, UNDEF
from .scope import Closure, NOT_YET, Origins, Unbound, bound_names, holds_arrays


class Static:
    """A Python object known at compile time (module, function, class, ...)."""

    def __init__(self, obj: Any, name: str = ""):
        self.obj = obj
        self.name = name or getattr(obj, "__name__", repr(obj))

    def __repr__(self) -> str:
        return f"<static {self.name}>"


_CMPOPS = {gast.Lt: "lt", gast.LtE: "le", gast.Gt: "gt", gast.GtE: "ge", gast.Eq: "eq",
           gast.NotEq: "ne"}


class ExprTranslator(Arithmetic):
    def __init__(self, ctx, src):
        super().__init__()
        self.ctx = ctx
        self.src = src
        self.origins = Origins()
        self.evaluated_index: dict = {}  # index parts evaluated ahead (fancy_index.py)

    def loc(self, node) -> Loc:
        return self.src.loc(node)

    # -- kinds of results --------------------------------------------------

    def as_value(self, v, node) -> Value:
        if isinstance(v, Value):
            return v
        if isinstance(v, BigInt):
            raise TypingError(f"the integer {v.value} does not fit in 64 bits",
                              self.loc(v.node), "integer constant")
        if isinstance(v, tuple):
            return self.b.emit("tuple", *[self.as_value(x, node) for x in v])
        if isinstance(v, Closure):
            raise UnsupportedSyntax(f"the function '{v.name}' can only be called, not used as "
                                    "a value", self.loc(node), "function value")
        if isinstance(v, Static):
            raise UnsupportedSyntax(f"'{v.name}' can only be called or have attributes read, "
                                    "not used as a value", self.loc(node), "static value")
        raise CompileError(f"cannot use {v!r} as a value", self.loc(node))

    def value(self, node) -> Value:
        return self.as_value(self.expr(node), node)

    def expr(self, node):
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise UnsupportedSyntax(f"'{type(node).__name__}' expressions are not supported",
                                    self.loc(node), type(node).__name__)
        with self.b.at_loc(self.loc(node)):
            return method(node)

    def op_text(self, op) -> str:
        return OP_TEXT.get(type(op), type(op).__name__)

    # -- leaves --------------------------------------------------------------

    def expr_Constant(self, node):
        v = node.value
        if isinstance(v, (bool, int, float)) or v is None:
            if isinstance(v, int) and not isinstance(v, bool) and not _fits(v):
                return BigInt(v, node)
            return self.b.const(v)
        if isinstance(v, str):
            from .checks import STRINGS
            raise UnsupportedSyntax(STRINGS, self.loc(node), "strings")
        raise UnsupportedSyntax(f"constants of type {type(v).__name__} are not supported",
                                self.loc(node), "constant")

    def expr_Name(self, node):
        if node.id == UNDEF:
            return NOT_YET
        return self.read_name(node.id, node)

    def read_name(self, name: str, node):
        v = self.env.get(name)
        if isinstance(v, Unbound):
            if name in self.hidden:
                return v
            why = f": {v.reason}" if v.reason else ""
            raise CompileError(f"'{name}' may be used before it is assigned{why}",
                               self.loc(node), "unbound variable")
        if v is not None:
            if name in self.env.unsure and name not in self.hidden:
                raise CompileError(f"'{name}' is assigned on some paths only and may be unbound "
                                   "here; assign it on every path (or before the branch/loop)",
                                   self.loc(node), "unbound variable")
            return v
        return self.global_value(name, node)

    def global_value(self, name: str, node):
        if name not in self.hidden and name in self.local_names():
            # Python makes a name assigned anywhere in the function local throughout:
            # reading it before its assignment never reaches a global of that name.
            raise CompileError(f"'{name}' is used before it is assigned (it is a local "
                               "variable of this function)", self.loc(node), "unbound variable")
        found, obj = self.ctx.resolve_global(self.src.fn, name)
        if not found:
            raise CompileError(f"name '{name}' is not defined", self.loc(node), "unknown name")
        return self.static_object(obj, name, node)

    def local_names(self) -> set:
        """Parameters and names the function body assigns (cached)."""
        names = getattr(self, "_locals", None)
        if names is None:
            names = self._locals = bound_names(self.fdef.body) | {
                a.id for a in self.fdef.args.args}
        return names

    def static_object(self, obj, name: str, node):
        if isinstance(obj, (bool, int, float, np.floating, np.integer, np.bool_)) or obj is None:
            if isinstance(obj, np.float32):
                return self.b.const(float(obj), F32)
            const = gast.copy_location(gast.Constant(value=_py_scalar(obj), kind=None), node)
            c = self.expr_Constant(const)
            is_np = isinstance(obj, (np.generic,)) and isinstance(c, Value)
            return self.as_kind(c, True) if is_np else c
        if isinstance(obj, tuple) and all(isinstance(x, (bool, int, float)) for x in obj):
            return self.b.emit("tuple", *[self.b.const(x) for x in obj])
        if isinstance(obj, np.ndarray):
            raise UnsupportedSyntax(
                f"the global array '{name}' is read in a function adjoin compiles as a callee; "
                "global arrays are read (at every call) only by the function a verb is given "
                "and functions nested in it: pass it as an argument", self.loc(node),
                "global array")
        return Static(obj, name)

    # -- operators -----------------------------------------------------------

    def expr_BinOp(self, node):
        left = self.expr(node.left)
        right = self.expr(node.right)
        if isinstance(left, tuple) or isinstance(right, tuple) or self.is_tuple(left) \
                or self.is_tuple(right):
            return self.tuple_binop(node, left, right)
        return self.binop(node.op, left, right, node)

    def is_tuple(self, v) -> bool:
        return isinstance(v, Value) and isinstance(v.type, TupleType)

    def tuple_binop(self, node, left, right):
        if isinstance(node.op, gast.Add):
            items = self.tuple_items(left, node) + self.tuple_items(right, node)
            return self.b.emit("tuple", *items)
        raise UnsupportedSyntax(f"'{self.op_text(node.op)}' on tuples is not supported",
                                self.loc(node), "tuple operator")

    def tuple_items(self, v, node) -> List[Value]:
        if isinstance(v, tuple):
            return [self.as_value(x, node) for x in v]
        v = self.as_value(v, node)
        if not isinstance(v.type, TupleType):
            raise TypingError(f"cannot add a tuple and {v.type}", self.loc(node), "tuple +")
        return [self.tuple_item(v, i) for i in range(len(v.type.elts))]

    def tuple_item(self, v: Value, i: int) -> Value:
        if isinstance(v, Value) and hasattr(v, "op") and v.op.name == "tuple":
            return v.op.operands[i]
        return self.b.op("tuple_get", [v], {"index": i}).result

    def expr_UnaryOp(self, node):
        v = self.expr(node.operand)
        if isinstance(v, BigInt) and isinstance(node.op, (gast.USub, gast.UAdd)):
            r = -v.value if isinstance(node.op, gast.USub) else v.value
            return self.b.const(r) if _fits(r) else BigInt(r, node)
        v = self.as_value(v, node.operand)
        if isinstance(node.op, gast.USub):
            r = self.b.emit("neg", v)
            if self.python_scalar(v) and v.type == I64:
                r.op.attrs["checked"] = True
            return r
        if isinstance(node.op, gast.UAdd):
            return self.b.convert(v, I64) if v.type == BOOL else v
        if isinstance(node.op, gast.Not):
            return self.b.emit("not", self.truth(v, node.operand))
        if isinstance(node.op, gast.Invert) and _elt(v.type) == BOOL:
            return self.b.emit("not", v)
        raise UnsupportedSyntax("the '~' operator is supported on booleans only",
                                self.loc(node), "operator")

    def truth(self, v: Value, node) -> Value:
        """Python truthiness of a scalar, as a bool."""
        if v.type == BOOL or isinstance(v.type, UnknownType):
            return v
        if isinstance(v.type, ScalarType) and (v.type.is_float or v.type == I64):
            return self.b.emit("ne", v, self.b.const(0, v.type))
        if v.type == NONE:
            return self.b.const(False)
        raise TypingError(f"the truth value of {v.type} is ambiguous; use a comparison or "
                          "np.any/np.all", self.loc(node), "truth value")

    def lazy(self, cond: Value, then_fn, else_fn, node) -> Value:
        """`then_fn() if cond else else_fn()`, each evaluated in its own region."""
        op = self.b.insert(Op("if", [cond], [], {}, [Region([Block()]), Region([Block()])],
                              self.loc(node)))
        vals = []
        for k, fn in enumerate((then_fn, else_fn)):
            with self.b.at_end(op.regions[k].block):
                vals.append(self.as_value(fn(), node))
        t, kind = self.merged(vals, node, "conditional expression")
        for k in range(2):
            with self.b.at_end(op.regions[k].block):
                self.b.yield_([self.coerce(vals[k], t)])
        op.set_results([t])
        if holds_arrays(t):
            self.origins.same_as(op.result, *vals)
        return self.kinds.set(op.result, kind)

    def expr_IfExp(self, node):
        cond = self.truth(self.value(node.test), node.test)
        known = self.const_value(cond)
        if isinstance(known, bool):  # only the side Python evaluates is translated
            return self.expr(node.body if known else node.orelse)
        return self.lazy(cond, lambda: self.expr(node.body), lambda: self.expr(node.orelse), node)

    def expr_BoolOp(self, node):
        is_and = isinstance(node.op, gast.And)

        def chain(values) -> Value:
            first = self.value(values[0])
            if len(values) == 1:
                return first
            cond = self.truth(first, values[0])
            rest = lambda: chain(values[1:])  # noqa: E731
            keep = lambda: first  # noqa: E731
            return self.lazy(cond, rest, keep, node) if is_and else \
                self.lazy(cond, keep, rest, node)
        return chain(node.values)

    def expr_Compare(self, node):
        left = self.value(node.left)

        def chain(left: Value, k: int) -> Value:
            right = self.value(node.comparators[k])
            c = self.compare(node.ops[k], left, right, node)
            if k == len(node.ops) - 1:
                return c
            if c.type != BOOL:
                raise UnsupportedSyntax("chained comparisons of arrays are not supported",
                                        self.loc(node), "chained comparison")
            return self.lazy(c, lambda: chain(right, k + 1), lambda: c, node)
        return chain(left, 0)

    def compare(self, op, a: Value, b: Value, node) -> Value:
        if isinstance(op, (gast.Is, gast.IsNot)):
            if b.type == NONE or a.type == NONE:
                same = a.type == b.type
                return self.b.const(same if isinstance(op, gast.Is) else not same)
            raise UnsupportedSyntax("'is' is supported only to compare with None",
                                    self.loc(node), "'is'")
        name = _CMPOPS.get(type(op))
        if name is None:
            raise UnsupportedSyntax(f"the comparison '{type(op).__name__}' is not supported",
                                    self.loc(node), "comparison")
        for v in (a, b):
            if isinstance(v.type, TupleType) or v.type == NONE:
                raise TypingError(f"comparing {v.type} values is not supported",
                                  self.loc(node), "comparison")
        a, b = self.promote(a, b)  # NEP 50: float32 against a Python number is float32
        for x, y in ((a, b), (b, a)):
            if _elt(x.type) == F32 and _elt(y.type) == I64 and self.python_scalar(y):
                a, b = (x, self.to_f32(y)) if x is a else (self.to_f32(y), x)
        return self.b.emit(name, a, b)

    # -- tuples, lists, subscripts --------------------------------------------

    def expr_Tuple(self, node):
        items = [self.expr(e) for e in node.elts]
        if any(isinstance(x, (Static, Closure)) for x in items):
            return tuple(items)
        return self.b.emit("tuple", *[self.as_value(x, e) for x, e in zip(items, node.elts)])

    def expr_List(self, node):
        from .struct_values import list_literal
        return list_literal(self, node)

    def expr_Dict(self, node):
        from .struct_values import dict_literal
        return dict_literal(self, node)

    def expr_ListComp(self, node):
        raise UnsupportedSyntax("list comprehensions are supported only as the argument of "
                                "sum, min or max; build arrays with np.zeros and a loop",
                                self.loc(node), "list comprehension")

    expr_GeneratorExp = expr_ListComp

    def check_defaults(self, args) -> None:
        """Only constant defaults: the call evaluates them, and Python fixes them at the
        definition, so any name they read could have changed in between."""
        for d in args.defaults:
            inner = d.operand if isinstance(d, gast.UnaryOp) else d
            if not isinstance(inner, gast.Constant):
                raise UnsupportedSyntax("nested functions and lambdas may only have constant "
                                        "defaults", self.loc(d), "default argument")

    def expr_Lambda(self, node):
        self.check_defaults(node.args)
        fdef = gast.FunctionDef(name="<lambda>", args=node.args,
                                body=[gast.Return(value=node.body)], decorator_list=[],
                                returns=None, type_comment=None, type_params=[])
        gast.copy_location(fdef, node)
        gast.copy_location(fdef.body[0], node.body)
        return Closure(fdef, "lambda", self.env)

    def const_value(self, v) -> Any:
        """The Python value of a constant IR value, or None."""
        if isinstance(v, Value) and hasattr(v, "op"):
            if v.op.name == "const":
                return v.op.attrs["value"]
            if v.op.name == "neg":
                inner = self.const_value(v.op.operands[0])
                return -inner if isinstance(inner, (int, float)) else None
        return None

    def static_dim(self, v: Value) -> Optional[int]:
        return None

    def expr_Subscript(self, node):
        base = self.expr(node.value)
        if isinstance(base, tuple):
            k = self.static_index(node.slice)
            return base[k]
        base = self.as_value(base, node.value)
        if isinstance(base.type, TupleType):
            from .struct_values import key_read
            hit = key_read(self, base, node)
            return hit if hit is not None else self.tuple_subscript(base, node)
        if not isinstance(base.type, (ArrayType, UnknownType)):
            raise TypingError(f"a value of type {base.type} cannot be indexed",
                              self.loc(node), "indexing")
        parts = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if any(self.is_newaxis(p) for p in parts):
            return self.getitem_newaxis(base, parts, node)
        from . import fancy_index
        fancy = fancy_index.index_parts(self, node.slice)
        if fancy is not None:
            return fancy_index.read(self, base, fancy, node)
        spec, idx = self.index_spec(node.slice)
        return self.getitem(base, spec, idx, node)

    def is_newaxis(self, p) -> bool:
        """Whether an index part is `None` / `np.newaxis` (a new axis of size 1)."""
        if isinstance(p, gast.Constant):
            return p.value is None
        if isinstance(p, (gast.Attribute, gast.Name)):
            v = self.expr(p)
            return isinstance(v, Value) and v.type == NONE
        return False

    def getitem_newaxis(self, base: Value, parts, node) -> Value:
        """`x[..., None, ...]`: the index without the new axes, then each new axis inserted
        where NumPy puts it (counted in the result: ints drop an axis, slices keep one)."""
        from .primitives import expand_at
        kept, new_axes, pos = [], [], 0
        for p in parts:
            if self.is_newaxis(p):
                new_axes.append(pos)
                pos += 1
            else:
                kept.append(p)
                pos += isinstance(p, gast.Slice)
        r = base
        if kept:
            spec, idx = self.index_spec(gast.Tuple(elts=kept, ctx=gast.Load()))
            r = self.getitem(base, spec, idx, node)
        for axis in new_axes:
            r = expand_at(self, r, axis, node)
        return r

    def static_index(self, sl) -> int:
        v = self.value(sl)
        k = self.const_value(v)
        if not isinstance(k, int) or isinstance(k, bool):
            raise TypingError("a tuple can only be indexed by a constant integer",
                              self.loc(sl), "tuple indexing")
        return k

    def tuple_subscript(self, base: Value, node):
        n = len(base.type.elts)
        if isinstance(node.slice, gast.Slice):
            parts = [None if p is None else self.static_index(p)
                     for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            idxs = range(n)[slice(*parts)]
            return self.b.emit("tuple", *[self.tuple_item(base, i) for i in idxs])
        if getattr(node, COUNTER_INDEX, False):
            return self.counter_tuple_item(base, self.value(node.slice), node)
        j = self.value(node.slice)
        if self.const_value(j) is None and j.type == I64:
            return self.dynamic_tuple_item(base, j, node)
        k = self.static_index(node.slice)
        if not -n <= k < n:
            raise TypingError(f"tuple index {k} out of range (length {n})", self.loc(node),
                              "tuple indexing")
        return self.tuple_item(base, k % n)

    def dynamic_tuple_item(self, base: Value, j: Value, node) -> Value:
        """`t[j]` (a list or tuple) for a run-time int j: the items need one type. j is
        checked and wrapped as an index into `np.arange(len(t))` (IndexError out of
        range), then a chain of selects picks the item."""
        elts = base.type.elts
        if not elts or any(t != elts[0] for t in elts):
            raise TypingError("a tuple or list whose items differ in type (or an empty one) "
                              "can only be indexed by a constant integer",
                              self.loc(node.slice), "tuple indexing")
        positions = self.b.emit("arange", self.b.const(0), self.b.const(len(elts)),
                                self.b.const(1))
        k = self.getitem(positions, ("i",), [j], node)
        items = [self.tuple_item(base, m) for m in range(len(elts))]
        r = self.select_item(items, k)
        if isinstance(r.type, ArrayType):
            self.origins.same_as(r, *items)  # the item itself, as Python gives it
        return r

    def counter_tuple_item(self, base: Value, i: Value, node) -> Value:
        """`t[k]` made by the desugarer for a loop over `t` that ends early: `k` counts
        0..len(t)-1, so a chain of selects picks the item; the items need one type."""
        elts = base.type.elts
        if any(t != elts[0] for t in elts):
            raise TypingError("a loop over a tuple whose elements differ in type cannot end "
                              "early (break or return inside it); loop over an array, or "
                              "make the elements one type", self.loc(node), "tuple loop")
        return self.select_item([self.tuple_item(base, k) for k in range(len(elts))], i)

    def select_item(self, items: List[Value], j: Value) -> Value:
        """items[j] for a run-time j known to be in range; tuples are taken apart, so
        each select chooses between scalars (or arrays)."""
        t = items[0].type
        if isinstance(t, TupleType):
            return self.b.emit("tuple", *[self.select_item([self.tuple_item(v, m) for v in items],
                                                           j) for m in range(len(t.elts))])
        r = items[-1]
        for k in range(len(items) - 2, -1, -1):
            r = self.b.emit("select", self.b.emit("eq", j, self.b.const(k)), items[k], r)
        return r

    def index_spec(self, sl) -> Tuple[tuple, List[Value]]:
        parts = sl.elts if isinstance(sl, gast.Tuple) else [sl]
        spec, ops = [], []
        for p in parts:
            if isinstance(p, gast.Slice):
                flags = "s"
                for q in (p.lower, p.upper, p.step):
                    if q is None or (isinstance(q, gast.Constant) and q.value is None):
                        flags += "0"
                    else:
                        flags += "1"
                        ops.append(self.index_value(q))
                spec.append(flags)
            else:
                if isinstance(p, gast.Constant) and p.value is None:
                    raise UnsupportedSyntax("np.newaxis / None in an index is not supported; use "
                                            "reshape", self.loc(p), "newaxis")
                spec.append("i")
                ops.append(self.index_value(p))
        return tuple(spec), ops

    def index_value(self, node) -> Value:
        hit = self.evaluated_index.pop(id(node), None)
        v = hit[1] if hit is not None and hit[0] is node else self.value(node)
        if isinstance(v.type, ArrayType):
            raise UnsupportedSyntax("indexing with an array (fancy or boolean indexing) is not "
                                    "supported; use a loop or np.where", self.loc(node),
                                    "fancy indexing")
        if v.type == BOOL:
            return self.b.convert(v, I64)
        if v.type != I64 and not isinstance(v.type, UnknownType):
            raise TypingError(f"indices must be integers, got {v.type}", self.loc(node),
                              "indexing")
        return v

    def getitem(self, arr: Value, spec, idx: List[Value], node) -> Value:
        if isinstance(arr.type, ArrayType) and len(spec) > arr.type.ndim:
            raise TypingError(f"too many indices ({len(spec)}) for a {arr.type.ndim}-d array",
                              self.loc(node), "indexing")
        r = self.b.op("getitem", [arr] + list(idx), {"index": tuple(spec)}).result
        if isinstance(r.type, ArrayType):
            self.origins.same_as(r, arr)  # a view
        return r

    # -- attributes and calls ---------------------------------------------------

    def expr_Attribute(self, node):
        base = self.expr(node.value)
        if isinstance(base, Static):
            if not hasattr(base.obj, node.attr):
                raise CompileError(f"'{base.name}' has no attribute '{node.attr}'",
                                   self.loc(node), "attribute")
            return self.static_object(getattr(base.obj, node.attr),
                                      f"{base.name}.{node.attr}", node)
        v = self.as_value(base, node.value)
        if isinstance(v.type, TupleType):
            from .struct_values import field_read
            hit = field_read(self, v, node.attr, node)
            if hit is not None:
                return hit
        from .primitives import array_attribute
        return array_attribute(self, v, node.attr, node)

    def static_callee(self, func) -> Any:
        """The Python object a call's function expression names, if static."""
        if isinstance(func, gast.Name) and func.id not in self.env:
            found, obj = self.ctx.resolve_global(self.src.fn, func.id)
            return obj if found else None
        if isinstance(func, gast.Attribute):
            base = self.static_callee(func.value)
            if base is not None and isinstance(base, pytypes.ModuleType):
                return getattr(base, func.attr, None)
        return None

    def expr_Call(self, node):
        from .primitives import call
        return call(self, node)


def _py_scalar(obj):
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj

