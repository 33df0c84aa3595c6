"""The disk caches' size: a limit, least-recently-used entries evicted first.

Every folder of ``MLC_CACHE_DIR`` (``llvm`` for object code, ``cuda`` for cubins,
:mod:`.disk_cache`) counts against one limit, ``MLC_CACHE_SIZE`` (``config().cache_size``,
1 GiB by default). An entry's modification time is its **usage stamp**: written when it
is stored, and set to the present each time it is read back (:func:`touch`), since access
times are not kept on many file systems (``noatime``, ``relatime``). Entries never change
once written (a new one replaces a file by renaming), so the stamp says nothing else.

Each process counts the bytes it stores; when its last look at the folders plus those
exceed the limit, it looks again (:func:`scan`) and, holding an exclusive lock on
``MLC_CACHE_DIR/.lock`` (another process evicting meanwhile: it leaves it to that one),
removes the least recently used entries until the caches hold at most
:data:`LOW_WATER` of the limit, so that the next look comes only after a tenth of the
limit has been stored again. Several processes at once are safe: an entry removed
while another process reads it stays readable through that process's open file, and one
removed before it is opened is a miss (the code is built again). Temporary files that a
process which died while writing left behind are removed once an hour old.

:func:`info` and :func:`clear` are ``mlc.cache``'s.

>>> import tempfile
>>> from mlc.config import override
>>> with override(cache_dir=tempfile.mkdtemp()):
...     info().entries
0
"""
from __future__ import annotations

import os
import stat
import threading
import time
from dataclasses import dataclass

from ..config import config

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: evictions are not serialised between processes
    fcntl = None

__all__ = ["CacheInfo", "info", "clear", "touch", "stored", "scan", "evict", "LOW_WATER", "ENTRY_SUFFIX",
           "TEMP_PREFIX"]

#: Eviction stops once the caches hold at most this share of the limit.
LOW_WATER = 0.9
#: An entry's file name ends so; one being written starts with TEMP_PREFIX (:mod:`.disk_cache`).
ENTRY_SUFFIX = ".entry"
TEMP_PREFIX = ".tmp-"
#: A temporary file this old is left over by a process that died while writing it.
_STALE_TEMP_S = 3600

_lock = threading.Lock()
_estimates: dict[str, int] = {}  # cache root -> the bytes it held at this process's last look, plus since


@dataclass(frozen=True)
class CacheInfo:
    """What the disk caches hold: ``entries`` files of ``bytes`` in all, at ``location``
    (``MLC_CACHE_DIR``; None when the caches are off), at most ``limit`` bytes (None: no limit)."""
    location: str | None
    entries: int
    bytes: int
    limit: int | None


def info() -> CacheInfo:
    """The disk caches' entries, their size, the limit and where they are."""
    root = config().cache_dir or None
    found = scan(root) if root else []
    return CacheInfo(root, len(found), sum(size for _, size, _ in found), config().cache_size)


def clear() -> int:
    """Remove every entry of the disk caches (of every kind); the number removed."""
    root = config().cache_dir
    if not root:
        return 0
    removed = sum(_remove(path) for path, _, _ in scan(root))
    with _lock:
        _estimates.pop(root, None)
    return removed


def touch(path: str) -> None:
    """Stamp the entry at ``path`` as used now (it was read back)."""
    try:
        os.utime(path)
    except OSError:
        pass  # removed meanwhile, or not ours to stamp: it only ages sooner


def stored(path: str, nbytes: int) -> None:
    """An entry of ``nbytes`` was stored at ``path``: evict what is least recently used if
    the caches may hold more than the limit now."""
    limit = config().cache_size
    root = os.path.dirname(os.path.dirname(path))
    if limit is None:
        return
    with _lock:
        estimate = _estimates.get(root)
        if estimate is not None and estimate + nbytes <= limit:
            _estimates[root] = estimate + nbytes
            return
        _estimates[root] = evict(root, limit)


def scan(root: str) -> list[tuple[str, int, int]]:
    """(path, bytes, usage stamp in ns) of every entry under ``root``'s cache folders,
    least recently used first. Temporary files an hour old are removed on the way."""
    found = []
    now = time.time()
    for folder in _folders(root):
        try:
            with os.scandir(folder) as listing:
                files = list(listing)
        except OSError:
            continue
        for f in files:
            try:
                st = f.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if f.name.endswith(ENTRY_SUFFIX):
                found.append((f.path, st.st_size, st.st_mtime_ns))
            elif f.name.startswith(TEMP_PREFIX) and now - st.st_mtime > _STALE_TEMP_S:
                _remove(f.path)
    found.sort(key=lambda e: e[2])
    return found


def evict(root: str, limit: int) -> int:
    """Remove the least recently used entries under ``root`` until they hold at most
    LOW_WATER of ``limit``, if they hold more than ``limit``; the bytes they hold then.
    Where another process is evicting, leave it to that one."""
    found = scan(root)
    held = sum(size for _, size, _ in found)
    if held <= limit:
        return held
    with _exclusive(root) as mine:
        if not mine:
            return held
        for path, size, _ in scan(root):  # (again: another process may have evicted first)
            if held <= LOW_WATER * limit:
                break
            if _remove(path):
                held -= size
    return held


def _folders(root: str) -> list[str]:
    """The cache folders (one per kind) under ``root``: its directories, not links to any."""
    try:
        with os.scandir(root) as listing:
            return [d.path for d in listing if d.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _remove(path: str) -> bool:
    try:
        os.remove(path)
        return True
    except OSError:
        return False


class _exclusive:
    """``with _exclusive(root) as mine``: ``mine`` is whether this process holds the lock
    file of ``root`` (True without fcntl, where nothing is locked)."""

    def __init__(self, root: str):
        self.path, self.fd = os.path.join(root, ".lock"), None

    def __enter__(self) -> bool:
        if fcntl is None:
            return True
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # (closing releases the lock)
