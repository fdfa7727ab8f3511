"""All-or-nothing updates of the caches the derivative transforms keep.

Assumes: a transform reserves names and records pairs or JVPs in dicts (and queues
work in lists) before it builds the functions they stand for.
Guarantees: `all_or_nothing(*containers)` restores each container to its contents
at entry when the body raises (NotDifferentiable, a typing error, ...), so a later
request never meets a half-built entry: a reserved name without a function, a split
pair whose halves are missing.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Union

Container = Union[dict, list]


@contextmanager
def all_or_nothing(*containers: Container) -> Iterator[None]:
    saved = [c.copy() for c in containers]
    try:
        yield
    except BaseException:
        for c, s in zip(containers, saved):
            c.clear()
            if isinstance(c, dict):
                c.update(s)
            else:
                c.extend(s)
        raise
