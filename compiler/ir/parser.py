"""IR parser: reads the text that `printer` writes back into IR.

Assumes: text in the format of docs/ir.md.
Guarantees: `print_function(parse_function(text)) == text` for printed text;
malformed input raises `IRParseError` with line and column. Result types are
read from the text, never re-inferred, so a parsed function can be checked
independently by the verifier.
"""
from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Optional, Tuple

from ..errors import IRParseError, Loc, UNKNOWN_LOC
from .core import Block, Function, Module, Op, Region, Value
from .types import ArrayType, SCALARS, TAPE, TupleType, Type

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>//[^\n]*)
  | (?P<value>%[A-Za-z0-9_.]+)
  | (?P<symbol>@[A-Za-z0-9_.]+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|-inf)
  | (?P<arrow>->)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[=,:(){}\[\]<>])
""", re.VERBOSE)


class Tok:
    __slots__ = ("kind", "text", "line", "col")

    def __init__(self, kind: str, text: str, line: int, col: int):
        self.kind, self.text, self.line, self.col = kind, text, line, col

    def __repr__(self) -> str:
        return f"{self.kind}:{self.text!r}"


def tokenize(text: str) -> List[Tok]:
    toks, pos, line, line_start = [], 0, 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise IRParseError(f"unexpected character {text[pos]!r}", line, pos - line_start)
        kind = m.lastgroup
        s = m.group()
        if kind not in ("ws", "comment"):
            toks.append(Tok(kind, s, line, pos - line_start))
        nl = s.count("\n")
        if nl:
            line += nl
            line_start = pos + s.rfind("\n") + 1
        pos = m.end()
    toks.append(Tok("eof", "", line, pos - line_start))
    return toks


class Parser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.pos = 0
        self.values: Dict[str, Value] = {}
        self.file = "<ir>"

    # -- token helpers -----------------------------------------------------

    @property
    def tok(self) -> Tok:
        return self.toks[self.pos]

    def error(self, msg: str, tok: Optional[Tok] = None) -> IRParseError:
        t = tok or self.tok
        return IRParseError(f"{msg} (found {t.text!r})" if t.text else msg, t.line, t.col)

    def next(self) -> Tok:
        t = self.tok
        self.pos += 1
        return t

    def at(self, text: str) -> bool:
        return self.tok.text == text and self.tok.kind != "string"

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> Tok:
        if not self.at(text):
            raise self.error(f"expected {text!r}")
        return self.next()

    def expect_kind(self, kind: str) -> Tok:
        if self.tok.kind != kind:
            raise self.error(f"expected a {kind}")
        return self.next()

    # -- values and types --------------------------------------------------

    def define(self, tok: Tok, value: Value) -> Value:
        name = tok.text[1:]
        if name in self.values:
            raise self.error(f"value %{name} defined twice", tok)
        self.values[name] = value
        value.name = "" if name.isdigit() else name
        return value

    def use(self) -> Value:
        tok = self.expect_kind("value")
        v = self.values.get(tok.text[1:])
        if v is None:
            raise self.error(f"use of undefined value {tok.text}", tok)
        return v

    def value_list(self, close: str) -> List[Value]:
        vals = []
        while not self.at(close):
            vals.append(self.use())
            if not self.accept(","):
                break
        return vals

    def type(self) -> Type:
        t = self.next()
        if t.text == "array":
            self.expect("<")
            dtype = self.type()
            self.expect(",")
            ndim = int(self.expect_kind("number").text)
            self.expect(">")
            return ArrayType(dtype, ndim)  # type: ignore[arg-type]
        if t.text == "tuple":
            self.expect("<")
            elts = []
            while not self.at(">"):
                elts.append(self.type())
                if not self.accept(","):
                    break
            self.expect(">")
            return TupleType(tuple(elts))
        if t.text == "tape":
            return TAPE
        if t.text in SCALARS:
            return SCALARS[t.text]
        raise self.error("expected a type", t)

    def type_list(self) -> List[Type]:
        if self.accept("("):
            ts = []
            while not self.at(")"):
                ts.append(self.type())
                if not self.accept(","):
                    break
            self.expect(")")
            return ts
        return [self.type()]

    def literal(self) -> Any:
        t = self.tok
        if t.kind == "number":
            self.next()
            if t.text == "-inf":
                return -math.inf
            return float(t.text) if any(c in t.text for c in ".eE") else int(t.text)
        if t.kind == "string":
            self.next()
            return re.sub(r"\\(.)", r"\1", t.text[1:-1])
        if t.text in ("true", "false"):
            self.next()
            return t.text == "true"
        if t.text == "none":
            self.next()
            return None
        if t.text in ("inf", "nan"):
            self.next()
            return math.inf if t.text == "inf" else math.nan
        if t.text == "[":
            self.next()
            items = []
            while not self.at("]"):
                items.append(self.literal())
                if not self.accept(","):
                    break
            self.expect("]")
            return tuple(items)
        if t.kind == "ident":
            return self.type()
        raise self.error("expected a literal")

    def attrs(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        nxt = self.toks[self.pos + 1:self.pos + 3]
        is_dict = self.at("{") and len(nxt) == 2 and nxt[0].kind == "ident" and \
            nxt[1].text == "="
        if not is_dict:  # a region body, not an attribute dictionary
            return out
        self.next()
        while not self.at("}"):
            key = self.expect_kind("ident").text
            self.expect("=")
            out[key] = self.literal()
            if not self.accept(","):
                break
        self.expect("}")
        return out

    def loc(self) -> Optional[Loc]:
        if not self.accept("loc"):
            return None
        self.expect("(")
        file = self.file
        if self.tok.kind == "string":
            file = self.literal()
            self.expect(":")
        line = int(self.expect_kind("number").text)
        self.expect(":")
        col = int(self.expect_kind("number").text)
        self.expect(")")
        return Loc(file, line, col)

    # -- structure ---------------------------------------------------------

    def module(self) -> Module:
        m = Module()
        while self.tok.kind != "eof":
            m.add(self.function())
        return m

    def function(self) -> Function:
        self.values = {}
        self.expect("func")
        name = self.expect_kind("symbol").text[1:]
        self.expect("(")
        params: List[Tuple[Tok, Type]] = []
        while not self.at(")"):
            tok = self.expect_kind("value")
            self.expect(":")
            params.append((tok, self.type()))
            if not self.accept(","):
                break
        self.expect(")")
        self.expect("->")
        result = self.type()
        loc = self.loc()
        if loc is not None:
            self.file = loc.file
        f = Function(name, [t for _, t in params], [], result, loc or UNKNOWN_LOC)
        for (tok, _), p in zip(params, f.params):
            self.define(tok, p)
        self.block_body(f.body.block)
        return f

    def block_body(self, block: Block) -> None:
        self.expect("{")
        while not self.at("}"):
            block.append(self.op())
        self.expect("}")

    def op(self) -> Op:
        result_toks: List[Tok] = []
        if self.tok.kind == "value":
            while True:
                result_toks.append(self.expect_kind("value"))
                if not self.accept(","):
                    break
            self.expect("=")
        name_tok = self.expect_kind("ident")
        handler = getattr(self, "op_" + name_tok.text, self.op_generic)
        op = handler(name_tok.text, result_toks)
        if len(op.results) != len(result_toks):
            raise self.error(f"{name_tok.text} defines {len(result_toks)} values but has "
                             f"{len(op.results)} results", name_tok)
        for tok, r in zip(result_toks, op.results):
            self.define(tok, r)
        return op

    def finish(self, op: Op) -> Op:
        loc = self.loc()
        if loc is not None:
            op.loc = loc
        return op

    def op_generic(self, name: str, res: List[Tok]) -> Op:
        operands = []
        if self.tok.kind == "value":
            operands = self.value_list(":")
        attrs = self.attrs()
        types = []
        if self.accept(":"):
            types = [self.type()]
            while self.accept(","):
                types.append(self.type())
        return self.finish(Op(name, operands, types, attrs))

    def op_const(self, name: str, res: List[Tok]) -> Op:
        value = self.literal()
        attrs = self.attrs()
        self.expect(":")
        t = self.type()
        if isinstance(value, int) and not isinstance(value, bool) and t.is_float:
            value = float(value)
        return self.finish(Op("const", [], [t], {"value": value, "type": t, **attrs}))

    def op_undef(self, name: str, res: List[Tok]) -> Op:
        attrs = self.attrs()
        self.expect(":")
        t = self.type()
        return self.finish(Op("undef", [], [t], {"type": t, **attrs}))

    def _indexing(self, name: str, res: List[Tok]) -> Op:
        operands = [self.use()]
        self.expect("[")
        spec = []
        while not self.at("]"):
            spec.append(self.index_entry(operands))
            if not self.accept(","):
                break
        self.expect("]")
        while self.accept(","):
            operands.append(self.use())
        attrs = self.attrs()
        self.expect(":")
        t = self.type()
        return self.finish(Op(name, operands, [t], {"index": tuple(spec), **attrs}))

    op_getitem = op_setitem = op_addat = _indexing

    def index_entry(self, operands: List[Value]) -> str:
        parts: List[Optional[Value]] = []
        colons = 0
        current: Optional[Value] = None
        while not (self.at(",") or self.at("]")):
            if self.accept(":"):
                parts.append(current)
                current = None
                colons += 1
            else:
                current = self.use()
        parts.append(current)
        if colons == 0:
            if current is None:
                raise self.error("empty index")
            operands.append(current)
            return "i"
        while len(parts) < 3:
            parts.append(None)
        flags = ""
        for p in parts[:3]:
            flags += "0" if p is None else "1"
            if p is not None:
                operands.append(p)
        return "s" + flags

    def op_call(self, name: str, res: List[Tok]) -> Op:
        callee = self.expect_kind("symbol").text[1:]
        self.expect("(")
        args = self.value_list(")")
        self.expect(")")
        attrs = self.attrs()
        types = []
        if self.accept(":"):
            types = [self.type()]
            while self.accept(","):
                types.append(self.type())
        return self.finish(Op("call", args, types, {"callee": callee, **attrs}))

    def result_types(self) -> List[Type]:
        return self.type_list() if self.accept("->") else []

    def op_if(self, name: str, res: List[Tok]) -> Op:
        cond = self.use()
        attrs = self.attrs()
        types = self.result_types()
        op = self.finish(Op("if", [cond], types, attrs))
        for i in range(2):
            if i == 1:
                self.expect("else")
            region = op.add_region(Region([Block()]))
            self.block_body(region.block)
        return op

    def iter_args(self) -> Tuple[List[Tok], List[Value]]:
        toks, inits = [], []
        if self.accept("iter"):
            self.expect("(")
            while not self.at(")"):
                toks.append(self.expect_kind("value"))
                self.expect("=")
                inits.append(self.use())
                if not self.accept(","):
                    break
            self.expect(")")
        return toks, inits

    def op_for(self, name: str, res: List[Tok]) -> Op:
        rev = self.accept("reversed")
        idx_tok = self.expect_kind("value")
        self.expect("=")
        lo = self.use()
        self.expect("to")
        hi = self.use()
        self.expect("step")
        st = self.use()
        toks, inits = self.iter_args()
        attrs = self.attrs()
        if rev:
            attrs["reversed"] = True
        types = self.result_types()
        op = self.finish(Op("for", [lo, hi, st] + inits, types, attrs))
        body = Block([lo.type] + [v.type for v in inits])
        for tok, a in zip([idx_tok] + toks, body.args):
            self.define(tok, a)
        op.add_region(Region([body]))
        self.block_body(body)
        return op

    def op_while(self, name: str, res: List[Tok]) -> Op:
        toks, inits = self.iter_args()
        attrs = self.attrs()
        types = self.result_types()
        op = self.finish(Op("while", inits, types, attrs))
        cond = Block([v.type for v in inits])
        for tok, a in zip(toks, cond.args):
            self.define(tok, a)
        op.add_region(Region([cond]))
        self.block_body(cond)
        self.expect("do")
        self.expect("(")
        body_toks = []
        while not self.at(")"):
            body_toks.append(self.expect_kind("value"))
            if not self.accept(","):
                break
        self.expect(")")
        body = Block([v.type for v in inits])
        if len(body_toks) != len(inits):
            raise self.error("while body must name one argument per loop-carried value")
        for tok, a in zip(body_toks, body.args):
            self.define(tok, a)
        op.add_region(Region([body]))
        self.block_body(body)
        return op


def parse_module(text: str) -> Module:
    return Parser(text).module()


def parse_function(text: str) -> Function:
    p = Parser(text)
    f = p.function()
    if p.tok.kind != "eof":
        raise p.error("text after the end of the function")
    return f
