"""Random NumPy programs for property tests, drawn with hypothesis.

Assumes: hypothesis is installed; the caller writes `ArrayProgram.source` to a file,
imports it and compiles `f` with adjoin.
Guarantees: `array_programs()` draws an `ArrayProgram`: the source of a module defining
`f(x, y, n, a, B)` with Python floats x and y, an int n, a 1-d array a of length m and a
2-d array B of shape (p, m) (float64 or float32; `array_arguments` draws them). The body
mixes array expressions whose shapes broadcast by NumPy's rules (scalars into arrays,
rows (m,) and (1, m) and columns (p, 1) into matrices), reductions over all elements
and along an axis given as a keyword, positionally or to a method (`np.sum(B, 1)`,
`B.mean(axis=0)`), matrix products, `np.where`, `np.clip`, element, row and slice
writes into the arguments and into fresh arrays, loops over ranges and rows, and scalar
code on Python floats, NumPy scalars and ints. Some statements can raise in CPython at
some inputs (a division by a variable, `math.log`, `int()` of a float, an index that is
not reduced into range, an allocation of size n, an integer overflow target): their
results are sometimes used and sometimes dead, so a backend must raise where CPython
raises even when a result is unused. The function returns a float (a Python float or a
NumPy scalar). Every program is valid Python in the subset adjoin compiles,
terminates, and reads only names that are assigned where read.
A share of expressions and statements (`extras` percent) come from the mixins in
tests/progen_numpy_indexing.py (index arrays, masks, sorting), progen_numpy_algebra.py
(cumulative ops, axes, contractions, norms, joins, np.linalg) and
progen_numpy_structures.py (structures, function values, global arrays, print); module-level
definitions they need come before `f`.
`array_arguments(prog)` draws inputs: ordinary values mostly, and now and then values at
which CPython raises or overflows (0.0, -0.0, inf, nan, 1e308, negative or huge ints).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
from hypothesis import strategies as st

from progen import Choices
from progen_array_shapes import ARRAY_SHAPES, BROADCASTS, IND, C, M, P, R, S, Shape, V
from progen_numpy_algebra import AlgebraOps
from progen_numpy_indexing import IndexingOps
from progen_numpy_structures import StructureOps

# Values assigned to a name that may be views of (or the same object as) another array:
# never written through, never read after a write elsewhere (adjoin refuses, documented).
VIEWS = ("np.squeeze(", "np.atleast_", "np.diag(", "np.einsum(\"ji\"")


ORACLE_HELPERS = '''
def _i64(v):
    if not -2 ** 63 <= v < 2 ** 63:
        raise OverflowError("an int that does not fit in 64 bits")
    return v


def _real(v):
    if isinstance(v, complex):
        raise ValueError("a complex result")
    return v
'''


@dataclass
class ArrayProgram:
    """`text` marks ints that must fit in 64 bits with «» and powers that must be real
    with ‹›: `source` is the program itself, `oracle(...)` CPython's reference for a
    backend that raises where those limits are passed (documented differences)."""

    text: str
    name: str = "f"
    params: Tuple[str, ...] = ("x", "y", "n", "a", "B")

    @property
    def source(self) -> str:
        return self.oracle(ints64=False, real=False)

    def oracle(self, ints64: bool, real: bool = True) -> str:
        out = self.text
        out = out.replace("«", "_i64(" if ints64 else "(").replace("»", ")")
        out = out.replace("‹", "_real(" if real else "(").replace("›", ")")
        return out + (ORACLE_HELPERS if ints64 or real else "")


class _ArrayGen(IndexingOps, AlgebraOps, StructureOps, Choices):
    """Draws one program; every random choice goes through `draw`. The mixins draw the
    constructs of their modules; `extras` percent of expressions and statements come
    from them (0: the programs of the original generator)."""

    def __init__(self, draw, extras: int = 15):
        super().__init__(draw)
        self.budget = draw(st.integers(2, 9))
        self.vars: Dict[Shape, List[str]] = {S: ["x", "y"], V: ["a"], M: ["B"]}
        self.ints: List[str] = ["n"]
        self.writable: List[str] = ["a", "B"]   # arrays that own their memory here
        self.iarrays: Dict[Tuple[Shape, str], List[str]] = {}  # int index arrays
        self.funcs: List[str] = []              # nested functions defined so far
        self.module_defs = set()                # module-level definitions used
        self.extras = extras
        self.level = 0                          # nesting of loops and branches here

    # -- scalars ---------------------------------------------------------------

    def fconst(self) -> str:
        return self.pick(["0.5", "1.0", "-1.5", "2.0", "0.25", "3.0"])

    def index(self, length: str) -> str:
        kind = self.draw(st.integers(0, 3))
        if kind == 0:
            return self.pick(["0", "-1"])
        if kind == 1:
            return f"{length} - 1"
        return f"{self.iexpr()} % {length}"

    def iexpr(self) -> str:
        kind = self.draw(st.integers(0, 5))
        if kind <= 1:
            return self.pick(self.ints)
        if kind == 2:
            return self.pick(["len(a)", "B.shape[0]", "B.shape[1]", "B.size"])
        if kind == 3:
            return f"«{self.pick(self.ints)} + {self.draw(st.integers(-2, 3))}»"
        if kind == 4:
            return f"«{self.pick(self.ints)} * {self.draw(st.integers(-2, 3))}»"
        return str(self.draw(st.integers(-2, 5)))

    def scalar(self, d: int) -> str:
        """A float-valued expression (Python float or NumPy scalar)."""
        if d <= 0:
            return self.scalar_leaf()
        if self.chance(self.extras):
            return self.extra_scalar(d - 1)
        kind = self.draw(st.integers(0, 13))
        e = lambda: self.scalar(d - 1)  # noqa: E731
        if kind <= 2:
            return self.scalar_leaf()
        if kind <= 5:
            return f"({e()} {self.pick(['+', '-', '*'])} {e()})"
        if kind == 6:
            u = e()
            return f"({e()} / (1.0 + {u} * {u}))"
        if kind <= 8:
            return self.reduce(d - 1)
        if kind == 9:
            u = e()
            return self.pick([f"math.sin({u})", f"math.tanh({u})", f"math.exp(-abs({u}))",
                              f"np.sin({u})", f"np.tanh({u})", f"math.sqrt(1.0 + {u} * {u})",
                              f"np.log(1.0 + {u} * {u})"])
        # min, max and `a if c else b` return one of their operands, object and all;
        # adjoin gives the result one kind (docs/python-subset.md, "Differences"), so
        # their operands here are of one kind: Python floats, or NumPy's elementwise
        # functions of them.
        if kind == 10:
            if self.chance(50):
                return f"np.{self.pick(['maximum', 'minimum'])}({e()}, {e()})"
            return f"{self.pick(['max', 'min'])}(float({e()}), float({e()}))"
        if kind == 11:
            return f"float({self.iexpr()})"
        if kind == 12:
            return f"(float({e()}) if {self.cond(d - 1)} else float({e()}))"
        return f"(-{e()})"

    def scalar_leaf(self) -> str:
        kind = self.draw(st.integers(0, 7))
        if kind == 0:
            return self.fconst()
        if kind <= 2:
            return f"a[{self.index('len(a)')}]"
        if kind == 3:
            return f"B[{self.index('B.shape[0]')}, {self.index('B.shape[1]')}]"
        return self.pick(self.vars[S])

    def cond(self, d: int) -> str:
        kind = self.draw(st.integers(0, 3))
        if kind == 0:
            return f"{self.iexpr()} > {self.draw(st.integers(-1, 3))}"
        return f"{self.scalar(min(d, 1))} {self.pick(['<', '>', '<=', '>='])} {self.scalar(0)}"

    def reduce(self, d: int) -> str:
        """A reduction of an array to a NumPy scalar."""
        shape = self.pick(ARRAY_SHAPES)
        x = self.array(shape, d)
        kind = self.draw(st.integers(0, 7))
        if kind <= 1:
            return f"np.{self.pick(['sum', 'mean', 'max', 'min'])}({x})"
        if kind == 2:
            return f"({x}).{self.pick(['sum', 'mean', 'max', 'min'])}()"
        if kind == 3:
            return f"np.linalg.norm({x})"
        if kind == 4 and shape in (V, P):
            return f"np.dot({x}, {self.array(shape, d)})"
        if kind == 5 and shape == V:
            return f"({x} @ {self.array(V, d)})"
        if kind == 6:
            return f"np.sum(np.where({x} > {self.scalar(0)}, {x}, {self.scalar(0)}))"
        return f"np.sum({x})"

    # -- arrays ------------------------------------------------------------------

    def array(self, shape: Shape, d: int) -> str:
        if d <= 0:
            return self.array_leaf(shape)
        if self.chance(self.extras):
            return self.extra_array(shape, d - 1)
        kind = self.draw(st.integers(0, 12))
        e = lambda s=shape: self.array(s, d - 1)  # noqa: E731
        if kind <= 2:
            return self.array_leaf(shape)
        if kind <= 5:
            l, r = self.pick(BROADCASTS[shape])
            return f"({e(l)} {self.pick(['+', '-', '*'])} {e(r)})"
        if kind == 6:  # a scalar broadcast into the array, on either side
            s = self.scalar(d - 1)
            op = self.pick(["+", "-", "*"])
            return f"({s} {op} {e()})" if self.chance(50) else f"({e()} {op} {s})"
        if kind == 7:
            u = e()
            return f"({e()} / (1.0 + {u} * {u}))"
        if kind == 8:
            f = self.pick(["np.sin", "np.cos", "np.tanh", "np.abs", "np.negative", "np.square",
                           "np.exp", "np.sqrt", "np.log"])
            return f"{f}({e()})"
        if kind == 9:
            l, r = self.pick(BROADCASTS[shape])
            return f"{self.pick(['np.maximum', 'np.minimum'])}({e(l)}, {e(r)})"
        if kind == 10:
            return f"np.where({e()} > {self.scalar(0)}, {e()}, {self.scalar(d - 1)})"
        if kind == 11:
            return f"np.clip({e()}, -1.0, {self.pick(['0.5', '2.0'])})"
        return self.axis_reduce(shape, d) if shape in (V, P) else self.array_leaf(shape)

    def extra_array(self, shape: Shape, d: int) -> str:
        make = self.pick([self.indexing_array, self.algebra_array, self.algebra_array,
                          self.structure_array])
        return make(shape, max(d, 0)) or self.array_leaf(shape)

    def extra_scalar(self, d: int) -> str:
        make = self.pick([self.indexing_scalar, self.algebra_scalar, self.algebra_scalar,
                          self.structure_scalar])
        return make(max(d, 0))

    def axis_reduce(self, shape: Shape, d: int) -> str:
        """A reduction of a matrix along one axis, the axis spelled in several ways."""
        axis = 0 if shape == V else 1
        src = self.array(M, d - 1)
        fn = self.pick(["sum", "mean", "max", "min"])
        spelled = self.pick([f"axis={axis}", f"{axis}", f"axis={axis - 2}"])
        if self.chance(30):
            return f"({src}).{fn}({spelled})"
        return f"np.{fn}({src}, {spelled})"

    def array_leaf(self, shape: Shape) -> str:
        options = list(self.vars.get(shape, []))
        if shape == V:
            options += [f"B[{self.index('B.shape[0]')}]", "np.linspace(0.0, 1.0, len(a))",
                        "(np.arange(len(a)) * 0.5)", "np.ones(len(a))", "B.T[:, 0]"]
            if self.chance(20):
                options.append(f"(B.T @ {self.array_leaf(P)})")
        elif shape == P:
            options += [f"B[:, {self.index('B.shape[1]')}]", "(B @ a)", "np.zeros(B.shape[0])"]
        elif shape == M:
            options += ["np.full(B.shape, 0.5)", "np.ones_like(B)", "(B * 1.0)"]
        elif shape == R:
            options += ["B[0:1]", "a.reshape(1, len(a))", "B[-1:]"]
        elif shape == C:
            options += ["B[:, 0:1]", "B[:, -1:]", f"{self.array_leaf(P)}.reshape(B.shape[0], 1)"]
        return self.pick(options)

    # -- statements ------------------------------------------------------------

    def block(self, depth: int, loop: bool = False) -> List[str]:
        lines: List[str] = []
        for _ in range(self.draw(st.integers(1, 3))):
            if self.budget <= 0:
                break
            self.budget -= 1
            lines += self.stmt(depth, loop)
        return lines or self.assign_scalar()

    def stmt(self, depth: int, loop: bool) -> List[str]:
        simple = [self.assign_scalar, self.assign_scalar, self.assign_array, self.write,
                  self.write, self.augassign, self.may_raise]
        compound = [self.for_range, self.for_rows, self.if_]
        if self.chance(self.extras * 2):
            return self.pick([self.index_stmt, self.index_stmt, self.algebra_stmt,
                              self.structure_stmt, self.structure_stmt])()
        if depth >= 2 or self.chance(60):
            return self.pick(simple)()
        return self.pick(compound)(depth)

    def assign_scalar(self) -> List[str]:
        name = self.fresh("s")
        line = f"{name} = {self.scalar(2)}"
        self.vars[S].append(name)
        return [line]

    def assign_array(self) -> List[str]:
        shape = self.pick(ARRAY_SHAPES)
        name = self.fresh("t")
        value = self.array(shape, 2)
        if not self.owns_memory(value):
            # a view or an alias of an argument: read never after, so no write into the
            # argument changes it behind adjoin's back (that adjoin refuses, documented)
            return [f"{name} = {value}"]
        self.vars.setdefault(shape, []).append(name)
        if shape in (V, M):
            self.writable.append(name)
        return [f"{name} = {value}"]

    @staticmethod
    def owns_memory(value: str) -> bool:
        """Whether an expression's value is a fresh array (not a view or an alias)."""
        return value.startswith(("(", "np.")) and not value.startswith(VIEWS)

    def targets(self, shape: Shape) -> List[str]:
        return [v for v in self.vars[shape] if v in self.writable]

    def augassign(self) -> List[str]:
        names = [v for v in self.vars[S][2:] if v.isidentifier()]  # (not p["s"])
        if self.chance(50) and names:
            target = self.pick(names)
            return [f"{target} {self.pick(['+=', '-=', '*='])} {self.scalar(1)}"]
        shape = self.pick([V, M]) if self.targets(M) else V
        target = self.pick(self.targets(shape))
        return [f"{target} {self.pick(['+=', '-=', '*='])} {self.array(shape, 1)}"]

    def write(self) -> List[str]:
        """An element, row or slice write into an argument or an array made here."""
        kind = self.draw(st.integers(0, 4))
        if kind <= 1 or (kind in (2, 3) and not self.targets(M)):
            target = self.pick(self.targets(V))
            return [f"{target}[{self.index(f'len({target})')}] = {self.scalar(1)}"]
        if kind == 2:
            target = self.pick(self.targets(M))
            return [f"{target}[{self.index(f'{target}.shape[0]')}, "
                    f"{self.index(f'{target}.shape[1]')}] += {self.scalar(1)}"]
        if kind == 3:
            target = self.pick(self.targets(M))
            return [f"{target}[{self.index(f'{target}.shape[0]')}] = {self.array(V, 1)}"]
        target = self.pick(self.targets(V))
        return [f"{target}[1:] = {target}[:-1] * {self.scalar(0)}"]

    def may_raise(self) -> List[str]:
        """A statement that raises in CPython at some inputs; its result may stay unused."""
        name = self.fresh("r")
        u, v = self.pick(self.vars[S]), self.pick(self.vars[S])
        value = self.pick([
            f"{u} / {v}", f"{u} % {v}", f"{u} // {v}", f"math.log({u})", f"math.sqrt({u})",
            f"math.exp({u})", f"«int({u})»", f"«round({u})»", f"«math.floor({u} * 1e300)»",
            f"a[{self.pick(self.ints)}]", f"len(np.zeros({self.pick(self.ints)})) * 1.0",
            f"‹{u} ** {v}›", f"math.acos({u})", f"1.0 / ({u} - {v})",
            f"np.sum(np.ones({self.pick(self.ints)})) + {u}",
        ])
        lines = [f"{name} = {value}"]
        if self.chance(50):  # used, so its value matters as well as its exception
            target = self.fresh("s")
            lines.append(f"{target} = {self.scalar(0)} + ({name} if {self.cond(0)} else 0.0)")
            self.vars[S].append(target)
        return lines

    def scoped(self, make):
        """Run `make()`; names it binds are forgotten afterwards (a loop may run zero
        times, a branch may not run), so later statements never read them."""
        saved = ({k: list(v) for k, v in self.vars.items()}, list(self.ints),
                 {k: list(v) for k, v in self.iarrays.items()}, list(self.funcs))
        self.level += 1
        try:
            return make()
        finally:
            self.vars, self.ints, self.iarrays, self.funcs = saved
            self.level -= 1

    def for_range(self, depth: int) -> List[str]:
        i = self.fresh("i")
        head = f"for {i} in range({self.pick(['len(a)', 'n % 4', 'B.shape[0]', '3'])}):"

        def body():
            self.ints.append(i)
            return self.block(depth + 1, loop=True)
        return [head] + [IND + ln for ln in self.scoped(body)]

    def for_rows(self, depth: int) -> List[str]:
        row, acc = self.fresh("row"), self.fresh("acc")

        def body():
            # the row is a view of B: no write into B in the body, nor through the row
            # (CPython's row would see it; adjoin refuses such writes, documented)
            saved, self.writable = self.writable, [w for w in self.writable if w != "B"]
            try:
                lines = self.block(depth + 1, loop=True) if self.chance(40) else []
            finally:
                self.writable = saved
            self.vars[V].append(row)
            return lines + [f"{acc} = {acc} + {self.reduce(1)}"]
        lines = [f"{acc} = 0.0", f"for {row} in B:"] + [IND + ln for ln in self.scoped(body)]
        self.vars[S].append(acc)
        return lines

    def if_(self, depth: int) -> List[str]:
        test = self.cond(1)
        then = self.scoped(lambda: self.block(depth + 1))
        other = self.scoped(lambda: self.block(depth + 1))
        return [f"if {test}:"] + [IND + ln for ln in then] + ["else:"] + \
            [IND + ln for ln in other]

    # -- the function ------------------------------------------------------------

    def function(self) -> str:
        pre = []
        if self.chance(30):
            pre.append("w = np.zeros(len(a))")
            self.vars[V].append("w")
            self.writable.append("w")
        body = pre
        while self.budget > 0:
            body += self.block(0)
        body.append(f"return {self.scalar(2)}")
        return "def f(x, y, n, a, B):\n" + "\n".join(IND + ln for ln in body) + "\n"


