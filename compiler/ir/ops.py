"""The op set: one `OpDef` per op name, with its typing rule and effects.

Assumes: operand types are IR types from `types`.
Guarantees: `infer(name, operand_types, attrs)` returns the result types of an op
or raises `TypeRuleError` with a message meant for the user; the builder and the
verifier both go through it, so an op built and an op parsed are typed alike.
Effects: `pure` ops may be removed when unused, duplicated or reordered;
`effect` ops (tape, assert, calls to effectful functions) keep their place.
`may_raise(op)` tells which ops CPython may raise in (a `checked` op, an array op
with sizes, indices or shapes not proven valid by `facts`, a call): a pass never
removes those, used or not.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import facts
from .types import (
    ArrayType, BOOL, F64, I64, NONE, TAPE, ScalarType, TupleType, Type, UnknownType,
    contains_unknown, float_of, join, join_scalar, like, parse_type,
)


class TypeRuleError(Exception):
    """Operand types no rule accepts; the message is shown to the user."""


Typer = Callable[[List[Type], Dict[str, Any]], List[Type]]


@dataclass
class OpDef:
    name: str
    typer: Optional[Typer]
    pure: bool = True
    regions: int = 0
    terminator: bool = False
    doc: str = ""
    tags: frozenset = field(default_factory=frozenset)


OPS: Dict[str, OpDef] = {}


def define(name: str, typer: Optional[Typer] = None, *, pure: bool = True, regions: int = 0,
           terminator: bool = False, doc: str = "", tags: Sequence[str] = ()) -> OpDef:
    d = OpDef(name, typer, pure, regions, terminator, doc, frozenset(tags))
    OPS[name] = d
    return d


def infer(name: str, operand_types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    """Result types of op `name` applied to `operand_types`."""
    d = OPS.get(name)
    if d is None:
        raise TypeRuleError(f"unknown op '{name}'")
    if any(contains_unknown(t) for t in operand_types) and name not in ("call", "tuple"):
        # A value from a recursive call still being inferred: stay unknown.
        return [] if d.terminator or name in ("push", "assert", "print") else [UnknownType()]
    if d.typer is None:
        raise TypeRuleError(f"op '{name}' has no typing rule; give result types explicitly")
    return d.typer(list(operand_types), attrs)


# ---------------------------------------------------------------------------
# Helpers for the rules


def _scalar(t: Type) -> ScalarType:
    return t.dtype if isinstance(t, ArrayType) else t  # type: ignore[return-value]


def _numeric(t: Type, what: str) -> ScalarType:
    s = _scalar(t)
    if not isinstance(s, ScalarType) or s == NONE or isinstance(t, (TupleType,)):
        raise TypeRuleError(f"{what} needs numbers or arrays, not {t}")
    return s


def _broadcast(types: Sequence[Type], dtype: ScalarType) -> Type:
    ndim = max((t.ndim for t in types if isinstance(t, ArrayType)), default=None)
    return dtype if ndim is None else ArrayType(dtype, ndim)


def _arith_dtype(a: ScalarType, b: ScalarType) -> ScalarType:
    d = join_scalar(a, b)
    assert d is not None
    return I64 if d == BOOL else d


def _nargs(ts: List[Type], n: int, name: str) -> None:
    if len(ts) != n:
        raise TypeRuleError(f"{name} takes {n} operand(s), got {len(ts)}")


# ---------------------------------------------------------------------------
# Elementwise arithmetic, comparisons, logic


def _binary(kind: str) -> Typer:
    def rule(ts, attrs):
        _nargs(ts, 2, kind)
        a, b = (_numeric(t, kind) for t in ts)
        if kind == "div" or kind in ("atan2", "hypot", "copysign"):
            dtype = float_of(_arith_dtype(a, b))
        elif kind == "pow":
            d = _arith_dtype(a, b)
            dtype = d if d.is_float or attrs.get("int_result") else float_of(d)
        elif kind in ("lt", "le", "gt", "ge", "eq", "ne"):
            dtype = BOOL
        elif kind in ("and", "or", "xor"):
            if a != BOOL or b != BOOL:
                raise TypeRuleError(f"'{kind}' needs booleans, got {ts[0]} and {ts[1]}")
            dtype = BOOL
        else:
            dtype = _arith_dtype(a, b)
        return [_broadcast(ts, dtype)]
    return rule


ARITH = ("add", "sub", "mul", "div", "floordiv", "mod", "pow", "minimum", "maximum")
COMPARE = ("lt", "le", "gt", "ge", "eq", "ne")
LOGIC = ("and", "or", "xor")
BINARY_FLOAT = ("atan2", "hypot", "copysign")
for _n in ARITH + COMPARE + LOGIC + BINARY_FLOAT:
    define(_n, _binary(_n), tags=("elementwise", "binary"))


def _unary(kind: str) -> Typer:
    def rule(ts, attrs):
        _nargs(ts, 1, kind)
        s = _numeric(ts[0], kind)
        if kind == "not":
            dtype = BOOL
        elif kind in ("neg", "abs", "sign"):
            dtype = I64 if s == BOOL else s
        else:
            dtype = float_of(s)
        return [like(ts[0], dtype)]
    return rule


FLOAT_UNARY = (
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
    "atanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt",
    "erf", "erfc", "lgamma", "gamma", "floor", "ceil", "trunc", "rint", "sigmoid",
)
for _n in ("neg", "not", "abs", "sign") + FLOAT_UNARY:
    define(_n, _unary(_n), tags=("elementwise", "unary"))


def _isx(ts, attrs):
    _nargs(ts, 1, "isnan")
    return [like(ts[0], BOOL)]


define("isnan", _isx, tags=("elementwise", "unary"))
define("isinf", _isx, tags=("elementwise", "unary"))


def _convert(ts, attrs):
    _nargs(ts, 1, "convert")
    to = attrs["to"]
    if isinstance(to, str):
        to = parse_type(to)
    src = ts[0]
    if isinstance(src, ArrayType):
        return [ArrayType(to, src.ndim)]
    _numeric(src, "conversion")
    return [to]


define("convert", _convert, doc="float(x), int(x) (toward zero), bool(x); astype for arrays")


def _select(ts, attrs):
    _nargs(ts, 3, "select")
    if ts[0] != BOOL:
        raise TypeRuleError(f"select needs a bool condition, got {ts[0]}")
    t = join(ts[1], ts[2])
    if t is None:
        raise TypeRuleError(f"the two sides have different types: {ts[1]} and {ts[2]}")
    return [t]


define("select", _select, doc="c ? a : b on scalars, both sides evaluated")


def _where(ts, attrs):
    _nargs(ts, 3, "where")
    if _scalar(ts[0]) != BOOL:
        raise TypeRuleError(f"where needs a boolean condition, got {ts[0]}")
    dtype = _arith_dtype(_numeric(ts[1], "where"), _numeric(ts[2], "where"))
    if _scalar(ts[1]) == BOOL and _scalar(ts[2]) == BOOL:
        dtype = BOOL
    return [_broadcast(ts, dtype)]


define("where", _where, tags=("elementwise",))


# ---------------------------------------------------------------------------
# Constants, tuples, calls


def _const(ts, attrs):
    t = attrs["type"]
    return [parse_type(t) if isinstance(t, str) else t]


def _scalar_const(ts, attrs):
    """Constants are scalars (or none, tuples): an array comes from an op that makes one,
    and a scalar constant broadcasts where an array operand is expected."""
    (t,) = _const(ts, attrs)
    if isinstance(t, ArrayType):
        raise TypeRuleError(f"a constant cannot have the array type {t}")
    return [t]


define("const", _scalar_const)
define("undef", _const, doc="a placeholder on paths where a value is never read")


def _tuple(ts, attrs):
    return [TupleType(tuple(ts))]


def _tuple_get(ts, attrs):
    _nargs(ts, 1, "tuple_get")
    t, i = ts[0], attrs["index"]
    if not isinstance(t, TupleType):
        raise TypeRuleError(f"tuple_get needs a tuple, got {t}")
    if not -len(t.elts) <= i < len(t.elts):
        raise TypeRuleError(f"tuple index {i} out of range for {t}")
    return [t.elts[i]]


define("tuple", _tuple)
define("tuple_get", _tuple_get)
define("call", None, doc="call @callee(args); result type from the callee")
define("pycall", None,
       doc="an opaque Python function (a custom rule's primal), run by CPython; typed "
           "explicitly. Custom functions are mathematical functions: pure.")


def _same_as_first(ts, attrs):
    return [ts[0]]


def _straight(ts, attrs):
    _nargs(ts, 2, "straight")
    if ts[0] != ts[1]:
        raise TypeRuleError(f"straight_through: the function and its surrogate give different "
                            f"types, {ts[0]} and {ts[1]}")
    return [ts[0]]


define("stop_gradient", _same_as_first, doc="x, with derivative zero")
define("straight", _straight, doc="value of the first operand, derivative of the second")


# ---------------------------------------------------------------------------
# Arrays: construction, shape, reductions, linear algebra


def _array_arg(t: Type, what: str) -> ArrayType:
    if not isinstance(t, ArrayType):
        raise TypeRuleError(f"{what} needs an array, got {t}")
    return t


def _dims_ok(ts: List[Type], what: str) -> None:
    for t in ts:
        if t not in (I64, BOOL):
            raise TypeRuleError(f"{what}: array dimensions must be integers, got {t}")


def _alloc(kind: str) -> Typer:
    def rule(ts, attrs):
        dims = ts[:-1] if kind == "full" else ts
        _dims_ok(dims, kind)
        dtype = attrs.get("dtype", "f64")
        dtype = parse_type(dtype) if isinstance(dtype, str) else dtype
        if kind == "full" and "dtype" not in attrs:
            dtype = _numeric(ts[-1], "full")
        return [ArrayType(dtype, len(dims))]
    return rule


for _n in ("zeros", "ones", "empty", "full"):
    define(_n, _alloc(_n), tags=("alloc",))


def _alloc_like(ts, attrs):
    a = _array_arg(ts[0], "zeros_like")
    dtype = attrs.get("dtype")
    return [ArrayType(parse_type(dtype) if isinstance(dtype, str) else (dtype or a.dtype), a.ndim)]


for _n in ("zeros_like", "ones_like", "empty_like", "copy"):
    define(_n, _alloc_like, tags=("alloc",))


def _full_like(ts, attrs):
    _nargs(ts, 2, "full_like")
    a = _array_arg(ts[0], "full_like")
    return [a]


define("full_like", _full_like, tags=("alloc",))


def _arange(ts, attrs):
    dtype = I64 if all(t in (I64, BOOL) for t in ts) else F64
    return [ArrayType(dtype, 1)]


def _linspace(ts, attrs):
    _nargs(ts, 3, "linspace")
    return [ArrayType(F64, 1)]


define("arange", _arange, tags=("alloc",))
define("linspace", _linspace, tags=("alloc",))


def _pack(ts, attrs):
    if not ts:
        raise TypeRuleError("an empty array literal has no element type")
    t = ts[0]
    for u in ts[1:]:
        t = join(t, u)
        if t is None:
            raise TypeRuleError("array literal elements have different types or shapes")
    if isinstance(t, ArrayType):
        return [ArrayType(t.dtype, t.ndim + 1)]
    return [ArrayType(_numeric(t, "array literal"), 1)]


define("pack", _pack, tags=("alloc",), doc="np.array([a, b, ...]) / np.stack")


def _dim(ts, attrs):
    a = _array_arg(ts[0], "shape")
    if not -a.ndim <= attrs["axis"] < a.ndim:
        raise TypeRuleError(f"axis {attrs['axis']} out of range for a {a.ndim}-d array")
    return [I64]


def _size(ts, attrs):
    _array_arg(ts[0], "size")
    return [I64]


define("dim", _dim)
define("size", _size)


def _reduce(kind: str) -> Typer:
    def rule(ts, attrs):
        a = _array_arg(ts[0], kind)
        axis = attrs.get("axis")
        if kind in ("argmax", "argmin"):
            dtype = I64
        elif kind == "mean":
            dtype = float_of(a.dtype)
        elif kind in ("sum", "prod"):
            dtype = I64 if a.dtype == BOOL else a.dtype
        else:
            dtype = a.dtype
        if axis is None:
            return [dtype]
        if not -a.ndim <= axis < a.ndim:
            raise TypeRuleError(f"axis {axis} out of range for a {a.ndim}-d array")
        return [dtype if a.ndim == 1 else ArrayType(dtype, a.ndim - 1)]
    return rule


for _n in ("sum", "prod", "mean", "amax", "amin", "argmax", "argmin"):
    define(_n, _reduce(_n), tags=("reduce",))


def _cumulative(kind: str) -> Typer:
    def rule(ts, attrs):
        a = _array_arg(ts[0], kind)
        if not 0 <= attrs["axis"] < a.ndim:
            raise TypeRuleError(f"axis {attrs['axis']} out of range for a {a.ndim}-d array")
        return [ArrayType(I64 if a.dtype == BOOL else a.dtype, a.ndim)]
    return rule


for _n in ("cumsum", "cumprod"):  # along attrs["axis"] (the frontend ravels for axis=None)
    define(_n, _cumulative(_n))


def _matmul(kind: str) -> Typer:
    def rule(ts, attrs):
        _nargs(ts, 2, kind)
        a, b = (_array_arg(t, kind) for t in ts)
        dtype = _arith_dtype(a.dtype, b.dtype)
        if kind == "outer":
            if a.ndim != 1 or b.ndim != 1:
                raise TypeRuleError("outer needs two 1-d arrays")
            return [ArrayType(dtype, 2)]
        if kind == "matmul" and min(a.ndim, b.ndim) >= 2:  # batched: batch dims broadcast
            return [ArrayType(dtype, max(a.ndim, b.ndim))]
        if a.ndim not in (1, 2) or b.ndim not in (1, 2):
            raise TypeRuleError(f"{kind} supports 1-d and 2-d arrays, got {a} and {b}")
        nd = a.ndim + b.ndim - 2
        return [dtype if nd == 0 else ArrayType(dtype, nd)]
    return rule


define("dot", _matmul("dot"))
define("matmul", _matmul("matmul"))
define("outer", _matmul("outer"))


def _square(t: Type, what: str) -> ScalarType:
    """The element type of the float matrix operand of a factorization."""
    a = _array_arg(t, what)
    if a.ndim != 2 or not a.dtype.is_float:
        raise TypeRuleError(f"{what} needs a 2-d float array, got {t}")
    return a.dtype


def _factorization(kind: str) -> Typer:
    """np.linalg functions of one matrix (solve: and a right-hand side of 1 or 2 dims);
    results of the matrix's float type, tuples where NumPy returns tuples."""
    def rule(ts, attrs):
        _nargs(ts, 2 if kind == "solve" else 1, kind)
        dtype = _square(ts[0], kind)
        if kind == "solve":
            rhs = _array_arg(ts[1], "solve")
            if rhs.ndim not in (1, 2) or rhs.dtype != dtype:
                raise TypeRuleError(f"solve needs a right-hand side of 1 or 2 dims and the "
                                    f"matrix's type {dtype}, got {rhs}")
            return [rhs]
        vec, mat = ArrayType(dtype, 1), ArrayType(dtype, 2)
        return [{"inv": mat, "cholesky": mat, "det": dtype, "eigvalsh": vec,
                 "slogdet": TupleType((dtype, dtype)), "eigh": TupleType((vec, mat))}[kind]]
    return rule


