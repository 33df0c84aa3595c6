"""Work a thread does while it waits for a build's compiler threads.

A build compiles its kernels' LLVM modules on background threads while the calling
thread prepares the next (:class:`~mlc.backends.llvm.jit.UnitBuild`); once it has
prepared everything, it waits for them: tens of milliseconds on one thread for a large
kernel's O3 and code emission. What the caller will need right after the build, and
can make without it, is made in that wait: a jitted function's first call maps the
pages of its outputs then (:func:`~.host_pool.map_ahead`), where its run would
otherwise fault them in, one by one, after the build.

:func:`meanwhile` names the work for the builds the calling thread runs within its
block; a backend calls :func:`while_waiting` just before it blocks on its compiler
threads, which runs the work, once, on the calling thread. Another thread's builds
(a tier-up in the background) never run it.

>>> from mlc.runtime.meanwhile import meanwhile, while_waiting
>>> done = []
>>> with meanwhile(lambda: done.append("outputs mapped")):
...     while_waiting()      # (what a backend calls before it waits)
...     while_waiting()      # once only
>>> done
['outputs mapped']
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["meanwhile", "while_waiting"]

_local = threading.local()  # .work: the calling thread's work, or None


@contextmanager
def meanwhile(work: Callable[[], object] | None) -> Iterator[None]:
    """Within the block, the first :func:`while_waiting` of this thread runs ``work`` (None:
    nothing); a block within another names its own work, and the outer block's is back
    after it."""
    outer = getattr(_local, "work", None)
    _local.work = work
    try:
        yield
    finally:
        _local.work = outer


def while_waiting() -> None:
    """Run the work the calling thread's :func:`meanwhile` named, if any and not yet run:
    what a backend calls when it has nothing left to do but wait for its compiler threads."""
    work = getattr(_local, "work", None)
    if work is not None:
        _local.work = None
        work()
