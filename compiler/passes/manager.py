"""The pass manager: runs passes in order, verifying and dumping IR on request.

Assumes: each pass is a function `pass(f: Function) -> None` that rewrites in place.
Guarantees: with `ADJOIN_VERIFY=1` (the test suite sets it) the verifier runs
after every pass and a failure names the pass that broke the IR. `ADJOIN_DUMP`
prints IR to stderr around passes: a comma-separated list of `before:NAME`,
`after:NAME`, `NAME` (same as after:NAME) or `all`; names are pass names plus
`frontend`, `reverse`, `forward` for the IR the transforms produce.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, List, Optional, Sequence, Tuple

from ..errors import VerifyError
from ..ir.core import Function, Module
from ..ir.printer import print_function
from ..ir.verify import verify_function

Pass = Callable[[Function], None]


def _dump_specs() -> set:
    raw = os.environ.get("ADJOIN_DUMP", "")
    specs = set()
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        specs.add(item if ":" in item or item == "all" else "after:" + item)
    return specs


def should_dump(when: str, name: str) -> bool:
    specs = _dump_specs()
    return "all" in specs or f"{when}:{name}" in specs or f"{when}:all" in specs


def dump(f: Function, when: str, name: str) -> None:
    if should_dump(when, name):
        sys.stderr.write(f"// ----- IR {when} {name} (@{f.name}) -----\n")
        sys.stderr.write(print_function(f) + "\n")


def verifying() -> bool:
    return os.environ.get("ADJOIN_VERIFY", "") not in ("", "0")


def checkpoint(f: Function, name: str, module: Optional[Module] = None) -> None:
    """After producing or rewriting `f`: dump it if asked, verify it if asked."""
    dump(f, "after", name)
    if verifying():
        try:
            verify_function(f, module)
        except VerifyError as e:
            raise VerifyError(f"after {name}: {e}\n{print_function(f)}") from None


def run_passes(f: Function, passes: Sequence[Tuple[str, Pass]],
               module: Optional[Module] = None) -> None:
    for name, p in passes:
        dump(f, "before", name)
        p(f)
        checkpoint(f, name, module)


def default_pipeline() -> List[Tuple[str, Pass]]:
    from .canonicalize import canonicalize
    from .cse import cse
    from .dce import dce
    return [("canonicalize", canonicalize), ("cse", cse), ("dce", dce),
            ("canonicalize", canonicalize), ("dce", dce)]


def run_default_pipeline(f: Function) -> None:
    checkpoint(f, "frontend")
    run_passes(f, default_pipeline())
