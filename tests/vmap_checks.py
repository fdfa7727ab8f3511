"""Helpers of the vmap tests: batches made from a corpus case's inputs, the reference
loop over the lanes, and the comparison.

A batch stacks the argument tuples of a case (each lane one tuple, so lanes take
different branches and loop different numbers of times): a position holding floats,
ints, bools or arrays of one shape in every tuple is mapped (in_axes 0), a position
holding one same value everywhere is shared (None), anything else leaves the case out.
The reference runs the plain function on each lane's values as indexing the stacked
arrays gives them (NumPy scalars), as a Python loop over the examples would.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

Batch = Tuple[Tuple[Any, ...], Tuple[Optional[int], ...]]


def _same(values: Sequence[Any]) -> bool:
    first = values[0]
    for v in values[1:]:
        if type(v) is not type(first):
            return False
        if isinstance(v, np.ndarray):
            if v.shape != first.shape or v.dtype != first.dtype or not np.array_equal(v, first):
                return False
        elif not (v == first or (v != v and first != first)):
            return False
    return True


def _stackable(values: Sequence[Any]) -> bool:
    kinds = {type(v) for v in values}
    if len(kinds) != 1:
        return False
    first = values[0]
    if isinstance(first, bool) or isinstance(first, float):
        return True
    if isinstance(first, int):
        return all(-2**62 < v < 2**62 for v in values)
    if isinstance(first, np.ndarray):
        return all(v.shape == first.shape and v.dtype == first.dtype for v in values) and \
            first.dtype != object
    return False


def batch_of(arg_sets: List[Tuple[Any, ...]], repeat: int = 2) -> Optional[Batch]:
    """The stacked arguments and in_axes of a case, or None where its inputs cannot be
    stacked. Each tuple appears `repeat` times (lanes at different positions)."""
    lanes = [a for a in arg_sets for _ in range(repeat)]
    args, axes = [], []
    for k in range(len(lanes[0])):
        column = [lane[k] for lane in lanes]
        if _same(column) and not isinstance(column[0], (float, np.ndarray)):
            args.append(column[0])
            axes.append(None)
        elif _stackable(column):
            args.append(np.stack([np.asarray(v) for v in column]))
            axes.append(0)
        elif _same(column):
            args.append(column[0])
            axes.append(None)
        else:
            return None
    if all(a is None for a in axes):
        return None
    return tuple(args), tuple(axes)


def lane_args(args: Tuple[Any, ...], axes: Tuple[Optional[int], ...], k: int) -> Tuple:
    return tuple(a if ax is None else np.copy(a[k]) if isinstance(a[k], np.ndarray) else a[k]
                 for a, ax in zip(args, axes))


def reference(fn, args, axes) -> List[Any]:
    """fn on every lane, as a Python loop over the examples runs it."""
    n = next(len(a) for a, ax in zip(args, axes) if ax is not None)
    return [fn(*lane_args(args, axes, k)) for k in range(n)]


def assert_lanes(got: Any, want: List[Any], tol: float = 1e-10) -> None:
    """`got` (batched results) holds `want[k]` at index k of every leaf."""
    if isinstance(want[0], tuple):
        assert isinstance(got, tuple) and len(got) == len(want[0]), got
        for j, g in enumerate(got):
            assert_lanes(g, [w[j] for w in want], tol)
        return
    got = np.asarray(to_numpy(got))
    ref = np.stack([np.asarray(w) for w in want])
    assert got.shape == ref.shape, (got.shape, ref.shape)
    if ref.dtype.kind in "biu":
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got, ref.astype(np.float64), rtol=tol, atol=tol)


def to_numpy(x: Any) -> Any:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    if isinstance(x, tuple):
        return tuple(to_numpy(v) for v in x)
    return x


def to_torch(args: Tuple[Any, ...]) -> Tuple[Any, ...]:
    import torch
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
                 for a in args)
