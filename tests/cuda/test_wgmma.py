"""Hopper's warpgroup-MMA GEMM (wgmma, sm_90a): the emulator runs it from the PTX ISA's
descriptor, swizzle and fragment definitions and gets NumPy's answer; a wrong descriptor,
swizzle or pipeline depth fails on the CPU; NVRTC compiles it for sm_90a and its SASS runs
HGMMA and LDGSTS in the main loop without local memory; the default schedule takes it only
behind its flag, on sm_90a."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.cuda import compile_sources, emulate
from mlc.backends.cuda import wgmma as W
from mlc.backends.cuda.sass import cuobjdump_unavailable_reason, disassemble, loops
from mlc.driver import schedule_module
from mlc.errors import CompileError, MLCError, RaceError, ScheduleError
from mlc.ir.expr import IntImm
from mlc.ir.extern import CallExtern
from mlc.ir.functor import Mutator, pre_order_nodes
from mlc.schedules import Schedule
from mlc.schedules.gpu import default as gpu_default
from mlc.schedules.gpu.wgmma import WgmmaTile, schedule_wgmma_matmul, wgmma_matmul_func
from mlc.target import Target

from .conftest import NVRTC_MISSING
from .programs import half_matmul as _matmul

CUOBJDUMP_MISSING = NVRTC_MISSING or cuobjdump_unavailable_reason()
SM90A = Target.from_str("cuda -arch=sm_90a")
#: Small blocks the emulator runs in well under a second: one warpgroup of 64 x 64, two of
#: 128 x 128 (one batch in flight, none or two), the 128 x 256 block (192 KiB of shared memory,
#: past the target's 163 KiB: the kernel's Hopper limit), k steps of 32 (A's 64-byte swizzle).
SMALL_TILES = [WgmmaTile(64, 64, 2, 1, 0), WgmmaTile(128, 128, 3, 2, 1), WgmmaTile(128, 64, 2, 2, 0),
               WgmmaTile(128, 256, 4, 2, 1), WgmmaTile(64, 128, 4, 1, 1, 32), WgmmaTile(128, 128, 5, 2, 2, 32)]


def _run(mod, m, n, k, seed=0):
    """C from the emulator and NumPy's float32 product, on small integers (exact in float16 and
    float32 sums, so any misplaced element shows)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-8, 9, (m, k)).astype("float16")
    b = rng.integers(-8, 9, (k, n)).astype("float16")
    c = np.full((m, n), np.nan, "float32")
    emulate(mod)["main"](a, b, c)
    return c, a.astype("float32") @ b.astype("float32")


def _wgmma(m, n, k, tile):
    sch = Schedule(_matmul(m, n, k))
    schedule_wgmma_matmul(sch, "C", tile=tile)
    return sch.mod


@pytest.mark.parametrize("tile", SMALL_TILES, ids=str)
def test_the_wgmma_gemm_matches_numpy_on_the_emulator(tile):
    """Two blocks along M, the k loop longer than the pipeline: every descriptor, the swizzled
    placement and the epilogue's fragment indexing agree."""
    m, n = 2 * tile.block_m, tile.block_n
    k = tile.block_k * (tile.stages + 1)
    c, want = _run(_wgmma(m, n, k, tile), m, n, k)
    np.testing.assert_array_equal(c, want)


@pytest.mark.parametrize("shape", [(512, 128, 64), (256, 320, 64), (192, 192, 64)])
def test_the_blocks_in_bands_cover_c_once(shape):
    """Blocks run in bands of 8, 4, 2 or 1 block rows (for L2): every tile of C is computed."""
    c, want = _run(_wgmma(*shape, WgmmaTile(64, 64, 2, 1, 0)), *shape)
    np.testing.assert_array_equal(c, want)


@settings(max_examples=6, deadline=None)
@given(st.sampled_from([1, 64, 100, 128, 192]), st.sampled_from([1, 64, 96, 128]),
       st.sampled_from([1, 64, 80, 128]), st.integers(0, 3))
