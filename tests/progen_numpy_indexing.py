"""Index arrays, masks, sorting and `None` indexing for the random NumPy programs of
tests/progen_numpy.py (a mixin of its generator).

Assumes: mixed into `_ArrayGen`, which provides `draw`, `pick`, `chance`, `fresh`,
`array(shape, d)`, `scalar(d)`, `iexpr()`, `targets(shape)`, `vars` and `iarrays`.
Guarantees: expressions of the asked shape built from integer index arrays (gathers
`x[i]`, `B[:, i]`, `B[r, c]`, `np.take`, `np.take_along_axis`), boolean masks
(`x[x > s]` under reductions), `np.sort`/`np.argsort` and `None`/`np.newaxis` reads;
statements that write through index arrays and masks (`=`, `+=`, `np.add.at`) into
arrays the program owns or into its arguments. Index arrays are mostly in range and
sometimes not (`np.arange(n) - k`, `np.full(m, n)`): CPython then raises IndexError,
which every backend must raise. argsort is always `kind="stable"` (NumPy's default
leaves the order of ties unspecified, adjoin gives the stable one, documented).
"""
from __future__ import annotations

from typing import List, Optional

from hypothesis import strategies as st

from progen_array_shapes import LENGTH, C, M, P, R, S, Shape, V