LINALG = ("solve", "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh")
for _n in LINALG:
    define(_n, _factorization(_n), tags=("linalg",),
           doc=f"np.linalg.{_n} of a 2-d matrix (raises numpy.linalg.LinAlgError)")


def _transpose(ts, attrs):
    """attrs["axes"], when given, is the permutation (NumPy's `axes`); else axes reverse."""
    a = _array_arg(ts[0], "transpose")
    axes = attrs.get("axes")
    if axes is not None and sorted(axes) != list(range(a.ndim)):
        raise TypeRuleError(f"transpose axes {list(axes)} are not a permutation of the "
                            f"{a.ndim} axes")
    return [a]


def _reshape(ts, attrs):
    a = _array_arg(ts[0], "reshape")
    _dims_ok(ts[1:], "reshape")
    return [ArrayType(a.dtype, len(ts) - 1)]


def _ravel(ts, attrs):
    return [ArrayType(_array_arg(ts[0], "ravel").dtype, 1)]


define("transpose", _transpose, tags=("view",))
define("reshape", _reshape, tags=("view",))
define("ravel", _ravel)


# ---------------------------------------------------------------------------
# Indexing. attrs["index"] is a tuple of entries: "i" (one integer operand) or
# "s" followed by three flags "1"/"0" telling which of lo, hi, step are operands.


