"""One background thread for the optimised builds that replace first tiers.

A first tier (a jitted signature's quick or eager program, :mod:`mlc.tracer.tiering`; a
built contraction run through NumPy, :mod:`.first_tier`) hands the build of its optimised
program to :func:`submit`; one daemon thread runs the jobs in order. :func:`wait` blocks
until every job asked for so far has run (tests and benchmarks that time the steady state
call it), :func:`pending` counts them, :func:`closed` says whether the process is exiting
(a job may stop early then). At exit no job begins; the one under way ends first (LLVM
must not be running while the process tears it down).

A first tier's own run (NumPy's evaluation of a module or a graph) is a call the user waits
for, where a job's Python passes would share the interpreter with it (one thread at a time
holds the GIL): the run marks itself with :func:`foreground`, and a job pauses between two
of its steps (:func:`pause_for_foreground`, which the driver calls between stages and
passes) while such a run goes on. A job pauses for at most :data:`PAUSE_LIMIT_S` seconds
in all, so its optimised program is in use at most that much later than without pauses,
however many first-tier calls come meanwhile.

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
import time
import warnings
from contextlib import contextmanager

__all__ = ["submit", "wait", "pending", "closed", "foreground", "pause_for_foreground", "pausing", "PAUSE_LIMIT_S"]

#: The most seconds one job pauses for first-tier runs (:func:`pause_for_foreground`), all its
#: pauses together: the bound on how much later its optimised program comes into use.
PAUSE_LIMIT_S = 2.0

_COND = threading.Condition()
_QUEUE: collections.deque = collections.deque()
_STATE = {"thread": None, "pending": 0, "closed": False, "warned": False, "pause_left": PAUSE_LIMIT_S,
          "pausing": False}
#: how many first-tier runs are under way (:func:`foreground`), under its condition
_FOREGROUND = {"runs": 0}
_QUIET = threading.Condition()


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


@contextmanager
def foreground():
    """Mark a first tier's run (a call the user waits for) for its duration: the job under way
    pauses at its next step (:func:`pause_for_foreground`) until no such run is left."""
    with _QUIET:
        _FOREGROUND["runs"] += 1
    try:
        yield
    finally:
        with _QUIET:
            _FOREGROUND["runs"] -= 1
            if not _FOREGROUND["runs"]:
                _QUIET.notify_all()


def pause_for_foreground() -> None:
    """Between two steps of a job, on the background thread: wait while a first-tier run goes
    on (:func:`foreground`), within what is left of the job's :data:`PAUSE_LIMIT_S`; on any
    other thread, or with no such run, return at once."""
    if not _FOREGROUND["runs"] or threading.current_thread() is not _STATE["thread"]:
        return
    left = _STATE["pause_left"]
    if left <= 0:
        return
    began = time.monotonic()
    with _QUIET:
        _STATE["pausing"] = True
        try:
            _QUIET.wait_for(lambda: not _FOREGROUND["runs"], timeout=left)
        finally:
            _STATE["pausing"] = False
    _STATE["pause_left"] = left - (time.monotonic() - began)


def pausing() -> bool:
    """Whether the background thread is paused for a first-tier run now."""
    return _STATE["pausing"]


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
        _STATE["pause_left"] = PAUSE_LIMIT_S
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
