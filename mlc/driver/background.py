"""One background thread for the optimised builds that replace first tiers.

A first tier (a jitted signature's quick or eager program, :mod:`mlc.tracer.tiering`; a
built contraction run through NumPy, :mod:`.first_tier`) hands the build of its optimised
program to :func:`submit`; one daemon thread runs the jobs in order. :func:`wait` blocks
until every job asked for so far has run (tests and benchmarks that time the steady state
call it), :func:`pending` counts them, :func:`closed` says whether the process is exiting
(a job may stop early then). At exit no job begins; the one under way ends first (LLVM
must not be running while the process tears it down).

>>> done = []
>>> submit(lambda: done.append(1))
True
>>> wait(timeout=60), done
(True, [1])
"""
from __future__ import annotations

import atexit
import collections
import threading
import warnings

__all__ = ["submit", "wait", "pending", "closed"]

_COND = threading.Condition()
_QUEUE: collections.deque = collections.deque()
_STATE = {"thread": None, "pending": 0, "closed": False, "warned": False}


def submit(job) -> bool:
    """Run ``job()`` on the background thread (started on the first job); False at exit. An
    exception ``job`` raises is reported once, as a RuntimeWarning: a job must leave its first
    tier in place when it fails (slower, still right)."""
    with _COND:
        if _STATE["closed"]:
            return False
        _QUEUE.append(job)
        _STATE["pending"] += 1
        if _STATE["thread"] is None:
            thread = threading.Thread(target=_work, name="mlc-tier-up", daemon=True)
            _STATE["thread"] = thread
            thread.start()
        else:
            _COND.notify_all()
    return True


def pending() -> int:
    """How many jobs are asked for and not yet done."""
    with _COND:
        return _STATE["pending"]


def wait(timeout: float | None = None) -> bool:
    """Block until every job asked for so far is done (or dropped after an error); False
    where ``timeout`` seconds passed first."""
    with _COND:
        return _COND.wait_for(lambda: _STATE["pending"] == 0, timeout)


def closed() -> bool:
    """Whether the process is exiting (no new job begins)."""
    return _STATE["closed"]


def _work() -> None:
    while True:
        with _COND:
            _COND.wait_for(lambda: _QUEUE or _STATE["closed"])
            if _STATE["closed"]:
                _QUEUE.clear()
                _STATE["pending"] = 0
                _COND.notify_all()
                return
            job = _QUEUE.popleft()
        try:
            job()
        except BaseException as err:  # the first tier stays: slower, still right
            if not _STATE["warned"]:
                _STATE["warned"] = True
                warnings.warn(f"mlc: building an optimised program in the background failed "
                              f"({type(err).__name__}: {err}); its first tier keeps running",
                              RuntimeWarning, stacklevel=1)
        finally:
            with _COND:
                _STATE["pending"] -= 1
                _COND.notify_all()


@atexit.register
def _stop() -> None:
    with _COND:
        _STATE["closed"] = True
        thread = _STATE["thread"]
        _COND.notify_all()
    if thread is not None:
        thread.join(timeout=60)
