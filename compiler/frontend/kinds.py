"""Python scalars and NumPy scalars: the kind of each scalar value while translating.

CPython gives one operation two meanings: `1.0 / 0.0` raises ZeroDivisionError for
Python floats but gives `inf` for `np.float64`; `0.5 + np.float32(x)` stays float32
(a Python scalar is "weak", NEP 50) while `np.float64(0.5) + np.float32(x)` is float64.
IR types say `f64` for both; the translator tracks the kind beside the type.

Assumes: IR values made by the frontend (`kind_of` reads the ops that define them).
Guarantees:
  * a kind is `False` (a Python scalar, or not a scalar), `True` (a NumPy scalar), or a
    tuple of kinds for a tuple value. `f32` scalars are always NumPy scalars.
  * `Kinds.of(v)` is the kind recorded for `v`, else the kind its op gives: literals,
    `len`/`.shape`/`.size` and opaque calls give Python scalars; array elements,
    reductions, products and `np.where` give NumPy scalars; any other op gives a NumPy
    scalar when one of its operands is NumPy (or an array).
  * `join_kinded` is the merge of two (type, kind) pairs (an `if`, a loop, `a if c else
    b`): NumPy wins, and a Python scalar joins a NumPy scalar as NEP 50 promotes it (a
    Python float meeting a float32 gives float32).
  * `NumpyScalarType` marks NumPy-scalar arguments in signatures only (`marked`,
    `split`): it never appears as the type of an IR value; `StructType` and the `Struct`
    kind do the same for structured values (structs.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ..ir.core import BlockArg, OpResult, Value
from ..ir.types import (ArrayType, BOOL, F32, F64, I64, ScalarType, TupleType, Type, join)
from .structs import Struct, StructType


@dataclass(frozen=True)
class FunctionSig(Type):
    """A signature entry for a function argument (function_values.py): `target`
    identifies the function, `plain` is the IR type of its run-time part, `payload`
    is what the callee binds the parameter's name to."""
    target: object
    plain: Type
    payload: object = field(compare=False, hash=False, default=None)

    def __str__(self) -> str:
        return str(self.plain)

Kind = Union[bool, tuple]

PYTHON_RESULTS = frozenset({"const", "undef", "dim", "size", "pycall"})
NUMPY_RESULTS = frozenset({"getitem", "sum", "prod", "mean", "amax", "amin", "argmax",
                           "argmin", "dot", "matmul", "where"})
_CATEGORY = {"bool": 0, "i64": 1, "f32": 2, "f64": 2}


@dataclass(frozen=True)
class NumpyScalarType(ScalarType):
    """A signature entry for a NumPy scalar argument (`np.float64(1.0)`, `np.int64(3)`):
    unequal to the plain type, so the two kinds of argument get their own
    specializations; printed like the plain type."""

    def __str__(self) -> str:
        return self.name


def marked(t: Type, kind: Kind) -> Type:
    """The signature entry of a value of type `t` and kind `kind`."""
    if isinstance(kind, FunctionSig):
        return kind
    if isinstance(t, TupleType):
        kinds = kind if isinstance(kind, tuple) else (False,) * len(t.elts)
        elts = tuple(marked(e, k) for e, k in zip(t.elts, kinds))
        return StructType(elts, kind.spec) if isinstance(kind, Struct) else TupleType(elts)
    if kind is True and isinstance(t, ScalarType) and t in (F64, I64, BOOL):
        return NumpyScalarType(t.name)
    return t


def split(types: Sequence[Type]) -> Tuple[List[Type], List[Kind]]:
    """Plain IR types and kinds of a signature (the inverse of `marked`)."""
    return [_plain(t) for t in types], [_kind(t) for t in types]


def _plain(t: Type) -> Type:
    if isinstance(t, FunctionSig):
        return _plain(t.plain)
    if isinstance(t, NumpyScalarType):
        return ScalarType(t.name)
    if isinstance(t, TupleType):
        return TupleType(tuple(_plain(e) for e in t.elts))
    return t


def _kind(t: Type) -> Kind:
    if isinstance(t, FunctionSig):
        return t  # the callee binds the parameter's name to the function again
    if isinstance(t, StructType):
        return Struct([_kind(e) for e in t.elts], t.spec)
    if isinstance(t, TupleType):
        return tuple(_kind(e) for e in t.elts)
    return isinstance(t, NumpyScalarType) or t == F32


def captured_kind(sig: FunctionSig) -> Kind:
    """The kind of a function argument's run-time part (a closure's captured values)."""
    return _kind(sig.plain)


def is_scalar(t: Type) -> bool:
    return isinstance(t, ScalarType) and t.is_scalar


def join_kinded(a: Type, ka: Kind, b: Type, kb: Kind) -> Tuple[Optional[Type], Kind]:
    """The merged type and kind of two values (None as the type when there is none)."""
    if isinstance(a, TupleType) and isinstance(b, TupleType) and len(a.elts) == len(b.elts):
        if (isinstance(ka, Struct) or isinstance(kb, Struct)) and ka.__class__ is not \
                kb.__class__ or isinstance(ka, Struct) and ka.spec != kb.spec:
            return None, False  # a dict and a list (or other keys) are different types
        parts = [join_kinded(x, _part(ka, i), y, _part(kb, i))
                 for i, (x, y) in enumerate(zip(a.elts, b.elts))]
        if any(t is None for t, _ in parts):
            return None, False
        kinds = [k for _, k in parts]
        return TupleType(tuple(t for t, _ in parts)), \
            Struct(kinds, ka.spec) if isinstance(ka, Struct) else tuple(kinds)
    if not (is_scalar(a) and is_scalar(b)) or ka is kb:
        return join(a, b), bool(ka is True or kb is True)
    weak, strong = (a, b) if ka is not True else (b, a)
    if _CATEGORY[weak.name] <= _CATEGORY[strong.name]:
        return strong, True  # NEP 50: the Python scalar takes the NumPy scalar's type
    return join(a, b), True


def _part(k: Kind, i: int) -> Kind:
    return k[i] if isinstance(k, tuple) and i < len(k) else False


class Kinds:
    """The kinds recorded for values, by identity (each entry holds its value, so an id
    is never reused while it is looked up)."""

    def __init__(self) -> None:
        self.known: Dict[int, Tuple[Value, Kind]] = {}

    def set(self, v: Value, kind: Kind) -> Value:
        self.known[id(v)] = (v, kind)
        return v

    def of(self, v) -> Kind:
        if not isinstance(v, Value):
            return False
        hit = self.known.get(id(v))
        if hit is not None and hit[0] is v:
            return hit[1]
        if v.type == F32:
            return True
        if isinstance(v, BlockArg) or not isinstance(v, OpResult):
            return False
        k = self.derive(v)
        self.known[id(v)] = (v, k)
        return k

    def derive(self, v: OpResult) -> Kind:
        op = v.op
        if op.name == "tuple":
            return tuple(self.of(x) for x in op.operands)
        if op.name == "tuple_get":
            return _part(self.of(op.operands[0]), op.attrs["index"])
        if isinstance(v.type, (ArrayType, TupleType)) or op.name in PYTHON_RESULTS:
            return False
        if op.name in NUMPY_RESULTS:
            return True
        return any(isinstance(x.type, ArrayType) or self.of(x) is True for x in op.operands)
