"""AST -> typed IR: Python's arithmetic on Python and NumPy scalars.

Assumes: used as a base class of `exprs.ExprTranslator`, which provides the builder
`b`, `as_value`, `const_value`, `loc` and `op_text`.
Guarantees: `binop` builds a Python operator as CPython computes it: NumPy's promotion
of Python scalars (NEP 50: a Python float meeting float32 is float32, float32 meeting
a NumPy float64 is float64, by an explicit `convert`), and, between two Python
scalars, the attribute `checked` on the ops that raise in CPython (float and int
`/ // % **`, int `+ - *`). The kinds of values (Python or NumPy scalar, kinds.py) are
tracked in `kinds`; `as_kind` converts between them and `merged` joins them where
control flow meets. Integer constant expressions are exact: one that does not fit in
64 bits is a `BigInt`, a float constant where it meets a float, else a TypingError.
"""
from __future__ import annotations

from typing import List, Optional

import gast

from ..errors import TypingError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import ArrayType, BOOL, F32, F64, I64, NONE, ScalarType, TupleType
from .kinds import Kind, Kinds, is_scalar, join_kinded

BINOPS = {
    gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "div",
    gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.Pow: "pow", gast.MatMult: "matmul",
    gast.BitAnd: "and", gast.BitOr: "or", gast.BitXor: "xor",
}
OP_TEXT = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.FloorDiv: "//",
           gast.Mod: "%", gast.Pow: "**", gast.MatMult: "@", gast.BitAnd: "&",
           gast.BitOr: "|", gast.BitXor: "^", gast.LShift: "<<", gast.RShift: ">>"}


class BigInt:
    """An integer constant expression that does not fit in 64 bits (`2**70`): folded
    exactly, as Python computes it, until it meets a float (it becomes a float
    constant) or must become an integer value (a TypingError: never wrapped)."""

    def __init__(self, value: int, node):
        self.value = value
        self.node = node  # where an error about it points


def fits(v: int) -> bool:
    return -2**63 <= v < 2**63


_INT_FOLD = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
             "mul": lambda a, b: a * b, "floordiv": lambda a, b: a // b,
             "mod": lambda a, b: a % b, "pow": lambda a, b: a ** b}
# Ops that raise in CPython on Python scalars (float results / int results): they get
# the attribute `checked` (docs/ir.md).
_CHECKED_FLOAT = ("div", "floordiv", "mod", "pow")
_CHECKED_INT = ("add", "sub", "mul", "floordiv", "mod", "pow")


