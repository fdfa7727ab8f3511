"""The persistent on-disk cache: where it lives, how entries are written, read and evicted.

Assumes: entries are immutable byte strings named by a hex key (a digest of everything
that determines them: see `cache_keys`); several processes may use one folder at once.
Guarantees:
  * The root is `set_cache_dir(path)` if called (None turns the cache off), else off when
    $ADJOIN_CACHE is 0/false/off/no, else $ADJOIN_CACHE_DIR, else the deprecated
    $ADJOIN_LLVM_CACHE, else `platformdirs.user_cache_dir("adjoin")`. Each kind of entry
    has its own subfolder (`entries/` whole compiled calls, `objects/` llvm machine code
    keyed by LLVM IR, `runtime/` the llvm backend's shared runtime, `python/` the python
    backend's generated files).
  * With the cache off nothing is written under any root (`root()` is None).
  * `store` writes a temporary file in the destination folder and renames it into place:
    a reader sees a whole entry or none. Each entry carries a SHA-256 of its contents; a
    damaged one reads as missing (and the compile that follows rewrites it).
  * I/O errors never propagate: a failed load is a miss, a failed store is skipped.
  * The folder is bounded ($ADJOIN_CACHE_SIZE, bytes with an optional k/M/G suffix;
    512M by default): after a store that takes it over the bound, the least recently
    used files (by modification time, refreshed on every hit) are removed until it is
    under 90% of it. A process that is loading an entry has read it whole first, so
    removal never breaks it.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Dict, List, Optional, Tuple

_MAGIC = b"adjoin-cache-1\n"
_OFF = ("0", "false", "off", "no")
KINDS = ("entries", "objects", "runtime", "python")
DEFAULT_SIZE = 512 * 2**20
_SET = False
_ROOT: Optional[str] = None


def set_cache_dir(path: Optional[str]) -> None:
    """Put adjoin's disk cache in folder `path` (created when needed), or turn it off
    with None. Without a call the environment decides (see the module docstring):
    ADJOIN_CACHE=0 turns it off, ADJOIN_CACHE_DIR chooses the folder.

    Args:
        path: the folder (`~` expanded), or None to turn the disk cache off.

    Returns:
        None.

    Raises:
        Nothing: the folder is created when the cache first writes.

    Example:
        >>> adjoin.set_cache_dir(tmp)
        >>> adjoin.cache_info()["root"] == tmp
        True
        >>> adjoin.set_cache_dir(None)
        >>> adjoin.cache_info()["enabled"]
        False
    """
    global _ROOT, _SET
    _ROOT, _SET = (os.path.abspath(os.path.expanduser(path)) if path else None), True


def reset_cache_dir() -> None:
    """Forget `set_cache_dir`: the environment decides again."""
    global _ROOT, _SET
    _ROOT, _SET = None, False


def enabled() -> bool:
    return root() is not None


def root() -> Optional[str]:
    if _SET:
        return _ROOT
    if os.environ.get("ADJOIN_CACHE", "1").strip().lower() in _OFF:
        return None
    env = os.environ.get("ADJOIN_CACHE_DIR") or os.environ.get("ADJOIN_LLVM_CACHE")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return default_root()


def default_root() -> str:
    try:
        import platformdirs
        return platformdirs.user_cache_dir("adjoin", appauthor=False)
    except ImportError:  # pragma: no cover - platformdirs is a dependency
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        return os.path.join(base, "adjoin")


def folder(kind: str) -> Optional[str]:
    r = root()
    return None if r is None else os.path.join(r, kind)


def size_bound() -> int:
    raw = os.environ.get("ADJOIN_CACHE_SIZE", "").strip().lower()
    if not raw:
        return DEFAULT_SIZE
    scale = {"k": 2**10, "m": 2**20, "g": 2**30}.get(raw[-1:], 1)
    try:
        return int(float(raw[:-1] if scale > 1 else raw) * scale)
    except ValueError:
        return DEFAULT_SIZE


def _path(kind: str, key: str, suffix: str) -> Optional[str]:
    d = folder(kind)
    return None if d is None else os.path.join(d, key + suffix)


def load(kind: str, key: str, suffix: str = ".bin") -> Optional[bytes]:
    """The entry's bytes, or None (missing, damaged, unreadable or cache off)."""
    path = _path(kind, key, suffix)
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    head = len(_MAGIC) + 32
    body = data[head:]
    if not data.startswith(_MAGIC) or hashlib.sha256(body).digest() != data[len(_MAGIC):head]:
        return None
    try:
        os.utime(path)  # recently used: evicted last
    except OSError:
        pass
    return body


def store(kind: str, key: str, data: bytes, suffix: str = ".bin") -> bool:
    """Write the entry (atomically); False when it was not written."""
    path = _path(kind, key, suffix)
    if path is None:
        return False
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=suffix)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + hashlib.sha256(data).digest() + data)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    evict()
    return True


def _files() -> List[Tuple[float, int, str]]:
    """(modification time, size, path) of every file of the cache."""
    out = []
    for kind in KINDS:
        d = folder(kind)
        if d is None:
            continue
        try:
            with os.scandir(d) as it:
                for e in it:
                    try:
                        if e.is_file(follow_symlinks=False):
                            st = e.stat(follow_symlinks=False)
                            out.append((st.st_mtime, st.st_size, e.path))
                    except OSError:
                        continue
        except OSError:
            continue
    return out


def evict(bound: Optional[int] = None) -> int:
    """Remove least recently used files until the cache is under its bound; the number of
    bytes removed."""
    bound = size_bound() if bound is None else bound
    files = _files()
    total = sum(size for _, size, _ in files)
    if total <= bound:
        return 0
    removed = 0
    for _, size, path in sorted(files):
        if total - removed <= bound * 0.9:
            break
        try:
            os.unlink(path)
            removed += size
        except OSError:
            continue
    return removed


def cache_info() -> Dict[str, object]:
    """Where the cache is (`root`), whether it is on, its bound (bytes), its files and
    bytes in all, and by kind (`entries`, `objects`, `runtime`, `python`: each {files, bytes}).

    Args:
        None.

    Returns:
        A dict with keys `root`, `enabled`, `size_bound`, `files`, `bytes`, `entries`,
        `objects`, `runtime` and `python`.

    Raises:
        Nothing: unreadable files are skipped.

    Example:
        >>> adjoin.set_cache_dir(tmp)
        >>> info = adjoin.cache_info()
        >>> info["enabled"], info["files"]
        (True, 0)
    """
    r = root()
    info: Dict[str, object] = {"root": r, "enabled": r is not None, "size_bound": size_bound()}
    files = _files()
    info["files"] = len(files)
    info["bytes"] = sum(size for _, size, _ in files)
    for kind in KINDS:
        d = folder(kind)
        mine = [size for _, size, p in files if d is not None and os.path.dirname(p) == d]
        info[kind] = {"files": len(mine), "bytes": sum(mine)}
    return info


def clear_cache() -> int:
    """Remove every file of the cache; the number of bytes removed.

    Compiled functions already loaded in this process keep working; the next process
    compiles again.

    Args:
        None.

    Returns:
        The number of bytes removed (files that cannot be removed are skipped).

    Raises:
        Nothing: a file that cannot be removed is left in place.

    Example:
        >>> adjoin.set_cache_dir(tmp)
        >>> adjoin.clear_cache()
        0
    """
    removed = 0
    for _, size, path in _files():
        try:
            os.unlink(path)
            removed += size
        except OSError:
            continue
    return removed
