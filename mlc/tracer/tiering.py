"""Tiered compilation: a jitted function's first call runs a quickly built program; the
optimised one replaces it when ready.

A first call of a signature builds with ``mlc.build(..., quick=True)``: every kernel whose
run is short (:func:`mlc.driver.tiers.quick_enough`) is emitted without LLVM's O3, some
ten times less LLVM work, and the call runs that program. Then one background thread
builds those kernels at O3 (:meth:`~mlc.backends.llvm.module.LLVMModule.optimized`: LLVM
only, outside llvmlite's lock, the Python passes are not run again) and swaps the
optimised program in: each of the signature's entry points (the jit's cache slot, the
:class:`~.stages.Compiled`) is replaced by one assignment, so a call runs either program
whole, never a mixture. Steady state is the optimised program, as without tiers.

* ``mlc.jit(tiered=False)``, or ``MLC_TIERED=0``, builds the optimised program at once;
* :func:`wait` blocks until every optimised build asked for so far is in use (tests and
  benchmarks that time the steady state call it); :func:`pending` counts them;
* ``f.lower(x).compile()`` and exports are never tiered: an export generates its code
  again from the scheduled kernels, at O3;
* unoptimised code rounds floating-point reductions in their written order, where O3 may
  reorder them (``reassoc``): a first call's float results may differ from later calls'
  in the last bits, as between two builds with different vector widths;
* at exit, a build not yet begun is dropped (the process waits for one kernel's O3 at most).

>>> import numpy as np, mlc
>>> f = mlc.jit(lambda x: x * 2 + 1, tiered=True)
>>> f(np.arange(3.0))
array([1., 3., 5.])
>>> wait(timeout=60)
True
>>> f(np.arange(3.0))
array([1., 3., 5.])
"""
from __future__ import annotations

import atexit
import collections
import threading
import warnings

from ..driver import collector_paused

__all__ = ["upgrade", "wait", "pending"]

_COND = threading.Condition()
_QUEUE: collections.deque = collections.deque()
_STATE = {"thread": None, "pending": 0, "closed": False, "warned": False}


def upgrade(compiled, slot=None) -> bool:
    """Build ``compiled``'s optimised program in the background (``compiled``: a
    :class:`~.stages.Compiled` whose module ``is_quick``), then make it the one that
    ``compiled`` and the jit's cache ``slot`` run. False where there is nothing to do."""
    lib = compiled.function.lib
    if not getattr(lib, "is_quick", False):
        return False
    with _COND:
        if _STATE["closed"]:
            return False
        _QUEUE.append((compiled, slot))
        _STATE["pending"] += 1
        if _STATE["thread"] is None:
            thread = threading.Thread(target=_work, name="mlc-tier-up", daemon=True)
            _STATE["thread"] = thread
            thread.start()
        else:
            _COND.notify_all()
    return True


def pending() -> int:
    """How many optimised builds are asked for and not yet in use."""
    with _COND:
        return _STATE["pending"]


def wait(timeout: float | None = None) -> bool:
    """Block until every optimised build asked for so far is in use (or dropped after an
    error); False where ``timeout`` seconds passed first."""
    with _COND:
        return _COND.wait_for(lambda: _STATE["pending"] == 0, timeout)


def _work() -> None:
    while True:
        with _COND:
            _COND.wait_for(lambda: _QUEUE or _STATE["closed"])
            if _STATE["closed"]:
                _QUEUE.clear()
                _STATE["pending"] = 0
                _COND.notify_all()
                return
            compiled, slot = _QUEUE.popleft()
        try:
            _swap_in(compiled, slot)
        except BaseException as err:  # the quick program stays: slower, still right
            if not _STATE["warned"]:
                _STATE["warned"] = True
                warnings.warn(f"mlc: building the optimised program of a jitted function failed "
                              f"({type(err).__name__}: {err}); it keeps running its first build",
                              RuntimeWarning, stacklevel=1)
        finally:
            with _COND:
                _STATE["pending"] -= 1
                _COND.notify_all()


def _swap_in(compiled, slot) -> None:
    """Build and swap in the optimised program of ``compiled`` (on the worker thread)."""
    function = compiled.function
    with collector_paused():
        lib = function.lib.optimized(cancelled=lambda: _STATE["closed"])
        if lib is None:
            return
        optimized = function.with_lib(lib)
    # the entries call the machine code through bare C function pointers: a call that read the
    # quick run before the swap may still be in it, so its engine stays loaded (with this one)
    optimized.replaced = function
    # one assignment each: a call reads either the old run or the new one
    compiled.function = optimized
    compiled.run = optimized.run
    if slot is not None and slot.compiled is compiled:
        if slot.fast is not None:  # (either program's fast entry runs with either's run)
            slot.fast = optimized.make_fast()
        slot.run = optimized.run


@atexit.register
def _stop() -> None:
    """At exit: no new build begins; the one under way ends first (LLVM must not be running
    while the process tears it down)."""
    with _COND:
        _STATE["closed"] = True
        thread = _STATE["thread"]
        _COND.notify_all()
    if thread is not None:
        thread.join(timeout=60)
