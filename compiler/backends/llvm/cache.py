"""The opt-in on-disk cache of machine code, shared by processes.

Assumes: LLVM IR text from lower.py/entry.py, which determines the machine code
for a given LLVM, target machine and adjoin version (the text already reflects
the source of the function and every callee, the signature and `wrt`).
Guarantees: off unless `set_cache_dir(path)` or $ADJOIN_LLVM_CACHE names a folder.
Entries are keyed by a SHA-256 of the adjoin version and ABI, llvmlite and LLVM
versions, host CPU and features, and the IR text. Each is written to a temporary
file and renamed into place, so processes filling the cache at once never see a
partial entry (the last writer wins, with identical bytes); an entry whose
checksum fails is ignored and rewritten. Cache I/O errors never fail a compile.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Optional

import llvmlite
import llvmlite.binding as llvm

from ...runtime import ABI_VERSION, __version__

_MAGIC = b"adjoin-object-1\n"
_DIR: Optional[str] = None
_SET = False


def set_cache_dir(path: Optional[str]) -> None:
    """Cache the llvm backend's machine code in folder `path` (created if needed), or
    turn the cache off with None. Without a call, $ADJOIN_LLVM_CACHE decides."""
    global _DIR, _SET
    _DIR, _SET = (os.path.abspath(os.path.expanduser(path)) if path else None), True


def cache_dir() -> Optional[str]:
    if _SET:
        return _DIR
    env = os.environ.get("ADJOIN_LLVM_CACHE")
    return os.path.abspath(os.path.expanduser(env)) if env else None


def key(text: str, tm) -> str:
    h = hashlib.sha256()
    for part in (__version__, str(ABI_VERSION), llvmlite.__version__,
                 ".".join(map(str, llvm.llvm_version_info)), tm.triple,
                 llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten(), text):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def load(k: str) -> Optional[bytes]:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with open(os.path.join(folder, k + ".o"), "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    head = len(_MAGIC) + 32
    if not data.startswith(_MAGIC) or hashlib.sha256(data[head:]).digest() != \
            data[len(_MAGIC):head]:
        return None  # damaged: compile again and overwrite
    return data[head:]


def store(k: str, obj: bytes) -> None:
    folder = cache_dir()
    if folder is None:
        return
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".o")
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + hashlib.sha256(obj).digest() + obj)
        os.replace(tmp, os.path.join(folder, k + ".o"))
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
