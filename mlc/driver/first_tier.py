"""``mlc.build``'s first tier: a te function runs through NumPy, block by block, while it compiles.

A te matrix product as written (``C[i, j] = sum_k A[i, k] * B[k, j]``, one block under its
loops) compiles for some hundreds of milliseconds (its schedule, the TIR passes, LLVM's O3
of a packed, unrolled kernel), where NumPy's BLAS runs it in some milliseconds; and its run
is too long for unoptimised code (:func:`~.tiers.quick_enough`), the jit's other quick tier.
So, as a jitted function's first call runs its traced graph through NumPy
(:mod:`mlc.tracer.tiering`), a tiered build (``mlc.build(..., tiered=True)``, by default
``MLC_TIERED``) for llvm of a module whose every function NumPy runs block by block
(:func:`~.numpy_steps.numpy_steps`: contractions through BLAS, element-wise blocks such as a
product's epilogue, ``max(Y, 0)`` or a bias, or a stencil's shifted reads, evaluated over whole
arrays), each of more than :data:`~.tiers.QUICK_WORK_LIMIT` multiply-adds and expression nodes and with at most
:data:`MAP_WORK_LIMIT` of them in element-wise blocks, returns at once a
:class:`FirstTierModule`: its functions run through NumPy, while the background thread
(:mod:`.background`) builds the module as an untiered build does (the user's schedule, or
the database's, or the default rules; then LLVM at O3) and swaps each function's compiled
code in, attribute by attribute, each attribute a whole program: a call runs either NumPy or
the compiled kernel, never a mixture. Steady state is the optimised build, as without tiers;
:meth:`FirstTierModule.wait` (or ``mlc.tiering.wait()``) blocks until it is in use.

* The decision reads the target's kind only (:func:`~mlc.target.kind_of`): the target is
  parsed by the build, in the background, so that the first call does not wait for LLVM to
  start (parsing an llvm target asks LLVM for this machine's CPU). :attr:`FirstTierModule.target`
  parses it when asked. A target string LLVM refuses (an unknown ``-mcpu=``) is an error of
  the build: raised by a later call and by :meth:`~FirstTierModule.wait`, as below.
* The results are NumPy's: a float sum rounds in BLAS's order, where the compiled kernel's
  may differ in the last bits (as between two schedules); a math call (exp, tanh) is NumPy's,
  within the op's tolerance of mlc's. An integer product is computed
  exactly (in float64, whose 53 bits hold every partial sum) and only where no partial sum
  can pass the accumulator's range, so it equals the compiled kernel's; integer element-wise
  blocks are the reference interpreter's, bit for bit.
* An error of the build (an illegal user schedule) is raised by the first call after the
  build failed, and by :meth:`FirstTierModule.wait`, instead of by ``mlc.build``.
* Anything else asked of the module (``get_source``, ``export_library``, ``time_evaluator``)
  waits for the optimised build and asks it.
* While a function runs through NumPy, the background thread's build (this module's or
  another's) pauses between its stages and passes (:func:`~.background.foreground`), at most
  :data:`~.background.PAUSE_LIMIT_S` per build in all: the call has the interpreter.
"""
from __future__ import annotations

import threading

from ..ir.tir import IRModule, PrimFunc
from ..runtime.module import Function, Module
from ..target import Target
from . import background
from .numpy_steps import Contraction, Steps, contraction, numpy_steps
from .tiers import QUICK_WORK_LIMIT

__all__ = ["Contraction", "contraction", "first_tier", "FirstTierModule", "MAP_WORK_LIMIT"]

#: The most expression nodes the maps of a function (its element-wise blocks, an epilogue) may
#: evaluate, all points together, for its first call to run through NumPy. NumPy evaluates a
#: node over a grid in 0.3-1.8 ns (a transposed read the slowest), where the build of a map
#: (its schedule, the passes, LLVM at O3, from an empty cache) costs some 60-70 ms in a warm
#: process and more in a fresh one: up to here NumPy's run ends before the build would
#: (benchmarks/results/decisions.md, "The build's first tier, block by block").
MAP_WORK_LIMIT = 1 << 25


