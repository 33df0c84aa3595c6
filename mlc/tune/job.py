"""One measurement job: build a candidate, check its answer, time it.

This module runs inside worker processes (local ``spawn`` workers or Ray
workers); the tuner's process never calls a candidate's native code. A job
is plain data (:class:`Job`) so that it pickles; the worker keeps, per
workload, the random inputs and the expected outputs, and per job the built
kernel between the build phase and the run phase.

The expected outputs come from the reference interpreter
(``mlc.build(mod, "reference")``) when the workload is small enough for it
(:data:`REFERENCE_MAX_ITERATIONS`), else from the default CPU schedule.

A job's ``measure`` is "time" (check the answer, then time the kernel) or
"check" (check the answer only: the outcome is ``checked``, with no times).
Candidates for the ``cuda`` targets are built and run by
:mod:`~mlc.tune.gpu_measure` (NVRTC, then CuPy on a GPU or the emulator).
"""
from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..driver.build import build as mlc_build
from ..ir.expr import IntImm
from ..ir.tir import Allocate, Block, BlockRealize, For, IfThenElse, SeqStmt
from ..runtime.arguments import written_params
from ..schedules.trace import Trace
from ..target import Target
from .gpu_measure import build_gpu_candidate

__all__ = ["Job", "Outcome", "Timing", "WorkerState", "REFERENCE_MAX_ITERATIONS", "MEASURES"]

#: what a job does with a built candidate: check its answer and time it, or only check it
MEASURES = ("time", "check")

#: workloads with at most this many innermost iterations are checked against the reference
#: interpreter; larger ones against the default CPU schedule
REFERENCE_MAX_ITERATIONS = 1 << 18


@dataclass(frozen=True)
class Timing:
    """How a candidate is timed: ``warmup`` calls and more until they last ``warmup_s`` (the
    caches, the clock and the thread pool settle: without it the first candidate a worker
    runs, the default schedule, is timed cold), then ``repeat`` means of enough calls to
    last ``min_repeat_s`` (at least one), with ``gap_s`` of sleep between repeats. Repeats
    whose spread (slowest over fastest, less one) is over ``max_spread`` were disturbed (a
    busy machine): they are measured again, up to ``retries`` times, and the quietest set kept."""
    warmup: int = 1
    warmup_s: float = 0.01
    repeat: int = 3
    min_repeat_s: float = 0.005
    gap_s: float = 0.002
    max_spread: float = 0.25
    retries: int = 2
    rtol: float = 1e-3
    atol: float = 1e-4


@dataclass(frozen=True)
class Job:
    """Build ``trace_json`` on the single-function module ``mod`` for ``target`` and measure it.

    ``hook`` ("module:function") wraps the built kernel before it is checked and
    timed: ``hook(kernel, job) -> kernel``; it lets tests inject crashing,
    hanging or wrong candidates.
    """
    key: str
    workload: str
    mod: object
    trace_json: str
    target: str
    timing: Timing = field(default_factory=Timing)
    hook: str | None = None
    measure: str = "time"


@dataclass
class Outcome:
    """What measuring a job gave: run times in seconds (None on failure, and for a candidate
    only checked: ``checked`` is then True) and why it failed."""
    key: str
    times: list[float] | None = None
    error: str | None = None
    build_s: float = 0.0
    checked: bool = False


def _iterations(func) -> int:
    total = 0
    stack = [(func.body, 1)]
    while stack:
        node, outer = stack.pop()
        if isinstance(node, For):
            extent = node.extent.value if isinstance(node.extent, IntImm) else 1 << 30
            stack.append((node.body, outer * extent))
            continue
        children = _children(node)
        if not children:
            total += outer
        stack.extend((c, outer) for c in children)
    return total


def _children(node):
    if isinstance(node, SeqStmt):
        return list(node.seq)
    if isinstance(node, BlockRealize):
        return [node.block]
    if isinstance(node, Block):
        return [node.body] + ([node.init] if node.init is not None else [])
    if isinstance(node, IfThenElse):
        return [node.then_case] + ([node.else_case] if node.else_case is not None else [])
    if isinstance(node, Allocate):
        return [node.body]
    return []


