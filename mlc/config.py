"""Configuration, read once from the environment into one object.

MLC_CACHE_DIR (default ~/.cache/mlc), MLC_NUM_THREADS (threads for parallel loops and for
building LLVM modules side by side; default: every core the process may run on),
MLC_TARGET (default, and when set empty, "llvm"), MLC_DEBUG (verify IR between passes, keep sources, check
every buffer access of llvm builds at run time: ``mlc.build(check_bounds=...)``'s default).

Tests that need another value for a while use :func:`override`
(``with override(num_threads=1): ...``); it replaces the whole process's
configuration until the ``with`` ends, so it is for tests, not for threads.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache

from .frozen import frozen

__all__ = ["Config", "config", "override", "usable_cores"]


@frozen
class Config:
    cache_dir: str
    num_threads: int
    target: str
    debug: bool


def config() -> Config:
    """The configuration: the environment's, or the innermost :func:`override`'s."""
    return _OVERRIDES[-1] if _OVERRIDES else _from_environment()


_OVERRIDES: list[Config] = []


@contextmanager
def override(**changes) -> Iterator[Config]:
    """Replace fields of :func:`config` until the ``with`` block ends (for tests).

    >>> with override(num_threads=1):
    ...     config().num_threads
    1
    """
    _OVERRIDES.append(replace(config(), **changes))
    try:
        yield _OVERRIDES[-1]
    finally:
        _OVERRIDES.pop()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity: ``taskset``, a container's
    cpuset), not all the machine's: one thread per core the process cannot use would
    only wait for the others."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity on this OS
        return os.cpu_count() or 1


@lru_cache(maxsize=1)
def _from_environment() -> Config:
    env = os.environ
    threads = env.get("MLC_NUM_THREADS", "")
    try:
        num_threads = max(1, int(threads)) if threads else usable_cores()
    except ValueError:
        raise ValueError(f"MLC_NUM_THREADS must be a positive integer, got {threads!r}") from None
    return Config(
        cache_dir=env.get("MLC_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "mlc")),
        num_threads=num_threads,
        target=env.get("MLC_TARGET") or "llvm",  # (set but empty, as `MLC_TARGET= cmd` leaves it: the default)
        debug=env.get("MLC_DEBUG", "") not in ("", "0", "false"),
    )
