"""Large host outputs reuse memory that has its pages: no page faults on every call.

glibc gives every block of 32 MiB or more (its largest ``mmap`` threshold) a
fresh mapping and unmaps it when it is freed, so a function returning such an
array pays a page fault per 4 KiB page of it on every call, before its kernel
writes a byte, more than the kernel's own time (NumPy's ``a[:-2] + a[1:-1] + a[2:]``
pays the same; benchmarks/results/decisions.md, "Runtime").

So :func:`take` keeps the buffers of outputs of at least :data:`MIN_BYTES` in a
pool: a buffer is a NumPy array that owns its memory, and every array made of
it (the output, its views, arrays of its buffer, memoryviews) holds a
reference to it, so a buffer that nothing but the pool refers to is free, and
the next output of its size gets it, pages already mapped. The pool holds at
most :func:`limit_bytes` of buffers, in use or not; an output that would go
over it, once the free buffers have been let go, is allocated as usual.
:func:`release` lets every free buffer go now.

>>> raw = take(MIN_BYTES)
>>> address = raw.ctypes.data
>>> del raw
>>> take(MIN_BYTES).ctypes.data == address  # the same pages again
True
"""
from __future__ import annotations

import os
import sys
import threading

import numpy as np

__all__ = ["MIN_BYTES", "LIMIT_BYTES", "take", "release", "limit_bytes", "set_limit", "pooled_bytes"]

#: Outputs of at least this many bytes come from the pool. Smaller blocks come from
#: glibc's heap, which keeps their pages (above 128 KiB once a block of that size has
#: been freed, up to its 32 MiB cap).
MIN_BYTES = 16 << 20
#: The most the pool holds, in use or not: 1 GiB, or a sixteenth of the machine's
#: memory where that is less.
LIMIT_BYTES = 1 << 30

_pool: list[np.ndarray] = []  # the buffers (uint8 arrays that own their memory), oldest first
_lock = threading.RLock()  # (a collection inside take() may run code that calls it again)
_limit: int | None = None


def _references(buffers: list[np.ndarray]) -> list[int]:
    """Each buffer's reference count as this loop sees it: the list's, the loop's and the
    call's, and one for each array, memoryview or other holder of its memory."""
    return [sys.getrefcount(raw) for raw in buffers]


#: A buffer's count in :func:`_references` when nothing else holds it (measured, not
#: assumed: interpreters count a loop's references differently).
_FREE = _references([np.empty(1, np.uint8)])[0]


def limit_bytes() -> int:
    """The most the pool holds: :func:`set_limit`'s value, else LIMIT_BYTES or a sixteenth
    of the machine's memory, whichever is less."""
    if _limit is not None:
        return _limit
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return LIMIT_BYTES
    return min(LIMIT_BYTES, memory // 16)


def set_limit(nbytes: int | None) -> None:
    """Hold at most ``nbytes`` of buffers (0: pool nothing; None: the default), letting
    free buffers over it go now."""
    global _limit
    if nbytes is not None and (not isinstance(nbytes, int) or nbytes < 0):
        raise ValueError(f"set_limit: nbytes must be a non-negative int or None, got {nbytes!r}")
    with _lock:
        _limit = nbytes
        _shrink_to(limit_bytes())


def take(nbytes: int) -> np.ndarray | None:
    """A uint8 array of ``nbytes`` (at least MIN_BYTES) from the pool: a free buffer of that
    size, else a new one the pool keeps; None where the pool would go over its limit."""
    with _lock:
        counts = _references(_pool)  # (no name of this function may hold a buffer meanwhile)
        for n, count in enumerate(counts):
            if count == _FREE and _pool[n].nbytes == nbytes:
                return _pool[n]
        if not _shrink_to(limit_bytes() - nbytes):
            return None
        raw = np.empty(nbytes, np.uint8)
        _pool.append(raw)
        return raw


def _shrink_to(most: int) -> bool:
    """Let free buffers go, oldest first, until the pool holds at most ``most`` bytes;
    whether it does (the caller holds ``_lock``)."""
    if most < 0:
        return False
    held = _held()
    if held <= most:
        return True
    counts = _references(_pool)
    for n in [n for n, count in enumerate(counts) if count == _FREE]:
        if held <= most:
            break
        held -= _pool[n].nbytes
        _pool[n] = None
    _pool[:] = [raw for raw in _pool if raw is not None]
    return held <= most


def release() -> int:
    """Let every free buffer go; the bytes let go."""
    with _lock:
        before = _held()
        _shrink_to(0)
        return before - _held()


def pooled_bytes() -> tuple[int, int]:
    """(bytes the pool holds, of which free)."""
    with _lock:
        counts = _references(_pool)
        return _held(), sum(raw.nbytes for raw, count in zip(_pool, counts) if count == _FREE)


def _held() -> int:
    """The bytes of every buffer in the pool, in use or free."""
    return sum(raw.nbytes for raw in _pool)
