"""Cumulative ops, axes, contractions, norms, joins, reshaping and np.linalg for the random
NumPy programs of tests/progen_numpy.py (a mixin of its generator).

Assumes: mixed into `_ArrayGen`, which provides `draw`, `pick`, `chance`, `fresh`,
`array(shape, d)`, `array_leaf(shape)`, `scalar(d)`, `iexpr()` and `vars`.
Guarantees: expressions of the asked shape from cumsum/cumprod, tuple axes and keepdims,
var/std, einsum, tensordot, batched `@`, `linalg.norm`, stack/concatenate/hstack/vstack,
squeeze/atleast_*, tril/triu/trace/diag, roll/tile/repeat, and the factorizations
(solve, inv, det, slogdet, cholesky, eigh, eigvalsh). Factorizations see well
conditioned matrices with distinct eigenvalues, `K = X X^T / (1 + sum(X^2)) + diag(1, 4,
7)` (eigenvalues in [1, 2], [4, 5], [7, 8]), and eigenvectors only through `v ** 2`
(their signs are unspecified); or a diagonal matrix of a vector that may hold zeros
(solve, inv: LinAlgError) or negatives (cholesky: LinAlgError), or B itself, which is
not square when p != m (LinAlgError). `np.squeeze(B, 0)` raises ValueError when p != 1.
"""
from __future__ import annotations

from typing import List, Optional

from hypothesis import strategies as st

from progen_array_shapes import C, M, P, Q, R, Shape, V

VECTOR_ORDS = ["None", "2", "1", "np.inf", "-np.inf", "0"]
MATRIX_ORDS = ["None", "'fro'", "1", "-1", "np.inf", "-np.inf"]
DISTINCT = "np.diag(np.arange(B.shape[0]) * 3.0 + 1.0)"


