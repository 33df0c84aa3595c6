"""Timing: the one way mlc measures a callable (used by time_evaluator and benchmarks).

>>> result = time_function(lambda: None, number=10, repeat=3)
>>> len(result.results), result.median >= 0
(3, True)
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TimeResult", "time_function"]


@dataclass(frozen=True)
class TimeResult:
    """Seconds per call for each repeat; ``mean`` and ``median`` summarise them."""
    results: tuple[float, ...]

    @property
    def mean(self) -> float:
        return sum(self.results) / len(self.results)

    @property
    def median(self) -> float:
        ordered = sorted(self.results)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    @property
    def min(self) -> float:
        return min(self.results)

    def __repr__(self) -> str:
        return (f"TimeResult(mean={self.mean * 1e3:.4f} ms, median={self.median * 1e3:.4f} ms, "
                f"repeat={len(self.results)})")


def time_function(fn: Callable[[], object], number: int = 10, repeat: int = 1,
                  warmup: int = 1) -> TimeResult:
    """Call ``fn`` ``warmup`` times, then ``repeat`` times measure the mean of ``number`` calls."""
    if number < 1 or repeat < 1:
        raise ValueError(f"number and repeat must be at least 1, got number={number}, repeat={repeat}")
    for _ in range(warmup):
        fn()
    results = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        results.append((time.perf_counter() - start) / number)
    return TimeResult(tuple(results))
