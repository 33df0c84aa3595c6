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
:func:`release` lets every free buffer go now. :func:`map_ahead` maps the pages of the
buffers a call's outputs will take before the call: a jitted function's first call does so
while its kernels compile on another thread (:mod:`.meanwhile`), so that its run does not
wait for them.

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

__all__ = ["MIN_BYTES", "LIMIT_BYTES", "take", "map_ahead", "release", "limit_bytes", "set_limit", "pooled_bytes"]

#: Outputs of at least this many bytes come from the pool. Smaller blocks come from
#: glibc's heap, which keeps their pages (above 128 KiB once a block of that size has
#: been freed, up to its 32 MiB cap).
MIN_BYTES = 16 << 20
#: The stride :func:`map_ahead` writes at: one byte a page (of 4 KiB, the smallest page a
#: Linux, macOS or Windows host maps) makes the system map each.
PAGE_BYTES = 4096
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


def map_ahead(sizes) -> int:
    """For each of ``sizes`` (bytes; those under MIN_BYTES are passed by), a buffer of that
    size in the pool, free and with every page mapped, for the :func:`take` of a call about
    to come: one the pool has, or a new one (none where the pool would go over its limit,
    or the memory is not there). Equal sizes get buffers of their own. The bytes of the
    buffers made ready.

    The pages a new buffer's first writes fault in (the system zeroes each, and where a
    large mapping gets huge pages, may first compact memory for them) cost a new output's
    first call about as much as its kernel's run (benchmarks/results/decisions.md,
    "Runtime"): a caller that would otherwise wait maps them here.

    >>> address = take(MIN_BYTES).ctypes.data   # (dropped at once: a free buffer)
    >>> map_ahead([MIN_BYTES, MIN_BYTES, 4096])  # that one, and a second one
    33554432
    >>> take(MIN_BYTES).ctypes.data == address
    True
    """
    held = []  # (held until all are taken: equal sizes get buffers of their own)
    for nbytes in sizes:
        if nbytes < MIN_BYTES:
            continue
        try:
            raw = take(nbytes)
        except MemoryError:
            break
        if raw is None:
            break
        raw[::PAGE_BYTES] = 0  # (a page mapped already takes the write as any other)
        raw[-1] = 0  # (the last page, where the buffer does not start a page)
        held.append(raw)
    return sum(raw.nbytes for raw in held)


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
