"""Structures, functions as values, global arrays and print for the random NumPy programs
of tests/progen_numpy.py (a mixin of its generator).

Assumes: mixed into `_ArrayGen`, which provides `draw`, `pick`, `chance`, `fresh`,
`array(shape, d)`, `scalar(d)`, `iexpr()`, `vars`, `module_defs` and
`printable_ints()`.
Guarantees: dict, list, namedtuple and dataclass literals whose entries are read back
later (`p["w"]`, `lst[1]`, `q.w`, registered as leaves of their shapes, never as write
targets); module-level helpers that take such structures, return a dict, or take a
function (`apply(lambda z: ..., u)`, `apply(np.tanh, u)`, a nested `def` reading the
enclosing variables when called); module-level global arrays named `G` and `T` (`T` is
also an attribute name: `B.T` must stay the transpose), read only by `f`; and `print`
statements of ints, int arrays, masks, the float arguments and texts, so that the
printed text is exact on every backend. `module_text()` gives the definitions the
drawn code needs, in a fixed order.
"""
from __future__ import annotations

from typing import List, Optional

from hypothesis import strategies as st

from progen_array_shapes import IND, M, P, S, Shape, V

MODULE_DEFS = {
    "Pair": 'Pair = namedtuple("Pair", ["w", "s"])\n',
    "Params": "@dataclass\nclass Params:\n    w: np.ndarray\n    s: float\n",
    "G": "G = np.array([0.5, -1.0, 2.0, 0.25])\n",
    "T": "T = np.array([[1.0, -0.5, 0.25, 2.0], [0.0, 3.0, -1.0, 0.5], "
         "[-2.0, 0.75, 1.5, -0.25]])\n",
    "h_dict": 'def h_dict(p):\n    return p["w"] * p["s"] + np.sin(p["w"])\n',
    "h_fields": "def h_fields(q):\n    return q.w / (1.0 + q.s * q.s) - q.s\n",
    "h_list": "def h_list(xs):\n    return xs[0] * xs[1] - xs[-1]\n",
    "h_make": 'def h_make(w, s):\n    return {"w": w * s, "s": s + 1.0}\n',
    "apply": "def apply(g, z):\n    return g(z)\n",
    "apply_twice": "def apply_twice(g, z):\n    return g(g(z))\n",
}
ORDER = list(MODULE_DEFS)