def _random_inputs(func, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    written = written_params(func)
    arrays = []
    for n, p in enumerate(func.params):
        shape = tuple(s.value if isinstance(s, IntImm) else int(s) for s in p.shape)
        dtype = np.dtype(p.dtype)
        if n in written:
            arrays.append(np.zeros(shape, dtype))
        elif dtype.kind == "f":
            arrays.append(rng.uniform(-1, 1, shape).astype(dtype))
        elif dtype.kind == "b":
            arrays.append(rng.integers(0, 2, shape).astype(dtype))
        else:
            arrays.append(rng.integers(0, 8, shape).astype(dtype))
    return arrays


def _is_gpu(job: Job) -> bool:
    return Target.from_str(job.target).is_gpu


class WorkerState:
    """What a worker keeps between jobs: inputs and expected outputs per workload, kernels per job."""

    def __init__(self):
        self.workloads: dict[str, tuple[list, dict, list]] = {}
        self.kernels: dict[str, tuple[object, float]] = {}

    def _workload(self, job: Job):
        if job.workload not in self.workloads:
            (name,) = list(job.mod)
            func = job.mod[name]
            args = _random_inputs(func, seed=0)
            written = sorted(written_params(func))
            ref_target = "reference" if _iterations(func) <= REFERENCE_MAX_ITERATIONS else \
                "llvm" if _is_gpu(job) else job.target
            expected_args = [a.copy() for a in args]
            mlc_build(job.mod, ref_target)[name](*expected_args)
            self.workloads[job.workload] = (args, {n: expected_args[n] for n in written}, written)
        return self.workloads[job.workload]

    def build(self, job: Job) -> Outcome:
        """Compile the candidate and keep its kernel for :meth:`run`."""
        start = time.perf_counter()
        try:
            trace = Trace.from_json(job.trace_json)
            if _is_gpu(job):
                kernel = build_gpu_candidate(job.mod, job.target, trace, job.measure)
            else:
                (name,) = list(job.mod)
                kernel = mlc_build(job.mod, job.target, schedule=trace, tiered=False)[name]
            if job.hook:
                module, attr = job.hook.split(":")
                kernel = getattr(importlib.import_module(module), attr)(kernel, job)
        except Exception as err:  # noqa: BLE001 - any failure of a candidate is its record
            return Outcome(job.key, error=f"build: {type(err).__name__}: {err}"[:2000])
        build_s = time.perf_counter() - start
        self.kernels[job.key] = (kernel, build_s)
        return Outcome(job.key, build_s=build_s)

    def run(self, job: Job) -> Outcome:
        """Check the built candidate's answer against the expected one, then time it."""
        ready = self._checked(job)
        if isinstance(ready, Outcome):
            return ready
        kernel, args, build_s = ready
        if job.measure == "check":
            return Outcome(job.key, build_s=build_s, checked=True)
        try:
            timer = getattr(kernel, "time", None)  # a GPU candidate times itself (CUDA events)
            if timer is not None:
                return Outcome(job.key, times=timer(args, job.timing), build_s=build_s)
            number = _warmed(kernel, args, job.timing)
            times = _repeats(kernel, args, number, job.timing)
            for _ in range(job.timing.retries):
                if spread(times) <= job.timing.max_spread:
                    break
                again = _repeats(kernel, args, number, job.timing)
                times = min(times, again, key=spread)
        except Exception as err:  # noqa: BLE001
            return Outcome(job.key, error=f"run: {type(err).__name__}: {err}"[:2000], build_s=build_s)
        return Outcome(job.key, times=times, build_s=build_s)

    def race(self, jobs: list[Job], rounds: int) -> list[Outcome]:
        """Build and check every job, then time them in ``rounds`` interleaved rounds (one
        repeat of each per round, the order reversed every other round), so that they are
        measured in the same conditions: a busy spell of the machine slows all of them
        alike. One Outcome per job with a time per round (or its failure)."""
        ready, outcomes = {}, {}
        for job in jobs:
            built = self.build(job)
            checked = built if built.error else self._checked(job)
            if isinstance(checked, Outcome):
                outcomes[job.key] = checked
            else:
                ready[job.key] = checked
        live = [job for job in jobs if job.key in ready]
        times: dict[str, list[float]] = {job.key: [] for job in live}
        try:
            numbers = {job.key: _warmed(ready[job.key][0], ready[job.key][1], job.timing)
                       for job in live if getattr(ready[job.key][0], "time", None) is None}
            for r in range(rounds):
                for job in (live if r % 2 == 0 else live[::-1]):
                    kernel, args, _ = ready[job.key]
                    timer = getattr(kernel, "time", None)
                    if timer is not None:
                        times[job.key] += timer(args, replace(job.timing, repeat=1))
                    else:
                        times[job.key].append(_mean_of(kernel, args, numbers[job.key]))
        except Exception as err:  # noqa: BLE001
            return [outcomes.get(j.key) or Outcome(j.key, error=f"race: {type(err).__name__}: {err}"[:2000])
                    for j in jobs]
        for job in live:
            outcomes[job.key] = Outcome(job.key, times=times[job.key], build_s=ready[job.key][2])
        return [outcomes[job.key] for job in jobs]

    def _checked(self, job: Job):
        """(kernel, args, build seconds) of the built ``job`` once its answer is checked, or
        the Outcome saying why it failed."""
        if job.key not in self.kernels:
            built = self.build(job)
            if built.error:
                return built
        kernel, build_s = self.kernels.pop(job.key)
        t = job.timing
        try:
            inputs, expected, written = self._workload(job)
            args = [a.copy() if n in expected else a for n, a in enumerate(inputs)]
            for n in written:
                args[n][...] = 0
            kernel(*args)
            for n, want in expected.items():
                got = args[n]
                scale = float(np.max(np.abs(want))) if want.size else 0.0
                if want.dtype.kind == "f":
                    ok = np.allclose(got, want, rtol=t.rtol, atol=t.atol * max(1.0, scale), equal_nan=True)
                else:
                    ok = np.array_equal(got, want)
                if not ok:
                    bad = float(np.max(np.abs(got.astype("float64") - want.astype("float64")))) if got.size else 0
                    return Outcome(job.key, error=f"wrong answer: output {n} differs from the expected "
                                                  f"one by up to {bad:.3g}", build_s=build_s)
        except Exception as err:  # noqa: BLE001
            return Outcome(job.key, error=f"run: {type(err).__name__}: {err}"[:2000], build_s=build_s)
        return kernel, args, build_s


def _warmed(kernel, args, t: Timing) -> int:
    """Call ``kernel`` until warm (``t.warmup`` calls lasting ``t.warmup_s``); returns how many
    calls one repeat makes to last ``t.min_repeat_s``."""
    start = time.perf_counter()
    calls = 0
    while calls < t.warmup or time.perf_counter() - start < t.warmup_s:
        kernel(*args)
        calls += 1
    start = time.perf_counter()
    kernel(*args)
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, math.ceil(t.min_repeat_s / once))


def spread(times) -> float:
    """How far apart repeated times are: the slowest over the fastest, less one (0 for one time).

    >>> spread([1.0, 1.1, 1.05])
    0.10000000000000009
    """
    return max(times) / min(times) - 1.0 if times and min(times) > 0 else 0.0


def _repeats(kernel, args, number: int, t: Timing) -> list[float]:
    times = []
    for r in range(t.repeat):
        if r and t.gap_s:
            time.sleep(t.gap_s)
        times.append(_mean_of(kernel, args, number))
    return times


def _mean_of(kernel, args, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        kernel(*args)
    return (time.perf_counter() - start) / number
