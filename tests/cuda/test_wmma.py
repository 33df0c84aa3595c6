"""Tensor cores: float16 matmuls tensorized with the WMMA intrinsics, run on the emulator
against NumPy (float16 inputs, float32 accumulation) and compiled by NVRTC for sm_80
and sm_90; what the emulator cannot give a GPU's meaning to is refused."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.cuda import compile_sources, emulate, lower, render
from mlc.backends.gpu.emulator import Emulator
from mlc.backends.cuda.nvrtc import compile_cuda
from mlc.driver import schedule_module
from mlc.errors import MLCError, RaceError, ScheduleError
from mlc.ir.expr import Var, const
from mlc.ir.functor import Mutator, substitute
from mlc.ir.tir import IfThenElse
from mlc.ops.registry import get_op
from mlc.schedules import Schedule
from mlc.schedules.intrinsics.cuda import WMMA_LOAD_A, schedule_wmma_matmul

from .conftest import ARCHS, NVRTC_MISSING, TARGETS
from .programs import half_matmul as _matmul


def _tensor_core(m, n, k, warps=(2, 2)):
    sch = Schedule(_matmul(m, n, k))
    schedule_wmma_matmul(sch, "C", warps)
    return sch.mod


def _run(mod, a, b):
    c = np.full((a.shape[0], b.shape[1]), np.nan, "float32")
    emulate(mod)["main"](a, b, c)
    return c


@pytest.mark.parametrize("m, n, k, warps", [(64, 64, 64, (2, 2)), (128, 128, 64, (2, 4)), (32, 48, 16, (1, 3))])
def test_tensor_core_matmul_is_exact_on_small_integers(m, n, k, warps):
    rng = np.random.default_rng(0)
    a = rng.integers(-8, 9, (m, k)).astype("float16")
    b = rng.integers(-8, 9, (k, n)).astype("float16")
    np.testing.assert_array_equal(_run(_tensor_core(m, n, k, warps), a, b),
                                  a.astype("float32") @ b.astype("float32"))


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(64, 64, 64), (64, 32, 48)]))
def test_tensor_core_matmul_accumulates_float16_products_in_float32(seed, shape):
    m, n, k = shape
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((m, k)) * 4).astype("float16")
    b = (rng.standard_normal((k, n)) * 4).astype("float16")
    want = a.astype("float64") @ b.astype("float64")  # the float16 products are exact in float32
    got = _run(_tensor_core(m, n, k), a, b)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 * np.abs(want).max())
    # accumulating in float16 would be far off: the check above tells the two apart
    assert np.abs(got - (a @ b).astype("float64")).max() > np.abs(got - want).max()


@pytest.mark.parametrize("warps, fragments, k_fragments, variant, pipeline", [
    ((2, 4), (2, 2), 2, "wmma", False), ((1, 1), (2, 4), 2, "wmma", False), ((2, 2), (4, 2), 2, "mma", True),
    ((1, 1), (2, 2), 2, "wmma", True), ((2, 1), (1, 2), 1, "wmma", False)])
def test_warps_of_several_fragments_match_numpy_and_keep_their_own_accumulators(warps, fragments, k_fragments,
                                                                                variant, pipeline):
    """A warp computing fragments[0] x fragments[1] tiles reuses each fragment it loads; its
    accumulators are its own tiles (an array of fragments[0] * fragments[1], indexed by
    constants once the fragment loops are unrolled), not the block's."""
    m, n, k = 128, 128, 64
    sch = Schedule(_matmul(m, n, k))
    schedule_wmma_matmul(sch, "C", warps, variant=variant, pipeline=pipeline, fragments=fragments,
                         k_fragments=k_fragments)
    rng = np.random.default_rng(1)
    a = rng.integers(-8, 9, (m, k)).astype("float16")
    b = rng.integers(-8, 9, (k, n)).astype("float16")
    np.testing.assert_array_equal(_run(sch.mod, a, b), a.astype("float32") @ b.astype("float32"))
    if NVRTC_MISSING is None:
        code, _ = compile_sources(sch.mod, TARGETS["sm_90"])
        tiles = fragments[0] * fragments[1]
        assert (f"C_wmma_accumulator[{tiles}];" if variant == "wmma" else f"C_wmma_accumulator[{tiles}][8];") in code


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("m, n, k", [(64, 64, 64), (128, 128, 64)])
def test_tensor_core_matmul_compiles_with_nvrtc(arch, m, n, k):
    code, cubin = compile_sources(_tensor_core(m, n, k), TARGETS[arch])
    assert cubin[:4] == b"\x7fELF"
    assert "#include <mma.h>" in code
    for call in ("fill_fragment(", "load_matrix_sync(", "mma_sync(", "store_matrix_sync("):
        assert "nvcuda::wmma::" + call in code
    # one tile a warp: its own accumulator (not the block's four, indexed by the warp: local memory)
    assert "nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> C_wmma_accumulator[1];" in code
    assert "nvcuda::wmma::mem_row_major" in code