def index_operand_count(spec: Sequence[str]) -> int:
    return sum(1 if e == "i" else e[1:].count("1") for e in spec)


def _indexed_type(t: Type, spec: Sequence[str], what: str) -> Type:
    a = _array_arg(t, what)
    if len(spec) > a.ndim:
        raise TypeRuleError(f"too many indices for a {a.ndim}-d array")
    rank = a.ndim - sum(1 for e in spec if e == "i")
    return a.dtype if rank == 0 else ArrayType(a.dtype, rank)


def _index_operands_ok(ts: List[Type], what: str) -> None:
    for t in ts:
        if t not in (I64, BOOL):
            raise TypeRuleError(f"{what}: indices must be integers, got {t}")


def _getitem(ts, attrs):
    spec = attrs["index"]
    _index_operands_ok(ts[1:], "indexing")
    return [_indexed_type(ts[0], spec, "indexing")]


def _setitem(ts, attrs):
    spec = attrs["index"]
    k = index_operand_count(spec)
    _index_operands_ok(ts[1:1 + k], "indexed assignment")
    target = _indexed_type(ts[0], spec, "indexed assignment")
    value = ts[1 + k]
    _numeric(value, "indexed assignment")
    if isinstance(value, ArrayType) and (not isinstance(target, ArrayType)
                                         or value.ndim > target.ndim):
        raise TypeRuleError(f"cannot assign a {value.ndim}-d array into {target}")
    return [ts[0]]


