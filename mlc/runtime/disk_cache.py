"""Trusted on-disk caches of compiled code: a folder per kind (``MLC_CACHE_DIR/llvm`` for
object code, ``MLC_CACHE_DIR/cuda`` for cubins), an entry per key.

Loading machine code runs it, so the folders are trusted the way SSH trusts its
files:

* a folder is created 0700, and one that this user does not own or that others may
  write (either it or ``MLC_CACHE_DIR`` itself) is not used: a warning says so once,
  and builds go on without a disk cache (``MLC_CACHE_DIR=`` empty turns caches off);
* an entry is one file, written atomically with mode 0600, that starts with the
  cache's magic line and a JSON header (what the entry was stored under, its size
  and the BLAKE2b hash of the bytes that follow); :func:`read_entry` hands it back
  only when the file is a regular file (checked without blocking: a named pipe in its
  place is a damaged entry, with a warning), this user's, not writable by others, whole
  and undamaged.

Their size is kept under ``MLC_CACHE_SIZE``, the least recently used entries going
first (:mod:`.cache_space`): reading an entry back stamps it as used, storing one may
evict others. An unreadable or unwritable cache is never an error: it only costs the
compile time.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "entry")
>>> write_entry(path, b"demo 1\\n", {"key": "k"}, b"bytes")
>>> read_entry(path, b"demo 1\\n")
({'key': 'k'}, b'bytes')
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
import warnings

from ..config import config
from . import cache_space
from .cache_space import ENTRY_SUFFIX

try:  # CPython's own BLAKE2, without the OpenSSL start-up of hashlib (3 ms of a first call)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b

__all__ = ["cache_directory", "digest", "read_entry", "write_entry", "remove", "ENTRY_SUFFIX"]

_warned: set[str] = set()


def digest(data: bytes) -> str:
    """The hex BLAKE2b digest (32 bytes) entries are named and checked by."""
    return blake2b(data, digest_size=32).hexdigest()


def cache_directory(kind: str) -> str | None:
    """The cache folder of ``kind`` (``MLC_CACHE_DIR/kind``), created 0700 if missing; None
    when caches are off or the folder is not safe to load code from (module docstring)."""
    root = config().cache_dir
    if not root:
        return None
    path = os.path.join(root, kind)
    try:
        for created in (root, path):  # (makedirs gives only the last directory its mode)
            os.makedirs(created, mode=0o700, exist_ok=True)
    except OSError:
        return None  # unwritable: no cache, silently (it only costs compile time)
    for checked in (root, path):
        problem = _unsafe(checked)
        if problem is not None:
            if checked not in _warned:
                _warned.add(checked)
                warnings.warn(f"mlc does not use the compile cache in {checked}: {problem}. "
                              f"Builds go on without a disk cache; fix it with 'chmod 700 {checked}' "
                              "(as its owner) or set MLC_CACHE_DIR to a directory of your own",
                              RuntimeWarning, stacklevel=3)
            return None
    return path


def _unsafe(path: str) -> str | None:
    """Why ``path`` must not hold code this process loads, or None."""
    try:
        st = os.lstat(path)
    except OSError as err:
        return f"it cannot be inspected ({err.strerror})"
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError as err:
            return f"it is a broken symbolic link ({err.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if st.st_uid != os.geteuid():
        return f"it belongs to user id {st.st_uid}, not to this user ({os.geteuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users may write to it (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def read_entry(path: str, magic: bytes) -> tuple[dict, bytes] | None:
    """(header, body) of the entry at ``path``, or None: missing, not this user's (or
    writable by others), not a ``magic`` entry, cut short or damaged. The caller checks
    that the header records the key it asked for."""
    try:  # (non-blocking: opening a named pipe for reading would wait for a writer forever)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                warnings.warn(f"mlc's compile cache entry {path} is not a regular file ({_kind(st.st_mode)}): "
                              "it is treated as damaged and the code is built again", RuntimeWarning,
                              stacklevel=3)
                return None
            if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return None  # not written by this user's mlc
            data = f.read()
    except OSError:
        return None
    if not data.startswith(magic):
        return None
    header_end = data.find(b"\n", len(magic))
    if header_end < 0:
        return None
    try:
        header = json.loads(data[len(magic):header_end])
        size, recorded = int(header.pop("size")), header.pop("blake2b")
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    body = data[header_end + 1:]
    if size != len(body) or digest(body) != recorded:
        return None
    cache_space.touch(path)
    return header, body


def _kind(mode: int) -> str:
    """What a file that is not a regular one is, in words."""
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISDIR, "a directory"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return f"file type {stat.S_IFMT(mode):o}"


def write_entry(path: str, magic: bytes, header: dict, body: bytes) -> None:
    """Store ``body`` at ``path`` under ``header`` (best effort; atomic, mode 0600)."""
    record = dict(header, size=len(body), blake2b=digest(body))
    data = magic + json.dumps(record, sort_keys=True).encode() + b"\n" + body
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=cache_space.TEMP_PREFIX)  # mode 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            try:
                os.remove(tmp)
            except OSError:
                pass
        return
    cache_space.stored(path, len(data))


def remove(path: str) -> None:
    """Remove an entry that failed to load or could not be trusted (best effort)."""
    try:
        os.remove(path)
    except OSError:
        pass