def test_fragment_elements_are_not_touched_by_threads():
    sch = Schedule(_matmul(32, 32, 16))
    c = sch.get_block("C")
    i, j, k = sch.get_loops(c)
    i0, i1 = sch.split(i, [None, 16])
    sch.bind(i0, "blockIdx.x")
    sch.bind(i1, "threadIdx.y")
    sch.compute_at(sch.cache_read(c, 0, "wmma.matrix_a"), i1)
    a = np.ones((32, 16), "float16")
    with pytest.raises(MLCError, match="fragment A_wmma_matrix_a.*only by the WMMA intrinsics"):
        _run(sch.mod, a, np.ones((16, 32), "float16"))


def test_a_wmma_call_by_part_of_a_warp_is_refused():
    sch = Schedule(_matmul(64, 64, 64))
    schedule_wmma_matmul(sch, "C")
    func = sch.mod["main"]

    class _HalfWarp(Mutator):  # the store made by lanes 0-15 of each warp only
        def visit_For(self, node):
            node = self.generic_visit(node)
            if node.kind == "thread_binding" and node.loop_var.name.startswith("ax0_0_ax1_0"):
                lane = Var("lane")
                return dataclasses.replace(node, loop_var=lane, extent=const(32), thread_binding="threadIdx.x",
                                           body=IfThenElse(lane < 16, node, None))
            return node
    bad = mlc.IRModule({"main": func.with_body(_HalfWarp().visit(func.body))})
    a, b = np.ones((64, 64), "float16"), np.ones((64, 64), "float16")
    with pytest.raises(MLCError, match="only 16 of the 32 threads of warp 0 of block .* make the call"):
        _run(bad, a, b)


def test_a_wmma_call_with_lane_dependent_addresses_is_refused():
    func = lower(_tensor_core(64, 64, 64))["main"]

    class _PerLane(Mutator):  # the init's fill under a threadIdx.x loop, its tile chosen per lane
        def visit_For(self, node):
            node = self.generic_visit(node)
            if node.kind == "thread_binding" and node.loop_var.name.endswith("_init"):
                lane = Var("lane")
                body = _Shift(lane).visit(node.body)
                return dataclasses.replace(node, body=dataclasses.replace(
                    node, loop_var=lane, extent=const(32), thread_binding="threadIdx.x", body=body))
            return node

    class _Shift(Mutator):
        def __init__(self, lane):
            super().__init__()
            self.lane = lane

        def visit_AddressOf(self, node):
            load = node.load
            return dataclasses.replace(node, load=dataclasses.replace(
                load, indices=((load.indices[0] + self.lane % 2 * 16) % load.buffer.shape[0].value,)))  # inside it

    bad = mlc.IRModule({"main": func.with_body(_PerLane().visit(func.body))})
    with pytest.raises(MLCError, match="threads of a warp pass different addresses of C_wmma_accumulator"):
        Emulator(bad["main"]).run([np.ones((64, 64), "float16"), np.ones((64, 64), "float16"),
                                   np.zeros((64, 64), "float32")])


