"""Where the torch backend keeps each scalar: on the host (a Python number) or on the device
(a 0-d tensor).

Assumes: a verified IR module; arrays are tensors; the entry functions' scalar parameters
arrive as Python numbers (the backend's argument conversion sees to it).
Guarantees: `place(module)` maps every scalar value to HOST (certainly a Python number),
DEVICE (certainly a 0-d tensor) or EITHER (one or the other at run time: a value popped
from a tape, a value joined from both). A scalar read from a tensor (an element, a full
reduction, a dot product) is DEVICE; so is every scalar computed from a DEVICE one, so that
no value computed from tensor data moves to the host unless control flow reads it. Shapes
(`dim`, `size`) and constants are HOST. Tuples carry one placement per element. The result
is a fixed point over the whole module (calls pass placements to callee parameters and
back through returns).
"""
from __future__ import annotations

from typing import Dict, List, Union

from ...ir.core import Function, Module, Op, Value
from ...ir.types import ArrayType, TupleType, Type

HOST, DEVICE, EITHER = "host", "device", "either"
Placement = Union[str, tuple]

FROM_TENSOR = ("getitem", "sum", "prod", "mean", "amax", "amin", "argmax", "argmin", "dot",
               "matmul")
SHAPES = ("dim", "size", "const", "undef", "tape_new")


def join(a: Placement, b: Placement) -> Placement:
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(join(x, y) for x, y in zip(a, b))
    if a == b:
        return a
    if a is None:
        return b
    if b is None:
        return a
    return EITHER


def initial(t: Type) -> Placement:
    """What an entry parameter of type `t` holds: tensors for arrays, numbers otherwise."""
    if isinstance(t, TupleType):
        return tuple(initial(e) for e in t.elts)
    return DEVICE if isinstance(t, ArrayType) else HOST


class Placements:
    def __init__(self, module: Module, entries: List[str]):
        self.module = module
        self.of: Dict[int, Placement] = {}
        self.returns: Dict[str, Placement] = {}
        self.params: Dict[str, List[Placement]] = {}
        for f in module:
            self.params[f.name] = [initial(p.type) if f.name in entries else None
                                   for p in f.params]
        changed = True
        while changed:
            changed = False
            for f in module:
                changed |= self._function(f)

    def get(self, v: Value) -> Placement:
        if isinstance(v.type, ArrayType):
            return DEVICE
        return self.of.get(id(v), HOST)

    def _set(self, v: Value, p: Placement) -> bool:
        old = self.of.get(id(v))
        new = p if old is None else join(old, p)
        if new != old:
            self.of[id(v)] = new
            return True
        return False

    def _function(self, f: Function) -> bool:
        changed = False
        for p, place in zip(f.params, self.params[f.name]):
            if place is not None:
                changed |= self._set(p, place)
        for op in f.walk():
            changed |= self._op(f, op)
        return changed

    def _op(self, f: Function, op: Op) -> bool:
        changed = False
        if op.name == "return" and op.operands:
            old = self.returns.get(f.name)
            new = self.get(op.operands[0]) if old is None else join(old, self.get(op.operands[0]))
            if new != old:
                self.returns[f.name] = new
                changed = True
            return changed
        if op.name == "call":
            callee = op.attrs["callee"]
            if callee in self.params:
                params = self.params[callee]
                for i, v in enumerate(op.operands):
                    new = self.get(v) if params[i] is None else join(params[i], self.get(v))
                    if new != params[i]:
                        params[i] = new
                        changed = True
                if callee in self.returns:
                    changed |= self._set(op.result, self.returns[callee])
            return changed
        if op.name in ("for", "while", "if"):
            return self._region_op(op)
        for r in op.results:
            changed |= self._set(r, self._result(op, r))
        return changed

    def _result(self, op: Op, r: Value) -> Placement:
        if isinstance(r.type, ArrayType):
            return DEVICE
        if op.name in SHAPES:
            return HOST
        if op.name in FROM_TENSOR and any(isinstance(v.type, ArrayType) for v in op.operands):
            return DEVICE
        if op.name == "pop":
            return initial_either(r.type)
        if op.name == "tuple":
            return tuple(self.get(v) for v in op.operands)
        if op.name in ("slogdet", "eigh"):  # tuples of tensors
            return tuple(DEVICE for _ in r.type.elts)
        if op.name == "tuple_get":
            whole = self.get(op.operands[0])
            return whole[op.attrs["index"]] if isinstance(whole, tuple) else EITHER
        if op.name == "pycall":
            return initial(r.type)
        if op.name == "select" and self.get(op.operands[0]) == HOST:
            return join(self.get(op.operands[1]), self.get(op.operands[2]))  # a Python `if`
        places = [self.get(v) for v in op.operands]
        if any(p == EITHER or isinstance(p, tuple) for p in places):
            return EITHER
        return DEVICE if DEVICE in places else HOST

    def _region_op(self, op: Op) -> bool:
        changed = False
        if op.name == "if":
            for rg in op.regions:
                y = rg.block.ops[-1]
                for r, v in zip(op.results, y.operands):
                    changed |= self._set(r, self.get(v))
            return changed
        inits = op.operands[3:] if op.name == "for" else op.operands
        blocks = [rg.block for rg in op.regions]
        body = blocks[-1]
        carried = body.args[1:] if op.name == "for" else body.args
        if op.name == "for":
            changed |= self._set(body.args[0], HOST)
        yields = body.ops[-1].operands
        for i, (arg, r) in enumerate(zip(carried, op.results)):
            p = self.get(inits[i])
            if i < len(yields):
                p = join(p, self.get(yields[i]))
            changed |= self._set(arg, p)
            changed |= self._set(r, p)
            if op.name == "while":
                changed |= self._set(blocks[0].args[i], p)
        return changed


def initial_either(t: Type) -> Placement:
    if isinstance(t, TupleType):
        return tuple(initial_either(e) for e in t.elts)
    return DEVICE if isinstance(t, ArrayType) else EITHER


def place(module: Module, entries: List[str]) -> Placements:
    return Placements(module, entries)
