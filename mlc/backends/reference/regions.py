"""Regions: loops the interpreter runs as lanes, and the check that several
statements run one after another over all lanes still give serial order."""
from __future__ import annotations

import numpy as np

from ...ir.buffer import Buffer
from .analysis import RegionPlan
from .lanes import Ctx
from .memory import NotVectorizable, position_bounds

__all__ = ["Region", "Recorder"]


class Region:
    """A loop being run as lanes: its plan and, for several units, the recorder."""

    __slots__ = ("plan", "recorder")

    def __init__(self, plan: RegionPlan, recorder: Recorder | None):
        self.plan, self.recorder = plan, recorder


class Recorder:
    """Checks that running a region's units one after another equals serial order.

    Serial order runs unit ``s`` of lane ``p`` before unit ``t > s`` of lane
    ``q`` exactly when ``p <= q`` (positions along the region's chain). Running
    unit by unit puts every access of ``s`` first, so an access of ``t`` at
    ``q`` to an element that ``s`` touched from ``p > q``, one of the two a
    write, may see or leave another value: that raises NotVectorizable.

    Per element we keep the latest position an earlier unit accessed it from,
    and, for the last unit that wrote it, the position from which a read sees
    that unit's final value: its latest write, or its first one when every lane
    wrote the same bits (a *uniform* store, such as a cache filled again by
    each iteration of a loop its indices do not use).
    """

    def __init__(self, written: frozenset):
        self.written = written
        self.accessed: dict[int, np.ndarray] = {}  # id(array) -> latest position per element
        self.settled: dict[int, np.ndarray] = {}  # id(array) -> position reads may start from
        self.keep: list[np.ndarray] = []
        self.pending: list = []

    def _table(self, table: dict, arr: np.ndarray) -> np.ndarray:
        out = table.get(id(arr))
        if out is None:
            out = table[id(arr)] = np.full(arr.size, -1, np.int64)
            self.keep.append(arr)
        return out

    def access(self, buffer: Buffer, arr: np.ndarray, flat, ctx: Ctx, write: bool,
               uniform: bool = False) -> None:
        """Check one access of the running unit against the earlier units."""
        if id(buffer) not in self.written:
            return
        f, low, high = position_bounds(ctx, flat, ctx.chain_positions)
        earlier = (self.accessed if write else self.settled).get(id(arr))
        if earlier is not None and (earlier[f] > low).any():
            raise NotVectorizable
        self.pending.append((arr, f, low, high, write, uniform))

    def next_unit(self) -> None:
        """Make the accesses of the unit that just ran visible to later units."""
        writes: dict[int, list] = {}
        for arr, f, low, high, write, uniform in self.pending:
            np.maximum.at(self._table(self.accessed, arr), f, high)
            if write:
                writes.setdefault(id(arr), [arr]).append((f, low, high, uniform))
        for arr, *records in writes.values():
            self._settle(arr, records)
        self.pending.clear()

    def _settle(self, arr: np.ndarray, records: list) -> None:
        """Record, per element this unit wrote, where its final value becomes visible."""
        latest = np.full(arr.size, -1, np.int64)
        first = np.full(arr.size, np.iinfo(np.int64).max, np.int64)
        mixed = np.zeros(arr.size, bool)
        for f, low, high, uniform in records:
            np.maximum.at(latest, f, high)
            if uniform:
                np.minimum.at(first, f, low)
            else:
                mixed[f] = True
        touched = latest >= 0
        settled = self._table(self.settled, arr)
        settled[touched] = np.where(mixed, latest, first)[touched]