def test_warps_storing_one_tile_race():
    func = lower(_tensor_core(64, 64, 64))["main"]

    class _SameTile(Mutator):  # every warp stores its accumulator to C's first tile
        def visit_For(self, node):
            node = self.generic_visit(node)
            if node.kind == "thread_binding" and node.loop_var.name.startswith("ax0_0_ax1_0"):
                return dataclasses.replace(node, body=_Zero(node.loop_var).visit(node.body))
            return node

    class _Zero(Mutator):
        def __init__(self, var):
            super().__init__()
            self.var = var

        def visit_AddressOf(self, node):
            if node.load.buffer.name != "C":
                return node
            return dataclasses.replace(node, load=substitute(node.load, {self.var: const(0)}))

    bad = mlc.IRModule({"main": func.with_body(_SameTile().visit(func.body))})
    c = np.zeros((64, 64), "float32")
    with pytest.raises(RaceError, match="data race on global buffer C"):
        Emulator(bad["main"]).run([np.ones((64, 64), "float16"), np.ones((64, 64), "float16"), c])


def test_wmma_load_needs_a_whole_tile():
    sch = Schedule(_matmul(64, 64, 64))
    c = sch.get_block("C")
    a_frag = sch.cache_read(c, 0, "wmma.matrix_a")
    i, j = sch.get_loops(a_frag)
    i0, i1 = sch.split(i, [None, 8])
    with pytest.raises(ScheduleError, match="wmma_load_a_16x16x16_f16"):
        sch.tensorize(i1, WMMA_LOAD_A)


def test_one_warp_per_block():
    a = np.arange(16 * 32).reshape(16, 32).astype("float16") % 7
    b = np.arange(32 * 16).reshape(32, 16).astype("float16") % 5
    np.testing.assert_array_equal(_run(_tensor_core(16, 16, 32, (1, 1)), a, b),
                                  a.astype("float32") @ b.astype("float32"))


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("warps", [(1, 1), (2, 2)])
def test_a_pipelined_tensor_core_matmul_runs_with_one_warp_or_several(warps):
    """One warp puts its fragment loads beside the fetches under the k loop: five stages to
    annotate, not three (the build refused the schedule)."""
    sch = Schedule(_matmul(64, 64, 64))
    schedule_wmma_matmul(sch, "C", warps, pipeline=True)
    a = np.arange(64 * 64).reshape(64, 64).astype("float16") % 7
    b = np.arange(64 * 64).reshape(64, 64).astype("float16") % 5
    np.testing.assert_array_equal(_run(sch.mod, a, b), a.astype("float32") @ b.astype("float32"))
    assert compile_sources(sch.mod, TARGETS["sm_80"])[1][:4] == b"\x7fELF"


@pytest.mark.parametrize("m, n, k, tensor_cores", [(64, 64, 64, True), (48, 80, 32, True), (16, 16, 16, True),
                                                   (64, 64, 40, False), (72, 64, 64, False)])
def test_default_cuda_schedule_uses_tensor_cores_for_float16_matmul(m, n, k, tensor_cores):
    mod = _matmul(m, n, k)
    assert ("mlc_wmma_sync_16x16x16_f16f32" in schedule_module(mod, "cuda")["main"].script()) == tensor_cores
    rng = np.random.default_rng(1)
    a = rng.integers(-6, 7, (m, k)).astype("float16")
    b = rng.integers(-6, 7, (k, n)).astype("float16")
    c = np.full((m, n), np.nan, "float32")
    mlc.build(mod, "cuda-emulator")["main"](a, b, c)
    np.testing.assert_array_equal(c, a.astype("float32") @ b.astype("float32"))


