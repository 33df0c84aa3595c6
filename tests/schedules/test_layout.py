"""storage_align: golden IR, combined alignments, errors, replay, numerics."""
from dataclasses import replace

import pytest

import mlc
from mlc import ScheduleError, te
from mlc.ir import const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BlockRealize
from mlc.schedules import Schedule
from mlc.schedules.primitives.layout import aligned_strides

from .block_programs import assert_replays, assert_same_numerics, elementwise_chain


def test_storage_align_golden():
    sch = Schedule(elementwise_chain(6, 10))
    sch.storage_align(sch.get_block("B"), 0, 0, 16, 4)
    before = elementwise_chain(6, 10)["main"]
    B = before.root_block.alloc_buffers[0]
    B_aligned = replace(B, strides=(const(20), const(1)))
    expected = _replace_buffer(before, B, B_aligned)
    realize = next(n for n in pre_order_nodes(expected.body)
                   if isinstance(n, BlockRealize) and n.block.name_hint == "B")
    from mlc.schedules.state import replace as replace_node
    annotated = replace(realize, block=replace(realize.block, annotations=(("buffer_dim_align", ((0, 0, 16, 4),)),)))
    expected = replace_node(expected, realize, annotated)
    mlc.assert_structural_equal(sch.mod, mlc.IRModule({"main": expected}))
    assert "B = T.alloc_buffer((6, 10), strides=(20, 1))" in sch.mod.script()
    assert_same_numerics(elementwise_chain(6, 10), sch.mod)
    assert_replays(sch, lambda: elementwise_chain(6, 10))


def _replace_buffer(func, old, new):
    from mlc.schedules.edit import replace_buffers
    return func.with_body(replace_buffers(func.body, {id(old): new}))


def test_alignments_of_several_axes_combine():
    def make():
        A = te.placeholder((3, 5, 7), "float32", name="A")
        B = te.compute((3, 5, 7), lambda i, j, k: A[i, j, k] + 1, name="B")
        C = te.compute((3, 5, 7), lambda i, j, k: B[i, j, k] * 2, name="C")
        return mlc.IRModule({"main": te.create_prim_func([A, C])})
    sch = Schedule(make())
    b = sch.get_block("B")
    sch.storage_align(b, 0, 1, 8, 1)
    sch.storage_align(b, 0, -3, 32, 0)
    sch.storage_align(b, 0, 1, 8, 3)  # re-aligning an axis replaces its request
    assert aligned_strides((3, 5, 7), {1: (8, 3), 0: (32, 0)}) == (64, 11, 1)
    assert "strides=(64, 11, 1)" in sch.mod.script()
    assert_same_numerics(make(), sch.mod)
    assert_replays(sch, make)


def test_storage_align_errors():
    sch = Schedule(elementwise_chain(4, 4))
    b, c = sch.get_block("B"), sch.get_block("C")
    with pytest.raises(ScheduleError, match=r"storage_align: block 'B': buffer_index 1 is out of range"):
        sch.storage_align(b, 1, 0, 16, 0)
    with pytest.raises(ScheduleError, match="C is a function parameter"):
        sch.storage_align(c, 0, 0, 16, 0)
    with pytest.raises(ScheduleError, match="axis 2 is out of range for the 2-d buffer B"):
        sch.storage_align(b, 0, 2, 16, 0)
    with pytest.raises(ScheduleError, match="need factor > 0 and 0 <= offset < factor"):
        sch.storage_align(b, 0, 0, 16, 16)
    with pytest.raises(ScheduleError, match="need factor > 0"):
        sch.storage_align(b, 0, 0, 0, 0)
