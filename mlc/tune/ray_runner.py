"""Measuring candidates on a Ray cluster: ``mlc.tune(..., runner="ray")``.

Each candidate is one Ray task (build, check, time: the same
:class:`~mlc.tune.job.WorkerState` as the local workers) with no retries.
A task that runs past ``build_timeout_s + run_timeout_s`` is cancelled with
``force=True`` (its worker process is killed); a worker that dies (a
segfault) fails its task; either way the candidate is recorded as failed with
the reason. Ray is imported only here, and only when this runner is made
(``pip install 'mlc[distributed]'``). ``address`` names a running cluster;
without it a local Ray is started (or the one already running is used).
"""
from __future__ import annotations

import time

from ..errors import MLCError
from .job import Job, Outcome, WorkerState
from .runner import Runner

__all__ = ["RayRunner"]

_STATE = None


def _measure(job: Job) -> Outcome:
    """Build and run one job in this Ray worker (its state kept between tasks)."""
    global _STATE
    if _STATE is None:
        _STATE = WorkerState()
    built = _STATE.build(job)
    return built if built.error else _STATE.run(job)


def _ray():
    try:  # deferred: keeps `import mlc.tune` fast, and Ray optional
        import ray
    except ImportError:
        raise MLCError("runner='ray' needs Ray: pip install 'mlc[distributed]'") from None
    return ray


class RayRunner(Runner):
    """Candidates as Ray tasks, one CPU each; started Ray is shut down by :meth:`close`."""

    def __init__(self, address: str | None = None, build_timeout_s: float = 60.0, run_timeout_s: float = 30.0,
                 num_cpus: int | None = None):
        ray = _ray()
        self._started = False
        if not ray.is_initialized():
            kwargs = {"address": address} if address else {"num_cpus": num_cpus}
            ray.init(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True, **kwargs)
            self._started = True
        self._remote = ray.remote(max_retries=0, num_cpus=1)(_measure)
        self.timeout_s = build_timeout_s + run_timeout_s

    def run(self, jobs: list[Job]) -> list[Outcome]:
        ray = _ray()
        # at most one task per CPU in flight, so that each one's time-out starts when it does
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = list(jobs)
        flight: dict = {}                       # ref -> (job, deadline)
        outcomes: dict[str, Outcome] = {}
        while queue or flight:
            while queue and len(flight) < cpus:
                job = queue.pop(0)
                flight[self._remote.remote(job)] = (job, time.monotonic() + self.timeout_s)
            left = min(deadline for _, deadline in flight.values()) - time.monotonic()
            ready, _ = ray.wait(list(flight), num_returns=1, timeout=max(0.0, left))
            for ref in ready:
                job, _ = flight.pop(ref)
                try:
                    outcomes[job.key] = ray.get(ref)
                except ray.exceptions.RayError as err:
                    why = "the worker crashed" if isinstance(err, ray.exceptions.WorkerCrashedError) \
                        else type(err).__name__
                    outcomes[job.key] = Outcome(job.key, error=f"ray: {why}: {str(err).splitlines()[0][:300]}")
            now = time.monotonic()
            for ref, (job, deadline) in list(flight.items()):
                if now >= deadline:
                    ray.cancel(ref, force=True)
                    flight.pop(ref)
                    outcomes[job.key] = Outcome(job.key, error=f"ray: timed out after {self.timeout_s:g} s")
        return [outcomes[job.key] for job in jobs]

    def close(self) -> None:
        if self._started:
            _ray().shutdown()
            self._started = False
