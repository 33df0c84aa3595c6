"""Measuring candidates in worker processes that a crash, a hang or a wrong answer cannot hurt.

:class:`LocalRunner` keeps ``workers`` processes started with ``spawn`` and
reuses them. A batch is measured in two phases: every worker builds its
share of the batch at once (compilation is the costly part), then the
candidates run one at a time, on the worker that built them, while the
others wait, so that thread pools do not distort each other's timings.
Each build and each run has its own time-out; a worker that crashes (a
segfault ends the process) or runs past its time-out is killed and
replaced, and the candidate is recorded as failed with the reason.
"""
from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
import multiprocessing as mp
import signal
import sys
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import wait

from .job import Job, Outcome, WorkerState

__all__ = ["LocalRunner", "Runner"]


class Runner(ABC):
    """Measures batches of :class:`~mlc.tune.job.Job`: ``run(jobs) -> [Outcome]`` in order."""

    @abstractmethod
    def run(self, jobs: list[Job]) -> list[Outcome]:
        """One Outcome per job, in the jobs' order."""

    def race(self, jobs: list[Job], rounds: int) -> list[Outcome]:
        """Time ``jobs`` against each other in ``rounds`` interleaved rounds, in the same
        conditions: one Outcome per job, a time per round. This default runs a batch of
        one repeat each per round, in an order reversed every other round; runners that
        keep built kernels between calls do better (:class:`LocalRunner` builds once)."""
        times: dict[str, list[float]] = {job.key: [] for job in jobs}
        failed: dict[str, Outcome] = {}
        for r in range(rounds):
            order = [job for job in (jobs if r % 2 == 0 else jobs[::-1]) if job.key not in failed]
            once = [replace(job, key=f"{job.key}@{r}", timing=replace(job.timing, repeat=1)) for job in order]
            for job, outcome in zip(order, self.run(once)):
                if outcome.error or not outcome.times:
                    failed[job.key] = Outcome(job.key, error=outcome.error or "race: not timed")
                else:
                    times[job.key] += outcome.times
        return [failed.get(job.key) or Outcome(job.key, times=times[job.key]) for job in jobs]

    def close(self) -> None:
        """Stop the workers."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _worker_main(conn) -> None:
    """A worker: answers ("build", job) and ("run", job) with an Outcome until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the tuner's to handle
    state = WorkerState()
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        op, job = msg
        if op == "race":
            conn.send(state.race(job.jobs, job.rounds))
        else:
            conn.send(state.build(job) if op == "build" else state.run(job))


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the worker stopped answering"
    if code < 0:
        try:
            return f"the worker crashed ({signal.Signals(-code).name})"
        except ValueError:
            return f"the worker crashed (signal {-code})"
    return f"the worker exited with status {code}"


@contextlib.contextmanager
def _main_module_hidden():
    """Start processes without re-running the user's script in them: ``spawn`` imports the
    parent's ``__main__`` file in every child (as ``__mp_main__``), so a script calling
    ``mlc.tune`` at its top level, without an ``if __name__ == "__main__":`` guard, would
    tune again inside each worker. The workers need nothing from ``__main__``."""
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
    try:
        for k in saved:
            if k == "__file__":
                del main.__dict__[k]
            else:
                main.__dict__[k] = None
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)


@dataclass(frozen=True)
class _Race:
    """The payload of a race message, with the key a failure is reported under."""
    jobs: list
    rounds: int

    @property
    def key(self) -> str:
        return "race:" + ",".join(job.key for job in self.jobs)


class _Worker:
    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        with _main_module_hidden():
            self.proc.start()
        child.close()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


