"""Passes that keep their last results, by the identity of the function they were given.

A pass is a pure function of its input, and some inputs meet the same pass twice: the
driver's bounds check (:func:`~.verify_bounds.verify_bounds`) lowers a scheduled
function's init blocks and blocks to loops to read its accesses, and the pipeline then
lowers the same function object the same way. A remembered pass does that work once.

>>> calls = []
>>> @remembered
... def double(f):
...     calls.append(f)
...     return f * 2
>>> x = (1, 2)
>>> double(x), double(x), len(calls)
((1, 2, 1, 2), (1, 2, 1, 2), 1)
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable

__all__ = ["remembered", "KEPT"]

#: How many (input, result) pairs each remembered pass keeps, newest last: a build checks
#: the bounds of its module's functions before it lowers them.
KEPT = 32


def remembered(pass_fn: Callable) -> Callable:
    """``pass_fn`` keeping its last :data:`KEPT` results by the identity of its argument
    (the argument is kept with its result, so its id is not reused while it is there)."""
    kept: dict[int, tuple] = {}
    lock = threading.Lock()

    @functools.wraps(pass_fn)
    def run(func):
        hit = kept.get(id(func))
        if hit is not None and hit[0] is func:
            return hit[1]
        out = pass_fn(func)
        with lock:  # (builds run on the caller's thread and the background thread at once)
            if len(kept) >= KEPT:
                del kept[next(iter(kept))]
            kept[id(func)] = (func, out)
        return out

    return run
