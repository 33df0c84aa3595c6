"""The runner of the GPU targets: :class:`~mlc.tune.runner.LocalRunner`'s isolated worker
processes, with every job measured as the runner's ``measure`` says.

``GpuRunner(measure="time")`` checks each candidate's answer on the GPU and times it
with the device's events; where no GPU is present it cannot exist, and says why (a
DeviceError naming the device library's reason). ``GpuRunner(measure="check")`` works
everywhere: candidates are compiled (NVRTC for ``cuda``) and checked on the GPU
emulator, and nothing is timed.
``measure="auto"`` (the default) is "time" where a GPU is present, else "check".
"""
from __future__ import annotations

from dataclasses import replace

from .gpu_measure import resolve_measure
from .job import Job, Outcome
from .runner import LocalRunner

__all__ = ["GpuRunner"]


class GpuRunner(LocalRunner):
    """Measures jobs for ``target`` (a GPU target or its emulator) in ``workers`` spawn
    processes; :attr:`measure` is "time" or "check" (see the module docstring)."""

    def __init__(self, measure: str = "auto", target="cuda", workers: int = 1, build_timeout_s: float = 60.0,
                 run_timeout_s: float = 30.0):
        super().__init__(workers, build_timeout_s, run_timeout_s)
        self.measure = resolve_measure(measure, target)

    def run(self, jobs: list[Job]) -> list[Outcome]:
        return super().run([replace(job, measure=self.measure) for job in jobs])

    def race(self, jobs: list[Job], rounds: int) -> list[Outcome]:
        return super().race([replace(job, measure=self.measure) for job in jobs], rounds)