define("getitem", _getitem, tags=("index", "view"))
define("setitem", _setitem, tags=("index",))
define("addat", _setitem, tags=("index",), doc="x with x[index] += v (adjoint of getitem)")

from . import ops_index as _ops_index  # noqa: E402  (advanced indexing and sorting)
_ops_index.register(define)


# ---------------------------------------------------------------------------
# Control flow and terminators (typed by their regions, see verify.py)

define("if", None, regions=2)
define("for", None, regions=1)
define("while", None, regions=2)
define("yield", lambda ts, a: [], terminator=True)
define("condition", lambda ts, a: [], terminator=True)
define("return", lambda ts, a: [], terminator=True)


def _assert(ts, attrs):
    if ts[0] != BOOL:
        raise TypeRuleError("assert needs a boolean")
    return []


define("assert", _assert, pure=False)


def _print(ts, attrs):
    for t in ts:
        if not isinstance(t, (ScalarType, ArrayType)) or t == NONE:
            raise TypeRuleError(f"print takes numbers and arrays, not {t}")
    return []


define("print", _print, pure=False,
       doc="print the operands with the constant texts (attrs texts at positions at), "
           "separated by sep and followed by end, as Python's print")


# ---------------------------------------------------------------------------
# Reverse-mode support: the tape and adjoint helpers


