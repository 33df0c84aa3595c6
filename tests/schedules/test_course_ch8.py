"""The MLC course's chapter 8 (tensorization), replayed cell by cell on the CPU.

The course's program is a 1024^3 ``C = A @ B.T``; the replay uses 64^3 with the
course's 16x16x16 tiles, so the printed IR has the course's shape with smaller
loop extents. The course's implementation calls an external C function
``tmm16``; here it is a TensorIR loop nest (the CPU has no such function), so
each step is checked against NumPy.
"""
import numpy as np
import pytest

import mlc
from mlc import ScheduleError
from mlc.schedules import Schedule, TensorIntrin
from mlc.schedules.apply import as_written
from mlc.script import ir as I
from mlc.script import tir as T

from examples.ch8_tensorized_matmul import fill16_desc, fill16_impl, tmm16_desc, tmm16_impl

from .block_programs import assert_replays

N, TILE = 64, 16


@I.ir_module
class MatmulModule:
    @T.prim_func
    def main(A: T.Buffer((64, 64), "float32"), B: T.Buffer((64, 64), "float32"),
             C: T.Buffer((64, 64), "float32")) -> None:
        T.func_attr({"global_symbol": "main", "tir.noalias": True})
        for i, j, k in T.grid(64, 64, 64):
            with T.block("matmul"):
                vi, vj, vk = T.axis.remap("SSR", [i, j, k])
                with T.init():
                    C[vi, vj] = T.float32(0)
                C[vi, vj] += A[vi, vk] * B[vj, vk]


TensorIntrin.register("course_tmm16", tmm16_desc, tmm16_impl, override=True)
TensorIntrin.register("course_fill16", fill16_desc, fill16_impl, override=True)


