"""Sampling primitives: the random choices a search space is made of.

A sampling primitive draws from the schedule's generator (deterministic under
``Schedule(mod, seed=...)``) unless it is given a ``decision``; either way the
decision taken is recorded in the trace, so replaying the trace repeats it.

>>> import mlc
>>> from mlc import te
>>> A = te.placeholder((64,), "float32", "A")
>>> B = te.compute((64,), lambda i: A[i] + 1, "B")
>>> sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}), seed=0)
>>> (i,) = sch.get_loops(sch.get_block("B"))
>>> tiles = sch.sample_perfect_tile(i, n=3, max_innermost_factor=8)
>>> len(tiles), tiles[0] * tiles[1] * tiles[2], tiles[2] <= 8
(3, 64, True)
>>> sch.sample_perfect_tile(i, n=2, decision=[16, 4])
[16, 4]
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence

from ...errors import ScheduleError
from ..base import ExprRV, LoopRV, ScheduleBase, instruction, schedule_error
from .loop_transforms import const_extent

__all__ = ["SamplingPrimitives", "sample_tile", "prime_factors", "divisors", "check_tile"]


def prime_factors(n: int) -> list[int]:
    """Prime factors of ``n >= 1`` in increasing order: ``prime_factors(12) == [2, 2, 3]``."""
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


def divisors(n: int) -> list[int]:
    """Divisors of ``n >= 1`` in increasing order: ``divisors(12) == [1, 2, 3, 4, 6, 12]``."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


def sample_tile(rng: random.Random, extent: int, n: int, max_innermost: int | None) -> list[int]:
    """``n`` factors whose product is ``extent``; the last is at most ``max_innermost``.

    The innermost factor is drawn uniformly from the divisors of ``extent``
    allowed; each remaining prime factor goes to a uniformly chosen outer
    position.

    >>> f = sample_tile(random.Random(0), 360, 3, 16)
    >>> math.prod(f), f[-1] <= 16
    (360, True)
    """
    limit = extent if max_innermost is None else max_innermost
    if n == 1:
        return [extent]
    inner_choices = [d for d in divisors(extent) if d <= limit]
    inner = rng.choice(inner_choices)
    factors = [1] * (n - 1)
    for p in prime_factors(extent // inner):
        factors[rng.randrange(n - 1)] *= p
    return factors + [inner]


def check_tile(decision, extent: int, n: int, max_innermost: int | None) -> str | None:
    """Why ``decision`` is not a valid perfect tile, or None when it is."""
    if not isinstance(decision, (list, tuple)) or len(decision) != n:
        return f"a decision must be a list of {n} ints, got {decision!r}"
    if any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in decision):
        return f"every factor must be a positive int, got {list(decision)}"
    if math.prod(decision) != extent:
        return f"the factors {list(decision)} multiply to {math.prod(decision)}, not the extent {extent}"
    if max_innermost is not None and decision[-1] > max_innermost:
        return f"the innermost factor {decision[-1]} exceeds max_innermost_factor={max_innermost}"
    return None


