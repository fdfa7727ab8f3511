"""`adjoin.checkpointed`: mark a loop whose reverse mode trades recomputation for memory.

Assumes: nothing (a plain function that CPython runs as it is).
Guarantees: `checkpointed(range(...), snapshots=k)` returns its range unchanged, so the
undecorated function runs under CPython as written. Compiled by adjoin, the marked loop
is ordinary in the primal and in forward mode; in reverse mode its gradient keeps at most
`k` snapshots of the loop-carried state plus the tape of one iteration, and recomputes the
rest by binomial checkpointing (see docs/checkpointing.md and ad/checkpoint.py).
"""
from __future__ import annotations

DEFAULT_SNAPSHOTS = 16


def checkpointed(iterable: range, snapshots: int = DEFAULT_SNAPSHOTS) -> range:
    """Mark the `for` loop over `iterable` for checkpointed reverse mode.

    Args:
        iterable: a `range(...)` (the trip count must be known when the loop starts).
        snapshots: how many copies of the loop-carried state the gradient may keep at
            once (at least 1). Fewer snapshots mean less memory and more recomputation:
            a loop of n iterations runs each iteration forward about r times, where r is
            the smallest number with C(snapshots + r, r) >= n.

    Returns:
        `iterable` itself, so the function still runs under plain CPython.

    Raises:
        TypeError: `iterable` is not a range or `snapshots` is not an int.
        ValueError: `snapshots` is smaller than 1.

    Example:
        >>> def simulate(x, steps):
        ...     for i in adjoin.checkpointed(range(steps), snapshots=8):
        ...         x = x + 0.01 * np.sin(x)
        ...     return np.sum(x)
    """
    if not isinstance(iterable, range):
        raise TypeError(f"checkpointed() takes a range, not {type(iterable).__name__}")
    if isinstance(snapshots, bool) or not isinstance(snapshots, int):
        raise TypeError(f"checkpointed(): snapshots must be an int, not "
                        f"{type(snapshots).__name__}")
    if snapshots < 1:
        raise ValueError(f"checkpointed(): snapshots must be at least 1, got {snapshots}")
    return iterable
