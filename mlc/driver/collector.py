"""Python's cyclic garbage collector, paused while a build runs.

A build allocates tens of thousands of small objects (IR nodes, analyzer
results, llvmlite values) that mostly die young through reference counting.
Each allocation burst runs the collector, and once in a while a full
collection walks every object of the process, finding nothing to free
(benchmarks/results/decisions.md, "Driver"). :func:`collector_paused`
turns automatic collection off for the duration of a build (nested and
concurrent builds share one pause) and back on when the last one ends, unless
it was off before.

When the pause ends, the two young generations are collected (the build's
objects, and the cyclic garbage it leaves, thousands of llvmlite values). Left
to the automatic collector, the thousands of objects counted while it was off
set it off at the caller's next allocation, and in a process with a large heap
(JAX, TVM and Numba loaded) that collection went on to walk every object.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

__all__ = ["collector_paused"]

_LOCK = threading.RLock()  # (a finalizer that the collection runs may build)
_depth = 0            # builds under way
_was_enabled = False  # whether the collector ran before the first of them


@contextmanager
def collector_paused():
    """Run the body with automatic garbage collection off (see the module docstring)."""
    global _depth, _was_enabled
    with _LOCK:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.collect(1)  # the build's young objects: 0.5-2 ms
                gc.enable()
