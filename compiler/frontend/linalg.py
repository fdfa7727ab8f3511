"""np.linalg factorizations: solve, inv, det, slogdet, cholesky, eigh, eigvalsh.

Assumes: the translator of `primitives` (its `prim` registry and argument helpers).
Guarantees: each call becomes one IR op of the same name (`ir/ops.py`, LINALG) on 2-d
float matrices: integer and boolean arrays are converted to float64, and float32 meeting
float64 (solve) to float64, as NumPy computes them. A scalar or an array of another rank
(NumPy's stacked matrices included) is a TypingError at the call naming the function and
the rank. slogdet's and eigh's results are tuples (NumPy's named tuples unpack alike);
det's and slogdet's numbers are NumPy scalars. Errors NumPy raises at run time (a singular
matrix, a matrix that is not positive definite, one that is not square) are raised by
every backend as numpy.linalg.LinAlgError.
"""
from __future__ import annotations

import numpy as np

from ..errors import TypingError
from ..ir.core import Value
from ..ir.types import ArrayType, F64, TupleType
from .primitives import args_of, fresh, prim


def _matrix(tr, node, v: Value, what: str, ranks=(2,)) -> Value:
    """`v` as a float array of one of `ranks` dimensions, or a TypingError."""
    if not isinstance(v.type, ArrayType):
        raise TypingError(f"np.linalg.{what}() needs an array, got {v.type}", tr.loc(node),
                          f"np.linalg.{what}")
    if v.type.ndim not in ranks:
        want = " or ".join(f"{r}-d" for r in ranks)
        raise TypingError(f"np.linalg.{what}() supports {want} arrays in adjoin, got a "
                          f"{v.type.ndim}-d array (stacked matrices are not supported)",
                          tr.loc(node), f"np.linalg.{what}")
    return v if v.type.dtype.is_float else tr.b.convert(v, F64)


def _one_matrix(opname: str):
    def handler(tr, node):
        (a,), _ = args_of(tr, node, 1, 1)
        r = tr.b.emit(opname, _matrix(tr, node.args[0], a, opname))
        if isinstance(r.type, TupleType):
            tr.kinds.set(r, tuple(not isinstance(t, ArrayType) for t in r.type.elts))
            return r
        return fresh(tr, tr.as_kind(r, True))
    return handler


for _name in ("inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh"):
    prim(getattr(np.linalg, _name))(_one_matrix(_name))


@prim(np.linalg.solve)
def _solve(tr, node):
    (a, b), _ = args_of(tr, node, 2, 2)
    a = _matrix(tr, node.args[0], a, "solve")
    b = _matrix(tr, node.args[1], b, "solve", ranks=(1, 2))
    if a.type.dtype != b.type.dtype:  # float32 with float64: float64
        a, b = tr.b.convert(a, F64), tr.b.convert(b, F64)
    return fresh(tr, tr.b.emit("solve", a, b))
