"""blockize divides each binding into ``outer * factor + inner``, or refuses.

A binding whose outer part is not a multiple of the tile (``j_0 * 3 + j_1``
over a 4-wide ``j_1``: tiles overlap) has no outer iterator and is refused;
a constant offset splits into the tile's multiple (outer) and its remainder
(inner), and the result computes the same.
"""
import pytest

from mlc import ScheduleError
from mlc.ir import const, decl_buffer
from mlc.ir.tir import BufferStore
from mlc.schedules import Schedule

from .block_programs import V, assert_same_numerics, block, func, loops, module


def tiled(step, offset, tiles=2, width=4):
    """``B[vj] = A[vj] * 2`` with ``vj = j_0 * step + j_1 + offset``."""
    size = (tiles - 1) * step + width + offset
    A, B = decl_buffer((size,), "float32", "A"), decl_buffer((size,), "float32", "B")
    j0, j1 = V("j_0"), V("j_1")
    b = block("B", [("vj", size, "S")], (j0 * step + j1 + offset,),
              lambda vj: BufferStore(B, A[vj] * const(2.0, "float32"), (vj,)))
    return module(func((A, B), (), loops([(j0, tiles), (j1, width)], b)))


@pytest.mark.parametrize("step", [3, 5, 6])
def test_a_binding_that_is_not_outer_times_factor_plus_inner_is_refused(step):
    sch = Schedule(tiled(step, 0))
    _, j1 = sch.get_loops(sch.get_block("B"))
    with pytest.raises(ScheduleError, match=r"is not `outer \* 4 \+ inner`"):
        sch.blockize(j1)


@pytest.mark.parametrize("offset", [1, 4, 5, 7])
def test_a_constant_offset_splits_into_tile_and_remainder(offset):
    sch = Schedule(tiled(4, offset))
    _, j1 = sch.get_loops(sch.get_block("B"))
    sch.blockize(j1)
    if offset >= 4:  # the multiple of the tile moves to the outer iterator
        assert f"j_0 + {offset // 4}" in sch.mod.script()
    assert_same_numerics(tiled(4, offset), sch.mod)
