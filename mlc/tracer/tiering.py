"""Tiered compilation: a jitted function's first call runs what is ready soonest; the
optimised program replaces it when ready.

A first call of a signature whose graph NumPy runs sooner than it compiles (:mod:`.eager`
estimates both) runs the graph as traced, op by op, through NumPy (:class:`EagerTier`);
once the call has returned, one background thread runs the passes and builds the
optimised program, and swaps it in as below. Calls that come before the swap run eagerly
too. ``MLC_EAGER_FIRST=0`` (``config().eager_first``) turns this tier off.

Otherwise a first call of a signature builds with ``mlc.build(..., quick=True)``: every kernel whose
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
* at exit, a build not yet begun is dropped (the process waits for one kernel's O3 at most);
* the builds run on one background thread (:mod:`mlc.driver.background`), which
  ``mlc.build``'s own first tier shares (:mod:`mlc.driver.first_tier`): :func:`wait` waits
  for both;
* while an eager first tier runs, a background build pauses between its passes
  (:func:`~mlc.driver.background.foreground`), at most
  :data:`~mlc.driver.background.PAUSE_LIMIT_S` per build in all.

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

import threading

from ..driver import collector_paused
from ..driver.background import closed, foreground, pending, submit, wait
from ..target import kind_of
from .compile import CompiledFunction
from .eager import EagerEntry, EagerFailed, plan
from .stages import Compiled, Traced

__all__ = ["upgrade", "wait", "pending", "EagerTier", "eager_tier"]

def upgrade(compiled, slot=None) -> bool:
    """Build ``compiled``'s optimised program in the background (``compiled``: a
    :class:`~.stages.Compiled` whose module ``is_quick``), then make it the one that
    ``compiled`` and the jit's cache ``slot`` run. False where there is nothing to do."""
    lib = compiled.function.lib
    if not getattr(lib, "is_quick", False):
        return False
    return submit(lambda: _swap_in(compiled, slot))


def _swap_in(compiled, slot) -> None:
    """Build and swap in the optimised program of ``compiled`` (on the worker thread)."""
    function = compiled.function
    with collector_paused():
        lib = function.lib.optimized(cancelled=closed)
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
            slot.fast = slot.fast_of(optimized)
        slot.run = optimized.run


class EagerTier:
    """A signature's first tier that runs its traced graph eagerly through NumPy
    (:class:`~.eager.EagerEntry`), and its way to the optimised program.

    :attr:`compiled` is the :class:`~.stages.Compiled` the jit keeps: its calls run eagerly,
    with the call's checks, write-back and output tree as compiled code has them, until
    :meth:`optimised` (on the background thread after the first call: :meth:`start`, or at
    once where a reference fails: :class:`~.eager.EagerFailed`) builds the optimised program
    (``traced.lower().compile()``, as ``tiered=False`` builds it) and swaps it in: the
    Compiled's function and run, and the jit's cache ``slot`` (and its fast entry), each by one
    assignment."""

    def __init__(self, traced: Traced, graph):
        self._traced = traced
        self._lock = threading.Lock()
        self._built = False
        self.slot = None
        origin = traced._origin
        single = (type(origin.out_tree) is str and not origin.checks and not origin.writes
                  and len(graph.outputs) == 1)
        function = CompiledFunction(graph, None, EagerEntry(graph, single), tuple(range(len(graph.outputs))),
                                    origin.out_tree, origin.checks, (), origin.key_sources, origin.writes,
                                    origin.aliases)
        eager = function.run

        def run(leaves):
            try:
                with foreground():  # (a background build pauses its Python passes meanwhile)
                    return eager(leaves)
            except EagerFailed:  # a reference cannot compute it: the optimised program does
                return self.optimised().run(leaves)
        function.run = run
        self.compiled = Compiled(function, origin)

    @property
    def eager(self) -> bool:
        """Whether the calls still run eagerly (the optimised program is not in use yet)."""
        return not self._built

    def start(self, slot) -> bool:
        """Build the optimised program on the background thread, then make it what the
        Compiled and ``slot`` (the jit's cache slot) run."""
        self.slot = slot
        return submit(lambda: self.optimised(at_exit_too=False))

    def optimised(self, at_exit_too: bool = True) -> CompiledFunction | None:
        """The optimised program, built (once) and swapped in now if it is not yet (None where
        the process is exiting and not ``at_exit_too``: its kernels are not built then)."""
        with self._lock:
            if not self._built:
                with collector_paused():
                    lowered = self._traced.lower()
                    if closed() and not at_exit_too:
                        return None
                    built = lowered.compile()
                compiled, slot = self.compiled, self.slot
                compiled.function = built.function
                compiled._returning_writes = built._returning_writes
                compiled.run = built.run
                if slot is not None and slot.compiled is compiled:
                    if built.function.can_fast:  # (the eager run has none)
                        slot.fast, slot.pending = slot.fast_of(built.function), False
                    slot.run = built.run
                self._built = True
        return self.compiled.function


def eager_tier(traced: Traced) -> EagerTier | None:
    """The eager first tier of ``traced`` (a jitted function's trace), where running its graph
    through NumPy gives the first result sooner than compiling it (:func:`.eager.plan`), the
    target is the CPU's (llvm), its axes are static and no schedule was given (a user's own
    schedule is what the call is for: its errors come from the call); None otherwise."""
    if kind_of(traced.target) != "llvm" or traced.schedule is not None:
        return None
    graph = traced.graph
    if not all(isinstance(n, int) for v in (*graph.inputs, *graph.outputs) for n in v.shape):
        return None
    planned = plan(graph)
    return EagerTier(traced, planned) if planned is not None else None