def test_any_shape_matches_numpy_or_is_refused(m, n, k, seed):
    """A shape whose block divides it runs (float16 products accumulated in float32); any other
    is refused with a ScheduleError that says what the kernel needs."""
    tile = WgmmaTile(64, 64, 3, 1, 1)
    if m % 64 or n % 64 or k % 64:
        with pytest.raises(ScheduleError, match="multiples of its block"):
            _wgmma(m, n, k, tile)
        return
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype("float16")
    b = rng.standard_normal((k, n)).astype("float16")
    c = np.empty((m, n), "float32")
    emulate(_wgmma(m, n, k, tile))["main"](a, b, c)
    np.testing.assert_allclose(c, a.astype("float32") @ b.astype("float32"), rtol=1e-5, atol=1e-4)


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([64, 128, 192, 320]), st.sampled_from([64, 128]), st.sampled_from([32, 64, 96, 160]),
       st.integers(1, 7), st.sampled_from([WgmmaTile(64, 64, 2, 1, 0, 32), WgmmaTile(64, 64, 3, 1, 1, 32),
                                           WgmmaTile(64, 64, 4, 1, 1, 32), WgmmaTile(64, 64, 4, 1, 2, 32)]))
def test_the_persistent_kernel_computes_every_tile_once(m, n, k, sms, tile):
    """At most ``sms`` blocks, each running its tiles as one k loop whose copies run on into the
    next tile (the pipeline deeper than a tile's k loop too): every tile of C once, each from
    zeroed accumulators; blocks with a tile fewer than the others copy and compute nothing."""
    tile = tile._replace(persistent=sms)
    c, want = _run(_wgmma(m, n, k, tile), m, n, k, seed=sms)
    np.testing.assert_array_equal(c, want)
    kernel = [f for f in pre_order_nodes(_wgmma(m, n, k, tile)["main"].body)
              if getattr(f, "thread_binding", None) == "blockIdx.x"][0]
    tiles = m // 64 * (n // 64)
    assert kernel.extent.value == -(-tiles // -(-tiles // sms)) <= sms


def test_a_function_that_is_not_the_plain_matmul_is_refused():
    A = te.placeholder((64, 64), "float16", name="A")
    B = te.placeholder((64, 64), "float16", name="B")
    r = te.reduce_axis((0, 64), name="k")
    C = te.compute((64, 64), lambda i, j: te.sum(A[i, r].astype("float32") - B[r, j].astype("float32"), axis=r),
                   name="C")
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, B, C])}))
    with pytest.raises(ScheduleError, match="not a float16 matmul"):
        schedule_wgmma_matmul(sch, "C", tile=WgmmaTile(64, 64, 2, 1, 0))


def test_a_tile_the_kernel_does_not_have_is_refused():
    with pytest.raises(ScheduleError, match="block_n one of"):
        wgmma_matmul_func(128, 96, 64, WgmmaTile(64, 96, 2, 1, 0))
    with pytest.raises(ScheduleError, match="2 \\+ in_flight stages"):
        wgmma_matmul_func(128, 128, 64, WgmmaTile(64, 64, 2, 1, 1))


class _Args(Mutator):
    """The MMA calls with argument ``at`` (0-based) replaced by ``value``; wait counts too."""

    def __init__(self, name, at, value):
        super().__init__()
        self.name, self.at, self.value = name, at, value

    def visit_CallExtern(self, node):
        if node.name.startswith(self.name):
            args = list(node.args)
            args[self.at] = IntImm(self.value, args[self.at].dtype)
            return CallExtern(node.name, tuple(args), node.dtype)
        return node


def _mutated(mutator, tile=WgmmaTile(128, 128, 3, 2, 1), shape=(128, 128, 256)):
    mod = _wgmma(*shape, tile)
    func = mod["main"]
    return mlc.IRModule({"main": func.with_body(mutator.visit(func.body))}), shape


