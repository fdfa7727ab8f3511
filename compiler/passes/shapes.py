"""Symbolic shapes: which arrays provably have the same shape at run time.

Assumes: verified IR.
Guarantees: `Shapes(f).shape(v)` is a tuple of atoms or None (unknown). Two
arrays whose shapes are equal tuples have equal shapes on every run. Atoms are
`("param", i, axis)` for argument dimensions, `("const", n)`, and `("val", k)`
for a dimension computed at run time (an integer value, or an unrelated slice
length). Shapes follow elementwise ops (without size-1 broadcasting), reductions,
indexing, linear algebra, loops and branches (when every path agrees), and calls
(through the callee's result shape). Used to drop `sum_to` where no broadcast
happened, so adjoints neither sum nor keep arrays only to learn their shapes.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..ir.core import Function, Op, Value
from ..ir.ops import OPS
from ..ir.types import ArrayType

Shape = Optional[Tuple]


class Shapes:
    def __init__(self, f: Function, lookup=None, _depth: int = 0,
                 _args: Optional[List[Shape]] = None):
        self.f = f
        self.lookup = lookup  # symbol -> Function, for callees' result shapes
        self.depth = _depth
        self.of: Dict[int, Shape] = {}
        self.ints: Dict[int, Tuple] = {}
        self.fresh = 0
        for p in f.params:
            if isinstance(p.type, ArrayType):
                given = _args[p.index] if _args is not None else None
                self.of[id(p)] = given if given is not None else \
                    tuple(("param", p.index, k) for k in range(p.type.ndim))
        self.block(f.body.block)

    # -- queries ----------------------------------------------------------------------

    def shape(self, v: Value) -> Shape:
        return self.of.get(id(v))

    def same(self, a: Value, b: Value) -> bool:
        sa, sb = self.shape(a), self.shape(b)
        return sa is not None and sa == sb

    def atom(self, v: Value) -> Tuple:
        """The atom an integer value stands for as a dimension."""
        a = self.ints.get(id(v))
        if a is not None:
            return a
        op = getattr(v, "op", None)
        if op is not None and op.name == "const":
            return ("const", op.attrs["value"])
        return ("val", id(v))

    def unknown_atom(self) -> Tuple:
        self.fresh += 1
        return ("val", "fresh", id(self), self.fresh)

    # -- propagation ---------------------------------------------------------------------

    def block(self, b) -> None:
        for op in b.ops:
            self.visit(op)

    def set(self, v: Value, s: Shape) -> None:
        if isinstance(v.type, ArrayType) and s is not None and len(s) == v.type.ndim:
            self.of[id(v)] = s
        elif isinstance(v.type, ArrayType):
            self.of[id(v)] = None

    def visit(self, op: Op) -> None:
        handler = getattr(self, "op_" + op.name, None)
        if handler is not None:
            handler(op)
        elif "elementwise" in OPS[op.name].tags and op.results:
            self.set(op.result, self.broadcast(op.operands))
        elif op.name in ("zeros", "ones", "empty", "full"):
            dims = op.operands[:-1] if op.name == "full" else op.operands
            self.set(op.result, tuple(self.atom(d) for d in dims))
        elif op.name in ("zeros_like", "ones_like", "empty_like", "full_like", "copy",
                         "setitem", "addat", "convert", "put", "put_add", "sort",
                         "argsort", "cumsum", "cumprod"):
            self.set(op.result, self.shape(op.operands[0]))
        else:
            for r in op.results:
                self.set(r, None)

    def broadcast(self, operands) -> Shape:
        shapes = [self.shape(v) for v in operands if isinstance(v.type, ArrayType)]
        if not shapes or any(s is None for s in shapes):
            return None
        return shapes[0] if all(s == shapes[0] for s in shapes) else None

    def op_dim(self, op: Op) -> None:
        s = self.shape(op.operands[0])
        if s is not None:
            self.ints[id(op.result)] = s[op.attrs["axis"] % len(s)]

    def op_getitem(self, op: Op) -> None:
        s = self.shape(op.operands[0])
        if s is None or not isinstance(op.result.type, ArrayType):
            return self.set(op.result, None) if isinstance(op.result.type, ArrayType) else None
        out: List = []
        for k, e in enumerate(op.attrs["index"]):
            if e == "s000":
                out.append(s[k])
            elif e != "i":
                out.append(self.unknown_atom())
        out += list(s[len(op.attrs["index"]):])
        self.set(op.result, tuple(out))

    def op_transpose(self, op: Op) -> None:
        s = self.shape(op.operands[0])
        axes = op.attrs.get("axes")
        self.set(op.result, None if s is None else tuple(reversed(s)) if axes is None
                 else tuple(s[k] for k in axes))

    def op_reshape(self, op: Op) -> None:
        self.set(op.result, tuple(self.atom(d) for d in op.operands[1:]))

    def op_expand_dims(self, op: Op) -> None:
        s = self.shape(op.operands[0]) if isinstance(op.operands[0].type, ArrayType) else ()
        if s is None:
            return self.set(op.result, None)
        axis = op.attrs.get("axis", 0)
        self.set(op.result, tuple(s[:axis]) + (("const", 1),) + tuple(s[axis:]))

    def op_sum_to(self, op: Op) -> None:
        self.set(op.result, self.shape(op.operands[1]))

    def reduction(self, op: Op) -> None:
        s = self.shape(op.operands[0])
        axis = op.attrs.get("axis")
        if isinstance(op.result.type, ArrayType):
            self.set(op.result, None if s is None or axis is None else
                     tuple(a for k, a in enumerate(s) if k != axis % len(s)))

    op_sum = op_mean = op_amax = op_amin = op_prod = op_argmax = op_argmin = reduction

    def op_dot(self, op: Op) -> None:
        a, b = (self.shape(v) for v in op.operands)
        if a is None or b is None or not isinstance(op.result.type, ArrayType) or \
                len(a) > 2 or len(b) > 2:
            return self.set(op.result, None) if isinstance(op.result.type, ArrayType) else None
        out = (a[:-1] if len(a) == 2 else ()) + (b[-1:] if len(b) == 2 else ())
        self.set(op.result, tuple(out))

    op_matmul = op_dot

    def op_outer(self, op: Op) -> None:
        a, b = (self.shape(v) for v in op.operands)
        self.set(op.result, None if a is None or b is None else (a[0], b[0]))

    def op_pack(self, op: Op) -> None:
        inner = self.shape(op.operands[0]) if isinstance(op.operands[0].type, ArrayType) else ()
        if inner is None or any(isinstance(v.type, ArrayType) and self.shape(v) != inner
                                for v in op.operands):
            return self.set(op.result, None)
        self.set(op.result, (("const", len(op.operands)),) + tuple(inner))

    def op_if(self, op: Op) -> None:
        for rg in op.regions:
            self.block(rg.block)
        for r in op.results:
            ys = [rg.block.ops[-1].operands[r.index] for rg in op.regions]
            self.set(r, self.shape(ys[0]) if self.same(ys[0], ys[1]) else None)

    def loop(self, op: Op) -> None:
        offset, shift = (3, 1) if op.name == "for" else (0, 0)
        inits = op.operands[offset:]
        assumed = [self.shape(v) for v in inits]
        for _ in range(3):
            for rg in op.regions:
                for k, v in enumerate(inits):
                    if rg is op.regions[-1]:
                        self.set(rg.block.args[k + shift], assumed[k])
                    else:
                        self.set(rg.block.args[k], assumed[k])
                self.block(rg.block)
            ys = op.regions[-1].block.ops[-1].operands
            now = [a if a is not None and self.shape(y) == a else None
                   for a, y in zip(assumed, ys)]
            if now == assumed:
                break
            assumed = now
        for r, s in zip(op.results, assumed):
            self.set(r, s)

    op_for = op_while = loop

    def op_call(self, op: Op) -> None:
        r = op.results[0] if op.results else None
        if r is None or not isinstance(r.type, ArrayType) or self.lookup is None \
                or self.depth > 4:
            return self.set(r, None) if r is not None else None
        callee = self.lookup(op.attrs["callee"])
        if callee is None or callee is self.f:
            return self.set(r, None)
        # The callee analysed with this call's argument shapes: its result is in this
        # function's atoms, where it has any (atoms made inside the callee may differ
        # from call to call, and a callee parameter's atom means nothing here).
        args = [self.shape(v) if isinstance(v.type, ArrayType) else None for v in op.operands]
        inner = Shapes(callee, self.lookup, self.depth + 1, args)
        ret = callee.body.block.ops[-1].operands[0]
        s = inner.shape(ret)
        known = {a for shape in args if shape is not None for a in shape}
        if s is None or any(a[0] != "const" and a not in known for a in s):
            return self.set(r, None)
        self.set(r, s)

