"""adjoin's typed SSA IR with structured control flow (see docs/ir.md)."""
import sys as _sys
import types as _types

from .core import Block, BlockArg, Function, Module, Op, OpResult, Region, Value
from .parser import parse_function, parse_module
from .printer import print_function, print_module
from .types import (ArrayType, BOOL, F32, F64, I64, NONE, TAPE, ScalarType, TupleType, Type,
                    parse_type)
from .verify import verify_function, verify_module

__all__ = [
    "Block", "BlockArg", "Function", "Module", "Op", "OpResult", "Region", "Value",
    "parse_function", "parse_module", "print_function", "print_module",
    "ArrayType", "BOOL", "F32", "F64", "I64", "NONE", "TAPE", "ScalarType", "TupleType", "Type",
    "parse_type", "verify_function", "verify_module",
]


class _CallableModule(_types.ModuleType):
    """`adjoin.ir` is this package and also the function `adjoin.ir(f, *args)`."""

    def __call__(self, fn, *args, **kwargs):
        """The typed SSA IR of `fn` for the types of `args`, as text."""
        from ..api import ir
        return ir(fn, *args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
