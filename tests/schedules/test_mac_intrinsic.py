"""The float32 register tile of the default matmul schedule as a tensor intrinsic."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.schedules import Schedule, as_written
from mlc.schedules.intrinsics import MAC_F32
from mlc.schedules.intrinsics.x86 import mac_f32_name


def matmul(m, n, k):
    A = te.placeholder((m, k), "float32", name="A")
    B = te.placeholder((k, n), "float32", name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


@settings(max_examples=6, deadline=None)
@given(tile=st.sampled_from(MAC_F32), tiles=st.tuples(st.integers(1, 2), st.integers(1, 2)), k=st.integers(1, 9))
def test_the_register_tile_intrinsic_equals_numpy(tile, tiles, k):
    mr, nr = tile
    m, n = mr * tiles[0], nr * tiles[1]
    sch = Schedule(matmul(m, n, k))
    block = sch.get_block("C")
    i, j, kk = sch.get_loops(block)
    i0, i1 = sch.split(i, [None, mr])
    j0, j1 = sch.split(j, [None, nr])
    sch.reorder(i0, j0, kk, i1, j1)
    sch.decompose_reduction(block, kk)
    sch.tensorize(i1, mac_f32_name(mr, nr))
    text = sch.mod.script()
    assert f"for i in T.unroll({mr}):" in text and f"for j in T.vectorized({nr}):" in text
    rng = np.random.default_rng(k)
    a, b = rng.standard_normal((m, k), dtype="float32"), rng.standard_normal((k, n), dtype="float32")
    c = np.full((m, n), np.nan, "float32")
    mlc.build(sch.mod, "llvm", schedule=as_written)["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)


def test_a_tile_of_another_size_is_refused_with_the_loop_named():
    sch = Schedule(matmul(8, 16, 4))
    block = sch.get_block("C")
    i, j, kk = sch.get_loops(block)
    i0, i1 = sch.split(i, [None, 8])
    sch.reorder(i0, j, kk, i1)
    sch.decompose_reduction(block, kk)
    with pytest.raises(mlc.ScheduleError, match=r"block 'C_update_o', intrinsic 'x86_mac_4x16_f32': .*"
                                                r"the block has 1 loop\(s\) inside, the description 2"):
        sch.tensorize(i1, mac_f32_name(4, 16))