class Arithmetic:
    """Operators and scalar kinds, for the expression translator."""

    def __init__(self) -> None:
        self.kinds = Kinds()

    def binop(self, op, a, b, node):
        """`a op b` for a Python operator; a `BigInt` when two integer constants give an
        integer that does not fit in 64 bits."""
        name = BINOPS.get(type(op))
        if name is None:
            raise UnsupportedSyntax(f"the operator '{self.op_text(op)}' is not supported",
                                    self.loc(node), "operator")
        if isinstance(a, BigInt) or isinstance(b, BigInt):
            return self.big_binop(op, name, a, b, node)
        a, b = self.as_value(a, node), self.as_value(b, node)
        for v in (a, b):
            if isinstance(v.type, TupleType) or v.type == NONE:
                raise TypingError(f"'{self.op_text(op)}' does not apply to {v.type}",
                                  self.loc(node), "operator")
        if name in ("and", "or", "xor"):
            if elt(a.type) != BOOL or elt(b.type) != BOOL:
                raise UnsupportedSyntax("bitwise operators are supported on booleans only",
                                        self.loc(node), "bitwise operator")
        big = self.fold_big(name, a, b, node)
        if big is not None:
            return big
        attrs = {}
        if name == "pow" and elt(a.type) in (I64, BOOL) and elt(b.type) in (I64, BOOL):
            k = self.const_value(b)
            if k is not None and k >= 0:
                attrs["int_result"] = True
        if name == "matmul":  # batched and 1-d operands: numpy_contractions
            from .numpy_contractions import matmul_values
            return matmul_values(self, a, b, node)
        return self.arith(name, a, b, attrs)

    def fold_big(self, name: str, a: Value, b: Value, node) -> Optional[BigInt]:
        """Two Python integer constants whose exact result does not fit in 64 bits."""
        x, y = self.int_constant(a), self.int_constant(b)
        if x is None or y is None or name not in _INT_FOLD or (name == "pow" and y < 0):
            return None
        try:
            r = _INT_FOLD[name](x, y)
        except ZeroDivisionError:
            return None  # raises at run time, as in CPython
        return None if fits(r) else BigInt(r, node)

    def int_constant(self, v) -> Optional[int]:
        """The value of a Python int constant (not a NumPy one: those wrap)."""
        if isinstance(v, BigInt):
            return v.value
        c = self.const_value(v)
        if type(c) is int and self.python_scalar(v):
            return c
        return None

    def big_binop(self, op, name: str, a, b, node):
        """An operator with a `BigInt` operand: exact with another integer constant, a float
        constant where it meets a float; anything else does not fit in 64 bits."""
        big = a if isinstance(a, BigInt) else b
        other = b if big is a else a
        x, y = self.int_constant(a), self.int_constant(b)
        if x is not None and y is not None:
            try:
                r = _EXACT[name](x, y)
            except (ZeroDivisionError, OverflowError, KeyError) as e:
                raise TypingError(f"this integer expression cannot be computed ({e!r}); its "
                                  "operands do not fit in 64 bits", self.loc(node),
                                  "integer constant") from None
            if isinstance(r, int) and not fits(r):
                return BigInt(r, node)
            return self.b.const(r)
        other = self.as_value(other, node)
        if isinstance(elt(other.type), ScalarType) and elt(other.type).is_float:
            try:
                f = self.b.const(float(big.value))
            except OverflowError:
                raise TypingError(f"the integer {big.value} is too large to convert to a "
                                  "float", self.loc(node), "integer constant") from None
            return self.binop(op, f if big is a else a, f if big is b else b, node)
        return self.as_value(big, node)

    def arith(self, name: str, a: Value, b: Value, attrs=None) -> Value:
        """`a <name> b`, with NumPy's promotion of Python scalars (NEP 50) and, between two
        Python scalars, CPython's raising semantics (the attribute `checked`)."""
        a, b = self.promote(a, b)
        r = self.b.op(name, [a, b], dict(attrs or {})).result
        if self.python_scalar(a) and self.python_scalar(b) and _raises(name, r.type):
            r.op.attrs["checked"] = True
        return r

    def promote(self, a: Value, b: Value):
        """NEP 50: a Python float meeting float32 (a NumPy scalar or an array) becomes
        float32; float32 meeting a NumPy float64 or int64 becomes float64, by an explicit
        conversion (so that no backend depends on how it represents the other operand)."""
        ea, eb = elt(a.type), elt(b.type)
        wa, wb = self.python_scalar(a), self.python_scalar(b)
        if wa and not wb and ea == F64 and eb == F32:
            a = self.to_f32(a)
        elif wb and not wa and eb == F64 and ea == F32:
            b = self.to_f32(b)
        elif F32 in (ea, eb) and {ea, eb} & {I64, F64} and not (wa or wb):
            a, b = (self.b.convert(v, F64) if e == F32 else v for v, e in ((a, ea), (b, eb)))
        return a, b

    def to_f32(self, v: Value) -> Value:
        c = self.const_value(v)
        if isinstance(c, float):
            return self.b.const(c, F32)
        return self.b.emit("convert", v, to=F32)

    # -- kinds: Python or NumPy scalars ------------------------------------------

    def kind(self, v) -> Kind:
        return self.kinds.of(v)

    def python_scalar(self, v) -> bool:
        return isinstance(v, Value) and is_scalar(v.type) and self.kinds.of(v) is False

    def as_kind(self, v: Value, numpy: bool) -> Value:
        """`v` as a NumPy scalar (`np.float64(v)`) or as a Python scalar (`float(v)`).
        A change of kind alone is an identity `convert`: unchecked to a NumPy scalar
        (canonicalize removes it), `checked` to a Python scalar (kept, so that the Python
        backend makes a Python number where CPython does)."""
        if not is_scalar(v.type) or v.type == F32 or self.kinds.of(v) is numpy:
            return v
        attrs = {"to": v.type} if numpy else {"to": v.type, "checked": True}
        r = self.b.op("convert", [v], attrs).result
        return self.kinds.set(r, numpy)

    def merged(self, values: List[Value], node, what: str):
        """The type and kind of values merged by control flow (NumPy wins; NEP 50)."""
        t, k = values[0].type, self.kinds.of(values[0])
        for v in values[1:]:
            j, k = join_kinded(t, k, v.type, self.kinds.of(v))
            if j is None:
                raise TypingError(f"the two outcomes have different types: {t} and {v.type}",
                                  self.loc(node), what)
            t = j
        return t, k


def elt(t):
    """The element type of an array, or the type itself."""
    return t.dtype if isinstance(t, ArrayType) else t


def _raises(name: str, t) -> bool:
    """Whether `name` on Python scalars giving type `t` raises somewhere in CPython."""
    return isinstance(t, ScalarType) and ((t.is_float and name in _CHECKED_FLOAT) or
                                          (t == I64 and name in _CHECKED_INT))


_EXACT = dict(_INT_FOLD, div=lambda a, b: a / b)