define("tape_new", lambda ts, a: [TAPE], tags=("alloc",))
define("push", lambda ts, a: [], pure=False)
define("pop", None, pure=False, doc="results typed explicitly: the values pushed")


def _sum_to(ts, attrs):
    _nargs(ts, 2, "sum_to")
    return [ts[1]]


def _expand(ts, attrs):
    a = ts[0]
    if isinstance(a, ArrayType):
        return [ArrayType(a.dtype, a.ndim + 1)]
    return [ArrayType(_numeric(a, "expand_dims"), 1)]


define("sum_to", _sum_to, doc="sum a broadcast adjoint back to the shape of the second operand")
define("expand_dims", _expand)


# ---------------------------------------------------------------------------
# Ops that may raise. A pass never removes such an op, even unused: CPython evaluates
# it and may raise there (`t = math.cos(x); return y` raises for x = inf).

# `math` functions that raise for no argument (CPython checks nothing they can produce).
NEVER_RAISE_MATH = frozenset({"atan", "tanh", "asinh", "erf", "erfc", "cbrt", "atan2",
                              "hypot", "copysign", "abs", "isnan", "isinf"})
_DIVISIONS = ("div", "floordiv", "mod")
_SAFE_ARRAY_OPS = frozenset({"zeros_like", "ones_like", "empty_like", "full_like", "copy",
                             "transpose", "ravel", "expand_dims", "sum", "prod", "mean",
                             "outer", "dim", "size", "sum_to", "cumsum", "cumprod", "convert",
                             "tuple",
                             "tuple_get", "select", "stop_gradient", "straight", "undef",
                             "const", "tape_new", "sort", "argsort"})