class IndexingOps:
    """Expressions and statements with index arrays, masks and sorting."""

    # -- index arrays --------------------------------------------------------

    def index_array(self, shape: Shape, over: str) -> str:
        """An int array of `shape` (V or P) indexing an axis of length `over` ("m"/"p")."""
        n, length = LENGTH[shape[0]], LENGTH[over]
        saved = self.iarrays.get((shape, over), [])
        if saved and self.chance(40):
            return self.pick(saved)
        if shape[0] == over:
            kind = self.draw(st.integers(0, 6))
            if kind <= 1:
                return f"np.argsort({self.array(shape, 1)}, kind=\"stable\")"
            if kind == 2:
                return f"np.arange({length})[::-1]"
            if kind == 3:
                return f"((np.arange({length}) + {self.iexpr()}) % {length})"
            if kind == 4:  # repeated positions
                return f"((np.arange({length}) * 2) % {length})"
            if kind == 5:  # out of range where the int is large
                return f"(np.arange({length}) - {self.pick(self.ints)})"
            return f"np.full({length}, {self.iexpr()})"
        kind = self.draw(st.integers(0, 3))
        if kind <= 1:
            axis = 0 if shape == V else 1
            return f"np.{self.pick(['argmax', 'argmin'])}({self.array(M, 1)}, axis={axis})"
        if kind == 2:
            return f"(np.arange({n}) % {length})"
        return f"np.full({n}, {self.iexpr()})"

    # -- expressions -----------------------------------------------------------

    def indexing_array(self, shape: Shape, d: int) -> Optional[str]:
        e = lambda s=shape: self.array(s, d)  # noqa: E731
        kind = self.draw(st.integers(0, 3))
        if shape == V:
            return [f"{e()}[{self.index_array(V, 'm')}]",
                    f"np.take({e()}, {self.index_array(V, 'm')})",
                    f"{e(P)}[{self.index_array(V, 'p')}]",
                    f"np.sort({e()}{self.sort_kind()})"][kind]
        if shape == P:
            return [f"{e()}[{self.index_array(P, 'p')}]",
                    f"{e(V)}[{self.index_array(P, 'm')}]",
                    f"{e(M)}[np.arange(B.shape[0]), {self.index_array(P, 'm')}]",
                    f"{e(M)}[{self.index_array(P, 'p')}, {self.pick(['0', '-1'])}]"][kind]
        if shape == M:
            return [f"{e()}[:, {self.index_array(V, 'm')}]",
                    f"{e()}[{self.index_array(P, 'p')}]",
                    f"np.take({e()}, {self.index_array(V, 'm')}, axis=1)",
                    self.sorted_matrix(d)][kind]
        if shape == R:
            return self.pick([f"{e(V)}[None, :]", f"{e(V)}[np.newaxis]", f"{e(M)}[0, None]",
                              f"{e(M)}[{self.index_array(V, 'p')}, np.arange(len(a))][None]"])
        if shape == C:
            return self.pick([f"{e(P)}[:, None]", f"{e(P)}[:, np.newaxis]",
                              f"{e(M)}[:, {self.index_array(P, 'm')}][:, 0:1]"])
        return None

    def sort_kind(self) -> str:
        return self.pick(["", ", kind=\"stable\""])

    def sorted_matrix(self, d: int) -> str:
        x = self.array(M, d)
        axis = self.pick(["0", "1", "-1"])
        if self.chance(50):
            return f"np.sort({x}, axis={axis}{self.sort_kind()})"
        order = f"np.argsort({x}, axis={axis}, kind=\"stable\")"
        return f"np.take_along_axis({self.array(M, d)}, {order}, axis={axis})"

    def indexing_scalar(self, d: int) -> str:
        """A reduction of a selection whose length may be known only at run time."""
        x = self.array(V, d)
        kind = self.draw(st.integers(0, 5))
        if kind <= 1:
            fn = self.pick(["sum", "sum", "max", "min", "mean"])  # max of nothing raises
            return f"np.{fn}({x}[{x} {self.pick(['>', '<='])} {self.scalar(0)}])"
        if kind == 2:
            return f"np.sum({x}[[0, {self.pick(['-1', '0', '1', 'n'])}]])"
        if kind == 3:
            flat = f"np.arange(B.size)[::-1] % {self.pick(['B.size', 'len(a)'])}"
            return f"np.sum(np.take({self.array(M, d)}, {flat}))"
        if kind == 4:
            return f"np.sort({self.array(M, d)}, axis=None)[{self.index('B.size')}]"
        return f"float(len({x}[{x} > {self.scalar(0)}]))"

    # -- statements --------------------------------------------------------------

    def index_stmt(self) -> List[str]:
        kind = self.draw(st.integers(0, 3))
        if kind == 0:  # an index array kept in a variable (read again, printed)
            shape, over = self.pick([(V, "m"), (P, "p"), (V, "p"), (P, "m")])
            name = self.fresh("k")
            line = f"{name} = {self.index_array(shape, over)}"
            self.iarrays.setdefault((shape, over), []).append(name)
            return [line]
        if kind == 1 and self.targets(M):
            return self.matrix_index_write(self.pick(self.targets(M)))
        return self.vector_index_write(self.pick(self.targets(V)))

    def vector_index_write(self, t: str) -> List[str]:
        idx = self.index_array(V, "m")
        value = self.scalar(1) if self.chance(40) else self.array(V, 1)
        kind = self.draw(st.integers(0, 4))
        if kind == 0:
            return [f"{t}[{idx}] = {value}"]
        if kind == 1:
            return [f"{t}[{idx}] {self.pick(['+=', '-=', '*='])} {value}"]
        if kind == 2:
            return [f"np.add.at({t}, {idx}, {value})"]
        if kind == 3:
            return [f"{t}[{t} {self.pick(['>', '<'])} {self.scalar(0)}] = {self.scalar(1)}"]
        mask = self.fresh("mk")
        return [f"{mask} = {self.array(V, 1)} > {self.scalar(0)}",
                f"{t}[{mask}] = {self.array(V, 1)}[{mask}]"]

    def matrix_index_write(self, t: str) -> List[str]:
        kind = self.draw(st.integers(0, 4))
        if kind == 0:
            value = self.pick([self.array(M, 1), self.array(V, 1), self.scalar(1)])
            return [f"{t}[:, {self.index_array(V, 'm')}] = {value}"]
        rows, cols = self.index_array(P, "p"), self.index_array(P, "m")
        value = self.scalar(1) if self.chance(40) else self.array(P, 1)
        if kind == 1:
            return [f"{t}[{rows}, {cols}] = {value}"]
        if kind == 2:
            return [f"np.add.at({t}, ({rows}, {cols}), {value})"]
        if kind == 3:
            return [f"{t}[{rows}] {self.pick(['=', '+='])} {self.array(M, 1)}"]
        return [f"{t}[{t} > {self.scalar(0)}] = {self.scalar(1)}"]

    def printable_ints(self) -> List[str]:
        """Int and int-array expressions whose printed text every backend must match."""
        names = [v for group in self.iarrays.values() for v in group]
        return names + [self.iexpr(), f"np.argsort(a, kind=\"stable\")",
                        f"np.argmax(B, axis={self.pick(['0', '1'])})", "a.shape[0]"]


__all__ = ["IndexingOps", "S"]