class FirstTierModule(Module):
    """A built module whose functions run through NumPy until the optimised build of the same
    module, made in the background, replaces their code (see the module's docstring). The
    build begins once the first call has returned (as a jitted function's eager first tier
    has it: the call does not share the cores with it), or when something asks for the
    optimised build (:meth:`wait`)."""

    def __init__(self, target, functions, build):
        self._target = target  # (as given: a string is parsed when asked for, :attr:`target`)
        super().__init__(target, functions)
        self._build = build
        self._started = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._built: Module | None = None
        self._error: BaseException | None = None

    @property
    def target(self) -> Target:
        """The module's Target: the optimised build's, or the target given, parsed now."""
        built = self._built
        return built.target if built is not None else Target.from_str(self._target)

    @target.setter
    def target(self, target) -> None:
        self._target = target

    @property
    def is_first_tier(self) -> bool:
        """Whether the functions still run through NumPy (the optimised build is not in use)."""
        return self._built is None

    def start(self) -> bool:
        """Begin the optimised build on the background thread, unless begun already (False:
        begun, or the process is exiting)."""
        with self._lock:
            if self._started:
                return False
            self._started = True
        if background.submit(self._finish):
            return True
        self._error = RuntimeError("mlc: the process is exiting; this module's optimised build was not begun")
        self._done.set()
        return False

    def wait(self, timeout: float | None = None) -> Module | None:
        """The optimised build, once in use (None where ``timeout`` seconds passed first); the
        build's error, raised, where it failed."""
        self.start()
        if not self._done.wait(timeout):
            return None
        if self._error is not None:
            raise self._error
        return self._built

    def _finish(self) -> None:
        """Build the module (on the background thread) and swap each function's code in; or
        keep the error, which every later call raises."""
        try:
            lib = self._build()
        except BaseException as err:
            self._error = err
            for function in set(self.functions.values()):
                function.checked_kernel = function.pointer_kernel = None
                function.kernel = _raiser(err)
            self._done.set()
            return
        for function in {id(f): f for f in self.functions.values()}.values():  # (an alias: once)
            built = lib[function.name]
            # each slot one assignment, each a whole program; the native checked entry last
            for slot in Function.__slots__:
                if slot != "checked_kernel":
                    setattr(function, slot, getattr(built, slot))
            function.checked_kernel = built.checked_kernel
        self._sources = lib._sources
        self._keepalive = lib
        self._built = lib
        self._done.set()

    def get_source(self, fmt: str | None = None) -> str:
        return self.wait().get_source(fmt)

    def time_evaluator(self, name: str, dev=None, number: int = 10, repeat: int = 3, warmup: int = 1):
        self.wait()
        return super().time_evaluator(name, dev, number, repeat, warmup)

    def __getattr__(self, name: str):  # (what only the built module has: export_library, ...)
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.wait(), name)

    def __repr__(self) -> str:
        tier = "first tier, NumPy" if self.is_first_tier else "optimised"
        target = self._target if self.is_first_tier else self.target  # (not parsed for a repr)
        return f"<mlc.Module target={target} functions={self.function_names} ({tier})>"


def _raiser(err: BaseException):
    def kernel(arrays):
        raise err
    return kernel


def _kernel(steps: Steps, then):
    """The kernel that runs ``steps`` on the checked arrays, then ``then()``; while the steps
    run, a background build pauses its Python work (:func:`~.background.foreground`)."""
    def kernel(arrays):
        with background.foreground():
            steps.run(arrays)
        then()
    return kernel


def first_tier(mod: IRModule, target, build) -> FirstTierModule | None:
    """A :class:`FirstTierModule` of ``mod`` for ``target`` (a Target or a target string, not
    parsed here) whose optimised build ``build()`` runs in the background (begun by the first
    call), where NumPy runs every function of ``mod`` block by block
    (:func:`~.numpy_steps.numpy_steps`) with more than :data:`~.tiers.QUICK_WORK_LIMIT` of work
    and at most :data:`MAP_WORK_LIMIT` in element-wise blocks; None otherwise (and where the
    process is exiting)."""
    if not isinstance(mod, IRModule) or not mod.items() or background.closed():
        return None
    programs = {}
    for name, func in mod.items():
        steps = numpy_steps(func) if isinstance(func, PrimFunc) else None
        if steps is None or steps.work <= QUICK_WORK_LIMIT or steps.map_work > MAP_WORK_LIMIT:
            return None
        programs[name] = steps
    lib = FirstTierModule(target, {}, build)
    for name, steps in programs.items():
        lib.functions[name] = Function(name, mod[name], _kernel(steps, lib.start))
    return lib
