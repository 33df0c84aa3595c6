"""An on-disk cache of compiled object code, keyed by the IR and the target.

Optimising at O3 and emitting machine code is most of a build's time; the
same program built again (another process, the next test run) loads the
object file instead. Objects refer to runtime functions by name (relocations
resolved when loaded), so they are valid in any process.

Loading machine code runs it, so the cache is trusted as
:mod:`mlc.runtime.disk_cache` says (its folder ``MLC_CACHE_DIR/llvm`` is this
user's alone, entries are written atomically with mode 0600 and hashed). An
entry records its full :class:`CacheKey` (hash of the IR, CPU, features, mlc,
llvmlite and LLVM versions) and holds the object code and the optimised IR.
:func:`load` hands it back only when the record is the key asked for and the
bytes match; copying another entry over a key, truncating it or damaging it
makes a miss (and the entry is removed). What is loaded is still checked
before LLVM sees it (:mod:`.elf`, :mod:`.symbols`), and any doubt there
discards the entry too (:func:`discard`).

An unreadable or unwritable cache is never an error: it only costs the compile time.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import llvmlite
import llvmlite.binding as llvm

from ...runtime import disk_cache
from ...version import __version__

__all__ = ["CacheKey", "cache_key", "load", "store", "discard", "directory"]

_MAGIC = b"mlc-object-cache 4\n"


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
        return disk_cache.digest(json.dumps(asdict(self), sort_keys=True).encode())


def cache_key(ir_text: str, cpu: str, features: str) -> CacheKey:
    return CacheKey(disk_cache.digest(ir_text.encode()), cpu, features, __version__,
                    llvmlite.__version__, ".".join(map(str, llvm.llvm_version_info)))


def directory() -> str | None:
    """The cache directory (``MLC_CACHE_DIR/llvm``), created 0700 if missing; None when the
    cache is off or the directory is not safe to load code from."""
    return disk_cache.cache_directory("llvm")


def _path(key: CacheKey) -> str | None:
    root = directory()
    return os.path.join(root, key.digest + disk_cache.ENTRY_SUFFIX) if root else None


def load(key: CacheKey) -> tuple[bytes, str] | None:
    """(object code, optimised IR) stored under ``key``, or None: missing, recorded for
    another key, or damaged (then the entry is removed)."""
    path = _path(key)
    if path is None or not os.path.exists(path):
        return None
    entry = _parse(disk_cache.read_entry(path, _MAGIC), key)
    if entry is None:
        discard(key)
    return entry


def _parse(found, key: CacheKey) -> tuple[bytes, str] | None:
    """The entry's (object, optimised IR) if ``found`` (header, body) is a whole entry for ``key``."""
    if found is None:
        return None
    header, body = found
    try:
        recorded = CacheKey(**header["key"])
        obj_size = int(header["object_size"])
    except (ValueError, TypeError, KeyError):
        return None
    if recorded != key or not 0 <= obj_size <= len(body):
        return None
    try:
        optimized = body[obj_size:].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return body[:obj_size], optimized


def store(key: CacheKey, obj: bytes, optimized_ir: str) -> None:
    """Keep ``obj`` and its optimised IR under ``key`` (best effort; atomic, mode 0600)."""
    path = _path(key)
    if path is not None:
        disk_cache.write_entry(path, _MAGIC, {"key": asdict(key), "object_size": len(obj)},
                               obj + optimized_ir.encode("utf-8"))


def discard(key: CacheKey) -> None:
    """Remove ``key``'s entry (it failed to load, or could not be trusted)."""
    path = _path(key)
    if path is not None:
        disk_cache.remove(path)
