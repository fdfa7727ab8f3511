"""`adjoin.checkpointed`: mark a loop whose reverse mode trades recomputation for memory.

Assumes: nothing (a plain function that CPython runs as it is).
Guarantees: `checkpointed(range(...), snapshots=k)` returns its range unchanged, and
`checkpointed(condition, snapshots=k)` (the test of a `while` loop) its truth value, so the
undecorated function runs under CPython as written. Compiled by adjoin, the marked loop
is ordinary in the primal and in forward mode; in reverse mode its gradient keeps at most
`k` snapshots of the loop-carried state plus the tape of one iteration, and recomputes the
rest by binomial checkpointing (see docs/checkpointing.md and ad/checkpoint.py).
"""
from __future__ import annotations

import numpy as np

DEFAULT_SNAPSHOTS = 16


def checkpointed(iterable, snapshots: int = DEFAULT_SNAPSHOTS):
    """Mark a loop for checkpointed reverse mode: `for i in checkpointed(range(...))` or
    `while checkpointed(condition):`.

    Args:
        iterable: the `range(...)` of a `for` loop, or the condition of a `while` loop
            (a bool).
        snapshots: how many copies of the loop-carried state the gradient may keep at
            once (at least 1). Fewer snapshots mean less memory and more recomputation:
            a loop of n iterations runs each iteration forward about r times, where r is
            the smallest number with C(snapshots + r, r) >= n.

    Returns:
        `iterable` itself (a condition as a bool), so the function still runs under plain
        CPython.

    Raises:
        TypeError: `iterable` is neither a range nor a bool, or `snapshots` is not an int.
        ValueError: `snapshots` is smaller than 1.

    Example:
        >>> def simulate(x, steps):
        ...     for i in adjoin.checkpointed(range(steps), snapshots=8):
        ...         x = x + 0.01 * np.sin(x)
        ...     return np.sum(x)
    """
    if not isinstance(iterable, (range, bool, np.bool_)):
        raise TypeError(f"checkpointed() takes a range or a loop condition, not "
                        f"{type(iterable).__name__}")
    if isinstance(snapshots, bool) or not isinstance(snapshots, int):
        raise TypeError(f"checkpointed(): snapshots must be an int, not "
                        f"{type(snapshots).__name__}")
    if snapshots < 1:
        raise ValueError(f"checkpointed(): snapshots must be at least 1, got {snapshots}")
    return iterable if isinstance(iterable, range) else bool(iterable)