def may_raise(op, shapes=None) -> bool:
    """Whether `op` may raise at run time: a `checked` op whose raising case is not ruled
    out, or an array op CPython (NumPy) may refuse (a negative or huge size, an index not
    proven in range, shapes not proven compatible), a call not marked `nothrow`, an opaque
    call, a `for` whose step may be 0, a region op holding such an op. `shapes` (a `passes.shapes.Shapes` of
    the function) lets array proofs use symbolic shapes. Derivative code (locations with a
    role) never counts: it can raise only where the primal code it mirrors raised first."""
    if op.loc.role:
        return False
    if op.regions:
        inner = any(may_raise(o, shapes) for r in op.regions for b in r.blocks for o in b.ops)
        return inner or (op.name == "for" and not facts.nonzero(op.operands[2]))
    if op.name == "call":  # `nothrow`: the frontend proved the callee cannot raise
        return not op.attrs.get("nothrow")
    if op.name == "pycall":
        return True
    if any(isinstance(r.type, ArrayType) for r in op.results) or \
            any(isinstance(v.type, ArrayType) for v in op.operands):
        return _array_may_raise(op, shapes)
    if op.attrs.get("checked"):
        return _checked_may_raise(op)
    return False


def _checked_may_raise(op) -> bool:
    name = op.name
    if name in NEVER_RAISE_MATH:
        return False
    if name in _DIVISIONS:
        return not facts.nonzero(op.operands[1])
    if name in ("add", "sub", "mul", "neg", "abs") or (name == "pow" and op.result.type == I64):
        return False  # exact in CPython; only a 64-bit backend can overflow (documented)
    if name == "convert":
        return op.operands[0].type.is_float and op.result.type == I64
    consts = [facts.const_of(v) for v in op.operands]
    if all(ok and isinstance(c, float) for ok, c in consts):
        return not facts.math_accepts(name, [c for _, c in consts])
    return True


def _array_may_raise(op, shapes) -> bool:
    name = op.name
    if name in _SAFE_ARRAY_OPS:
        return False
    if name in ("zeros", "ones", "empty", "full"):
        dims = op.operands[:-1] if name == "full" else op.operands
        return not facts.size_ok(dims)
    if name == "linspace":
        return not facts.size_ok(op.operands[2:])
    if name == "arange":
        consts = [facts.const_of(v) for v in op.operands]
        if not all(ok for ok, _ in consts):
            return True
        lo, hi, st = (c for _, c in consts)
        return st == 0 or (hi - lo) / st > facts.MAX_SAFE_ELEMENTS
    if name in ("getitem", "setitem", "addat"):
        return not facts.indices_ok(op, shapes)
    if name in ("amax", "amin", "argmax", "argmin"):  # of an empty array: ValueError
        shape = shapes.shape(op.operands[0]) if shapes is not None else None
        return shape is None or any(a[0] != "const" or a[1] <= 0 for a in shape)
    arrays = [v for v in op.operands if isinstance(v.type, ArrayType)]
    if name in ("dot", "matmul"):
        return not facts.contractible(arrays[0], arrays[1], shapes)
    if "elementwise" in OPS[name].tags or name == "pack":  # broadcasting or stacking
        return not all(v is arrays[0] or (shapes is not None and shapes.same(v, arrays[0]))
                       for v in arrays)
    return True


def is_pure(op) -> bool:
    """True when `op` (and everything nested in it) has no side effect."""
    d = OPS.get(op.name)
    if d is None or not d.pure or d.terminator and op.name == "return":
        return False
    if op.name == "call":
        return not op.attrs.get("effects", False)
    return all(is_pure(inner) for r in op.regions for b in r.blocks
               for inner in b.ops if inner.name not in ("yield", "condition"))
