"""Building and running candidates for the GPU targets inside a measurement worker.

Two ways to measure a GPU candidate (a job's ``measure``):

- ``"time"`` (a device is needed): the candidate is built for the target and loaded
  on its device; :class:`GpuCandidate` copies the NumPy inputs to the device, runs it,
  copies the outputs back for the answer check, and times it with the module's
  ``time_evaluator`` on the device copies.
- ``"check"`` (no device needed): the candidate is built for the target — a compile
  error or a launch over the device's limits fails it, as it would on the device — and
  then run on the kind's emulator (:attr:`mlc.target.TargetKind.emulator`), which
  checks its answer and reports races and out-of-bounds accesses. Nothing is
  timed: the outcome is *checked*, and the database marks the record unmeasured.

A GPU kind whose modules run on the host (an emulator: ``TargetKind.device`` is
``"cpu"``) builds for itself only and can only check.
"""
from __future__ import annotations

import math

from ..backends.registry import get_backend
from ..driver.build import build as mlc_build
from ..errors import DeviceError, MLCError
from ..runtime.memory import memory as device_memory
from ..target import Target

__all__ = ["build_gpu_candidate", "GpuCandidate", "EmulatedCandidate", "resolve_measure", "device_reason"]


def _on_device(target: Target) -> bool:
    """Whether modules built for ``target`` run on a device (not on the host's arrays)."""
    return target.kind_info.device != "cpu"


def device_reason(target) -> str | None:
    """None when the device of ``target`` can run kernels here (or it runs on the host);
    otherwise why not."""
    target = Target.from_str(target)
    if not _on_device(target):
        return None
    return get_backend(target.kind).device_unavailable_reason()


def resolve_measure(measure: str, target) -> str:
    """The measure a tuning run on ``target`` uses for the ``measure`` asked for ("auto",
    "time" or "check"): "auto" times where it can, and checks only on the GPU targets
    without a device. Asking to time what cannot be timed raises DeviceError saying why."""
    if measure not in ("auto", "time", "check"):
        raise MLCError(f"measure must be 'auto', 'time' or 'check', got {measure!r}")
    target = Target.from_str(target)
    if not target.is_gpu:
        return "time" if measure == "auto" else measure
    if not _on_device(target):
        if measure == "time":
            raise DeviceError(f"measure='time' on target {target.kind!r}: the emulator's run time says "
                              "nothing about a GPU's; tune for the GPU's own target on a machine with one, "
                              "or use measure='check'")
        return "check"
    reason = device_reason(target)
    if measure == "auto":
        return "check" if reason is not None else "time"
    if measure == "time" and reason is not None:
        raise DeviceError(f"measure='time' on target {target.kind!r} needs a device: {reason}. "
                          f"measure='check' (the default where there is none) builds every candidate "
                          f"and checks it on the {target.kind_info.emulator or 'emulator'}, without timing it")
    return measure


def _emulator_target(target: Target) -> Target:
    """``target`` on its kind's emulator, with the same fields (``-arch=``)."""
    if not _on_device(target):
        return target
    if not target.kind_info.emulator:
        raise MLCError(f"target kind {target.kind!r} names no emulator (TargetKind.emulator); its "
                       "candidates can only be timed on the device: use measure='time'")
    return Target(target.kind_info.emulator, target.cpu, target.features, target.arch, target.triple)


class EmulatedCandidate:
    """A candidate built for the target (unless it is the emulator), run on the emulator."""

    def __init__(self, mod, target: Target, trace):
        (self.name,) = list(mod)
        if _on_device(target):
            mlc_build(mod, target, schedule=trace)  # compile errors and launch limits fail here
        self.fn = mlc_build(mod, _emulator_target(target), schedule=trace)[self.name]

    def __call__(self, *arrays) -> None:
        self.fn(*arrays)


class GpuCandidate:
    """A candidate loaded on the GPU: called on NumPy arrays (copied to the device and back,
    for the answer check, through the device's memory: :mod:`mlc.runtime.memory`), timed on
    the device copies by the module's ``time_evaluator`` (the device's own events)."""

    def __init__(self, mod, target: Target, trace):
        (self.name,) = list(mod)
        self.lib = mlc_build(mod, target, schedule=trace)
        self._device_args = None

    def __call__(self, *arrays) -> None:
        dev = self.lib.device
        memory = device_memory(dev.kind)
        self._device_args = [memory.to_device(a, dev) for a in arrays]
        self.lib[self.name](*self._device_args)
        memory.synchronize(dev)
        for a, d in zip(arrays, self._device_args):
            a[...] = memory.to_host(d)

    def time(self, arrays, timing) -> list[float]:
        """Run times in seconds, ``timing.repeat`` of them, each the mean of enough launches to
        last ``timing.min_repeat_s``, measured on the device (CUDA events on the current stream)."""
        if self._device_args is None:
            self(*arrays)
        once = self.lib.time_evaluator(self.name, number=1, repeat=1, warmup=timing.warmup)(*self._device_args)
        number = max(1, math.ceil(timing.min_repeat_s / max(min(once.results), 1e-7)))
        result = self.lib.time_evaluator(self.name, number=number, repeat=timing.repeat, warmup=0)(
            *self._device_args)
        return list(result.results)


def build_gpu_candidate(mod, target, trace, measure: str):
    """The callable candidate of ``trace`` on single-function ``mod`` for a GPU ``target``:
    emulated for ``measure="check"``, on the device for ``"time"``."""
    target = Target.from_str(target)
    if measure == "check" or not _on_device(target):
        return EmulatedCandidate(mod, target, trace)
    reason = device_reason(target)
    if reason is not None:
        raise DeviceError(f"cannot time a {target.kind} candidate here: {reason}")
    return GpuCandidate(mod, target, trace)
