"""IR types: scalars, arrays, tuples, the tape, and their join.

Assumes: nothing.
Guarantees: types are immutable and hashable; `str(t)` is the IR text form and
`parse_type(str(t)) == t`; `join` is the unification used at control-flow merges
(bool < i64 < f32 < f64 for scalars, elementwise for arrays and tuples).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


class Type:
    """Base of all IR types."""

    @property
    def is_float(self) -> bool:
        return False

    @property
    def is_scalar(self) -> bool:
        return False

    def differentiable(self) -> bool:
        """True when values of this type can carry a derivative (floats, float arrays)."""
        return False


@dataclass(frozen=True)
class ScalarType(Type):
    name: str

    def __str__(self) -> str:
        return self.name

    @property
    def is_float(self) -> bool:
        return self.name in ("f64", "f32")

    @property
    def is_int(self) -> bool:
        return self.name == "i64"

    @property
    def is_bool(self) -> bool:
        return self.name == "bool"

    @property
    def is_scalar(self) -> bool:
        return self.name in ("f64", "f32", "i64", "bool")

    def differentiable(self) -> bool:
        return self.is_float


@dataclass(frozen=True)
class ArrayType(Type):
    dtype: ScalarType
    ndim: int

    def __str__(self) -> str:
        return f"array<{self.dtype}, {self.ndim}>"

    def differentiable(self) -> bool:
        return self.dtype.is_float


@dataclass(frozen=True)
class TupleType(Type):
    elts: tuple

    def __str__(self) -> str:
        return "tuple<" + ", ".join(str(e) for e in self.elts) + ">"

    def differentiable(self) -> bool:
        return any(e.differentiable() for e in self.elts)


@dataclass(frozen=True)
class TapeType(Type):
    def __str__(self) -> str:
        return "tape"


@dataclass(frozen=True)
class UnknownType(Type):
    """Placeholder for the result of a recursive call whose return type is being inferred."""

    def __str__(self) -> str:
        return "?"


F64 = ScalarType("f64")
F32 = ScalarType("f32")
I64 = ScalarType("i64")
BOOL = ScalarType("bool")
NONE = ScalarType("none")
TAPE = TapeType()
UNKNOWN = UnknownType()

SCALARS = {t.name: t for t in (F64, F32, I64, BOOL, NONE)}
_RANK = {"bool": 0, "i64": 1, "f32": 2, "f64": 3}


def array(dtype: ScalarType, ndim: int) -> ArrayType:
    return ArrayType(dtype, ndim)


def join_scalar(a: ScalarType, b: ScalarType) -> Optional[ScalarType]:
    if a == b:
        return a
    if a.name in _RANK and b.name in _RANK:
        return a if _RANK[a.name] > _RANK[b.name] else b
    return None


def join(a: Type, b: Type) -> Optional[Type]:
    """The least type both `a` and `b` convert to, or None when there is none."""
    if a == b:
        return a
    if isinstance(a, UnknownType):
        return b
    if isinstance(b, UnknownType):
        return a
    if isinstance(a, ScalarType) and isinstance(b, ScalarType):
        return join_scalar(a, b)
    if isinstance(a, ArrayType) and isinstance(b, ArrayType) and a.ndim == b.ndim:
        d = join_scalar(a.dtype, b.dtype)
        return ArrayType(d, a.ndim) if d is not None and d != NONE else None
    if isinstance(a, TupleType) and isinstance(b, TupleType) and len(a.elts) == len(b.elts):
        elts = [join(x, y) for x, y in zip(a.elts, b.elts)]
        return None if any(e is None for e in elts) else TupleType(tuple(elts))
    return None


def contains_unknown(t: Type) -> bool:
    if isinstance(t, UnknownType):
        return True
    if isinstance(t, TupleType):
        return any(contains_unknown(e) for e in t.elts)
    return False


def element_type(t: Type) -> ScalarType:
    """The scalar type of an array's elements, or the scalar itself."""
    if isinstance(t, ArrayType):
        return t.dtype
    assert isinstance(t, ScalarType), t
    return t


def float_of(t: ScalarType) -> ScalarType:
    """The float type that true division and float math produce from `t`."""
    return t if t.is_float else F64


def like(t: Type, dtype: ScalarType) -> Type:
    """`t` with its element type replaced: a scalar, or an array of the same rank."""
    if isinstance(t, ArrayType):
        return ArrayType(dtype, t.ndim)
    return dtype


def parse_type(text: str) -> Type:
    """Parse the text form of a type (inverse of `str`)."""
    t, rest = _parse_type(text.strip())
    if rest.strip():
        raise ValueError(f"trailing text after type: {rest!r}")
    return t


def _parse_type(s: str):
    s = s.lstrip()
    for prefix in ("array<", "tuple<"):
        if s.startswith(prefix):
            return _parse_compound(prefix[:-1], s[len(prefix):])
    if s.startswith("tape"):
        return TAPE, s[4:]
    for name in sorted(SCALARS, key=len, reverse=True):
        if s.startswith(name):
            return SCALARS[name], s[len(name):]
    raise ValueError(f"unknown type at {s[:20]!r}")


def _parse_compound(kind: str, s: str):
    if kind == "array":
        dtype, s = _parse_type(s)
        s = s.lstrip()
        if not s.startswith(","):
            raise ValueError("expected ',' in array type")
        s = s[1:].lstrip()
        digits = len(s) - len(s.lstrip("0123456789"))
        if digits == 0:
            raise ValueError("expected rank in array type")
        ndim, s = int(s[:digits]), s[digits:].lstrip()
        if not s.startswith(">"):
            raise ValueError("expected '>' closing array type")
        return ArrayType(dtype, ndim), s[1:]
    elts = []
    s = s.lstrip()
    if s.startswith(">"):
        return TupleType(()), s[1:]
    while True:
        t, s = _parse_type(s)
        elts.append(t)
        s = s.lstrip()
        if s.startswith(","):
            s = s[1:]
            continue
        if s.startswith(">"):
            return TupleType(tuple(elts)), s[1:]
        raise ValueError("expected ',' or '>' in tuple type")


_SIG_SCALARS = {"f64": "f64", "float": "f64", "float64": "f64", "f32": "f32",
                "float32": "f32", "i64": "i64", "int": "i64", "int64": "i64", "bool": "bool"}


def parse_signature(text: str) -> Tuple[Type, ...]:
    """Types from text like "f64[:], i64" or "array<f64, 2>, f64"."""
    out = []
    depth, item, items = 0, "", []
    for ch in text:
        if ch in "<[(":
            depth += 1
        elif ch in ">])":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(item)
            item = ""
        else:
            item += ch
    if item.strip():
        items.append(item)
    for raw in items:
        s = raw.strip()
        base, _, dims = s.partition("[")
        name = _SIG_SCALARS.get(base.strip())
        try:
            if name is None:
                out.append(parse_type(s))
            elif dims:
                ndim = dims.rstrip("]").count(":")
                if ndim == 0:
                    raise ValueError(s)
                out.append(ArrayType(SCALARS[name], ndim))
            else:
                out.append(SCALARS[name])
        except ValueError:
            raise ValueError(f"cannot read the type {s!r} in the signature {text!r}; write "
                             "types like f64, i64, bool, f64[:], f64[:, :]") from None
    return tuple(out)
