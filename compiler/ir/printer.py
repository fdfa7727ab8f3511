"""IR printer: functions and modules to the text form documented in docs/ir.md.

Assumes: well-formed IR (the printer prints what it is given, verified or not).
Guarantees: deterministic text; value names come from name hints, made unique per
function in definition order, so that printing parsed text gives the same text
back (`parse(print(f))` prints identically). Values without a hint print as
`%0`, `%1`, ... With `locs=True` each op ends in `loc(line:col)`.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional

from .core import Block, Function, Module, Op, Value
from .types import Type, TupleType


class Namer:
    """Assigns printable, unique names to the values of one function."""

    def __init__(self) -> None:
        self.names: Dict[int, str] = {}
        self.taken: set = set()
        self.counter = 0

    def define(self, v: Value) -> str:
        if v.name:
            name = v.name
            k = 1
            while name in self.taken:
                name = f"{v.name}_{k}"
                k += 1
        else:
            while str(self.counter) in self.taken:
                self.counter += 1
            name = str(self.counter)
            self.counter += 1
        self.taken.add(name)
        self.names[id(v)] = name
        return "%" + name

    def __call__(self, v: Value) -> str:
        n = self.names.get(id(v))
        return "%" + n if n is not None else f"%<undefined {v.name or '?'}>"


def format_value(value) -> str:
    """Text form of a constant or attribute value."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Type):
        return str(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    raise TypeError(f"cannot print attribute value {value!r}")


def format_types(types: List[Type]) -> str:
    if len(types) == 1 and not isinstance(types[0], TupleType):
        return str(types[0])
    return "(" + ", ".join(str(t) for t in types) + ")"


class Printer:
    def __init__(self, locs: bool = False):
        self.locs = locs
        self.lines: List[str] = []
        self.namer = Namer()
        self.file: Optional[str] = None

    def function(self, f: Function) -> str:
        self.namer = Namer()
        self.file = f.loc.file
        params = ", ".join(f"{self.namer.define(p)}: {p.type}" for p in f.params)
        head = f"func @{f.name}({params}) -> {f.result_type}"
        if self.locs:
            head += f' loc("{f.loc.file}":{f.loc.line}:{f.loc.col})'
        self.lines = [head + " {"]
        self.block(f.body.block, 1)
        self.lines.append("}")
        return "\n".join(self.lines)

    def block(self, b: Block, depth: int) -> None:
        for op in b.ops:
            self.op(op, depth)

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)

    def loc(self, op: Op) -> str:
        if not self.locs or op.loc.line <= 0:
            return ""
        if op.loc.file != self.file:
            return f' loc("{op.loc.file}":{op.loc.line}:{op.loc.col})'
        return f" loc({op.loc.line}:{op.loc.col})"

    def op(self, op: Op, depth: int) -> None:
        n = self.namer
        lhs = ", ".join(n.define(r) for r in op.results)
        lhs = lhs + " = " if lhs else ""
        special = getattr(self, "op_" + op.name, None)
        if special is not None:
            special(op, depth, lhs)
            return
        text = lhs + op.name
        if op.operands:
            text += " " + ", ".join(n(v) for v in op.operands)
        text += self.attrs(op, skip=("type",) if op.name in ("const", "undef") else ())
        if op.results:
            text += " : " + ", ".join(str(r.type) for r in op.results)
        self.emit(depth, text + self.loc(op))

    def attrs(self, op: Op, skip=()) -> str:
        items = [(k, v) for k, v in op.attrs.items() if k not in skip]
        if not items:
            return ""
        return " {" + ", ".join(f"{k} = {format_value(v)}" for k, v in items) + "}"

    # -- ops with their own syntax -----------------------------------------

    def op_const(self, op: Op, depth: int, lhs: str) -> None:
        extra = self.attrs(op, skip=("type", "value"))
        self.emit(depth, f"{lhs}const {format_value(op.attrs['value'])}{extra} : "
                         f"{op.result.type}{self.loc(op)}")

    def index_text(self, op: Op) -> tuple:
        """The `[...]` part of an indexing op and the index of its next operand."""
        parts, k = [], 1
        for e in op.attrs["index"]:
            if e == "i":
                parts.append(self.namer(op.operands[k]))
                k += 1
                continue
            pieces = []
            for flag in e[1:]:
                if flag == "1":
                    pieces.append(self.namer(op.operands[k]))
                    k += 1
                else:
                    pieces.append("")
            text = ":".join(pieces)
            parts.append(text[:-1] if text.endswith(":") and e[3] == "0" else text)
        return "[" + ", ".join(parts) + "]", k

    def _indexing(self, op: Op, depth: int, lhs: str) -> None:
        idx, k = self.index_text(op)
        text = f"{lhs}{op.name} {self.namer(op.operands[0])}{idx}"
        if k < len(op.operands):
            text += ", " + ", ".join(self.namer(v) for v in op.operands[k:])
        text += self.attrs(op, skip=("index",))
        self.emit(depth, f"{text} : {op.result.type}{self.loc(op)}")

    op_getitem = op_setitem = op_addat = _indexing

    def op_call(self, op: Op, depth: int, lhs: str) -> None:
        args = ", ".join(self.namer(v) for v in op.operands)
        extra = self.attrs(op, skip=("callee",))
        types = " : " + ", ".join(str(r.type) for r in op.results) if op.results else ""
        self.emit(depth, f"{lhs}call @{op.attrs['callee']}({args}){extra}{types}{self.loc(op)}")

    def _result_types(self, op: Op) -> str:
        return " -> " + format_types([r.type for r in op.results]) if op.results else ""

    def op_if(self, op: Op, depth: int, lhs: str) -> None:
        extra = self.attrs(op)
        self.emit(depth, f"{lhs}if {self.namer(op.operands[0])}{extra}"
                         f"{self._result_types(op)}{self.loc(op)} {{")
        self.block(op.regions[0].block, depth + 1)
        self.emit(depth, "} else {")
        self.block(op.regions[1].block, depth + 1)
        self.emit(depth, "}")

    def _iter(self, args, inits) -> str:
        if not args:
            return ""
        pairs = ", ".join(f"{self.namer.define(a)} = {self.namer(v)}" for a, v in zip(args, inits))
        return f" iter({pairs})"

    def op_for(self, op: Op, depth: int, lhs: str) -> None:
        body = op.regions[0].block
        lo, hi, st = (self.namer(v) for v in op.operands[:3])
        idx = self.namer.define(body.args[0])
        rev = "reversed " if op.attrs.get("reversed") else ""
        extra = self.attrs(op, skip=("reversed",))
        it = self._iter(body.args[1:], op.operands[3:])
        self.emit(depth, f"{lhs}for {rev}{idx} = {lo} to {hi} step {st}{it}{extra}"
                         f"{self._result_types(op)}{self.loc(op)} {{")
        self.block(body, depth + 1)
        self.emit(depth, "}")

    def op_while(self, op: Op, depth: int, lhs: str) -> None:
        cond, body = op.regions[0].block, op.regions[1].block
        it = self._iter(cond.args, op.operands)
        self.emit(depth, f"{lhs}while{it}{self.attrs(op)}{self._result_types(op)}"
                         f"{self.loc(op)} {{")
        self.block(cond, depth + 1)
        args = ", ".join(self.namer.define(a) for a in body.args)
        self.emit(depth, f"}} do ({args}) {{")
        self.block(body, depth + 1)
        self.emit(depth, "}")


def print_function(f: Function, locs: bool = False) -> str:
    return Printer(locs).function(f)


def print_module(m: Module, locs: bool = False) -> str:
    return "\n\n".join(print_function(f, locs) for f in m)
