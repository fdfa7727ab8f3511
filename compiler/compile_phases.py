"""Counts and timings of the compile phases a process ran (for tests, benchmarks and the
"adjoin" log).

Assumes: the compiler calls `count(phase)` where a phase starts, wraps the frontend
(one specialization), the AD (one derivative built) and the backend's code generation
(one `Target.compile`) in `timed(phase)`, and calls `finish_compile(name, backend)` when
a backend has compiled code. Phases may nest (the frontend runs inside AD when a callee
is specialized on the way): each phase's time excludes the phases run inside it.
Guarantees: `COUNTS[phase]` is how many times it ran in this process: "frontend" (a
function specialized from source), "ad" (derivative code generated), "llvm" (LLVM
optimization and machine code), "python_codegen" (the python backend's source
written), "disk_hit" / "disk_miss" / "disk_store" (whole compiled calls, `persist.py`).
`compile_stats()` lists one record per compiled entry: the seconds of frontend, AD and
codegen work this thread did since its previous compile, and their total. A compile whose
total reaches ADJOIN_LOG_THRESHOLD seconds (default 1.0) logs one INFO line on the logger
"adjoin", silent unless configured: ADJOIN_LOG=info (or debug, warning) adds a stderr
handler at that level, and any `logging` configuration by the user works as usual.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, deque
from contextlib import contextmanager
from typing import Deque, Dict, Iterator, List

COUNTS: Counter = Counter()
PHASES = ("frontend", "ad", "codegen")
LOG = logging.getLogger("adjoin")
_RECORDS: Deque[Dict[str, object]] = deque(maxlen=10_000)  # bounded: long-lived processes
_LOCAL = threading.local()


def count(phase: str) -> None:
    COUNTS[phase] += 1


def _state():
    if not hasattr(_LOCAL, "pending"):
        _LOCAL.pending = dict.fromkeys(PHASES, 0.0)
        _LOCAL.inner = [0.0]  # per open phase: the seconds spent in phases nested in it
    return _LOCAL


@contextmanager
def timed(phase: str) -> Iterator[None]:
    """Add the time of the block, less its nested phases, to `phase`'s pending seconds."""
    st = _state()
    st.inner.append(0.0)
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        nested = st.inner.pop()
        st.pending[phase] += elapsed - nested
        st.inner[-1] += elapsed


def threshold() -> float:
    try:
        return float(os.environ.get("ADJOIN_LOG_THRESHOLD", "1.0"))
    except ValueError:
        return 1.0


def finish_compile(name: str, backend: str) -> None:
    """Close the record of the compile that just produced `name` on `backend`; log it
    when it took at least the threshold."""
    st = _state()
    if len(st.inner) > 1:  # a compile nested in another phase: the outer one reports
        return
    times = {p: round(st.pending[p], 6) for p in PHASES}
    st.pending = dict.fromkeys(PHASES, 0.0)
    total = round(sum(times.values()), 6)
    _RECORDS.append({"function": name, "backend": backend, **times, "total": total})
    if total >= threshold():
        LOG.info("compiled %s (%s backend) in %.2fs: frontend %.2fs, AD %.2fs, codegen %.2fs",
                 name, backend, total, times["frontend"], times["ad"], times["codegen"])


def compile_stats() -> List[Dict[str, object]]:
    """The time each compile of this process took, phase by phase.

    A compile is recorded when a call, a derivative verb or a source printer makes new
    code (a disk-cache hit records none). Compiles of a second or more (settable with
    $ADJOIN_LOG_THRESHOLD) also log one INFO line on the "adjoin" logger, which is silent
    unless configured ($ADJOIN_LOG=info adds a stderr handler).

    Args:
        None.

    Returns:
        A list of dicts, oldest first (the last 10,000 compiles): "function" (its symbol,
        e.g. "f" for the primal, "f_grad" for its gradient), "backend", and the seconds
        "frontend" (parsing, typing, specialization), "ad" (derivative code), "codegen"
        (the backend) and "total".

    Raises:
        Nothing.

    Example:
        >>> @adjoin.differentiable
        ... def cube(x):
        ...     return x * x * x
        >>> _ = adjoin.grad(cube)(2.0)
        >>> last = adjoin.compile_stats()[-1]
        >>> sorted(last)
        ['ad', 'backend', 'codegen', 'frontend', 'function', 'total']
    """
    return [dict(r) for r in _RECORDS]


def configure_logging() -> None:
    """ADJOIN_LOG=info (or another level name): a stderr handler on the "adjoin" logger."""
    level = os.environ.get("ADJOIN_LOG", "").strip().upper()
    if not level or getattr(logging, level, None) is None:
        return
    if not any(getattr(h, "_adjoin_env", False) for h in LOG.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("adjoin: %(message)s"))
        handler._adjoin_env = True  # type: ignore[attr-defined]
        LOG.addHandler(handler)
    LOG.setLevel(getattr(logging, level))
