"""An on-disk cache of compiled object code, keyed by the IR and the target.

Optimising at O3 and emitting machine code is most of a build's time; the
same program built again (another process, the next test run) loads the
object file instead. The key hashes the unoptimised IR text, the target's CPU
name and features, and the mlc, llvmlite and LLVM versions, so a change to
any of them misses. Objects refer to runtime functions by name (relocations
resolved when loaded), so they are valid in any process.

Entries live under ``MLC_CACHE_DIR/llvm`` (``MLC_CACHE_DIR=`` empty turns the
cache off). Writes are atomic; an unreadable or unwritable cache is ignored,
never an error: it only costs the compile time. Each entry records the
SHA-256 of its object code, and an object whose bytes do not match is never
handed to LLVM (loading damaged machine code could crash the process).
"""
from __future__ import annotations

import hashlib
import os
import tempfile

import llvmlite
import llvmlite.binding as llvm

from ...config import config

__all__ = ["cache_key", "load", "store", "discard"]


def _directory() -> str | None:
    root = config().cache_dir
    return os.path.join(root, "llvm") if root else None


def cache_key(ir_text: str, cpu: str, features: str) -> str:
    from ... import __version__
    h = hashlib.sha256()
    for part in (__version__, llvmlite.__version__, ".".join(map(str, llvm.llvm_version_info)),
                 cpu, features, ir_text):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _paths(key: str) -> tuple[str, str] | None:
    directory = _directory()
    if directory is None:
        return None
    base = os.path.join(directory, key[:2], key)
    return base + ".o", base + ".ll"


_CHECKSUM = "; mlc-object-sha256 "


def load(key: str) -> tuple[bytes, str] | None:
    """(object code, optimised IR) stored under ``key``, or None (also when damaged)."""
    paths = _paths(key)
    if paths is None:
        return None
    try:
        with open(paths[0], "rb") as f:
            obj = f.read()
        with open(paths[1], encoding="utf-8") as f:
            header, _, optimized = f.read().partition("\n")
    except (OSError, UnicodeDecodeError):
        return None
    if not header.startswith(_CHECKSUM) or header[len(_CHECKSUM):] != hashlib.sha256(obj).hexdigest():
        discard(key)
        return None
    return obj, optimized


def store(key: str, obj: bytes, optimized_ir: str) -> None:
    """Keep ``obj`` and its optimised IR under ``key`` (best effort, atomic per file)."""
    paths = _paths(key)
    if paths is None:
        return
    ir_entry = f"{_CHECKSUM}{hashlib.sha256(obj).hexdigest()}\n{optimized_ir}".encode()
    try:
        os.makedirs(os.path.dirname(paths[0]), exist_ok=True)
        for path, data in ((paths[1], ir_entry), (paths[0], obj)):
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
    except OSError:
        pass


def discard(key: str) -> None:
    """Remove an entry that failed to load."""
    paths = _paths(key)
    for path in paths or ():
        try:
            os.remove(path)
        except OSError:
            pass
