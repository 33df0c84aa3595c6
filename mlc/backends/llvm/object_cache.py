"""An on-disk cache of compiled object code, keyed by the IR and the target.

Optimising at O3 and emitting machine code is most of a build's time; the
same program built again (another process, the next test run) loads the
object file instead. Objects refer to runtime functions by name (relocations
resolved when loaded), so they are valid in any process.

Loading machine code runs it, so the cache is trusted the way SSH trusts its
files:

* the directory (``MLC_CACHE_DIR/llvm``; ``MLC_CACHE_DIR=`` empty turns the
  cache off) is created 0700, and one that this user does not own or that
  others may write (either it or ``MLC_CACHE_DIR`` itself) is not used: a
  warning says so once, and builds go on without a disk cache;
* an entry is one file, written atomically with mode 0600, that records its
  full :class:`CacheKey` (hash of the IR, CPU, features, mlc, llvmlite and
  LLVM versions), the sizes and the BLAKE2b hash of what follows, then the object
  code and the optimised IR. :func:`load` hands it back only when the record
  is the key asked for and the bytes match; copying another entry over a key,
  truncating it or damaging it makes a miss (and the entry is removed);
* what is loaded is still checked before LLVM sees it (:mod:`.elf`,
  :mod:`.symbols`), and any doubt there discards the entry too (:func:`discard`).

An unreadable or unwritable cache is never an error: it only costs the compile time.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
import warnings
from dataclasses import asdict, dataclass

import llvmlite
import llvmlite.binding as llvm

from ...config import config
from ...version import __version__

try:  # CPython's own BLAKE2, without the OpenSSL start-up of hashlib (3 ms of a first call)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b

__all__ = ["CacheKey", "cache_key", "load", "store", "discard", "directory"]

_MAGIC = b"mlc-object-cache 3\n"


@dataclass(frozen=True)
class CacheKey:
    """Everything an entry depends on; ``digest`` names its file."""
    ir_hash: str
    cpu: str
    features: str
    mlc: str
    llvmlite: str
    llvm: str

    @property
    def digest(self) -> str:
        return _hash(json.dumps(asdict(self), sort_keys=True).encode())


def cache_key(ir_text: str, cpu: str, features: str) -> CacheKey:
    return CacheKey(_hash(ir_text.encode()), cpu, features, __version__,
                    llvmlite.__version__, ".".join(map(str, llvm.llvm_version_info)))


def _hash(data: bytes) -> str:
    return blake2b(data, digest_size=32).hexdigest()


_warned: set[str] = set()


def directory() -> str | None:
    """The cache directory, created 0700 if missing; None when the cache is off or the
    directory is not safe to load code from (see the module docstring)."""
    root = config().cache_dir
    if not root:
        return None
    path = os.path.join(root, "llvm")
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
                              RuntimeWarning, stacklevel=2)
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


def _path(key: CacheKey) -> str | None:
    root = directory()
    return os.path.join(root, key.digest + ".entry") if root else None


def load(key: CacheKey) -> tuple[bytes, str] | None:
    """(object code, optimised IR) stored under ``key``, or None: missing, recorded for
    another key, or damaged (then the entry is removed)."""
    path = _path(key)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                entry = None  # not written by this user's mlc
            else:
                entry = _parse(f.read(), key)
    except OSError:
        return None
    if entry is None:
        discard(key)
    return entry


def _parse(data: bytes, key: CacheKey) -> tuple[bytes, str] | None:
    """The entry's (object, optimised IR) if ``data`` is a whole entry for ``key``."""
    if not data.startswith(_MAGIC):
        return None
    header_end = data.find(b"\n", len(_MAGIC))
    if header_end < 0:
        return None
    try:
        header = json.loads(data[len(_MAGIC):header_end])
        recorded = CacheKey(**header["key"])
        obj_size, ir_size, digest = int(header["object_size"]), int(header["ir_size"]), header["blake2b"]
    except (ValueError, TypeError, KeyError):
        return None
    body = data[header_end + 1:]
    if recorded != key or obj_size < 0 or ir_size < 0 or len(body) != obj_size + ir_size:
        return None
    if _hash(body) != digest:
        return None
    try:
        optimized = body[obj_size:].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return body[:obj_size], optimized


def store(key: CacheKey, obj: bytes, optimized_ir: str) -> None:
    """Keep ``obj`` and its optimised IR under ``key`` (best effort; atomic, mode 0600)."""
    path = _path(key)
    if path is None:
        return
    body = obj + optimized_ir.encode("utf-8")
    header = {"key": asdict(key), "object_size": len(obj), "ir_size": len(body) - len(obj),
              "blake2b": _hash(body)}
    data = _MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + body
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")  # mode 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            try:
                os.remove(tmp)
            except OSError:
                pass


def discard(key: CacheKey) -> None:
    """Remove ``key``'s entry (it failed to load, or could not be trusted)."""
    path = _path(key)
    if path is not None:
        try:
            os.remove(path)
        except OSError:
            pass
