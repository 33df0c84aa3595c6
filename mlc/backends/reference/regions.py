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
    unit by unit puts every access of ``s`` first, so two accesses to one
    element, one a write, with ``p > q`` would be reordered: that raises
    NotVectorizable. Per element we keep the latest position any earlier unit
    accessed it from, and wrote it from.
    """

    def __init__(self, written: frozenset):
        self.written = written
        self.accessed: dict[int, np.ndarray] = {}  # id(array) -> max position per element
        self.wrote: dict[int, np.ndarray] = {}
        self.keep: list[np.ndarray] = []
        self.pending: list = []

    def next_unit(self) -> None:
        """Make the accesses of the unit that just ran visible to later units."""
        for arr, flat, pos, write in self.pending:
            np.maximum.at(self._latest(self.accessed, arr), flat, pos)
            if write:
                np.maximum.at(self._latest(self.wrote, arr), flat, pos)
        self.pending.clear()

    def _latest(self, table: dict, arr: np.ndarray) -> np.ndarray:
        out = table.get(id(arr))
        if out is None:
            out = table[id(arr)] = np.full(arr.size, -1, np.int64)
            self.keep.append(arr)
        return out

    def access(self, buffer: Buffer, arr: np.ndarray, flat, ctx: Ctx, write: bool) -> None:
        if id(buffer) not in self.written:
            return
        f, low, high = position_bounds(ctx, flat, ctx.chain_positions)
        earlier = (self.accessed if write else self.wrote).get(id(arr))
        if earlier is not None and (earlier[f] > low).any():
            raise NotVectorizable
        self.pending.append((arr, f, high, write))
