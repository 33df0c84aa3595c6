"""Evolutionary search over a design space's decisions, guided by the cost model.

Each round proposes a batch of candidates for one task:

1. the population: the best measured records of the workload (from the
   database, this run's included) and fresh random samples of the space;
2. a few generations of mutation: a parent (drawn by predicted score) has one
   decision redrawn (a tile size, the unroll depth, a compute location, the
   parallel extent, the write-back level), and the children are scored by the
   cost model; the fittest survive;
3. the batch: the best-scored candidates not measured before (by the
   structural hash of the scheduled IR), with a fraction ``epsilon`` of
   random ones (ε-greedy), so the model also learns where it is wrong.

Before the model is trained the batch is random.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from ..errors import MLCError
from ..ir.structural import structural_hash
from .features import extract
from .space import DEFAULT, TILED, decisions_of, replay, space_name

__all__ = ["Candidate", "EvolutionarySearch", "MAX_REPEATS"]

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
                 epsilon: float = 0.25, space: str = TILED):
        self.mod, self.target, self.space, self.space_name = mod, target, space, space_name(space)
        self.rng = random.Random(seed)
        self.population, self.generations, self.epsilon = population, generations, epsilon
        self.seen: set[str] = set()
        (self.func_name,) = list(mod)

    def candidate(self, space: str, decisions=()) -> Candidate | None:
        """The candidate of ``space`` with ``decisions`` (unfitting or missing ones drawn at random)."""
        try:
            sch = replay(self.mod, space, self.target, decisions, seed=self.rng.randrange(1 << 30))
        except MLCError:
            return None
        func = sch.mod[self.func_name]
        return Candidate(space_name(space), decisions_of(sch.trace), _module_agnostic(sch.trace.to_json()),
                         f"{structural_hash(func) & 0xFFFFFFFFFFFFFFFF:016x}", extract(func))

    def default(self) -> Candidate:
        """The default CPU schedule, as a candidate."""
        return self.candidate(DEFAULT)

    def mark_seen(self, ir_hash: str) -> None:
        self.seen.add(ir_hash)

    def _mutate(self, parent: Candidate) -> Candidate | None:
        if not parent.decisions:
            return self.candidate(self.space)
        decisions = list(parent.decisions)
        decisions[self.rng.randrange(len(decisions))] = None
        return self.candidate(self.space, decisions)

    def propose(self, n: int, model, elites: list[Candidate]) -> list[Candidate]:
        """Up to ``n`` unmeasured candidates; ``elites`` are the best measured ones so far."""
        pool: dict[str, Candidate] = {}

        def add(c: Candidate | None) -> None:
            if c is not None and c.ir_hash not in pool:
                pool[c.ir_hash] = c

        for c in elites:
            add(c)
        misses = 0  # a small space runs out of new points: stop after a run of repeats
        while len(pool) < self.population + len(elites) and misses < MAX_REPEATS:
            before = len(pool)
            add(self.candidate(self.space))
            misses = 0 if len(pool) > before else misses + 1
        population = list(pool.values())
        scores = self._score(model, population)
        if scores is not None:
            for _ in range(self.generations):
                order = np.argsort(-scores)
                parents = [population[i] for i in order[:max(4, len(population) // 4)]]
                children = [self._mutate(self.rng.choice(parents)) for _ in range(self.population // 2)]
                for c in children:
                    add(c)
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
        return [population[i] for i in chosen]

    @staticmethod
    def _score(model, population: list[Candidate]):
        if model is None or not population:
            return None
        return model.predict([c.features for c in population])


def _module_agnostic(trace_json: str) -> str:
    """The trace with ``func_name`` left out of every instruction, so that it replays on a
    module holding the workload under any name."""
    import json
    obj = json.loads(trace_json)
    for inst in obj["insts"]:
        if "func_name" in inst["inputs"]:
            inst["inputs"]["func_name"] = None
    return json.dumps(obj)
