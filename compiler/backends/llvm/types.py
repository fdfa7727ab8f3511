"""LLVM types for IR types, and the array descriptor layout.

Assumes: IR types from `ir/types.py`.
Guarantees: one mapping used by every part of the backend:
  f64 -> double, f32 -> float, i64 -> i64, bool -> i1 in registers and i8 in
  memory, none -> i8, tape -> i8 (the tape lives in the call context),
  array<T, N> -> {T*, [N x i64] shape, [N x i64] strides in elements},
  tuple<...> -> a literal struct of the element types.
"""
from __future__ import annotations

from llvmlite import ir

from ...errors import BackendError
from ...ir.types import ArrayType, ScalarType, TapeType, TupleType, Type, UnknownType

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F64 = ir.DoubleType()
F32 = ir.FloatType()
I8P = I8.as_pointer()
MAX_DIMS = 8

_SCALARS = {"f64": F64, "f32": F32, "i64": I64, "bool": I1, "none": I8}
_MEMORY = {"f64": F64, "f32": F32, "i64": I64, "bool": I8}
SIZES = {"f64": 8, "f32": 4, "i64": 8, "bool": 1}


def element(t: ScalarType) -> ir.Type:
    """The in-memory type of an array element."""
    return _MEMORY[t.name]


def array_type(t: ArrayType) -> ir.LiteralStructType:
    return ir.LiteralStructType([element(t.dtype).as_pointer(), ir.ArrayType(I64, t.ndim),
                                 ir.ArrayType(I64, t.ndim)])


def lltype(t: Type) -> ir.Type:
    if isinstance(t, ScalarType):
        return _SCALARS[t.name]
    if isinstance(t, ArrayType):
        if t.ndim > MAX_DIMS:
            raise BackendError(f"the llvm backend supports arrays of up to {MAX_DIMS} "
                               f"dimensions, not {t}")
        if t.dtype.name not in _MEMORY:
            raise BackendError(f"the llvm backend has no arrays of {t.dtype}")
        return array_type(t)
    if isinstance(t, TupleType):
        return ir.LiteralStructType([lltype(e) for e in t.elts])
    if isinstance(t, TapeType):
        return I8
    if isinstance(t, UnknownType):
        raise BackendError("internal: an unresolved type reached the llvm backend")
    raise BackendError(f"the llvm backend does not support values of type {t}; use "
                       "backend=\"python\"")


def memory_type(t: Type) -> ir.Type:
    """How a value of type `t` is stored (on the tape): bools as bytes."""
    if isinstance(t, ScalarType) and t.name == "bool":
        return I8
    if isinstance(t, TupleType):
        return ir.LiteralStructType([memory_type(e) for e in t.elts])
    return lltype(t)


def const_int(v: int) -> ir.Constant:
    return ir.Constant(I64, v)
