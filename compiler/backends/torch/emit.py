"""torch backend statements: the Python backend's structure over torch tensor ops.

Assumes: prepared IR functions of one module (markers lowered, in-place writes marked).
Guarantees: the same names, loops, branches and `# grad of:` comments as the Python
backend; ops on tensors or on scalars placed on the device use the torch op table
(`exprs`), ops on host numbers the Python backend's (CPython's semantics); copies are
`.clone()`; allocations go to the device of the function's first tensor parameter (the
default device when it has none); slice writes of negative step use a helper.
"""
from __future__ import annotations

import ast
from typing import List, Optional

from ...ir.core import Function, Op, Value
from ...ir.types import ArrayType, F32, F64, TupleType
from ..python.emit import FunctionEmitter, print_call
from ..python.exprs import build as python_build, call, index_expr, name
from ...passes.inplace import mark_accumulations
from .exprs import RULES, cast, elt, index_value, negative_steps, on_device
from .placement import HOST, Placements

IN_PLACE = ("setitem", "addat")


class TorchEmitter(FunctionEmitter):
    placements: Placements

    @classmethod
    def for_module(cls, functions: List[Function]):
        from ...ir.core import Module
        module = Module()
        for f in functions:
            module.add(f)
        entries = [f.name for f in functions]
        for f in functions:
            mark_accumulations(f)
        placements = Placements(module, entries)
        for f in functions:
            _host_float32_as_float(f, placements)
        called = {op.attrs["callee"] for f in functions for op in f.walk() if op.name == "call"}

        def make(f, modules, reserved):
            em = cls(f, modules, reserved)
            em.placements = placements
            em.entry = f.name not in called
            em.writes_in_place = any(op.name in IN_PLACE and op.attrs.get("inplace")
                                     for op in f.walk())
            return em
        return make

    def function(self) -> str:
        """The function; an entry runs under `torch.no_grad()`: adjoin computes its own
        derivatives, so torch need not record any (and runs the ops faster)."""
        text = super().function()
        if self.entry:
            self.m.used.add("torch")
            text = "@torch.no_grad()\n" + text
        return text

    def place(self, v: Value):
        return self.placements.get(v)

    def device(self) -> Optional[ast.expr]:
        """`<tensor>.device` for a tensor parameter in scope, None if there is none."""
        for p in self.f.params:
            path = _tensor_path(p.type)
            if path is not None:
                e: ast.expr = name(self.var(p))
                for k in path:
                    e = ast.Subscript(e, ast.Constant(k), ast.Load())
                return ast.Attribute(e, "device", ast.Load())
        return None

    def like(self) -> List[ast.expr]:
        """Arguments naming the device to helpers that create tensors from numbers."""
        device = self.device()
        if device is None:
            return []
        return [device.value]

    def build(self, op: Op, args: List[ast.expr]) -> ast.expr:
        rule = RULES.get(op.name)
        if rule is not None and on_device(self, op):
            return rule(self, op, args)
        return python_build(self.m, op, args)

    def copy_expr(self, e: ast.expr) -> ast.expr:
        return call(ast.Attribute(e, "clone", ast.Load()))

    def stmt_add(self, op: Op, depth: int) -> None:
        """An adjoint accumulated in place (`a += b`) where the IR allows it."""
        a = op.operands[0]
        if not op.attrs.get("inplace") or id(a) in self.nm.inlined or \
                self.var(a) != self.var(op.result):
            self.stmt_generic(op, depth)
            return
        b = op.operands[1]
        rhs = self.expr(b)
        if elt(b.type) != elt(op.result.type) and isinstance(b.type, ArrayType):
            rhs = cast(self, b, rhs, elt(op.result.type))
        self.emit(depth, f"{self.var(a)} += {ast.unparse(rhs)}")

    def stmt_print(self, op: Op, depth: int) -> None:
        f32 = op.attrs.get("f32", ())
        values = [call(self.m.ref("tt", "printable"), self.expr(v),
                       ast.Constant("f32" if k in f32 else str(elt(v.type))))
                  for k, v in enumerate(op.operands)]
        self.emit(depth, ast.unparse(print_call(op, values)))

    def stmt_setitem(self, op: Op, depth: int, augmented: bool = False) -> None:
        if not negative_steps(op):
            super().stmt_setitem(op, depth, augmented)
            return
        args = [self.expr(v) for v in op.operands]
        sl, k = index_expr(op, args)
        target = args[0] if op.attrs.get("inplace") else self.copy_expr(args[0])
        kw = {"add": ast.Constant(True)} if augmented else {}
        value = call(self.m.ref("tt", "setitem"), target, index_value(sl), args[k], **kw)
        self.emit(depth, f"{self.var(op.result)} = {ast.unparse(value)}")


def _tensor_path(t, path=()):
    if isinstance(t, ArrayType):
        return path
    if isinstance(t, TupleType):
        for k, e in enumerate(t.elts):
            found = _tensor_path(e, path + (k,))
            if found is not None:
                return found
    return None


def _host_float32_as_float(f: Function, placements: Placements) -> None:
    """Host float32 scalars become Python floats: NumPy scalars do not mix with tensors
    (a tensor refuses to store one), and float32 data lives in tensors anyway."""
    def retype(v: Value) -> None:
        if v.type == F32 and placements.get(v) == HOST:
            v.type = F64
    for op in f.walk():  # printing keeps float32's shortest digits
        if op.name == "print":
            op.attrs["f32"] = tuple(k for k, v in enumerate(op.operands) if v.type == F32)
    for p in f.params:
        retype(p)
    for op in f.walk():
        for r in op.results:
            retype(r)
        for rg in op.regions:
            for a in rg.block.args:
                retype(a)

