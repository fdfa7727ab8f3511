"""Python backend statements: IR functions to readable Python source.

Assumes: verified IR with in-place writes marked (`passes.inplace`), named by
`naming.Naming`.
Guarantees: one `def` per IR function, structured like the IR: `if`/`else`
(an else holding only an if becomes `elif`),
`for ... in range(...)` (or `reversed(range(...))`), `while`; loop-carried values
live in ordinary variables, updated by (parallel) assignments only where they
could not share one variable; array writes are `a[i] = v` in place where the IR
allows it and preceded by `.copy()` where it does not; code derived from a source
line by a transform gets one `# grad of: <line>` (or `# tangent of:`) comment.
Code that would nest deeper than Python accepts is a BackendError, never an
IndentationError.
"""
from __future__ import annotations

import ast
import linecache
from typing import List, Optional, Set

from ...errors import BackendError
from ...ir.core import Function, Op, Value
from .exprs import Modules, build, call, index_expr, name
from .naming import Naming

INDENT = "    "
MAX_INDENT = 99  # CPython's tokenizer rejects deeper indentation
ROLE_TEXT = {"grad": "grad of", "tangent": "tangent of"}


def unparse(node: ast.AST) -> str:
    return ast.unparse(ast.fix_missing_locations(node))


class FunctionEmitter:
    """Emits one IR function as Python over NumPy; other array libraries subclass it and
    override `build` (the op table) and `copy_expr`."""

    def __init__(self, f: Function, modules: Modules, reserved: Set[str]):
        self.f = f
        self.m = modules
        self.nm = Naming(f, reserved)
        self.lines: List[str] = []
        self.commented: Optional[tuple] = None

    # -- values -----------------------------------------------------------------

    def expr(self, v: Value) -> ast.expr:
        if id(v) in self.nm.inlined:
            return self.op_expr(v.op)
        return name(self.nm.name(v))

    def var(self, v: Value) -> str:
        return self.nm.name(v)

    def op_expr(self, op: Op) -> ast.expr:
        if op.name == "if":
            return self.if_expr(op)
        args = [self.expr(v) for v in op.operands]
        out = self.build(op, args)
        if op.name == "convert" and id(op.operands[0]) in self.nm.maybe_undef:
            # undef is None here: converting it must not raise (it is never read).
            is_none = ast.Compare(args[0], [ast.Is()], [ast.Constant(None)])
            out = ast.IfExp(is_none, ast.Constant(None), out)
        return out

    @classmethod
    def for_module(cls, functions: List[Function]):
        """What makes an emitter for each of `functions` (all of one module, prepared):
        a subclass that analyses the whole module first returns a bound factory."""
        return cls

    def build(self, op: Op, args: List[ast.expr]) -> ast.expr:
        """The expression computing `op` from its operands' expressions."""
        return build(self.m, op, args)

    def copy_expr(self, e: ast.expr) -> ast.expr:
        """A fresh copy of the array `e` computes."""
        return call(ast.Attribute(e, "copy", ast.Load()))

    def if_expr(self, op: Op) -> ast.expr:
        cond = self.expr(op.operands[0])
        then_v, else_v = (rg.block.ops[-1].operands[0] for rg in op.regions)
        kind = self.nm.and_or.get(id(op))
        if kind == "and":
            return _boolop(ast.And(), cond, self.expr(then_v))
        if kind == "or":
            return _boolop(ast.Or(), cond, self.expr(else_v))
        return ast.IfExp(cond, self.expr(then_v), self.expr(else_v))

    # -- output -------------------------------------------------------------------

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(INDENT * depth + text)

    def comment_for(self, op: Op, depth: int) -> None:
        role = ROLE_TEXT.get(op.loc.role)
        if role is None or op.loc.line <= 0:
            return
        key = (op.loc.file, op.loc.line, op.loc.role)
        if key == self.commented:
            return
        self.commented = key
        src = linecache.getline(op.loc.file, op.loc.line).strip()
        if src:
            self.emit(depth, f"# {role}: {src}")

    def assign(self, depth: int, targets: List[str], values: List[ast.expr]) -> None:
        """`a, b = x, y` for the pairs that are not already the same variable."""
        pairs = [(t, v) for t, v in zip(targets, values)
                 if not (isinstance(v, ast.Name) and v.id == t)]
        if not pairs:
            return
        if len(pairs) == 1:
            self.emit(depth, f"{pairs[0][0]} = {unparse(pairs[0][1])}")
            return
        lhs = ", ".join(t for t, _ in pairs)
        rhs = ", ".join(unparse(v) for _, v in pairs)
        self.emit(depth, f"{lhs} = {rhs}")

    # -- function -------------------------------------------------------------------

    def function(self) -> str:
        defaults = self.f.attrs.get("defaults", {})
        params = ", ".join(self.var(p) + (f"={defaults[i]!r}" if i in defaults else "")
                           for i, p in enumerate(self.f.params))
        self.emit(0, f"def {self.f.name}({params}):")
        doc = self.f.attrs.get("doc")
        if doc:
            self.emit(1, repr(doc))
        start = len(self.lines)
        self.block(self.f.body.block, 1)
        if len(self.lines) == start:
            self.emit(1, "pass")
        self.check_depth()
        return "\n".join(self.lines)

    def check_depth(self) -> None:
        deepest = max((len(line) - len(line.lstrip(" "))) // len(INDENT) for line in self.lines)
        if deepest > MAX_INDENT:
            raise BackendError(f"the Python code for '{self.f.name}' would nest blocks "
                               f"{deepest} levels deep, more than Python accepts "
                               f"({MAX_INDENT}); split the function into smaller ones",
                               self.f.loc, "nesting depth")

    def block(self, b, depth: int) -> None:
        saved = self.commented
        self.commented = None
        for op in b.ops:
            if op.name in ("yield", "condition"):
                continue
            self.statement(op, depth)
        self.commented = saved

    def statement(self, op: Op, depth: int) -> None:
        if len(op.results) == 1 and id(op.result) in self.nm.inlined:
            return
        handler = getattr(self, "stmt_" + op.name, None)
        if handler is None and op.name == "if" and id(op) in self.nm.expr_ifs:
            handler = self.stmt_generic
        self.comment_for(op, depth)
        (handler or self.stmt_generic)(op, depth)

    def stmt_generic(self, op: Op, depth: int) -> None:
        if not op.results or (len(op.results) == 1 and not self.nm.use_count(op.result)
                              and op.name != "if"):
            self.emit(depth, unparse(self.op_expr(op)))  # kept for its exception
            return
        value = self.op_expr(op)
        if len(op.results) == 1:
            self.emit(depth, f"{self.var(op.result)} = {unparse(value)}")
        else:
            lhs = ", ".join(self.var(r) for r in op.results)
            self.emit(depth, f"{lhs} = {unparse(value)}")

    def stmt_return(self, op: Op, depth: int) -> None:
        v = op.operands[0] if op.operands else None
        if v is None or (getattr(v, "op", None) is not None and v.op.name == "const"
                         and v.op.attrs["value"] is None):
            self.emit(depth, "return")
        else:
            self.emit(depth, f"return {unparse(self.expr(v))}")

    def stmt_assert(self, op: Op, depth: int) -> None:
        msg = op.attrs.get("msg")
        if op.attrs.get("error"):  # a check CPython makes, with its exception
            self.emit(depth, f"if not {unparse(self.expr(op.operands[0]))}:")
            self.emit(depth + 1, f"raise {op.attrs['error']}({msg!r})")
            return
        tail = f", {msg!r}" if msg else ""
        self.emit(depth, f"assert {unparse(self.expr(op.operands[0]))}{tail}")

    def stmt_print(self, op: Op, depth: int) -> None:
        self.emit(depth, unparse(print_call(op, [self.expr(v) for v in op.operands])))

    # -- arrays -----------------------------------------------------------------------

    def stmt_setitem(self, op: Op, depth: int, augmented: bool = False) -> None:
        target, result = op.operands[0], op.result
        args = [self.expr(v) for v in op.operands]
        sl, k = index_expr(op, args)
        dst = self.var(result)
        if not op.attrs.get("inplace"):
            self.emit(depth, f"{dst} = {unparse(self.copy_expr(self.expr(target)))}")
        elif self.var(result) != unparse(self.expr(target)):
            self.emit(depth, f"{dst} = {unparse(self.expr(target))}")
        lhs = unparse(ast.Subscript(name(dst), sl, ast.Store()))
        self.emit(depth, f"{lhs} {'+=' if augmented else '='} {unparse(args[k])}")

    def stmt_addat(self, op: Op, depth: int) -> None:
        self.stmt_setitem(op, depth, augmented=True)

    # -- tape ----------------------------------------------------------------------------

    def stmt_push(self, op: Op, depth: int) -> None:
        vals = [unparse(self.expr(v)) for v in op.operands[1:]]
        item = vals[0] if len(vals) == 1 else "(" + ", ".join(vals) + ")"
        self.emit(depth, f"{unparse(self.expr(op.operands[0]))}.append({item})")

    def stmt_pop(self, op: Op, depth: int) -> None:
        lhs = ", ".join(self.var(r) if r in self._used_results(op) else "_" for r in op.results)
        self.emit(depth, f"{lhs} = {unparse(self.expr(op.operands[0]))}.pop()")

    def _used_results(self, op: Op) -> List[Value]:
        return [r for r in op.results if self.nm.use_count(r)]

    # -- control flow -------------------------------------------------------------------

    def yield_copies(self, op: Op, block, depth: int) -> None:
        y = block.ops[-1]
        self.assign(depth, [self.var(r) for r in op.results], [self.expr(v) for v in y.operands])

    def stmt_if(self, op: Op, depth: int) -> None:
        if id(op) in self.nm.expr_ifs:
            self.stmt_generic(op, depth)
            return
        cond = self.expr(op.operands[0])
        bodies = []
        for rg in op.regions:
            start = len(self.lines)
            self.block(rg.block, depth + 1)
            self.yield_copies(op, rg.block, depth + 1)
            bodies.append(self.lines[start:])
            del self.lines[start:]
        then_lines, else_lines = bodies
        if not then_lines and else_lines:
            self.emit(depth, f"if {unparse(_negate(cond))}:")
            self.lines += else_lines
            return
        self.emit(depth, f"if {unparse(cond)}:")
        self.lines += then_lines or [INDENT * (depth + 1) + "pass"]
        chained = _as_elif(else_lines, depth)
        if chained is not None:
            self.lines += chained
        elif else_lines:
            self.emit(depth, "else:")
            self.lines += else_lines

    def loop_inits(self, op: Op, inits: List[Value], depth: int) -> None:
        self.assign(depth, [self.var(r) for r in op.results], [self.expr(v) for v in inits])

    def stmt_for(self, op: Op, depth: int) -> None:
        lo, hi, st = op.operands[:3]
        self.loop_inits(op, op.operands[3:], depth)
        body = op.regions[0].block
        idx = body.args[0]
        index = self.var(idx) if self.nm.use_count(idx) else "_"
        rng = call(name("range"), *self.range_args(lo, hi, st))
        if op.attrs.get("reversed"):
            rng = call(name("reversed"), rng)
        self.emit(depth, f"for {index} in {unparse(rng)}:")
        self.loop_body(op, body, depth)

    def range_args(self, lo: Value, hi: Value, st: Value) -> List[ast.expr]:
        def const(v):
            o = getattr(v, "op", None)
            return o.attrs["value"] if o is not None and o.name == "const" else None
        if const(st) == 1:
            return [self.expr(hi)] if const(lo) == 0 else [self.expr(lo), self.expr(hi)]
        return [self.expr(lo), self.expr(hi), self.expr(st)]

    def loop_body(self, op: Op, body, depth: int) -> None:
        start = len(self.lines)
        self.block(body, depth + 1)
        self.yield_copies(op, body, depth + 1)
        if len(self.lines) == start:
            self.emit(depth + 1, "pass")

    def stmt_while(self, op: Op, depth: int) -> None:
        self.loop_inits(op, op.operands, depth)
        cond, body = op.regions[0].block, op.regions[1].block
        c = cond.ops[-1].operands[0]
        if self.nm.region_is_expression(cond):
            self.emit(depth, f"while {unparse(self.expr(c))}:")
            self.loop_body(op, body, depth)
            return
        self.emit(depth, "while True:")
        self.block(cond, depth + 1)
        self.emit(depth + 1, f"if {unparse(_negate(self.expr(c)))}:")
        self.emit(depth + 2, "break")
        self.loop_body(op, body, depth)


def _as_elif(lines: List[str], depth: int) -> Optional[List[str]]:
    """An else block that holds a single if statement, as `elif` lines: chains read
    as in the source and never nest deeper than Python's indentation limit."""
    inner = INDENT * (depth + 1)
    if not lines or not lines[0].startswith(inner + "if "):
        return None
    for line in lines[1:]:
        if not (line.startswith(inner + INDENT) or line == inner + "else:"
                or line.startswith(inner + "elif ")):
            return None
    return [INDENT * depth + "el" + lines[0][len(inner):]] + \
        [line[len(INDENT):] for line in lines[1:]]


def _boolop(op, a: ast.expr, b: ast.expr) -> ast.expr:
    if isinstance(b, ast.BoolOp) and type(b.op) is type(op):
        return ast.BoolOp(op, [a] + b.values)
    return ast.BoolOp(op, [a, b])


def _negate(e: ast.expr) -> ast.expr:
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
        return e.operand
    return ast.UnaryOp(ast.Not(), e)


def print_call(op: Op, values: List[ast.expr]) -> ast.Call:
    """Python's `print(...)` call of a `print` op: its values with its texts in place."""
    items = list(values)
    for pos, text in zip(op.attrs["at"], op.attrs["texts"]):
        items.insert(pos, ast.Constant(text))
    kw = [ast.keyword(k, ast.Constant(op.attrs[k])) for k in ("sep", "end", "flush")
          if k in op.attrs]
    return ast.Call(ast.Name("print", ast.Load()), items, kw)