@pytest.mark.parametrize("at, value, what", [(4, 2048, "A's stride byte offset"), (5, 0, "A's swizzle"),
                                             (7, 2048, "B's stride byte offset"), (6, 4096, "B's leading byte offset"),
                                             (8, 2, "B's swizzle (64-byte)"), (10, 0, "B read K-major")])
@pytest.mark.parametrize("tile", [WgmmaTile(128, 128, 3, 2, 1), WgmmaTile(64, 128, 4, 1, 1, 32)], ids=str)
def test_a_wrong_descriptor_or_swizzle_gives_a_wrong_answer(at, value, what, tile):
    """The emulator reads the operands through the descriptor's fields: one wrong field and
    the product is not NumPy's (or the descriptor reaches outside the buffer)."""
    if tile.block_k == 32 and at == 4:
        value = 1024  # A's atoms are 8 rows of 64 bytes: 512 apart
    if tile.block_k == 32 and at == 5:
        value = 1  # the 128-byte swizzle where A's rows are 64 bytes
    if tile.block_k == 32 and at == 6:
        value = 8192  # B's column blocks are 32 rows of 128 bytes: 4096 apart
    mod, (m, n, k) = _mutated(_Args("mlc_wgmma_m64", at, value), tile, (2 * tile.block_m, tile.block_n, 256))
    try:
        c, want = _run(mod, m, n, k)
    except (MLCError, RaceError) as e:  # reads outside the tile: of a copy in flight, or unwritten
        assert "descriptor" in str(e) or "in flight" in str(e) or "wrote" in str(e), (what, e)
        return
    assert not np.array_equal(c, want), what


@pytest.mark.parametrize("tile, shape", [(WgmmaTile(128, 128, 3, 2, 0), (128, 128, 256)),
                                         (WgmmaTile(64, 64, 4, 1, 1, 32), (64, 64, 256))], ids=str)
def test_refetching_a_stage_an_mma_still_reads_is_a_race(tile, shape):
    """The ring is refetched ``1 + in_flight`` steps behind; keeping one more batch in flight
    there (wait_group in_flight + 1) lets the copies overwrite what the MMA has not read yet."""
    mod, (m, n, k) = _mutated(_Args("mlc_wgmma_wait", 0, tile.in_flight + 1), tile, shape)
    with pytest.raises(RaceError, match="overwritten after the MMA was issued"):
        _run(mod, m, n, k)


def test_the_accumulator_layout_is_the_ptx_fragment_layout():
    """PTX ISA, wgmma m64nNk16 D fragments: thread 37 (warp 1, lane 5) holds rows 17 and 25,
    columns 2, 3 then 10, 11, ... (registers d0, d1 row 17; d2, d3 row 25; d4.. the next 8)."""
    rows, cols = W.accumulator_coords(64)
    assert list(rows[37, :8]) == [17, 17, 25, 25, 17, 17, 25, 25]
    assert list(cols[37, :8]) == [2, 3, 2, 3, 10, 11, 10, 11]
    every = set(zip(rows.reshape(-1).tolist(), cols.reshape(-1).tolist()))
    assert len(every) == 64 * 64  # each element held once