def test_float16_accumulation_is_not_tensorized_with_float32_accumulators():
    A, B = te.placeholder((32, 32), "float16", name="A"), te.placeholder((32, 32), "float16", name="B")
    r = te.reduce_axis((0, 32), name="k")
    C = te.compute((32, 32), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="C")
    mod = mlc.IRModule({"main": te.create_prim_func([A, B, C])})
    assert "mlc_wmma" not in schedule_module(mod, "cuda")["main"].script()
    with pytest.raises(ScheduleError):
        schedule_wmma_matmul(Schedule(mod), "C")


def test_a_misaligned_shared_tile_is_refused():
    sch = Schedule(_matmul(32, 32, 16))
    schedule_wmma_matmul(sch, "C", (2, 2), pad=False)
    sch.storage_align(sch.get_block("A_shared"), 0, 0, 16, 4)  # rows of 20 halves: 40 bytes
    a, b = np.ones((32, 16), "float16"), np.ones((16, 32), "float16")
    with pytest.raises(MLCError, match="multiple of 16 bytes"):
        _run(sch.mod, a, b)


@pytest.mark.parametrize("pad, a_size, b_size, ldm", [(True, 1256, 632, 40), (False, 512, 512, None)])
def test_shared_tiles_are_padded_against_bank_conflicts(pad, a_size, b_size, ldm):
    sch = Schedule(_matmul(64, 64, 64))
    schedule_wmma_matmul(sch, "C", (2, 2), pad=pad)
    lowered = lower(sch.mod)["main"]
    # one block's tiles, A's [32, 16] and B's [16, 32]; padded, rows 40 halves apart
    assert f'A_shared = T.allocate([{a_size}], "float16", "shared")' in lowered.script()  # 31 * 40 + 16
    assert f'B_shared = T.allocate([{b_size}], "float16", "shared")' in lowered.script()  # 15 * 40 + 32
    code = render(lowered).code
    if ldm is not None:
        assert code.count(f", {ldm});") == 2  # both fragment loads read rows ldm halves apart
    for arch in ARCHS if NVRTC_MISSING is None else ():
        compile_sources(sch.mod, TARGETS[arch])
    rng = np.random.default_rng(2)
    a = rng.integers(-4, 5, (64, 64)).astype("float16")
    b = rng.integers(-4, 5, (64, 64)).astype("float16")
    np.testing.assert_array_equal(_run(sch.mod, a, b), a.astype("float32") @ b.astype("float32"))