class AlgebraOps:
    """Expressions with the NumPy functions on axes, contractions and matrices."""

    def square(self, d: int) -> str:
        """A well conditioned symmetric (p, p) matrix with distinct eigenvalues."""
        if self.vars.get(Q) and self.chance(60):
            return self.pick(self.vars[Q])
        x = self.array_leaf(M)
        return f"({x} @ {x}.T / (1.0 + np.sum({x} * {x})) + {DISTINCT})"

    def algebra_stmt(self) -> List[str]:
        name = self.fresh("K")
        x = self.array(M, 1)
        self.vars.setdefault(Q, []).append(name)
        return [f"{name} = {x} @ ({x}).T / (1.0 + np.sum(({x}) ** 2)) + {DISTINCT}"]

    def algebra_array(self, shape: Shape, d: int) -> Optional[str]:
        make = {V: self.algebra_v, P: self.algebra_p, M: self.algebra_m, R: self.algebra_r,
                C: self.algebra_c}.get(shape)
        return make(d) if make else None

    def algebra_v(self, d: int) -> str:
        e = lambda s=V: self.array(s, d)  # noqa: E731
        k = self.draw(st.integers(0, 13))
        return [
            lambda: f"np.{self.pick(['cumsum', 'cumprod'])}({e()})",
            lambda: f"({e()}).{self.pick(['cumsum', 'cumprod'])}({self.pick(['', '0'])})",
            lambda: f"np.cumsum({e(M)}, axis=0)[-1]",
            lambda: self.pick([f"np.einsum(\"ij->j\", {e(M)})",
                               f"np.einsum(\"ij,i->j\", {e(M)}, {e(P)})",
                               f"np.einsum(\"i,ij\", {e(P)}, {e(M)})"]),
            lambda: f"np.tensordot({e(P)}, {e(M)}, axes=1)",
            lambda: f"np.linalg.norm({e(M)}, ord={self.pick(VECTOR_ORDS)}, axis=0)",
            lambda: f"np.{self.pick(['var', 'std'])}({e(M)}, axis=0{self.ddof()})",
            lambda: f"np.stack([{e()}, {e()}], axis={self.pick(['0', '-2'])})"
                    f".{self.pick(['sum', 'max'])}(axis=0)",
            lambda: self.pick([f"np.concatenate([{e()}, {e()}])[1:len(a) + 1]",
                               f"np.hstack(({e()}, {e()}))[len(a):]"]),
            lambda: self.pick([f"np.squeeze({e(R)}, axis=0)", f"np.squeeze({e(M)}, 0)",
                               f"np.atleast_1d({e()})"]),
            lambda: f"np.roll({e()}, {self.iexpr()})",
            lambda: self.pick([f"np.tile({e()}, 3)[1:len(a) + 1]",
                               f"np.repeat({e()}, 2)[::2]", f"np.diag(np.diag({e()}))"]),
            lambda: f"np.mean(np.stack([{e(M)}, {e(M)}], axis=2), axis=(0, 2))",
            lambda: f"np.sum({e(M)}, axis=({self.pick(['0', '-2'])},))",
        ][k]()

    def algebra_p(self, d: int) -> str:
        e = lambda s=P: self.array(s, d)  # noqa: E731
        k = self.draw(st.integers(0, 11))
        return [
            lambda: f"np.cumsum({e(M)}, axis=1)[:, -1]",
            lambda: self.pick([f"np.einsum(\"ij,j->i\", {e(M)}, {e(V)})",
                               f"np.einsum(\"ij,ij->i\", {e(M)}, {e(M)})"]),
            lambda: self.pick([f"np.tensordot({e(M)}, {e(V)}, axes=1)",
                               f"np.tensordot({e(M)}, {e(V)}, axes=([1], [0]))"]),
            lambda: f"np.linalg.norm({e(M)}, ord={self.pick(VECTOR_ORDS)}, axis=1)",
            lambda: f"np.{self.pick(['var', 'std'])}({e(M)}, axis=-1{self.ddof()})",
            lambda: f"(np.stack([{e(M)}, {e(M)}]) @ {e(V)})[{self.pick(['0', '1', '-1'])}]",
            lambda: f"np.einsum(\"bij,j->i\", np.stack([{e(M)}, {e(M)}], axis=0), {e(V)})",
            lambda: f"np.linalg.solve({self.square(d)}, {e()})",
            lambda: self.pick([f"(np.linalg.inv({self.square(d)}) @ {e()})",
                               f"(np.linalg.cholesky({self.square(d)}) @ {e()})"]),
            lambda: self.pick([f"np.linalg.eigh({self.square(d)})[0]",
                               f"np.linalg.eigvalsh({self.square(d)})",
                               f"(np.linalg.eigh({self.square(d)})[1] ** 2 @ {e()})"]),
            lambda: f"np.linalg.solve(np.diag({e()}), {e()})",
            lambda: f"np.diag({self.square(d)} * {e()})",
        ][k]()

    def algebra_m(self, d: int) -> str:
        e = lambda s=M: self.array(s, d)  # noqa: E731
        k = self.draw(st.integers(0, 11))
        axis = self.pick(["0", "1", "-1"])
        return [
            lambda: f"np.{self.pick(['cumsum', 'cumprod'])}({e()}, axis={axis})",
            lambda: f"np.cumsum({e()}).reshape(B.shape)",
            lambda: f"np.{self.pick(['tril', 'triu'])}({e()}{self.pick(['', ', 1', ', -1'])})",
            lambda: f"np.roll({e()}, {self.iexpr()}, axis={axis})",
            lambda: self.pick([f"np.einsum(\"i,j->ij\", {e(P)}, {e(V)})",
                               f"np.einsum(\"ji\", {e()}.T)",
                               f"np.tensordot({e(P)}, {e(V)}, axes=0)"]),
            lambda: self.pick([f"np.vstack([{e()}, {e(R)}])[1:]",
                               f"np.concatenate([{e()}, {e()}], axis=1)[:, 1:len(a) + 1]",
                               f"np.hstack([{e(C)}, {e()}])[:, :len(a)]"]),
            lambda: self.stack_reduce(d),
            lambda: f"({e()} - np.{self.pick(['mean', 'max'])}({e()}, axis=(0, 1), "
                    f"keepdims=True))",
            lambda: f"({e()} / (1.0 + np.linalg.norm({e()}, axis=1, keepdims=True)))",
            lambda: f"np.linalg.solve({self.square(d)}, {e()})",
            lambda: f"(np.stack([{e()}, {e()}]) @ {e()}.T @ {e()})[1]",
            lambda: f"np.einsum(\"bij,bjk->ik\", np.stack([{self.square(d)}, "
                    f"{self.square(d)}]), np.stack([{e()}, {e()}]))",
        ][k]()

    def stack_reduce(self, d: int) -> str:
        """Two matrices stacked along a new axis, reduced along that axis again."""
        axis = self.pick(["0", "1", "2", "-1"])
        x, y = self.array(M, d), self.array(M, d)
        return f"np.stack([{x}, {y}], axis={axis}).{self.pick(['sum', 'min'])}(axis={axis})"

    def algebra_r(self, d: int) -> str:
        fn = self.pick(["sum", "max", "mean", "std", "var"])
        kind = self.draw(st.integers(0, 2))
        if kind == 0:
            return f"np.{fn}({self.array(M, d)}, axis=0, keepdims=True)"
        if kind == 1:
            return f"np.linalg.norm({self.array(M, d)}, axis=0, keepdims=True)"
        return f"np.atleast_2d({self.array(V, d)})"

    def algebra_c(self, d: int) -> str:
        fn = self.pick(["sum", "min", "mean", "std"])
        kind = self.draw(st.integers(0, 2))
        if kind == 0:
            return f"np.{fn}({self.array(M, d)}, axis=1, keepdims=True)"
        if kind == 1:
            return f"np.cumsum({self.array(C, d)}, axis=0)"
        return f"np.linalg.norm({self.array(M, d)}, ord=1, axis=-1, keepdims=True)"

    def ddof(self) -> str:
        return self.pick(["", ", ddof=1", ", ddof=0"])

    def algebra_scalar(self, d: int) -> str:
        k = self.draw(st.integers(0, 9))
        return [
            lambda: f"np.trace({self.pick([self.array(M, d), self.square(d)])})",
            lambda: f"np.linalg.det({self.square(d)})",
            lambda: f"np.linalg.slogdet({self.square(d)})[{self.pick(['0', '1'])}]",
            lambda: f"np.linalg.norm({self.array(M, d)}, ord={self.pick(MATRIX_ORDS)})",
            lambda: f"np.linalg.norm({self.array(V, d)}, ord={self.pick(VECTOR_ORDS)})",
            lambda: self.pick([f"np.einsum(\"ij,ij->\", {self.array(M, d)}, {self.array(M, d)})",
                               f"np.einsum(\"i,i\", {self.array(V, d)}, {self.array(V, d)})"]),
            lambda: f"np.{self.pick(['sum', 'max', 'prod'])}({self.array(M, d)}, axis=(0, 1))",
            lambda: f"np.{self.pick(['var', 'std'])}({self.array(self.pick([V, M]), d)}"
                    f"{self.ddof()})",
            lambda: self.pick([f"np.linalg.det(np.diag({self.array(P, d)}))",
                               f"np.sum(np.linalg.inv(np.diag({self.array(P, d)})))",
                               f"np.sum(np.linalg.cholesky(np.diag({self.array(P, d)})))",
                               f"np.sum(np.linalg.cholesky({self.array(M, d)}))"]),
            lambda: f"np.sum(np.tensordot({self.array(M, d)}, {self.array(M, d)}, "
                    f"axes=([1], [1])))",
        ][k]()