class LocalRunner(Runner):
    """``workers`` spawn processes; ``build_timeout_s`` and ``run_timeout_s`` per candidate."""

    def __init__(self, workers: int = 1, build_timeout_s: float = 60.0, run_timeout_s: float = 30.0):
        self._ctx = mp.get_context("spawn")
        self.n_workers = max(1, int(workers))
        self.build_timeout_s = build_timeout_s
        self.run_timeout_s = run_timeout_s
        self._workers: list[_Worker | None] = [None] * self.n_workers

    def _worker(self, n: int) -> _Worker:
        if self._workers[n] is None or not self._workers[n].proc.is_alive():
            if self._workers[n] is not None:
                self._workers[n].kill()
            self._workers[n] = _Worker(self._ctx)
        return self._workers[n]

    def _replace(self, n: int) -> None:
        worker = self._workers[n]
        if worker is not None:
            worker.kill()
        self._workers[n] = None

    def _wait(self, pending: dict[int, tuple[str, Job, float]], timeout_s: float) -> dict[int, Outcome]:
        """Wait until at least one worker of ``pending`` (worker -> (op, job, start)) answers,
        crashes or runs past ``timeout_s``; remove those from ``pending`` and return their outcomes."""
        conns = {self._workers[n].conn: n for n in pending}
        left = min(start + timeout_s for _, _, start in pending.values()) - time.monotonic()
        ready = wait(list(conns), timeout=max(0.0, left))
        done: dict[int, Outcome] = {}
        for conn in ready:
            n = conns[conn]
            op, job, _ = pending.pop(n)
            try:
                done[n] = conn.recv()
            except (EOFError, OSError):
                proc = self._workers[n].proc
                proc.join(2)
                done[n] = Outcome(job.key, error=f"{op}: {_describe_exit(proc.exitcode)}")
                self._replace(n)
        now = time.monotonic()
        for n, (op, job, start) in list(pending.items()):
            if now - start >= timeout_s:
                pending.pop(n)
                done[n] = Outcome(job.key, error=f"{op}: timed out after {timeout_s:g} s")
                self._replace(n)
        return done

    def _send(self, n: int, op: str, job: Job, pending: dict) -> None:
        try:
            self._worker(n).conn.send((op, job))
        except (BrokenPipeError, OSError):
            self._replace(n)
            self._worker(n).conn.send((op, job))
        pending[n] = (op, job, time.monotonic())

    def _one(self, n: int, op: str, job: Job, timeout_s: float) -> Outcome:
        """``op`` of ``job`` on worker ``n``, waited for."""
        pending: dict[int, tuple[str, Job, float]] = {}
        self._send(n, op, job, pending)
        done: dict[int, Outcome] = {}
        while pending:
            done.update(self._wait(pending, timeout_s))
        return done[n]

    def run(self, jobs: list[Job]) -> list[Outcome]:
        outcomes: dict[str, Outcome] = {}
        owner: dict[str, tuple[int, _Worker]] = {}
        queues = [list(jobs[n::self.n_workers]) for n in range(self.n_workers)]
        # phase 1: every worker builds its share, the workers in parallel
        pending: dict[int, tuple[str, Job, float]] = {}
        for n in range(self.n_workers):
            if queues[n]:
                self._send(n, "build", queues[n].pop(0), pending)
        while pending:
            for n, outcome in self._wait(pending, self.build_timeout_s).items():
                if outcome.error:
                    outcomes[outcome.key] = outcome
                else:
                    owner[outcome.key] = (n, self._workers[n])
                if queues[n]:
                    self._send(n, "build", queues[n].pop(0), pending)
        # phase 2: the built candidates run one at a time, each on the worker that built it
        for job in jobs:
            if job.key in outcomes:
                continue
            n, built_by = owner[job.key]
            if self._workers[n] is not built_by:  # replaced since (a later candidate crashed it)
                rebuilt = self._one(n, "build", job, self.build_timeout_s)
                if rebuilt.error:
                    outcomes[job.key] = rebuilt
                    continue
            outcomes[job.key] = self._one(n, "run", job, self.run_timeout_s)
        return [outcomes[job.key] for job in jobs]

    def race(self, jobs: list[Job], rounds: int) -> list[Outcome]:
        """Every job built, checked and timed in interleaved rounds by one worker."""
        timeout = self.build_timeout_s * len(jobs) + self.run_timeout_s * max(1, rounds) * len(jobs)
        outcome = self._one(0, "race", _Race(list(jobs), int(rounds)), timeout)
        if isinstance(outcome, list):
            return outcome
        return [Outcome(job.key, error=outcome.error) for job in jobs]  # the worker crashed or hung

    def close(self) -> None:
        for n, worker in enumerate(self._workers):
            if worker is not None:
                try:
                    worker.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
                worker.proc.join(1)
                worker.kill()
            self._workers[n] = None
