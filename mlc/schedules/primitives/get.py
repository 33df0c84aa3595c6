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
        """The block called ``name`` in function ``func_name`` (which may be left out when
        the module has one function, or has ``main``).

        No such block, or an ambiguous or unknown ``func_name``, is a
        :class:`~mlc.ScheduleError`. The handle follows the block through primitives
        that rename it.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage(4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), C: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((4,))
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] * T.float32(2)
            for i in range(4):
                with T.block("C"):
                    vi = T.axis.spatial(4, i)
                    T.reads(B[vi])
                    T.writes(C[vi])
                    C[vi] = B[vi] + T.float32(1)
        >>> block = sch.get_block("C")
        >>> print(sch.trace)
        def apply_schedule(sch):
            b0 = sch.get_block(name='C', func_name=None)
        """
        fname = self._func_name(func_name, "get_block")
        find_block(self._mod[fname], name, "get_block")
        return self._block_rv(fname, name)

    @instruction
    def get_loops(self, block: BlockRV) -> list[LoopRV]:
        """The loops above ``block``, outermost first, up to its parent block.

        A handle that is not a block of this schedule is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.scale_2d(2, 4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((2, 4), "float32"), B: T.Buffer((2, 4), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i, j in T.grid(2, 4):
                with T.block("B"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    T.reads(A[vi, vj])
                    T.writes(B[vi, vj])
                    B[vi, vj] = A[vi, vj] * T.float32(2)
        >>> i, j = sch.get_loops(sch.get_block("B"))
        >>> print(sch.trace)
        def apply_schedule(sch):
            b0 = sch.get_block(name='B', func_name=None)
            l1, l2 = sch.get_loops(block=b0)
        """
        fname, _, loc = self._block(block, "get_loops")
        return [self._loop_rv(fname, f.loop_var) for f in loops_above(loc)]

    @instruction
    def get_child_blocks(self, block_or_loop) -> list[BlockRV]:
        """The blocks directly inside a block or loop, in program order.

        A handle that is not a block or loop of this schedule is a
        :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage(4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), C: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((4,))
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] * T.float32(2)
            for i in range(4):
                with T.block("C"):
                    vi = T.axis.spatial(4, i)
                    T.reads(B[vi])
                    T.writes(C[vi])
                    C[vi] = B[vi] + T.float32(1)
        >>> (i,) = sch.get_loops(sch.get_block("C"))
        >>> (block,) = sch.get_child_blocks(i)
        >>> print(sch.trace)
        def apply_schedule(sch):
            b0 = sch.get_block(name='C', func_name=None)
            l1, = sch.get_loops(block=b0)
            b2, = sch.get_child_blocks(block_or_loop=l1)
        """
        if isinstance(block_or_loop, LoopRV):
            fname, _, loc = self._loop(block_or_loop, "get_child_blocks")
        else:
            fname, _, loc = self._block(block_or_loop, "get_child_blocks")
        return [self._block_rv(fname, r.block.name_hint) for r in child_blocks(loc.node)]

    @instruction
    def get_producers(self, block: BlockRV) -> list[BlockRV]:
        """The blocks before ``block`` in its scope that write a buffer it reads.

        A handle that is not a block of this schedule is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage(4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), C: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((4,))
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] * T.float32(2)
            for i in range(4):
                with T.block("C"):
                    vi = T.axis.spatial(4, i)
                    T.reads(B[vi])
                    T.writes(C[vi])
                    C[vi] = B[vi] + T.float32(1)
        >>> (producer,) = sch.get_producers(sch.get_block("C"))
        >>> print(sch.trace)
        def apply_schedule(sch):
            b0 = sch.get_block(name='C', func_name=None)
            b1, = sch.get_producers(block=b0)
        """
        fname, func, loc = self._block(block, "get_producers")
        return [self._block_rv(fname, n) for n in _names(producers_of(func, loc.node))]

    @instruction
    def get_consumers(self, block: BlockRV) -> list[BlockRV]:
        """The blocks after ``block`` that read a buffer it writes.

        A handle that is not a block of this schedule is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage(4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), C: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((4,))
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] * T.float32(2)
            for i in range(4):
                with T.block("C"):
                    vi = T.axis.spatial(4, i)
                    T.reads(B[vi])
                    T.writes(C[vi])
                    C[vi] = B[vi] + T.float32(1)
        >>> (consumer,) = sch.get_consumers(sch.get_block("B"))
        >>> print(sch.trace)
        def apply_schedule(sch):
            b0 = sch.get_block(name='B', func_name=None)
            b1, = sch.get_consumers(block=b0)
        """
        fname, func, loc = self._block(block, "get_consumers")
        return [self._block_rv(fname, n) for n in _names(consumers_of(func, loc.node))]