def _batch_matmul(batch, m, n, k):
    A = te.placeholder((batch, m, k), "float16", name="A")
    B = te.placeholder((batch, k, n), "float16", name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((batch, m, n), lambda q, i, j: te.sum(A[q, i, r].astype("float32") *
                                                         B[q, r, j].astype("float32"), axis=r), name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


@pytest.mark.parametrize("batch, m, n, k", [(3, 32, 48, 32), (2, 64, 64, 16)])
def test_batch_matmul_on_tensor_cores_by_default(batch, m, n, k):
    mod = _batch_matmul(batch, m, n, k)
    scheduled = schedule_module(mod, "cuda")
    script = scheduled["main"].script()
    assert "mlc_wmma_sync_16x16x16_f16f32" in script and '"blockIdx.z"' in script
    rng = np.random.default_rng(3)
    a = rng.integers(-6, 7, (batch, m, k)).astype("float16")
    b = rng.integers(-6, 7, (batch, k, n)).astype("float16")
    c = np.full((batch, m, n), np.nan, "float32")
    mlc.build(mod, "cuda-emulator")["main"](a, b, c)
    np.testing.assert_array_equal(c, a.astype("float32") @ b.astype("float32"))
    for arch in ARCHS if NVRTC_MISSING is None else ():
        compile_sources(scheduled, TARGETS[arch])


# ---------------------------------------------------------------- the mma variant


def _ldmatrix_x4(shared, tile, ldm, trans):
    """PTX ldmatrix.m8n8.x4 as the ISA defines it: lane l gives the address of row l % 8 of
    matrix l // 8; thread t receives, of each matrix, row t // 4 at columns 2 (t % 4) + {0, 1}
    (with .trans, column t // 4 at rows 2 (t % 4) + {0, 1}). The addresses are the ones
    mlc_ldmatrix_a/b compute: ``tile + (l % 16) * ldm + (l / 16) * 8``."""
    rows = [tile + (lane % 16) * ldm + (lane // 16) * 8 for lane in range(32)]
    mats = [np.array([shared[rows[8 * m + r]:rows[8 * m + r] + 8] for r in range(8)]) for m in range(4)]
    regs = np.zeros((32, 4, 2), shared.dtype)
    for t in range(32):
        for m in range(4):
            pick = mats[m].T if trans else mats[m]
            regs[t, m] = pick[t // 4, 2 * (t % 4): 2 * (t % 4) + 2]
    return regs


def _mma_m16n8k16(c, a, b):
    """mma.sync.aligned.m16n8k16.row.col on per-thread registers, with the ISA's fragment
    layouts: A a0..a3 at (g, 2q..), (g + 8, 2q..), (g, 2q + 8..), (g + 8, 2q + 8..); B b0, b1 at
    k = 2q.. and 2q + 8.., column g; C c0..c3 at (g, 2q..), (g + 8, 2q..); g = t / 4, q = t % 4."""
    A, B, C = np.zeros((16, 16)), np.zeros((16, 8)), np.zeros((16, 8))
    for t in range(32):
        g, q = t // 4, 2 * (t % 4)
        for reg, (r, k) in enumerate([(g, q), (g + 8, q), (g, q + 8), (g + 8, q + 8)]):
            A[r, k:k + 2] = a[t, reg]
        for reg, k in enumerate([q, q + 8]):
            B[k:k + 2, g] = b[t, reg]
        C[g, q:q + 2], C[g + 8, q:q + 2] = c[t, 0:2], c[t, 2:4]
    D = C + A @ B
    out = np.zeros_like(c)
    for t in range(32):
        g, q = t // 4, 2 * (t % 4)
        out[t, 0:2], out[t, 2:4] = D[g, q:q + 2], D[g + 8, q:q + 2]
    return out


def test_the_mma_helpers_compose_the_ptx_layouts_into_a_tile_product():
    """The index math of mlc_ldmatrix_a/b, mlc_mma_sync and mlc_mma_store, replayed on the
    PTX ISA's register layouts in NumPy, multiplies two 16 x 16 tiles (no GPU here to run
    the kernels; they are compiled below)."""
    rng = np.random.default_rng(0)
    lda, ldb, ldd = 40, 24, 20
    a_tile = rng.integers(-4, 5, (16, 16)).astype("float64")
    b_tile = rng.integers(-4, 5, (16, 16)).astype("float64")
    shared_a = np.zeros(16 * lda); shared_b = np.zeros(16 * ldb)
    for r in range(16):
        shared_a[r * lda:r * lda + 16] = a_tile[r]
        shared_b[r * ldb:r * ldb + 16] = b_tile[r]
    a = _ldmatrix_x4(shared_a, 0, lda, trans=False).reshape(32, 4, 2)
    b = _ldmatrix_x4(shared_b, 0, ldb, trans=True).reshape(32, 4, 2)
    acc = np.zeros((32, 8))
    for n in range(2):  # mlc_mma_sync: c[4n:4n+4] with b[2n], b[2n+1]
        c = acc[:, 4 * n:4 * n + 4].reshape(32, 2, 2).reshape(32, 4)
        acc[:, 4 * n:4 * n + 4] = _mma_m16n8k16(c, a, b[:, 2 * n:2 * n + 2])
    d = np.full(16 * ldd, np.nan)
    for lane in range(32):  # mlc_mma_store
        row, col = lane // 4, 2 * (lane % 4)
        for n in range(2):
            d[row * ldd + col + 8 * n:row * ldd + col + 8 * n + 2] = acc[lane, 4 * n:4 * n + 2]
            d[(row + 8) * ldd + col + 8 * n:(row + 8) * ldd + col + 8 * n + 2] = acc[lane, 4 * n + 2:4 * n + 4]
    got = np.array([d[r * ldd:r * ldd + 16] for r in range(16)])
    np.testing.assert_array_equal(got, a_tile @ b_tile)


@pytest.mark.parametrize("m, n, k, warps", [(64, 64, 64, (2, 2)), (32, 48, 32, (1, 1))])
def test_mma_variant_runs_on_the_emulator_and_compiles(m, n, k, warps):
    sch = Schedule(_matmul(m, n, k))
    schedule_wmma_matmul(sch, "C", warps, variant="mma")
    rng = np.random.default_rng(4)
    a = rng.integers(-6, 7, (m, k)).astype("float16")
    b = rng.integers(-6, 7, (k, n)).astype("float16")
    np.testing.assert_array_equal(_run(sch.mod, a, b), a.astype("float32") @ b.astype("float32"))
    for arch in ARCHS if NVRTC_MISSING is None else ():
        code, cubin = compile_sources(sch.mod, TARGETS[arch])
        assert cubin[:4] == b"\x7fELF" and "nvcuda::wmma" not in code and "<mma.h>" not in code
        assert "unsigned A_shared_wmma_matrix_a[1][4];" in code and "mlc_mma_sync(" in code
        ptx = compile_cuda(code, arch, ptx=True).decode()
        assert "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16" in ptx
        assert ptx.count("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32") >= 2


def test_fragment_loads_come_from_shared_memory_only():
    sch = Schedule(_matmul(16, 16, 16))
    frag = sch.cache_read(sch.get_block("C"), 0, "wmma.matrix_a")  # straight from global A
    for name in ("wmma_load_a_16x16x16_f16", "mma_load_a_16x16x16_f16"):
        with pytest.raises(ScheduleError, match="buffer A is in scope 'global' but the description's A "
                                                "needs 'shared'"):
            sch.tensorize(sch.get_loops(frag)[-2], name)
    with pytest.raises(ScheduleError, match="variant must be one of"):
        schedule_wmma_matmul(Schedule(_matmul(32, 32, 16)), "C", variant="hmma")


def test_the_float16_matmul_op_goes_on_tensor_cores():
    """``x @ w`` on float16 (the matmul op: a float32 sum, then a cast stage) is tensorized
    by the default GPU schedule."""
    x, w = te.placeholder((64, 32), "float16", name="x"), te.placeholder((32, 48), "float16", name="w")
    y = get_op("matmul").lower(x, w)
    mod = mlc.IRModule({"main": te.create_prim_func([x, w, y])})
    assert "mlc_wmma_sync_16x16x16_f16f32" in schedule_module(mod, "cuda")["main"].script()
    a, b = _inputs_small(64, 32, 48)
    out = np.zeros((64, 48), "float16")
    mlc.build(mod, "cuda-emulator")["main"](a, b, out)
    np.testing.assert_array_equal(out, (a.astype("float32") @ b.astype("float32")).astype("float16"))


def _inputs_small(m, k, n):
    rng = np.random.default_rng(6)
    return rng.integers(-3, 4, (m, k)).astype("float16"), rng.integers(-3, 4, (k, n)).astype("float16")


def test_the_default_rule_gives_large_float16_matmuls_warps_of_several_fragments():
    """256 x 256 x 64: 128 x 128 blocks of 2 x 2 warps, each 4 x 4 tiles (TENSOR_CORE_TILES);
    64 x 64 x 64: one tile a warp."""
    rng = np.random.default_rng(2)
    for (m, n, k), tiles in (((256, 256, 64), 16), ((64, 64, 64), 1)):
        mod = schedule_module(_matmul(m, n, k), "cuda")
        a = rng.integers(-8, 9, (m, k)).astype("float16")
        b = rng.integers(-8, 9, (k, n)).astype("float16")
        np.testing.assert_array_equal(_run(mod, a, b), a.astype("float32") @ b.astype("float32"))
        if NVRTC_MISSING is None:
            code, _ = compile_sources(mod, TARGETS["sm_80"])
            assert f"C_wmma_accumulator[{tiles}];" in code
