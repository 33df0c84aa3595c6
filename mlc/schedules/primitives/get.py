"""Getting handles: get_block, get_loops, get_child_blocks, get_producers, get_consumers."""
from __future__ import annotations

from ...ir.tir import BlockRealize
from ..base import BlockRV, LoopRV, ScheduleBase, instruction
from ..state import all_blocks, child_blocks, find_block, loops_above

__all__ = ["GetPrimitives", "producers_of", "consumers_of"]


def _names(realizes) -> list[str]:
    return [r.block.name_hint for r in realizes]


def producers_of(func, realize: BlockRealize) -> list[BlockRealize]:
    """Blocks in the same scope, before ``realize``, that write a buffer it reads."""
    reads = {id(r.buffer) for r in realize.block.reads}
    out = []
    for loc in all_blocks(func):
        other = loc.node
        if other is realize:
            break
        if any(id(w.buffer) in reads for w in other.block.writes):
            out.append(other)
    return out


def consumers_of(func, realize: BlockRealize) -> list[BlockRealize]:
    """Blocks after ``realize`` that read a buffer it writes."""
    writes = {id(w.buffer) for w in realize.block.writes}
    out, seen = [], False
    for loc in all_blocks(func):
        other = loc.node
        if other is realize:
            seen = True
            continue
        if seen and any(id(r.buffer) in writes for r in other.block.reads):
            out.append(other)
    return out


class GetPrimitives(ScheduleBase):

    @instruction
    def get_block(self, name: str, func_name: str | None = None) -> BlockRV:
        """The block called ``name`` in function ``func_name`` (the only one by default)."""
        fname = self._func_name(func_name, "get_block")
        find_block(self._mod[fname], name, "get_block")
        return self._block_rv(fname, name)

    @instruction
    def get_loops(self, block: BlockRV) -> list[LoopRV]:
        """The loops above ``block``, outermost first, up to its parent block."""
        fname, _, loc = self._block(block, "get_loops")
        return [self._loop_rv(fname, f.loop_var) for f in loops_above(loc)]

    @instruction
    def get_child_blocks(self, block_or_loop) -> list[BlockRV]:
        """The blocks directly inside a block or loop, in program order."""
        if isinstance(block_or_loop, LoopRV):
            fname, _, loc = self._loop(block_or_loop, "get_child_blocks")
        else:
            fname, _, loc = self._block(block_or_loop, "get_child_blocks")
        return [self._block_rv(fname, r.block.name_hint) for r in child_blocks(loc.node)]

    @instruction
    def get_producers(self, block: BlockRV) -> list[BlockRV]:
        """Blocks that write what ``block`` reads, before it."""
        fname, func, loc = self._block(block, "get_producers")
        return [self._block_rv(fname, n) for n in _names(producers_of(func, loc.node))]

    @instruction
    def get_consumers(self, block: BlockRV) -> list[BlockRV]:
        """Blocks that read what ``block`` writes, after it."""
        fname, func, loc = self._block(block, "get_consumers")
        return [self._block_rv(fname, n) for n in _names(consumers_of(func, loc.node))]
