"""Large host buffers kept for reuse: a compiled function's big outputs without page faults.

A fresh allocation of many megabytes comes from the operating system as pages it
must map and zero on first touch: writing a new 16 MiB output costs some 0.4 ms
more than writing one the process used before, as much as a memory-bound kernel
over it takes. So the buffers behind large outputs (:func:`~.ndarray.host_empty`)
are kept here and handed out again once nothing refers to them any more: the
caller dropped the array, and every view of it, as a caching allocator (XLA's,
PyTorch's) reuses device memory.

Whether a buffer is in use is read from its reference count: the arrays made
from it hold it as their base (NumPy collapses views of views onto the buffer
that owns the memory), and so does anything exporting its memory (a
``memoryview``, ``np.frombuffer``). Taking a buffer and making the array that
holds it happen under one lock, so two threads never take the same one.

At most PER_SIZE buffers of one size are kept, MAX_BYTES in all; allocations
beyond them are plain ones. :func:`release` drops the free buffers.

>>> a = take(1 << 20)
>>> address = a.__array_interface__["data"][0]
>>> del a
>>> take(1 << 20).__array_interface__["data"][0] == address  # the same memory again
True
"""
from __future__ import annotations

import sys
import threading

import numpy as np

__all__ = ["MIN_BYTES", "PER_SIZE", "MAX_BYTES", "take", "release", "pooled_bytes"]

#: Buffers of at least this many bytes are pooled (smaller ones cost little to map).
MIN_BYTES = 1 << 20
#: Buffers kept of one size: an output, the one before it still held, and two more.
PER_SIZE = 4
#: Bytes kept in all.
MAX_BYTES = 1 << 28

_BUCKETS: dict[int, list[np.ndarray]] = {}
_LOCK = threading.Lock()
_kept = 0


def _references(bucket: list[np.ndarray]) -> list[int]:
    """The reference count of each buffer of ``bucket``, as read here."""
    return [sys.getrefcount(buffer) for buffer in bucket]


#: What :func:`_references` reads of a buffer only its bucket holds (the bucket's
#: reference and the reading's own, in this interpreter).
_UNUSED = _references([np.empty(1, np.uint8)])[0]


def _free_index(bucket: list[np.ndarray]) -> int:
    """The position of a buffer of ``bucket`` nothing else refers to, or -1."""
    for n, count in enumerate(_references(bucket)):
        if count <= _UNUSED:
            return n
    return -1
# where reference counts do not say whether an object is used (another interpreter than
# CPython), nothing is pooled
_ENABLED = sys.implementation.name == "cpython"


def take(nbytes: int, make=None):
    """A uint8 buffer of ``nbytes`` bytes, a free pooled one where there is one (its old
    contents left in it, as ``np.empty``'s), and ``make(buffer)`` made from it while no other
    thread can take it (by default the buffer itself is returned)."""
    global _kept
    make = make or (lambda buffer: buffer)
    if nbytes < MIN_BYTES or not _ENABLED:
        return make(np.empty(nbytes, np.uint8))
    with _LOCK:
        bucket = _BUCKETS.setdefault(nbytes, [])
        n = _free_index(bucket)
        if n >= 0:
            return make(bucket[n])
        buffer = np.empty(nbytes, np.uint8)
        if len(bucket) < PER_SIZE and _kept + nbytes <= MAX_BYTES:
            bucket.append(buffer)
            _kept += nbytes
        return make(buffer)


def release() -> int:
    """Drop every pooled buffer nothing refers to; returns the bytes dropped."""
    global _kept
    dropped = 0
    with _LOCK:
        for bucket in _BUCKETS.values():
            while (n := _free_index(bucket)) >= 0:
                dropped += bucket.pop(n).nbytes
        _kept -= dropped
    return dropped


def pooled_bytes() -> int:
    """The bytes the pool holds, free or in use."""
    return _kept