HEADER = ("import math\nfrom collections import namedtuple\nfrom dataclasses import dataclass"
          "\n\nimport numpy as np\n\n\n")


@st.composite
def array_programs(draw, extras: int = 15) -> ArrayProgram:
    """A random NumPy function `f(x, y, n, a, B)`, as module source; `extras` percent of
    its expressions and statements use the constructs of the mixins."""
    gen = _ArrayGen(draw, extras)
    body = gen.function()
    return ArrayProgram(HEADER + gen.module_text() + body)


ORDINARY = st.one_of(st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False),
                     st.sampled_from([0.0, 1.0, -1.0, 0.5]))
EXTREME = st.sampled_from([0.0, -0.0, float("inf"), -float("inf"), float("nan"), 1e308,
                           -1e308, 5e-324, 1e-300, 710.0, -745.5, 2.0 ** 63, 1e19])
EXTREME_INTS = st.sampled_from([-1, -5, 0, 2 ** 62, -2 ** 63, 2 ** 63 - 1, 10 ** 9])


@st.composite
def array_arguments(draw, prog: ArrayProgram, extreme: int = 10) -> tuple:
    """Argument values (x, y, n, a, B); each scalar is extreme with `extreme` percent."""
    def scalar():
        return draw(EXTREME if draw(st.integers(0, 99)) < extreme else ORDINARY)

    def integer():
        if draw(st.integers(0, 99)) < extreme:
            return draw(EXTREME_INTS)
        return draw(st.integers(0, 6))

    m, p = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float64, np.float64, np.float32]))
    a = np.array([scalar() for _ in range(m)], dtype=dtype)
    b = np.array([[scalar() for _ in range(m)] for _ in range(p)], dtype=dtype)
    return scalar(), scalar(), integer(), a, b