def test_descriptor_layouts_follow_the_canonical_swizzled_layouts():
    """K-major, 128-byte swizzle, rows 128 bytes apart: element (r, k) at byte
    r * 128 + ((k // 8) ^ (r % 8)) * 16 + (k % 8) * 2; MN-major: (n, k) of 64-column
    blocks at LBO, rows of k 128 bytes apart, chunk n // 8 ^ k % 8."""
    r, k = np.arange(64)[:, None], np.arange(16)[None, :]
    got = W.operand_addresses(W.descriptor(0, 16, 1024, 1), 64, False)
    np.testing.assert_array_equal(got, r * 128 + ((k // 8) ^ (r % 8)) * 16 + (k % 8) * 2)
    n = np.arange(128)[:, None]
    got = W.operand_addresses(W.descriptor(2048, 8192, 1024, 1), 128, True)
    np.testing.assert_array_equal(got, 2048 + (n // 64) * 8192 + k * 128 + (((n % 64) // 8) ^ (k % 8)) * 16
                                  + (n % 8) * 2)
    assert W.decode(W.descriptor(0x1230, 8192, 1024, 1)) == (0x1230, 8192, 1024, 1)


def _uses_wgmma(mod) -> bool:
    return any(W.is_wgmma_call(n) for n in pre_order_nodes(mod["main"].body))


def test_the_default_takes_wgmma_on_sm90_only_and_behind_its_flag(monkeypatch):
    mod = _matmul(128, 128, 64)
    assert not _uses_wgmma(schedule_module(mod, "cuda -arch=sm_80"))
    assert not _uses_wgmma(schedule_module(mod, "cuda-emulator"))
    assert _uses_wgmma(schedule_module(mod, "cuda -arch=sm_90"))
    got = schedule_module(mod, SM90A)
    assert _uses_wgmma(got)
    c, want = _run(got, 128, 128, 64)
    np.testing.assert_array_equal(c, want)
    assert not _uses_wgmma(schedule_module(_matmul(100, 128, 64), SM90A))
    monkeypatch.setattr(gpu_default, "WGMMA_DEFAULT", False)
    assert not _uses_wgmma(schedule_module(mod, SM90A))


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_wgmma_compiles_for_sm90a_only():
    """sm_90 builds it for the architecture-specific sm_90a; an earlier GPU has no wgmma."""
    mod = _wgmma(128, 128, 64, WgmmaTile(64, 64, 2, 1, 0))
    with pytest.raises(CompileError, match="sm_90a"):
        compile_sources(mod, "cuda -arch=sm_80")
    _, cubin = compile_sources(mod, "cuda -arch=sm_90")
    assert cubin[:4] == b"\x7fELF"


@pytest.mark.skipif(CUOBJDUMP_MISSING is not None, reason=str(CUOBJDUMP_MISSING))
@pytest.mark.parametrize("tile", [WgmmaTile(128, 128, 3, 2, 1), WgmmaTile(128, 256, 6, 2, 1, 32),
                                  WgmmaTile(128, 256, 8, 2, 2, 32, True, 3)], ids=str)
def test_the_main_loop_runs_hgmma_and_ldgsts_without_local_memory(tile):
    code, cubin = compile_sources(_wgmma(256, 256, 1024, tile), SM90A)
    assert "wgmma.mma_async.sync.aligned.m64n" in code
    sass = disassemble(cubin)
    main = [loop for loop in loops(sass) if any(op.startswith("HGMMA") for op in loop)]
    assert main, "no loop runs HGMMA"
    ops = [op.split(".")[0] for op in main[0]]
    assert ops.count("HGMMA") == tile.block_k // 16 * tile.m_tiles and "LDGSTS" in ops
    assert not re.search(r"\b(LDL|STL)\b", sass), "local memory (spills)"


def test_the_tuner_space_samples_wgmma_blocks_only_on_sm90():
    """On sm_90a the tensor-core rule of the GPU space samples the wgmma blocks too: a point that
    takes one replays from its trace's JSON (``wgmma_gemm``) and matches NumPy on the emulator;
    on sm_80 no point does."""
    from mlc.tune import space
    mod = _matmul(128, 128, 128)
    found = None
    for seed in range(12):
        sch = space.replay(mod, space.TILED, "cuda -arch=sm_90a", seed=seed)
        if any(i.kind == "wgmma_gemm" for i in sch.trace.insts):
            found = sch
            break
    assert found is not None, "no point of 12 took a wgmma block"
    trace = mlc.Trace.from_json(found.trace.to_json())
    replayed = trace.apply(Schedule(mod)).mod
    assert _uses_wgmma(replayed)
    c, want = _run(replayed, 128, 128, 128)
    np.testing.assert_array_equal(c, want)
    for seed in range(6):
        sch = space.replay(mod, space.TILED, "cuda -arch=sm_80", seed=seed)
        assert not any(i.kind == "wgmma_gemm" for i in sch.trace.insts)