class StructureOps:
    """Structures, function values, global arrays and print."""

    def uses(self, name: str) -> str:
        self.module_defs.add(name)
        return name

    def module_text(self) -> str:
        return "".join(MODULE_DEFS[k] + "\n\n" for k in ORDER if k in self.module_defs)

    # -- expressions -----------------------------------------------------------

    def structure_array(self, shape: Shape, d: int) -> Optional[str]:
        if shape == M and self.chance(50):
            return f"{self.uses('T')}[:B.shape[0], :B.shape[1]]"
        if shape == P and self.chance(30):
            return f"{self.uses('T')}[:B.shape[0], {self.pick(['0', '-1'])}]"
        if shape not in (V, M, P):
            return None
        e = lambda s=shape: self.array(s, d)  # noqa: E731
        s = lambda: self.scalar(max(d - 1, 0))  # noqa: E731
        kind = self.draw(st.integers(0, 6))
        if kind == 0 and shape == V:
            return f"({self.uses('G')}[:len(a)] * {s()})"
        if kind <= 1:
            return f"{self.uses('h_dict')}({{\"w\": {e()}, \"s\": {s()}}})"
        if kind == 2:
            cls = self.uses(self.pick(["Pair", "Params"]))
            fields = f"w={e()}, s={s()}" if self.chance(50) else f"{e()}, {s()}"
            return f"{self.uses('h_fields')}({cls}({fields}))"
        if kind == 3:
            return f"{self.uses('h_list')}([{e()}, {e()}, {self.pick([e(), s()])}])"
        return self.function_call(shape, d)

    def function_call(self, shape: Shape, d: int) -> str:
        apply = self.uses(self.pick(["apply", "apply", "apply_twice"]))
        z = self.array(shape, d)
        kind = self.draw(st.integers(0, 3))
        if kind == 0:
            fn = self.pick(["np.tanh", "np.sin", "np.abs", "np.square"])
        elif kind == 1 and self.funcs:
            fn = self.pick(self.funcs)
        else:
            fn = f"lambda z: {self.function_body()}"
        return f"{apply}({fn}, {z})"

    def function_body(self) -> str:
        """Elementwise in `z`, reading enclosing scalars (any shape of `z` works)."""
        u = self.pick(self.vars[S])
        return self.pick([f"z * {u} + np.tanh(z)", f"np.sin(z * {u})", f"z / (1.0 + {u} * {u})",
                          f"np.maximum(z, {u})", f"z * z - {self.pick(self.vars[S])}"])

    def structure_scalar(self, d: int) -> str:
        kind = self.draw(st.integers(0, 2))
        if kind == 0:
            return f"{self.uses('apply')}(lambda z: {self.function_body()}, {self.scalar(d)})"
        if kind == 1:
            return f"np.sum({self.uses('T')}[:B.shape[0], :B.shape[1]] * {self.array(M, d)})"
        return f"np.dot({self.uses('G')}[:len(a)], {self.array(V, d)})"

    # -- statements --------------------------------------------------------------

    def structure_stmt(self) -> List[str]:
        kind = self.draw(st.integers(0, 5))
        name = self.fresh("p")
        if kind == 0:
            w, s, m = self.entry(V), self.scalar(1), self.entry(M)
            self.reads(name, [('["w"]', V), ('["s"]', S), ('["m"]', M)])
            return [f'{name} = {{"w": {w}, "s": {s}, "m": {m}}}']
        if kind == 1:
            items = [self.entry(V), self.scalar(1), self.entry(P)]
            self.reads(name, [("[0]", V), ("[1]", S), ("[-1]", P)])
            return [f"{name} = [{', '.join(items)}]"]
        if kind == 2:
            cls = self.uses(self.pick(["Pair", "Params"]))
            line = f"{name} = {cls}(w={self.entry(V)}, s={self.scalar(1)})"
            self.reads(name, [(".w", V), (".s", S)])
            return [line]
        if kind == 3:
            line = f"{name} = {self.uses('h_make')}({self.array(V, 1)}, {self.scalar(1)})"
            self.reads(name, [('["w"]', V), ('["s"]', S)])
            return [line]
        if kind == 4 and self.level == 0:  # (a def on one branch only is refused)
            g = self.fresh("g")
            body = self.function_body()
            self.funcs.append(g)
            return [f"def {g}(z):", IND + f"return {body}"]
        return self.print_stmt()

    def entry(self, shape: Shape) -> str:
        """An array kept in a structure: a fresh one or an array the program names
        (bound together with it, as in CPython), never a view (writing into its base
        while the structure is read later is refused, documented)."""
        value = self.array(shape, 1)
        if self.owns_memory(value) or value.isidentifier():
            return value
        return f"np.copy({value})"

    def reads(self, name: str, entries) -> None:
        for suffix, shape in entries:
            self.vars.setdefault(shape, []).append(name + suffix)

    def print_stmt(self) -> List[str]:
        items = []
        for _ in range(self.draw(st.integers(0, 3))):
            kind = self.draw(st.integers(0, 4))
            if kind <= 1:
                items.append(self.pick(self.printable_ints()))
            elif kind == 2:
                items.append(self.pick(["x", "y", "a.shape[0] * 0.5", '"text"', "None"]))
            elif kind == 3:
                items.append(f"x {self.pick(['<', '>='])} {self.pick(['y', '0.5'])}")
            else:
                items.append(f"a > {self.pick(['x', '0.0'])}")
        options = self.pick(["", ', sep=", "', ', end=";\\n"', ', sep="", end="|\\n"'])
        if not items:
            options = ""
        return [f"print({', '.join(items)}{options})"]
