"""Building and running candidates for the ``cuda`` targets inside a measurement worker.

Two ways to measure a CUDA candidate (a job's ``measure``):

- ``"time"`` (a GPU is needed): the candidate is compiled with NVRTC and loaded
  with CuPy; :class:`GpuCandidate` copies the NumPy inputs to the device, runs it,
  copies the outputs back for the answer check, and times it with CUDA events
  (``time_evaluator`` of the CUDA module) on the device copies.
- ``"check"`` (no GPU needed): the candidate is compiled with NVRTC for the
  target's architecture — a compile error or a launch over the device's limits
  fails it, as it would on a GPU — and then run on the CUDA emulator, which
  checks its answer and reports races and out-of-bounds accesses. Nothing is
  timed: the outcome is *checked*, and the database marks the record unmeasured.

The ``cuda-emulator`` target builds for the emulator only (no NVRTC) and can only check.
"""
from __future__ import annotations

import math

from ..backends.cuda.runtime import device_unavailable_reason
from ..driver.build import build as mlc_build
from ..errors import DeviceError, MLCError
from ..target import Target

__all__ = ["build_gpu_candidate", "GpuCandidate", "EmulatedCandidate", "resolve_measure", "device_reason"]


def device_reason() -> str | None:
    """None when CuPy can launch kernels here; otherwise why not."""
    return device_unavailable_reason()


def resolve_measure(measure: str, target) -> str:
    """The measure a tuning run on ``target`` uses for the ``measure`` asked for ("auto",
    "time" or "check"): "auto" times where it can, and checks only on the cuda targets
    without a GPU. Asking to time what cannot be timed raises DeviceError saying why."""
    if measure not in ("auto", "time", "check"):
        raise MLCError(f"measure must be 'auto', 'time' or 'check', got {measure!r}")
    kind = Target.from_str(target).kind
    if kind == "cuda-emulator":
        if measure == "time":
            raise DeviceError("measure='time' on target 'cuda-emulator': the emulator's run time says "
                              "nothing about a GPU's; tune for target='cuda' on a machine with a GPU, or "
                              "use measure='check'")
        return "check"
    if kind != "cuda":
        return "time" if measure == "auto" else measure
    reason = device_reason()
    if measure == "auto":
        return "check" if reason is not None else "time"
    if measure == "time" and reason is not None:
        raise DeviceError(f"measure='time' on target 'cuda' needs a CUDA device: {reason}. "
                          "measure='check' (the default where there is no GPU) compiles every candidate "
                          "with NVRTC and checks it on the cuda-emulator, without timing it")
    return measure


def _emulator_target(target: Target) -> str:
    return f"cuda-emulator -arch={target.arch}" if target.arch else "cuda-emulator"


class EmulatedCandidate:
    """A candidate compiled with NVRTC (unless the target is the emulator), run on the emulator."""

    def __init__(self, mod, target: Target, trace):
        (self.name,) = list(mod)
        if target.kind == "cuda":
            mlc_build(mod, target, schedule=trace)  # NVRTC: compile errors and launch limits fail here
        self.fn = mlc_build(mod, _emulator_target(target), schedule=trace)[self.name]

    def __call__(self, *arrays) -> None:
        self.fn(*arrays)


class GpuCandidate:
    """A candidate loaded on the GPU: called on NumPy arrays (copied to the device and back,
    for the answer check), timed on the device copies with CUDA events."""

    def __init__(self, mod, target: Target, trace):
        (self.name,) = list(mod)
        self.lib = mlc_build(mod, target, schedule=trace)
        self._device_args = None

    def __call__(self, *arrays) -> None:
        import cupy  # deferred: keeps `import mlc.tune` fast and free of CuPy (only GPU workers get here)
        self._device_args = [cupy.asarray(a) for a in arrays]
        self.lib[self.name](*self._device_args)
        cupy.cuda.get_current_stream().synchronize()
        for a, d in zip(arrays, self._device_args):
            a[...] = d.get()

    def time(self, arrays, timing) -> list[float]:
        """Run times in seconds, ``timing.repeat`` of them, each the mean of enough launches to
        last ``timing.min_repeat_s``, measured with CUDA events on the current stream."""
        if self._device_args is None:
            self(*arrays)
        once = self.lib.time_evaluator(self.name, number=1, repeat=1, warmup=timing.warmup)(*self._device_args)
        number = max(1, math.ceil(timing.min_repeat_s / max(min(once.results), 1e-7)))
        result = self.lib.time_evaluator(self.name, number=number, repeat=timing.repeat, warmup=0)(
            *self._device_args)
        return list(result.results)


def build_gpu_candidate(mod, target, trace, measure: str):
    """The callable candidate of ``trace`` on single-function ``mod`` for a cuda ``target``:
    emulated for ``measure="check"``, on the GPU for ``"time"``."""
    target = Target.from_str(target)
    if measure == "check" or target.kind == "cuda-emulator":
        return EmulatedCandidate(mod, target, trace)
    reason = device_reason()
    if reason is not None:
        raise DeviceError(f"cannot time a CUDA candidate here: {reason}")
    return GpuCandidate(mod, target, trace)
