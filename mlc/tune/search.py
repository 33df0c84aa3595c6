"""Evolutionary search over a design space's decisions, guided by the cost model.

Each round proposes a batch of candidates for one task:

1. the population: the best measured records of the workload (from the
   database, this run's included) and fresh random samples of the space (one
   measured through, as the rules space of an elementwise kernel soon is, is
   followed by the generic tiling);
2. a few generations of mutation: a parent (drawn by predicted score) has one
   decision redrawn (a tile size, packing, the unroll depth, a compute location,
   the parallel extent, the write-back level), and the children are scored by the
   cost model; the fittest survive;
3. the batch: the best-scored candidates not measured before (by the
   structural hash of the scheduled IR), with a fraction ``epsilon`` of
   random ones (ε-greedy), so the model also learns where it is wrong.

Before the model is trained the batch is random.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import MLCError
from ..ir.structural import structural_hash
from ..schedules.default.canonical import SCHEDULED_ATTR
from .features import extract, lower
from .space import DEFAULT, RULES, TILED, decisions_of, default_point, replay, space_name

__all__ = ["Candidate", "EvolutionarySearch", "MAX_REPEATS", "ir_hash"]

#: sampling stops after this many draws in a row that gave no new candidate
MAX_REPEATS = 16


@dataclass
class Candidate:
    """A point of a space: its decisions, the schedule they give, its features."""
    space: str
    decisions: list
    trace_json: str
    ir_hash: str
    features: np.ndarray = field(repr=False)


class EvolutionarySearch:
    """Proposes batches of unmeasured candidates for one task (one single-function module)."""

    def __init__(self, mod, target, seed: int = 0, population: int = 48, generations: int = 2,
                 epsilon: float = 0.25, space: str = RULES):
        self.mod, self.target, self.space, self.space_name = mod, target, space, space_name(space)
        self.rng = random.Random(seed)
        self.population, self.generations, self.epsilon = population, generations, epsilon
        self.seen: set[str] = set()
        self._pool: dict[str, Candidate] = {}          # unmeasured candidates, by IR hash
        self._replayed: dict[str, Candidate] = {}      # complete decision lists -> candidate
        self._features: dict[str, np.ndarray] = {}     # IR hash -> features of the lowered IR
        (self.func_name,) = list(mod)

    def candidate(self, space: str, decisions=()) -> Candidate | None:
        """The candidate of ``space`` with ``decisions`` (unfitting or missing ones drawn at random)."""
        memo = None
        if decisions and all(d is not None for d in decisions):  # a database record's: replayed once
            memo = json.dumps([space_name(space), list(decisions)])
            if memo in self._replayed:
                return self._replayed[memo]
        candidate = self._replay(space, decisions)
        if memo is not None and candidate is not None:
            self._replayed[memo] = candidate
        return candidate

    def _replay(self, space, decisions) -> Candidate | None:
        try:
            sch = replay(self.mod, space, self.target, decisions, seed=self.rng.randrange(1 << 30))
            key = ir_hash(sch.mod[self.func_name])
            if key not in self._features:  # features of the code as the backend gets it, once per IR
                self._features[key] = extract(lower(sch.mod, self.target)[self.func_name])
        except MLCError:
            return None
        return Candidate(space_name(space), decisions_of(sch.trace), _module_agnostic(sch.trace.to_json()),
                         key, self._features[key])

    def default(self) -> Candidate:
        """The default schedule (the CPU or GPU rules), as a candidate."""
        return self.candidate(DEFAULT)

    def default_point(self) -> Candidate | None:
        """The point of this search's space that is the default schedule (the same IR), for
        the space of the default rules (:data:`~mlc.tune.space.RULES`); None for another."""
        if self.space != RULES:
            return None
        try:
            decisions = default_point(self.mod, self.target)
        except MLCError:
            return None
        return self.candidate(RULES, decisions)

    def mark_seen(self, ir_hash: str) -> None:
        self.seen.add(ir_hash)

    def space_of(self, name: str):
        """The space a record or candidate named ``name`` comes from, as :func:`replay` takes
        it: this search's own, or (searching the rules space) the generic tiling it falls
        back to; None for another."""
        if name == self.space_name:
            return self.space
        return TILED if self.space == RULES and name == TILED else None

    def _mutate(self, parent: Candidate) -> Candidate | None:
        space = self.space_of(parent.space)
        if not parent.decisions or space is None:
            return self.candidate(self.space)
        decisions = list(parent.decisions)
        decisions[self.rng.randrange(len(decisions))] = None
        return self.candidate(space, decisions)

    def propose(self, n: int, model, elites: list[Candidate]) -> list[Candidate]:
        """Up to ``n`` unmeasured candidates; ``elites`` are the best measured ones so far.

        Unmeasured candidates stay in the population from round to round, so a round
        samples only what the last one measured, plus the children of its mutations.
        """
        pool = self._pool
        for key in [k for k in pool if k in self.seen]:
            del pool[key]

        def add(c: Candidate | None) -> None:
            if c is not None and c.ir_hash not in pool:
                pool[c.ir_hash] = c

        for c in elites:
            add(c)
        # a small space runs out of new points: stop after a run of repeats; the rules space
        # (nothing to choose in an elementwise kernel) then goes on in the generic tiling
        for space in [self.space] + ([TILED] if self.space == RULES else []):
            misses = 0
            while len(pool) < self.population + len(elites) and misses < MAX_REPEATS:
                before = len(pool)
                add(self.candidate(space))
                misses = 0 if len(pool) > before else misses + 1
        population = list(pool.values())
        scores = self._score(model, population)
        if scores is not None:
            for _ in range(self.generations):
                order = np.argsort(-scores)
                parents = [population[i] for i in order[:max(4, len(population) // 4)]]
                for _ in range(max(1, self.population // 4)):
                    add(self._mutate(self.rng.choice(parents)))
                population = list(pool.values())
                scores = self._score(model, population)
        fresh = [i for i, c in enumerate(population) if c.ir_hash not in self.seen]
        if scores is None:
            self.rng.shuffle(fresh)
            chosen = fresh[:n]
        else:
            fresh.sort(key=lambda i: -scores[i])
            n_random = int(round(n * self.epsilon))
            chosen = fresh[:n - n_random]
            rest = fresh[n - n_random:]
            chosen += self.rng.sample(rest, min(n_random, len(rest)))
            # the population keeps its fittest unmeasured members for the next round
            keep = {population[i].ir_hash for i in fresh[:2 * self.population]}
            for key in [k for k in pool if k not in keep]:
                del pool[key]
        return [population[i] for i in chosen]

    @staticmethod
    def _score(model, population: list[Candidate]):
        if model is None or not population:
            return None
        return model.predict([c.features for c in population])


def ir_hash(func) -> str:
    """The key that deduplicates candidates: the structural hash of the scheduled function,
    whoever scheduled it (the attribute saying so left out), so the default schedule and
    the point of a space that makes the same IR are one candidate (the attributes in the
    order of their names: the default rules' driver sorts them, a schedule adds them in the
    order it sets them)."""
    attrs = tuple(sorted((kv for kv in func.attrs if kv[0] != SCHEDULED_ATTR), key=lambda kv: kv[0]))
    return f"{structural_hash(replace(func, attrs=attrs)) & 0xFFFFFFFFFFFFFFFF:016x}"


def _module_agnostic(trace_json: str) -> str:
    """The trace with ``func_name`` left out of every instruction, so that it replays on a
    module holding the workload under any name."""
    obj = json.loads(trace_json)
    for inst in obj["insts"]:
        if "func_name" in inst["inputs"]:
            inst["inputs"]["func_name"] = None
    return json.dumps(obj)