def lnumpy_tmm(A: np.ndarray, B: np.ndarray, C: np.ndarray):
    """The course's blocked matmul in NumPy: 16x16 tiles, a 16x16x16 tile product."""
    for i0 in range(N // TILE):
        for j0 in range(N // TILE):
            tile = np.zeros((TILE, TILE), "float32")
            for k0 in range(N // TILE):
                ai = A[i0 * TILE:(i0 + 1) * TILE, k0 * TILE:(k0 + 1) * TILE]
                bj = B[j0 * TILE:(j0 + 1) * TILE, k0 * TILE:(k0 + 1) * TILE]
                tile += ai @ bj.T
            C[i0 * TILE:(i0 + 1) * TILE, j0 * TILE:(j0 + 1) * TILE] = tile


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((N, N), dtype="float32")
    b = rng.standard_normal((N, N), dtype="float32")
    return a, b, a @ b.T


def run(mod, a, b):
    c = np.full((N, N), np.nan, "float32")
    mlc.build(mod, "llvm", schedule=as_written)["main"](a, b, c)
    return c


def test_lnumpy_tmm_is_a_matmul(arrays):
    a, b, want = arrays
    c = np.empty((N, N), "float32")
    lnumpy_tmm(a, b, c)
    np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-4)


def course_schedule():
    sch = Schedule(MatmulModule)
    i, j, k = sch.get_loops(sch.get_block("matmul"))
    i, ii = sch.split(i, factors=[None, 16])
    j, ji = sch.split(j, factors=[None, 16])
    k, ki = sch.split(k, factors=[None, 16])
    sch.reorder(i, j, k, ii, ji, ki)
    return sch, (i, j, k, ii)


def test_blockize_prints_the_course_shape(arrays):
    sch, (*_, ii) = course_schedule()
    sch.blockize(ii)
    text = sch.mod.script()
    for line in ('for i_0, j_0, k_0 in T.grid(4, 4, 4):',
                 'with T.block("matmul_o"):',
                 'vi_o, vj_o, vk_o = T.axis.remap("SSR", [i_0, j_0, k_0])',
                 'T.reads(A[vi_o * 16:vi_o * 16 + 16, vk_o * 16:vk_o * 16 + 16], '
                 'B[vj_o * 16:vj_o * 16 + 16, vk_o * 16:vk_o * 16 + 16])',
                 'with T.init():',
                 'for i_1, j_1 in T.grid(16, 16):',
                 'with T.block("matmul_init"):',
                 'vi_i_init, vj_i_init = T.axis.remap("SS", [i_1, j_1])',
                 'C[vi_o * 16 + vi_i_init, vj_o * 16 + vj_i_init] = T.float32(0)',
                 'for i_1, j_1, k_1 in T.grid(16, 16, 16):',
                 'vi_i, vj_i, vk_i = T.axis.remap("SSR", [i_1, j_1, k_1])',
                 'C[vi_o * 16 + vi_i, vj_o * 16 + vj_i] = C[vi_o * 16 + vi_i, vj_o * 16 + vj_i] + '
                 'A[vi_o * 16 + vi_i, vk_o * 16 + vk_i] * B[vj_o * 16 + vj_i, vk_o * 16 + vk_i]'):
        assert line in text, line
    # the init is the outer block's, not the inner one's
    assert text.index("with T.init():") < text.index("for i_1, j_1, k_1")
    a, b, want = arrays
    np.testing.assert_allclose(run(sch.mod, a, b), want, rtol=1e-4, atol=1e-4)


def test_the_course_sequence_tensorizes_the_update_and_the_init(arrays):
    a, b, want = arrays
    sch, (i, j, k, ii) = course_schedule()
    block_mm = sch.blockize(ii)
    A_reg = sch.cache_read(block_mm, 0, storage_scope="global.A_reg")
    B_reg = sch.cache_read(block_mm, 1, storage_scope="global.B_reg")
    sch.compute_at(A_reg, k)
    sch.compute_at(B_reg, k)
    write_back_block = sch.cache_write(block_mm, 0, storage_scope="global.accumulator")
    sch.reverse_compute_at(write_back_block, j)
    text = sch.mod.script()
    assert 'A_global_A_reg = T.alloc_buffer((64, 64), scope="global.A_reg")' in text
    assert 'with T.block("C_global.accumulator"):' in text
    np.testing.assert_allclose(run(sch.mod, a, b), want, rtol=1e-4, atol=1e-4)

    init = sch.decompose_reduction(block_mm, k)
    text = sch.mod.script()
    assert 'with T.block("matmul_o_init"):' in text and 'with T.block("matmul_o_update"):' in text
    np.testing.assert_allclose(run(sch.mod, a, b), want, rtol=1e-4, atol=1e-4)

    sch.tensorize(block_mm, "course_tmm16")
    sch.tensorize(init, "course_fill16")
    text = sch.mod.script()
    assert "for j in T.vectorized(16):" in text and "for j in T.unroll(16):" in text
    assert 'with T.block("matmul")' not in text and 'with T.block("matmul_init")' not in text
    np.testing.assert_allclose(run(sch.mod, a, b), want, rtol=1e-4, atol=1e-4)
    assert_replays(sch, lambda: MatmulModule)


def test_an_update_intrinsic_refuses_the_block_that_still_has_its_init():
    sch, (i, j, k, ii) = course_schedule()
    block_mm = sch.blockize(ii)
    for n, scope in enumerate(("global.A_reg", "global.B_reg")):
        sch.compute_at(sch.cache_read(block_mm, n, storage_scope=scope), k)
    sch.reverse_compute_at(sch.cache_write(block_mm, 0, storage_scope="global.accumulator"), j)
    with pytest.raises(ScheduleError, match=r"block 'matmul_o', intrinsic 'course_tmm16': .*block 'matmul_o' has "
                                            r"T.init\(\) but the description does not.*decompose_reduction"):
        sch.tensorize(block_mm, "course_tmm16")


def test_the_description_names_the_scopes_it_needs():
    sch, (i, j, k, ii) = course_schedule()
    block_mm = sch.blockize(ii)
    sch.decompose_reduction(block_mm, k)
    with pytest.raises(ScheduleError, match=r"block 'matmul_o_update', intrinsic 'course_tmm16': .*buffer C "
                                            r"is in scope 'global' but the description's C needs "
                                            r"'global.accumulator'"):
        sch.tensorize(block_mm, "course_tmm16")


def test_an_init_intrinsic_matches_only_an_init():
    sch, (i, j, k, ii) = course_schedule()
    block_mm = sch.blockize(ii)
    sch.reverse_compute_at(sch.cache_write(block_mm, 0, storage_scope="global.accumulator"), j)
    init = sch.decompose_reduction(block_mm, k)
    with pytest.raises(ScheduleError, match=r"block 'matmul_o_update', intrinsic 'course_fill16': .*"
                                            r"the block has 3 loop\(s\) inside, the description 2"):
        sch.tensorize(block_mm, "course_fill16")
    with pytest.raises(ScheduleError, match=r"block 'matmul_o_init', intrinsic 'course_tmm16': .*"
                                            r"the block has 2 loop\(s\) inside, the description 3"):
        sch.tensorize(init, "course_tmm16")
