"""The tuner's last word: its best candidate against the default schedule, side by side.

In the search, each candidate was timed once, at its own moment, beside whatever else the
machine was doing then; the default schedule at another moment. A busy spell during the
default's measurement, or a quiet one during a candidate's, makes a slower candidate look
faster. So before a build may use a candidate, :func:`confirm` races the two in one worker
in interleaved rounds (the same inputs, the same conditions, the order reversed every other
round) and commits a verdict to the database (:meth:`~mlc.tune.database.Database.commit_verdict`):
the candidate only when it is faster in most rounds beyond ``min_gain``, else the default.
A race whose rounds disagree more than ``max_spread`` (a busy machine) is run again, up to
``retries`` times, the rounds pooled; a tuner never hands back something slower than what
the user had without it.

>>> v = decide([1.0, 1.0, 1.0, 1.0, 1.0], [0.5, 0.52, 0.49, 0.5, 0.51])
>>> v.winner, round(v.ratio, 2)
('candidate', 0.5)
>>> decide([1.0] * 5, [0.99, 1.01, 1.0, 0.98, 1.02]).winner
'default'
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..errors import MLCError
from .job import Job

__all__ = ["Verdict", "decide", "confirm", "ROUNDS", "MIN_GAIN", "MAX_SPREAD", "RETRIES"]

#: interleaved rounds of one race
ROUNDS = 7
#: how much faster than the default a candidate must be, in most rounds, to be used
MIN_GAIN = 0.02
#: the widest spread of per-round ratios (interquartile range over the median) taken as quiet
MAX_SPREAD = 0.10
#: how often a race too noisy to trust is run again (its rounds pooled with the earlier ones)
RETRIES = 2


@dataclass(frozen=True)
class Verdict:
    """The outcome of a race: ``winner`` ("candidate" or "default"), the median ratio of the
    candidate's time to the default's over the rounds, that ratio's spread, how many rounds
    were run, and each contender's median time in the race."""
    winner: str
    ratio: float
    spread: float
    rounds: int
    default_s: float
    candidate_s: float

    @property
    def noisy(self) -> bool:
        return self.spread > MAX_SPREAD


def decide(default_times, candidate_times, min_gain: float = MIN_GAIN) -> Verdict:
    """The verdict on a race's times (one per round, in round order, for each contender):
    the candidate wins when its time over the default's is below ``1 - min_gain`` in at
    least three rounds of four (the upper quartile of the ratios)."""
    if not default_times or len(default_times) != len(candidate_times):
        raise MLCError(f"decide: one time per round for each contender, got {len(default_times)} "
                       f"and {len(candidate_times)}")
    ratios = sorted(c / d for c, d in zip(candidate_times, default_times))
    if len(ratios) >= 2:
        low, middle, high = statistics.quantiles(ratios, n=4, method="inclusive")
    else:
        low = middle = high = ratios[0]
    spread = (high - low) / middle if middle > 0 else float("inf")
    winner = "candidate" if high < 1.0 - min_gain else "default"
    return Verdict(winner, middle, spread, len(ratios), statistics.median(default_times),
                   statistics.median(candidate_times))


def confirm(task, default, db, runner, config) -> Verdict | None:
    """Race the fastest record of ``task`` against ``default`` (the default schedule's
    :class:`~mlc.tune.search.Candidate`) with ``runner`` and commit the verdict to ``db``:
    the winner's record (the default's is added when it has none), which
    :meth:`Database.best_trace` then returns.
    None when there is nothing to decide (no timed record, or the best is the default)
    or when the default could not be raced (it failed: the records stand as they are)."""
    target = config.target
    best = db.top_k(task.func, target, 1)
    if not best or default is None:
        return None
    best = best[0]
    if best.ir_hash == default.ir_hash:
        db.commit_verdict(task.func, target, best.id)
        return None
    jobs = [Job(f"{task.key}-race-{name}", task.key, task.mod, trace, str(target), config.timing,
                config.kernel_hook, "time")
            for name, trace in (("default", default.trace_json), ("candidate", best.trace_json))]
    default_times: list[float] = []
    candidate_times: list[float] = []
    verdict = None
    for _ in range(1 + RETRIES):
        raced_default, raced_candidate = runner.race(jobs, ROUNDS)
        if raced_default.error or not raced_default.times:
            return None
        if raced_candidate.error or not raced_candidate.times:  # it fails when run again: never use it
            verdict = Verdict("default", float("inf"), 0.0, 0, statistics.median(raced_default.times), float("inf"))
            default_times = list(raced_default.times)
            break
        default_times += raced_default.times
        candidate_times += raced_candidate.times
        verdict = decide(default_times, candidate_times)
        if not verdict.noisy:
            break
    if verdict.winner == "candidate":
        rid = best.id
    else:
        measured = [r for r in db.records(task.func, target) if r.ir_hash == default.ir_hash and r.ok]
        rid = measured[0].id if measured else db.commit(
            task.func, target, default.trace_json, default_times, space=default.space,
            decisions=default.decisions, ir_hash=default.ir_hash, flops=task.flops)
    db.commit_verdict(task.func, target, rid, verdict.ratio, verdict.default_s, verdict.candidate_s)
    return verdict
