"""Random Python programs for property tests, drawn with hypothesis.

Assumes: hypothesis is installed; the caller writes `Program.source` to a file,
imports it and compiles `f` with adjoin.
Guarantees: `programs()` draws a `Program`: the source of a module defining one
function `f` with 1-3 float parameters (x, y, z), optionally an int `n` (drawn
from 0..6) and optionally a float array `a`. The body mixes assignments,
augmented assignments, math calls, if/elif/else (with and/or/not and chained
comparisons), for loops over ranges (negative and non-constant steps), bounded
while loops (`while True` with a counted break too), nested loops, break,
continue, early returns, loop `else` clauses, array reads and writes (indices
reduced modulo `len`), aliases and copies of the array, tuple swaps, bool
flags, variables first assigned on every side of a branch, and calls to an
optional helper `g(u, v)` drawn the same way. Every program is valid
Python in the subset adjoin compiles; it terminates (ranges over small ints,
while loops count their trips), is deterministic, and reads only names that are
definitely assigned where read. Values are kept finite where cheap (clamps,
tanh, divisions by `1 + e*e`); on rare inputs CPython may still raise (e.g.
`math.sin(inf)`). `arguments(prog, extreme)` draws inputs, extreme values (infinities,
NaN, 1e308, subnormals) with the given percent probability, where CPython raises or
overflows: the backends must then raise the same exception type.
Choices shrink towards short, flat programs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Set

import numpy as np
from hypothesis import strategies as st

MAX_DEPTH = 3       # nesting of compound statements
MAX_STMTS = 14      # statements per program (budget shared by all blocks)
CLAMP = "max(-1e3, min(1e3, {}))"
IND = "    "


@dataclass
class Program:
    source: str
    floats: List[str]
    has_n: bool
    has_array: bool
    name: str = "f"

    @property
    def params(self) -> List[str]:
        return self.floats + (["n"] if self.has_n else []) + (["a"] if self.has_array else [])


@dataclass
class Scope:
    """What a statement may read and write at its position."""

    floats: List[str]                  # float variables definitely assigned here
    ints: List[str]                    # int variables definitely assigned here
    bools: List[str] = field(default_factory=list)  # bool variables (flags)
    frozen: Set[str] = field(default_factory=set)   # while counters: never assigned
    loop: bool = False                 # inside a loop: break/continue allowed
    depth: int = 0

    def inner(self, loop: Optional[bool] = None) -> "Scope":
        return Scope(list(self.floats), list(self.ints), list(self.bools), set(self.frozen),
                     self.loop if loop is None else loop, self.depth + 1)


def _indent(lines: List[str]) -> List[str]:
    return [IND + ln for ln in lines]


class Choices:
    """Random choices through one hypothesis `draw`, and fresh variable names."""

    def __init__(self, draw):
        self.draw = draw
        self.count = 0

    def pick(self, options):
        return options[self.draw(st.integers(0, len(options) - 1))]

    def chance(self, percent: int) -> bool:
        """True with about this probability; shrinks to False."""
        return self.draw(st.integers(0, 99)) >= 100 - percent

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"


class _Gen(Choices):
    """Draws one program; every random choice goes through `draw`."""

    def __init__(self, draw, floats: List[str], has_n: bool, arrays: List[str], ret: int,
                 max_stmts: int = MAX_STMTS, helper: Optional[str] = None):
        super().__init__(draw)
        self.floats = floats
        self.has_n = has_n
        self.arrays = arrays           # array variables (the argument, aliases, copies)
        self.ret = ret                 # 1: return a float; 2: a pair of floats
        self.helper = helper           # a function of two floats the body may call
        self.budget = draw(st.integers(1, max_stmts))

    # -- expressions -----------------------------------------------------------

    def fconst(self) -> str:
        return self.pick(["0.5", "1.0", "-1.5", "2.0", "0.25", "-0.75", "3.0", "0.1"])

    def fleaf(self, sc: Scope) -> str:
        kind = self.draw(st.integers(0, 9))
        if kind == 0 or not sc.floats:
            return self.fconst()
        if kind == 1 and sc.ints:
            return self.pick([self.pick(sc.ints), f"({self.pick(sc.ints)} * 0.5)"])
        if kind >= 7 and self.arrays:
            return f"{self.pick(self.arrays)}[{self.index(sc)}]"
        return self.pick(sc.floats)

    def fexpr(self, sc: Scope, d: int = 2) -> str:
        """A float-valued expression (an int one in rare corners, as Python allows)."""
        if d <= 0:
            return self.fleaf(sc)
        kind = self.draw(st.integers(0, 16))
        e = lambda: self.fexpr(sc, d - 1)  # noqa: E731
        if kind <= 3:
            return self.fleaf(sc)
        if kind <= 6:
            return f"({e()} {self.pick(['+', '-', '*'])} {e()})"
        if kind == 7:
            u = e()
            return self.pick([f"({e()} / (1.0 + {u} * {u}))", f"({e()} / (1.0 + abs({u})))",
                              f"({e()} / (2.0 + math.sin({u})))"])
        if kind <= 10:
            return self.bounded(sc, d)
        if kind == 11:
            return f"(-{e()})"
        if kind == 12:
            return f"{self.pick(['max', 'min'])}({e()}, {e()})"
        if kind == 13:
            return f"({e()} if {self.cond(sc, d - 1)} else {e()})"
        if kind == 14:
            return f"float({self.iexpr(sc, 1)})" if sc.ints else self.fleaf(sc)
        if kind == 15:
            if self.helper and self.chance(50):
                return f"{self.helper}({e()}, {e()})"
            return f"abs({e()})"
        u = e()
        return self.pick([f"math.sqrt(1.0 + {u} * {u})", f"math.log(1.0 + {u} * {u})",
                          f"math.atan({u})", f"math.hypot({u}, {e()})"])

    def bounded(self, sc: Scope, d: int = 2) -> str:
        """An expression whose value lies in [-1, 1] (unless its input is NaN)."""
        u = self.fexpr(sc, d - 1)
        return self.pick([f"math.sin({u})", f"math.cos({u})", f"math.tanh({u})",
                          f"math.exp(-abs({u}))", f"({u} / (1.0 + {u} * {u}))"])

    def ileaf(self, sc: Scope) -> str:
        kind = self.draw(st.integers(0, 5))
        if kind <= 2 and sc.ints:
            return self.pick(sc.ints)
        if kind == 3 and self.arrays:
            return f"len({self.pick(self.arrays)})"
        return str(self.draw(st.integers(-3, 6)))

    def iexpr(self, sc: Scope, d: int = 1) -> str:
        """A small int-valued expression (|value| stays well below 1000)."""
        if d <= 0:
            return self.ileaf(sc)
        kind = self.draw(st.integers(0, 8))
        e = lambda: self.iexpr(sc, d - 1)  # noqa: E731
        if kind <= 2:
            return self.ileaf(sc)
        if kind <= 4:
            return f"({e()} {self.pick(['+', '-'])} {e()})"
        if kind == 5:
            return f"({e()} * {self.draw(st.integers(-2, 3))})"
        if kind == 6:
            return f"({e()} {self.pick(['%', '//'])} {self.draw(st.integers(2, 5))})"
        if kind == 7:
            return f"{self.pick(['max', 'min'])}({e()}, {e()})"
        return f"abs({e()})"

    def index(self, sc: Scope, arr: Optional[str] = None) -> str:
        arr = arr or self.pick(self.arrays)
        kind = self.draw(st.integers(0, 4))
        if kind == 0:
            return self.pick(["0", "-1"])
        if kind == 1:
            return f"len({arr}) - 1"
        return f"{self.iexpr(sc, 1)} % len({arr})"

    def cond(self, sc: Scope, d: int = 1, truthy: bool = True) -> str:
        """A condition; with `truthy` False, one whose value is a bool (and/or pass on
        an operand's value, and a number may stand for its truth)."""
        kind = self.draw(st.integers(0, 10))
        if kind <= 3 or d <= 0:
            op = self.pick(["<", ">", "<=", ">="])
            rhs = self.fconst() if self.chance(50) else self.fexpr(sc, 1)
            return f"{self.fexpr(sc, 1)} {op} {rhs}"
        if kind <= 5:
            if kind == 4 and sc.ints:
                return f"{self.iexpr(sc)} % 2 == {self.pick(['0', '1'])}"
            op = self.pick(["<", "==", "!=", ">="])
            return f"{self.iexpr(sc)} {op} {self.iexpr(sc)}"
        if kind <= 7:
            op = "and" if kind == 6 else "or"
            return f"({self.cond(sc, d - 1, truthy)} {op} {self.cond(sc, d - 1, truthy)})"
        if kind == 8:
            return f"not ({self.cond(sc, d - 1)})"
        if kind == 9:
            return f"-1.0 < {self.fexpr(sc, 1)} < 1.0"
        if sc.bools and (self.chance(60) or not truthy):
            return self.pick(sc.bools)
        if not truthy:
            return f"{self.fexpr(sc, 1)} != 0.0"
        return self.fexpr(sc, 1)  # truthiness of a number

    # -- statements ------------------------------------------------------------

    def block(self, sc: Scope, exits: bool = True) -> List[str]:
        """A statement list; may end with break/continue/return when `exits`."""
        lines: List[str] = []
        for _ in range(self.draw(st.integers(1, 3))):
            if self.budget <= 0:
                break
            self.budget -= 1
            lines += self.stmt(sc)
        if not lines:
            lines = self.assign(sc)
        if exits and sc.depth > 0 and self.chance(25):
            lines += self.exit(sc)
        return lines

    def exit(self, sc: Scope) -> List[str]:
        kinds = ["return"] + (["break", "continue"] if sc.loop else [])
        kind = self.pick(kinds)
        return [self.return_(sc)] if kind == "return" else [kind]

    def return_(self, sc: Scope) -> str:
        vals = [self.fexpr(sc) for _ in range(self.ret)]
        return "return " + ", ".join(vals)

    def stmt(self, sc: Scope) -> List[str]:
        simple = [self.assign, self.augassign, self.int_assign, self.swap, self.flag]
        if self.arrays:
            simple += [self.array_write, self.array_write]
        compound = [self.if_, self.if_, self.for_range, self.for_range, self.while_,
                    self.for_array if self.arrays else self.for_range]
        if sc.depth >= MAX_DEPTH or self.chance(45):
            return self.pick(simple)(sc)
        return self.pick(compound)(sc)

    def assign(self, sc: Scope) -> List[str]:
        new = not sc.floats or self.chance(40)
        name = self.fresh("v") if new else self.pick(sc.floats)
        value = self.fexpr(sc)
        if new and self.chance(10):
            value = str(self.draw(st.integers(-2, 3)))  # an int now, a float later
        elif self.chance(60) or sc.loop:
            value = CLAMP.format(value) if self.chance(70) else f"math.tanh({value}) * 10.0"
        if new:
            sc.floats.append(name)
        return [f"{name} = {value}"]

    def augassign(self, sc: Scope) -> List[str]:
        if not sc.floats:
            return self.assign(sc)
        op = self.pick(["+=", "-=", "*="])
        return [f"{self.pick(sc.floats)} {op} {self.bounded(sc)}"]

    def int_assign(self, sc: Scope) -> List[str]:
        free = [v for v in sc.ints if v not in sc.frozen and v != "n"]
        new = not free or self.chance(50)
        name = self.fresh("m") if new else self.pick(free)
        line = f"{name} = {self.iexpr(sc, 2)} % {self.draw(st.integers(2, 7))}"
        if new:
            sc.ints.append(name)
        return [line]

    def flag(self, sc: Scope) -> List[str]:
        new = not sc.bools or self.chance(50)
        name = self.fresh("flag") if new else self.pick(sc.bools)
        line = f"{name} = {self.cond(sc, truthy=False)}"
        if new:
            sc.bools.append(name)
        return [line]

    def swap(self, sc: Scope) -> List[str]:
        if len(sc.floats) < 2:
            return self.assign(sc)
        p, q = self.pick(sc.floats), self.pick(sc.floats)
        if self.chance(50):
            return [f"{p}, {q} = {q}, {p}"]
        # A parallel assignment: both sides read the old values.
        return [f"{p}, {q} = {CLAMP.format(self.fexpr(sc, 1))}, {CLAMP.format(self.fexpr(sc, 1))}"]

    def array_write(self, sc: Scope) -> List[str]:
        arr = self.pick(self.arrays)
        idx = self.index(sc, arr)
        if self.chance(40):
            return [f"{arr}[{idx}] {self.pick(['+=', '-=', '*='])} {self.bounded(sc)}"]
        return [f"{arr}[{idx}] = {CLAMP.format(self.fexpr(sc))}"]

    def if_(self, sc: Scope) -> List[str]:
        n_branches = self.pick([1, 2, 3])
        tests = [self.cond(sc) for _ in range(min(n_branches, 2))]
        both = self.fresh("w") if n_branches > 1 and self.chance(50) else None
        bodies, scopes = [], []
        for _ in range(n_branches):
            inner = sc.inner()
            body = [f"{both} = {CLAMP.format(self.fexpr(inner))}"] if both else []
            if both:
                inner.floats.append(both)
            body += self.block(inner)
            bodies.append(body)
            scopes.append(inner)
        lines = [f"if {tests[0]}:"] + _indent(bodies[0])
        if n_branches == 3:
            lines += [f"elif {tests[1]}:"] + _indent(bodies[1])
        if n_branches > 1:
            lines += ["else:"] + _indent(bodies[-1])
            # Names assigned on every branch are bound after the if.
            for name in scopes[0].floats:
                if name not in sc.floats and all(name in s.floats for s in scopes[1:]):
                    sc.floats.append(name)
            for kind in ("ints", "bools"):
                mine = getattr(sc, kind)
                for name in getattr(scopes[0], kind):
                    if name not in mine and all(name in getattr(t, kind) for t in scopes[1:]):
                        mine.append(name)
        return lines

    def loop_else(self, sc: Scope) -> List[str]:
        if not self.chance(12):
            return []
        return ["else:"] + _indent(self.assign(sc.inner(loop=sc.loop)))

    def range_args(self, sc: Scope) -> str:
        def bound() -> str:
            b = self.ileaf(sc)
            return b if self.chance(60) else f"{b} + {self.draw(st.integers(-2, 2))}"
        kind = self.draw(st.integers(0, 5))
        if kind <= 1:
            return bound()
        if kind == 2:
            return f"{bound()}, {bound()}"
        if kind == 3:
            return f"{bound()}, {bound()}, {self.pick(['-1', '-2', '2', '3'])}"
        if kind == 4 and sc.ints:
            m = self.pick(sc.ints)
            return f"{bound()}, {bound()}, {self.pick([f'-(1 + {m} % 2)', f'1 + {m} % 3'])}"
        return f"{bound()}, {bound()}, (1 if {self.cond(sc, 0)} else -1)"

    def for_range(self, sc: Scope) -> List[str]:
        i = self.fresh("i")
        head = f"for {i} in range({self.range_args(sc)}):"
        inner = sc.inner(loop=True)
        inner.ints.append(i)
        return [head] + _indent(self.block(inner)) + self.loop_else(sc)

    def for_array(self, sc: Scope) -> List[str]:
        t = self.fresh("t")
        inner = sc.inner(loop=True)
        inner.floats.append(t)
        head = f"for {t} in {self.pick(self.arrays)}:"
        return [head] + _indent(self.block(inner)) + self.loop_else(sc)

    def while_(self, sc: Scope) -> List[str]:
        k = self.fresh("k")
        limit = self.draw(st.integers(1, 6))
        inner = sc.inner(loop=True)
        inner.frozen.add(k)
        inner.ints.append(k)
        kind = self.draw(st.integers(0, 3))
        if kind == 3:
            # Left only by break (or return): the counter guards the exit.
            head = ["while True:", f"{IND}{k} += 1", f"{IND}if {k} > {limit}:",
                    f"{IND}{IND}break"]
        else:
            c = self.cond(sc)
            test = f"({c}) and {k} < {limit}" if kind <= 1 else f"{k} < {limit} and ({c})"
            head = [f"while {test}:", f"{IND}{k} += 1"]
        body = _indent(self.block(inner))
        sc.ints.append(k)
        return [f"{k} = 0"] + head + body + (self.loop_else(sc) if kind != 3 else [])

    # -- the function ------------------------------------------------------------

    def function(self, name: str = "f") -> str:
        params = self.floats + (["n"] if self.has_n else []) + (["a"] if self.arrays else [])
        sc = Scope(list(self.floats), ["n"] if self.has_n else [])
        pre = []
        if self.arrays and self.chance(30):
            other = self.fresh("b")
            pre.append(f"{other} = a" if self.chance(50) else f"{other} = a.copy()")
            self.arrays.append(other)
        body = self.block(sc, exits=False)
        body.append(self.return_(sc))
        lines = [f"def {name}({', '.join(params)}):"] + _indent(pre + body)
        return "\n".join(lines) + "\n"


@st.composite
def programs(draw) -> Program:
    """A random function `f` in the compiled subset, as module source."""
    floats = ["x", "y", "z"][:draw(st.integers(1, 3))]
    has_n = draw(st.booleans())
    has_array = draw(st.booleans())
    ret = draw(st.sampled_from([1, 1, 1, 2]))
    parts = ["import math\n\nimport numpy as np\n"]
    helper = None
    if draw(st.integers(0, 3)) == 3:  # a helper `g(u, v)` that `f` calls
        helper = "g"
        parts.append(_Gen(draw, ["u", "v"], False, [], 1, max_stmts=4).function(helper))
    gen = _Gen(draw, floats, has_n, ["a"] if has_array else [], ret, helper=helper)
    parts.append(gen.function())
    return Program("\n\n".join(parts), floats, has_n, has_array)


FLOATS = st.one_of(st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False),
                   st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5]))
# Where CPython overflows, raises or propagates NaN: math.sin(inf) raises, x * 1e308
# is inf, hypot(1e308, 1e308) overflows, 5e-324 / 2 underflows.
EXTREME_FLOATS = st.sampled_from([float("inf"), -float("inf"), float("nan"), 1e308, -1e308,
                                  5e-324, -1e-310, 1e154, 710.0, -746.0])


@st.composite
def arguments(draw, prog: Program, extreme: int = 0) -> tuple:
    """Argument values for `prog.params`, in order; each float is an extreme value with
    `extreme` percent probability (n stays small: it bounds loops)."""
    def number() -> float:
        if extreme and draw(st.integers(0, 99)) < extreme:
            return draw(EXTREME_FLOATS)
        return draw(FLOATS)

    args = [number() for _ in prog.floats]
    if prog.has_n:
        args.append(draw(st.integers(0, 6)))
    if prog.has_array:
        items = [number() for _ in range(draw(st.integers(1, 5)))]
        args.append(np.array(items, dtype=np.float64))
    return tuple(args)
