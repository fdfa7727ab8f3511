"""The llvm backend's machine code in the disk cache, keyed by LLVM IR text.

Assumes: LLVM IR text from lower.py/entry.py, which determines the machine code
for a given LLVM, target machine and adjoin version (the text already reflects
the source of the function and every callee, the signature and `wrt`).
Guarantees: entries live in the `objects/` folder (the shared runtime's in
`runtime/`) of adjoin's disk cache (`cache_store`: on by default, off with
ADJOIN_CACHE=0 or `set_cache_dir(None)`; $ADJOIN_LLVM_CACHE is a deprecated name of
its root). They are keyed by a SHA-256 of the adjoin version and ABI, llvmlite and
LLVM versions, host CPU and features, the optimization pipeline (`jit.PIPELINE`)
and the IR text; written atomically and checksummed by `cache_store` (a damaged
entry is ignored and rewritten; I/O errors never fail a compile). This tier serves
every compile of the backend; whole calls (no frontend, no AD, no LLVM) are cached
one level up (`persist.py`).
"""
from __future__ import annotations

import hashlib
from typing import Optional

import llvmlite
import llvmlite.binding as llvm

from ...cache_store import folder, set_cache_dir  # noqa: F401  (adjoin.set_cache_dir)
from ...cache_store import load as _load, store as _store
from ...runtime import ABI_VERSION, __version__


def cache_dir(kind: str = "objects") -> Optional[str]:
    """The folder of the machine-code entries (`runtime`: the shared runtime's), or None
    when the cache is off."""
    return folder(kind)


def key(text: str, tm, pipeline: str = "") -> str:
    h = hashlib.sha256()
    for part in (__version__, str(ABI_VERSION), llvmlite.__version__,
                 ".".join(map(str, llvm.llvm_version_info)), tm.triple,
                 llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten(),
                 pipeline, text):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def load(k: str, kind: str = "objects") -> Optional[bytes]:
    return _load(kind, k, ".o")


def store(k: str, obj: bytes, kind: str = "objects") -> None:
    _store(kind, k, obj, ".o")
