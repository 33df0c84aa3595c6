"""How many threads parallel loops run on: :func:`set_num_threads`, :func:`get_num_threads`.

The most is fixed when the process starts: ``MLC_NUM_THREADS``, by default every
core the process may run on (``mlc.config.config().num_threads``). Default
schedules are made for that many, so a function built once serves every count.
``set_num_threads(n)`` sets how many of them the calls made from then on use, as
``numba.set_num_threads`` does: each parallel loop of a built function runs on at
most ``n`` threads, and a build optimises at most ``n`` LLVM modules side by
side. The setting is the process's, not the calling thread's.

>>> import mlc
>>> mlc.set_num_threads(1)     # e.g. one worker process per core
>>> mlc.get_num_threads()
1
>>> mlc.set_num_threads(mlc.config.config().num_threads)   # all of them again
"""
from __future__ import annotations

import numbers
from collections.abc import Callable

from ..config import config

__all__ = ["set_num_threads", "get_num_threads", "on_change"]

_limit = [0]  # what set_num_threads last set (0: nothing, all of config().num_threads)
_listeners: list[Callable[[], None]] = []


def get_num_threads() -> int:
    """The threads a parallel loop runs on at most: what :func:`set_num_threads` set, or
    ``MLC_NUM_THREADS`` (every core the process may run on) if less or if it set nothing."""
    most = config().num_threads
    return min(most, _limit[0]) if _limit[0] else most


def set_num_threads(n: int) -> None:
    """Run the parallel loops of the calls made from now on on at most ``n`` threads
    (``1 <= n <= MLC_NUM_THREADS``, by default the cores this process may run on); ``n``
    equal to ``MLC_NUM_THREADS`` restores the default.

    Raises ``TypeError`` for an ``n`` that is not an integer and ``ValueError`` for one
    out of that range (set ``MLC_NUM_THREADS`` before the process starts to allow more).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"mlc.set_num_threads: n must be an int, got {type(n).__name__} {n!r}")
    most = config().num_threads
    if not 1 <= n <= most:
        raise ValueError(
            f"mlc.set_num_threads: n must be between 1 and {most} (MLC_NUM_THREADS, by default "
            f"the cores this process may run on), got {int(n)}; to allow more threads, set "
            f"MLC_NUM_THREADS before the process starts")
    _limit[0] = 0 if n == most else int(n)  # all of them: the default again
    for listener in _listeners:
        listener()


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener()`` after each :func:`set_num_threads` (a backend that keeps the
    count its compiled code reads registers here)."""
    _listeners.append(listener)