class SamplingPrimitives(ScheduleBase):
    """Random decisions recorded in the trace (the tuner's search space)."""

    @instruction
    def sample_perfect_tile(self, loop: LoopRV, n: int, max_innermost_factor: int | None = 16,
                            decision: list[int] | None = None) -> list[ExprRV]:
        """``n`` tile sizes whose product is exactly the loop's extent, the innermost at
        most ``max_innermost_factor`` (None or -1: no limit); use them as ``split``
        factors. ``decision`` replays an earlier draw (the trace records it).

        ``n < 1``, a loop of symbolic extent, or a decision that does not multiply to
        the extent is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(8), seed=0)
        >>> (i,) = sch.get_loops(sch.get_block("B"))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(8):
                with T.block("B"):
                    vi = T.axis.spatial(8, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        >>> tiles = sch.sample_perfect_tile(i, n=2, decision=[2, 4])
        >>> i0, i1 = sch.split(i, factors=tiles)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i_0, i_1 in T.grid(2, 4):
                with T.block("B"):
                    vi = T.axis.spatial(8, i_0 * 4 + i_1)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        """
        prim = "sample_perfect_tile"
        _, func, loc = self._loop(loop, prim)
        extent = const_extent(loc.node, prim, func)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise schedule_error(prim, f"n must be a positive int, got {n!r}")
        if max_innermost_factor == -1:
            max_innermost_factor = None
        if max_innermost_factor is not None and (
                isinstance(max_innermost_factor, bool) or not isinstance(max_innermost_factor, int)
                or max_innermost_factor < 1):
            raise schedule_error(prim, "max_innermost_factor must be a positive int or None, "
                                 f"got {max_innermost_factor!r}")
        if extent < 1:
            raise schedule_error(prim, f"loop {loc.node.loop_var.name} has extent {extent}; "
                                 "only a loop of extent >= 1 can be tiled", func, loc.node)
        if n == 1 and max_innermost_factor is not None and extent > max_innermost_factor:
            raise schedule_error(prim, f"one tile of {extent} exceeds max_innermost_factor="
                                 f"{max_innermost_factor}; ask for more tiles", func, loc.node)
        if decision is None:
            decision = sample_tile(self._sample(), extent, n, max_innermost_factor)
        else:
            why = check_tile(decision, extent, n, max_innermost_factor)
            if why is not None:
                raise schedule_error(prim, f"invalid decision for loop {loc.node.loop_var.name} "
                                     f"of extent {extent}: {why}", func, loc.node)
        self._last_decision = [int(f) for f in decision]
        return [ExprRV(f) for f in self._last_decision]

    @instruction
    def sample_categorical(self, candidates: Sequence[int], probs: Sequence[float],
                           decision: int | None = None) -> ExprRV:
        """One of ``candidates``, drawn with weights ``probs``; ``decision`` (an index
        into ``candidates``) replays an earlier draw (the trace records it).

        Candidates that are not ints, probabilities that are not one finite,
        non-negative number per candidate or that sum to 0, or a decision out of
        range is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(8), seed=0)
        >>> (i,) = sch.get_loops(sch.get_block("B"))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(8):
                with T.block("B"):
                    vi = T.axis.spatial(8, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        >>> factor = sch.sample_categorical([2, 4], [0.5, 0.5], decision=1)
        >>> i0, i1 = sch.split(i, factors=[None, factor])
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i_0, i_1 in T.grid(2, 4):
                with T.block("B"):
                    vi = T.axis.spatial(8, i_0 * 4 + i_1)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        """
        prim = "sample_categorical"
        if not isinstance(candidates, (list, tuple)) or not candidates or any(
                isinstance(c, bool) or not isinstance(c, int) for c in candidates):
            raise ScheduleError(f"{prim}: candidates must be a non-empty list of ints, "
                                f"got {candidates!r}")
        if not isinstance(probs, (list, tuple)) or len(probs) != len(candidates):
            raise ScheduleError(f"{prim}: probs must be a list of {len(candidates)} numbers "
                                f"(one per candidate), got {probs!r}")
        weights = []
        for p in probs:
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or p < 0:
                raise ScheduleError(f"{prim}: probabilities must be finite and >= 0, got {list(probs)}")
            weights.append(float(p))
        if sum(weights) <= 0:
            raise ScheduleError(f"{prim}: the probabilities {list(probs)} sum to 0")
        if decision is None:
            decision = self._sample().choices(range(len(candidates)), weights=weights)[0]
        elif isinstance(decision, bool) or not isinstance(decision, int) or \
                not 0 <= decision < len(candidates):
            raise ScheduleError(f"{prim}: decision must be an index into the {len(candidates)} "
                                f"candidates, got {decision!r}")
        self._last_decision = int(decision)
        return ExprRV(candidates[decision])
