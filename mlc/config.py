"""Configuration, read once from the environment into one object.

``MLC_CACHE_DIR`` (default ``~/.cache/mlc``; empty turns the disk caches off),
``MLC_CACHE_SIZE`` (the most the disk caches hold, least recently used entries going
first: bytes, or with a unit, ``500M``, ``2G``, ``1.5GiB``; ``unlimited``; default
:data:`CACHE_SIZE`),
``MLC_NUM_THREADS`` (threads for parallel loops and for building LLVM modules side by
side; an integer from 1 to :data:`MAX_THREADS`, default: every core the process may run
on), ``MLC_TARGET`` (default, and when set empty, "llvm"), ``MLC_JIT_CACHE_SIZE`` (the most
signatures one jitted function keeps compiled: a positive integer or ``unlimited``;
default :data:`JIT_CACHE_SIZE`), ``MLC_DEBUG`` (1/true/yes/on
or 0/false/no/off, default off: verify IR between passes, keep sources, check every
buffer access of llvm builds at run time: ``mlc.build(check_bounds=...)``'s default, and
check the globals a jitted function read at every call), ``MLC_TIERED`` (yes/no, default yes:
a jitted function's first call of a signature runs a quickly built program while the
optimised one is built in the background, :mod:`mlc.tracer.tiering`; ``mlc.jit(tiered=...)``
decides for one function), ``MLC_EAGER_FIRST`` (yes/no, default yes: with tiers, a first
call whose graph NumPy runs sooner than it compiles runs it eagerly through NumPy,
:mod:`mlc.tracer.eager`).
A value mlc does not accept is a :class:`~mlc.errors.ConfigError` naming the variable,
what it holds and what it accepts, at the first use of the configuration
(``MLC_TARGET`` is parsed, and refused, where a target is first asked for).

Tests that need another value for a while use :func:`override`
(``with override(num_threads=1): ...``); it replaces the whole process's
configuration until the ``with`` ends, so it is for tests, not for threads.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache

from .errors import ConfigError
from .frozen import frozen

__all__ = ["Config", "config", "override", "on_override", "usable_cores", "MAX_THREADS", "CACHE_SIZE", "JIT_CACHE_SIZE"]

#: The most threads ``MLC_NUM_THREADS`` may ask for. libgomp starts an OS thread for each
#: member of a team, and each has a 64-byte counter in one static table of this many
#: (:mod:`mlc.backends.llvm.parallel`); 1024 is more than the hardware threads of the
#: largest machines (two sockets of 192 cores, two threads a core: 768), and a team larger
#: than the cores only waits for itself. Before this bound, 16,384 threads overflowed a
#: thread's stack and 40,000 made libgomp abort, unable to start them.
MAX_THREADS = 1024
#: The most the disk caches hold by default: 1 GiB, some 40,000 compiled programs (an object
#: cache entry is about 25 KB), where the cache used to grow without end.
CACHE_SIZE = 1 << 30
#: The most signatures a jitted function keeps compiled by default: each is some 170 KB (code,
#: graph, buffers of a small program), so at most about 22 MB a function, where a function
#: called with ever new shapes used to keep them all.
JIT_CACHE_SIZE = 128


@frozen
class Config:
    cache_dir: str
    num_threads: int
    target: str
    debug: bool
    cache_size: int | None = CACHE_SIZE  # (None: no limit)
    jit_cache_size: int | None = JIT_CACHE_SIZE  # (None: no limit)
    tiered: bool = True
    eager_first: bool = True


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
    _changed()
    try:
        yield _OVERRIDES[-1]
    finally:
        _OVERRIDES.pop()
        _changed()


_LISTENERS: list[Callable[[], None]] = []


def on_override(listener: Callable[[], None]) -> None:
    """Call ``listener()`` each time an :func:`override` begins and ends: code that keeps a
    value read from the configuration (the llvm runtime's thread count, which a build stores
    and calls of code built earlier read) reads it again, so that nothing of an override
    outlasts its ``with``."""
    _LISTENERS.append(listener)


def _changed() -> None:
    for listener in _LISTENERS:
        listener()


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
    return Config(
        cache_dir=_cache_dir(env.get("MLC_CACHE_DIR")),
        num_threads=_num_threads(env.get("MLC_NUM_THREADS", "")),
        target=env.get("MLC_TARGET") or "llvm",  # (set but empty, as `MLC_TARGET= cmd` leaves it: the default)
        debug=_flag("MLC_DEBUG", env.get("MLC_DEBUG", "")),
        cache_size=_cache_size(env.get("MLC_CACHE_SIZE", "")),
        jit_cache_size=_count("MLC_JIT_CACHE_SIZE", env.get("MLC_JIT_CACHE_SIZE", ""), JIT_CACHE_SIZE),
        tiered=_flag("MLC_TIERED", env.get("MLC_TIERED") or "1"),  # (unset or empty: on)
        eager_first=_flag("MLC_EAGER_FIRST", env.get("MLC_EAGER_FIRST") or "1"),
    )


def _cache_dir(value: str | None) -> str:
    """``MLC_CACHE_DIR``: unset is ``~/.cache/mlc``, empty is no cache; a leading ``~`` is
    this user's home, and a relative path is taken from the current directory now (a later
    ``os.chdir`` does not move the cache)."""
    if value is None:
        return os.path.join(os.path.expanduser("~"), ".cache", "mlc")
    return os.path.abspath(os.path.expanduser(value)) if value else ""


def _num_threads(value: str) -> int:
    """``MLC_NUM_THREADS``: an integer from 1 to MAX_THREADS; unset or empty, every core
    the process may run on (at most MAX_THREADS)."""
    if not value.strip():
        return min(usable_cores(), MAX_THREADS)
    try:
        n = int(value)
    except ValueError:
        n = None
    if n is None or not 1 <= n <= MAX_THREADS:
        raise ConfigError(f"MLC_NUM_THREADS={value!r} is not a thread count mlc accepts: give an integer "
                          f"from 1 to {MAX_THREADS} (the most a parallel loop's team may have), or unset it "
                          f"for every core this process may run on ({usable_cores()})")
    return n


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d*)?)\s*([kmgt]?)(?:i?b)?", re.I)


def _cache_size(value: str) -> int | None:
    """``MLC_CACHE_SIZE``: a positive number of bytes, with a unit (K, M, G, T: powers of 1024;
    ``KB``, ``KiB`` alike) or without; ``unlimited`` for no limit; unset or empty, CACHE_SIZE."""
    text = value.strip()
    if not text:
        return CACHE_SIZE
    if text.lower() in ("unlimited", "none"):
        return None
    match = _SIZE.fullmatch(text)
    size = int(float(match[1]) * _UNITS[match[2].lower()]) if match else 0
    if size < 1:
        raise ConfigError(f"MLC_CACHE_SIZE={value!r} is not a cache size mlc accepts: give a positive size in "
                          f"bytes, or with a unit (500M, 2G, 1.5GiB: K, M, G, T are powers of 1024), or "
                          f"'unlimited'; to turn the disk caches off, set MLC_CACHE_DIR to nothing")
    return size


def _count(name: str, value: str, default: int) -> int | None:
    """A positive integer, or ``unlimited`` (None); unset or empty, ``default``."""
    text = value.strip()
    if not text:
        return default
    if text.lower() in ("unlimited", "none"):
        return None
    if text.isascii() and text.isdigit() and int(text) >= 1:
        return int(text)
    raise ConfigError(f"{name}={value!r} is not a count mlc accepts: give a positive integer, or 'unlimited'")


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _flag(name: str, value: str) -> bool:
    """A yes/no variable: 1, true, yes, on or 0, false, no, off (any case), empty for no."""
    word = value.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ConfigError(f"{name}={value!r} is not a yes/no value: give 1, true, yes or on to turn it on, "
                      f"0, false, no or off (or nothing) to turn it off")
