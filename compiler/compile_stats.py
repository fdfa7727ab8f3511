"""Counts of the compile phases a process ran (for tests and benchmarks).

Assumes: nothing; the compiler calls `count(phase)` where a phase starts.
Guarantees: `COUNTS[phase]` is how many times it ran in this process: "frontend" (a
function specialized from source), "ad" (derivative code generated), "llvm" (LLVM
optimization and machine code), "python_codegen" (the python backend's source
written), "disk_hit" / "disk_miss" / "disk_store" (whole compiled calls, `persist.py`).
"""
from __future__ import annotations

from collections import Counter

COUNTS: Counter = Counter()


def count(phase: str) -> None:
    COUNTS[phase] += 1
