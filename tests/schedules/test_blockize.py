"""blockize: golden IR, reductions keep their init, errors, replay, numerics."""
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import ScheduleError, te
from mlc.ir import decl_buffer, const
from mlc.ir.tir import BufferStore
from mlc.schedules import Schedule

from .block_programs import (V, assert_replays, assert_same_numerics, block, course_module, func,
                             loops, module)


def double(n=32):
    A = te.placeholder((n,), "float32", name="A")
    B = te.compute((n,), lambda i: A[i] * 2, name="B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def test_blockize_golden():
    sch = Schedule(double())
    (i,) = sch.get_loops(sch.get_block("B"))
    _, i1 = sch.split(i, factors=[8, 4])
    outer = sch.blockize(i1)
    assert sch._blocks[outer][1] == "B_o"
    A, B = decl_buffer((32,), "float32", "A"), decl_buffer((32,), "float32", "B")
    i0, i1v = V("i_0"), V("i_1")

    def inner_nest(vi_o):  # the inner iterator is rebased to the tile: vi = vi_o * 4 + vi_i
        return loops([(i1v, 4)], block("B", [("vi_i", 4, "S")], (i1v,),
                                       lambda vi_i: BufferStore(B, A[vi_o * 4 + vi_i] * const(2.0, "float32"),
                                                                (vi_o * 4 + vi_i,))))

    outer_block = block("B_o", [("vi_o", 8, "S")], (i0,), inner_nest,
                        reads=lambda vo: (A[vo * 4:vo * 4 + 4],), writes=lambda vo: (B[vo * 4:vo * 4 + 4],))
    mlc.assert_structural_equal(sch.mod, module(func((A, B), (), loops([(i0, 8)], outer_block))))
    assert_same_numerics(double(), sch.mod)
    assert_replays(sch, double)


@settings(max_examples=8, deadline=None)
@given(n=st.sampled_from([4, 6, 8]), factor=st.sampled_from([2, 3]), decompose=st.booleans())
def test_blockize_a_reduction_tile_keeps_numerics(n, factor, decompose):
    sch = Schedule(course_module(n))
    block_Y = sch.get_block("Y")
    i, j, k = sch.get_loops(block_Y)
    if decompose:
        sch.decompose_reduction(block_Y, k)
    k0, k1 = sch.split(k, factors=[None, factor])
    outer = sch.blockize(k1)
    assert len(sch.get_loops(outer)) == 3
    assert_same_numerics(course_module(n), sch.mod, rtol=1e-4)


def test_blockize_the_whole_nest():
    sch = Schedule(course_module(4))
    i, _, _ = sch.get_loops(sch.get_block("Y"))
    outer = sch.blockize(i)
    assert sch.get_loops(outer) == []
    assert "T.reads(A[0:4, 0:4], B[0:4, 0:4])" in sch.mod.script()
    assert_same_numerics(course_module(4), sch.mod)


def test_blockize_errors():
    sch = Schedule(course_module(4))
    i, j, _ = sch.get_loops(sch.get_block("Y"))
    sch.reverse_compute_at(sch.get_block("C"), i)
    with pytest.raises(ScheduleError, match=r"blockize: loop 'i': blockize needs exactly one block under "
                                            r"the loop, found \['Y', 'C'\]"):
        sch.blockize(i)
    fused = Schedule(mlc.IRModule({"main": _two_d()}))
    a, b = fused.get_loops(fused.get_block("B"))
    f = fused.fuse(a, b)
    _, f1 = fused.split(f, factors=[None, 4])
    with pytest.raises(ScheduleError, match="mixes loops inside and outside it non-affinely"):
        fused.blockize(f1)


def _two_d():
    A = te.placeholder((3, 5), "float32", name="A")
    B = te.compute((3, 5), lambda i, j: A[i, j] + 1, name="B")
    return te.create_prim_func([A, B])


def test_blockize_a_ragged_tile_keeps_its_predicate():
    sch = Schedule(double(12))
    (i,) = sch.get_loops(sch.get_block("B"))
    _, i1 = sch.split(i, factors=[None, 5])
    sch.blockize(i1)
    text = sch.mod.script()
    assert "vi_o = T.axis.spatial(3, i_0)" in text and "T.where(vi_o * 5 + i_1 < 12)" in text
    assert_same_numerics(double(12), sch.mod)


def test_blockize_under_a_non_divisible_split_guards_the_outer_block():
    """The split's predicate uses only loops outside the new block, so it guards the new
    block too: a cache stage added inside it later must not run past the edge."""
    sch = Schedule(course_module(1, m=2, k=3))
    i, j, k = sch.get_loops(sch.get_block("Y"))
    i_0, i_1 = sch.split(i, factors=[None, 2])
    sch.blockize(i_1)
    _, j, _ = sch.get_loops(sch.get_block("Y"))  # i_1, j, k: under the first new block
    sch.blockize(j)
    from mlc.schedules.state import find_block
    guard = find_block(sch.mod["mm_relu"], "Y_o_1").node.predicate
    assert "i_1" in str(guard) and "< 1" in str(guard)
    sch.cache_write(sch.get_block("Y"), 0, "local")
    assert_same_numerics(course_module(1, m=2, k=3), sch.mod, rtol=1e-4)


def test_blockize_keeps_unit_outer_iterators_of_a_spatial_block():
    """As TVM's blockize: an iterator bound to the loops inside only gets an outer
    iterator over one value, so the outer block still names every dimension."""
    sch = Schedule(mlc.IRModule({"main": _two_d()}))
    a, b = sch.get_loops(sch.get_block("B"))
    outer = sch.blockize(b)
    text = sch.mod.script()
    assert "vi_o = T.axis.spatial(3, i)" in text and "vj_o = T.axis.spatial(1, 0)" in text
    assert "T.writes(B[vi_o, 0:5])" in text
    assert sch._blocks[outer][1] == "B_o"
    assert_same_numerics(mlc.IRModule({"main": _two_d()}), sch.mod)
