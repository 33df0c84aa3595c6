"""storage_align: pad an allocated buffer's rows so a dimension's stride is aligned.

``storage_align(block, buffer_index, axis, factor, offset)`` gives the
``buffer_index``-th buffer ``block`` writes explicit strides such that
``stride[axis] % factor == offset`` (the usual trick against shared-memory bank
conflicts). Every use of the buffer is replaced by the strided one and the
request is recorded in the block's ``buffer_dim_align`` annotation, so
alignments of several axes combine::

    A_shared = T.alloc_buffer((64, 64), scope="shared")
        -> storage_align(b, 0, axis=0, factor=32, offset=8) ->
    A_shared = T.alloc_buffer((64, 64), strides=(72, 1), scope="shared")
"""
from __future__ import annotations

from dataclasses import replace as dc_replace

from ...ir.buffer import DIM_ALIGN, Buffer, aligned_strides
from ...ir.expr import IntImm, const
from ...ir.tir import PrimFunc
from ..analysis import is_param
from ..base import ScheduleBase, instruction, schedule_error
from ..edit import replace_buffers
from ..state import find_block, replace

__all__ = ["LayoutPrimitives", "storage_align_ir", "aligned_strides"]

ANNOTATION = DIM_ALIGN


def storage_align_ir(func: PrimFunc, block: str, buffer_index: int, axis: int, factor: int,
                     offset: int) -> PrimFunc:
    """Align ``stride[axis]`` of the ``buffer_index``-th buffer ``block`` writes."""
    prim = "storage_align"
    loc = find_block(func, block, prim)
    realize = loc.node
    blk = realize.block
    writes = blk.writes
    if isinstance(buffer_index, bool) or not isinstance(buffer_index, int) or not 0 <= buffer_index < len(writes):
        listed = ", ".join(w.buffer.name for w in writes) or "none"
        raise schedule_error(prim, f"block {block!r}: buffer_index {buffer_index!r} is out of range; the "
                             f"block writes {len(writes)} buffer(s) ({listed})", func, realize)
    buf: Buffer = writes[buffer_index].buffer
    if is_param(func, buf):
        raise schedule_error(prim, f"block {block!r}: {buf.name} is a function parameter; its layout "
                             "belongs to the caller (align an allocated buffer, e.g. a cache_read copy)",
                             func, realize)
    if not all(isinstance(e, IntImm) for e in buf.shape):
        raise schedule_error(prim, f"block {block!r}: {buf.name} has a symbolic shape", func, realize)
    ndim = buf.ndim
    if isinstance(axis, bool) or not isinstance(axis, int) or not -ndim <= axis < ndim:
        raise schedule_error(prim, f"block {block!r}: axis {axis!r} is out of range for the {ndim}-d "
                             f"buffer {buf.name}")
    for label, value in (("factor", factor), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise schedule_error(prim, f"block {block!r}: {label} must be an int, got {value!r}")
    if factor <= 0 or not 0 <= offset < factor:
        raise schedule_error(prim, f"block {block!r}: need factor > 0 and 0 <= offset < factor, got "
                             f"factor={factor}, offset={offset}")
    axis %= ndim
    entries = dict(((e[0], e[1]), e) for e in dict(blk.annotations).get(ANNOTATION, ()))
    entries[(buffer_index, axis)] = (buffer_index, axis, factor, offset)
    entries = tuple(entries[k] for k in sorted(entries))
    aligns = {a: (f, o) for b, a, f, o in entries if b == buffer_index}
    strides = aligned_strides(buf.static_shape(), aligns)
    new_buf = dc_replace(buf, strides=tuple(const(s) for s in strides))
    annotations = tuple((k, v) for k, v in blk.annotations if k != ANNOTATION) + ((ANNOTATION, entries),)
    func = replace(func, realize, dc_replace(realize, block=dc_replace(blk, annotations=annotations)))
    return func.with_body(replace_buffers(func.body, {id(buf): new_buf}))


class LayoutPrimitives(ScheduleBase):

    @instruction
    def storage_align(self, block, buffer_index: int, axis: int, factor: int, offset: int) -> None:
        """Pad the ``buffer_index``-th buffer ``block`` writes so that
        ``stride[axis] % factor == offset`` (to avoid cache or bank conflicts).

        A function parameter (its layout belongs to the caller), a symbolic shape,
        an index or axis out of range, or ``factor``/``offset`` outside
        ``factor > 0, 0 <= offset < factor`` is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage_2d(2, 4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((2, 4), "float32"), C: T.Buffer((2, 4), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((2, 4))
            for i, j in T.grid(2, 4):
                with T.block("B"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    T.reads(A[vi, vj])
                    T.writes(B[vi, vj])
                    B[vi, vj] = A[vi, vj] * T.float32(2)
            for i, j in T.grid(2, 4):
                with T.block("C"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    T.reads(B[vi, vj])
                    T.writes(C[vi, vj])
                    C[vi, vj] = B[vi, vj] + T.float32(1)
        >>> sch.storage_align(sch.get_block("B"), 0, axis=0, factor=8, offset=1)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((2, 4), "float32"), C: T.Buffer((2, 4), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((2, 4), strides=(9, 1))
            for i, j in T.grid(2, 4):
                with T.block("B"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    T.reads(A[vi, vj])
                    T.writes(B[vi, vj])
                    T.block_attr({"buffer_dim_align": ((0, 0, 8, 1),)})
                    B[vi, vj] = A[vi, vj] * T.float32(2)
            for i, j in T.grid(2, 4):
                with T.block("C"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    T.reads(B[vi, vj])
                    T.writes(C[vi, vj])
                    C[vi, vj] = B[vi, vj] + T.float32(1)
        """
        fname, func, loc = self._block(block, "storage_align")
        self._commit(fname, storage_align_ir(func, loc.node.block.name_hint, buffer_index, axis,
                                             factor, offset))
