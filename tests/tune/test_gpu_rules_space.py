"""The GPU rules space: the default GPU rules with their open decisions sampled.

The point taking every default is the default GPU schedule (the same IR) on pinned sm_80
and sm_90 targets, for elementwise, row, reduction, float32 (shared-tiled, warp-tiled,
split-K, batched) and float16 (tensor-core, wgmma) matmul workloads; sampled points run on
the emulator and compute what the reference interpreter computes; each GEMM family's
choices (wgmma or not, tensor-core blocks and intrinsics, the warp-tiled kernel or the
shared-tiled one, pipeline depths) are reachable; and the tuner starts from the default.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.ir.structural import structural_equal
from mlc.schedules.gpu.default import TENSOR_CORE_VARIANTS, schedule_gpu, tensor_core_tiles
from mlc.tune import space
from mlc.tune.search import EvolutionarySearch

from examples.ch7_gpu_acceleration import row_sum, vector_add
from ..cuda.programs import half_matmul
from .workloads import batch_matmul, matmul

SM80, SM90 = "cuda-emulator -arch=sm_80", "cuda-emulator -arch=sm_90"


def _normalize(rows: int, cols: int):
    """``A / sum(A, axis=1)``: row reductions feeding an elementwise output (the rows rule)."""
    A = te.placeholder((rows, cols), "float32", "A")
    r = te.reduce_axis((0, cols), "k")
    S = te.compute((rows,), lambda i: te.sum(A[i, r], axis=r), "S")
    B = te.compute((rows, cols), lambda i, j: A[i, j] / S[i], "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def _half_batch(b: int, n: int):
    A = te.placeholder((b, n, n), "float16", name="A")
    B = te.placeholder((b, n, n), "float16", name="B")
    r = te.reduce_axis((0, n), name="k")
    C = te.compute((b, n, n), lambda z, i, j: te.sum(A[z, i, r].astype("float32") * B[z, r, j].astype("float32"),
                                                     axis=r), name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


#: name -> (module, the kernel the default gives it): the default-point check schedules only
WORKLOADS = {
    "elementwise 1000": lambda: vector_add(1000),
    "row_sum 6x200": lambda: row_sum(6, 200),
    "rows 8x300": lambda: _normalize(8, 300),
    "mm_relu 64": lambda: matmul(64, 64, 64, relu=True, name="main"),
    "mm ragged 100x72x40": lambda: matmul(100, 72, 40, name="main"),
    "mm split-K 64x64x8192": lambda: matmul(64, 64, 8192, name="main"),
    "bmm simt 256x128x128x16": lambda: batch_matmul(256, 128, 128, 16),
    "bmm 3x32x32x16": lambda: batch_matmul(3, 32, 32, 16),
    "hgemm 128": lambda: half_matmul(128, 128, 128),
    "hgemm 256x128x64": lambda: half_matmul(256, 128, 64),
    "hgemm split-K 128x128x4096": lambda: half_matmul(128, 128, 4096),
    "hgemm 48x80x32": lambda: half_matmul(48, 80, 32),
    "hbmm 4x64": lambda: _half_batch(4, 64),
}


@pytest.mark.parametrize("target", [SM80, SM90], ids=["sm_80", "sm_90"])
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_the_default_gpu_schedule_is_the_point_taking_every_default(workload, target):
    mod = WORKLOADS[workload]()
    decisions = space.default_point(mod, target)
    sch = space.replay(mod, space.RULES, target, decisions, seed=1)
    assert any(inst.kind == "sample_categorical" for inst in sch.trace)      # the rules left choices open
    default = space.replay(mod, space.DEFAULT, target)
    assert structural_equal(sch.mod["main"].body, default.mod["main"].body)


def _arrays(func, rng):
    out = []
    for p in func.params:
        shape = tuple(s.value for s in p.shape)
        out.append(rng.integers(-4, 5, shape).astype(p.dtype) if p.dtype == "float16" else
                   rng.uniform(-1, 1, shape).astype(p.dtype))
    return out


#: small workloads the emulator runs quickly, on the target whose rules they exercise
RUNS = {
    "elementwise 1000": (lambda: vector_add(1000), SM80),
    "row_sum 6x200": (lambda: row_sum(6, 200), SM80),
    "row_sum 9x40": (lambda: row_sum(9, 40), SM80),
    "rows 8x300": (lambda: _normalize(8, 300), SM80),
    "mm_relu 64": (lambda: matmul(64, 64, 64, relu=True, name="main"), SM80),
    "mm ragged 33x40x8": (lambda: matmul(33, 40, 8, name="main"), SM80),
    "bmm 2x32x32x16": (lambda: batch_matmul(2, 32, 32, 16), SM80),
    "hgemm 64x64x32 sm_80": (lambda: half_matmul(64, 64, 32), SM80),
    "hgemm 256x128x64 sm_90": (lambda: half_matmul(256, 128, 64), SM90),
}


@pytest.mark.parametrize("workload", sorted(RUNS))
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**30))
def test_sampled_points_of_the_gpu_rules_space_compute_the_reference(workload, seed):
    make, target = RUNS[workload]
    mod = make()
    sch = space.replay(mod, space.RULES, target, seed=seed)
    assert "thread_binding" in sch.mod["main"].script()
    args = _arrays(mod["main"], np.random.default_rng(seed))
    want = [a.copy() for a in args]
    mlc.build(mod, "reference")["main"](*want)
    mlc.build(mod, target, schedule=mlc.Trace.from_json(sch.trace.to_json()))["main"](*args)
    np.testing.assert_allclose(args[-1], want[-1], rtol=1e-4, atol=1e-4)
    again = space.replay(mod, space.RULES, target, space.decisions_of(sch.trace), seed=seed + 1)
    mlc.assert_structural_equal(again.mod, sch.mod)


def _taking(choices):
    """Knobs taking ``choices[name]`` (an option's value) where given, else the default,
    recording every decision offered."""
    offered = {}

    def knobs(sch, name, options, default):
        offered[name] = options
        return choices[name] if choices.get(name) in options else default
    return knobs, offered


def _scheduled(mod, target, choices):
    knobs, offered = _taking(choices)
    sch = mlc.Schedule(mod)
    schedule_gpu(sch, "main", mlc.Target.from_str(target), knobs=knobs)
    return sch.mod["main"].script(), offered


def test_the_float16_gemm_families_are_choices_of_one_space():
    """On sm_90 the wgmma kernel (the default), any block that divides the shape, or none:
    then the tensor-core blocks of the variants and their intrinsics."""
    mod = half_matmul(256, 256, 256)
    text, offered = _scheduled(mod, SM90, {})
    assert "wgmma" in text and len(offered["wgmma.tile"]) >= 2
    none = max(offered["wgmma.tile"])
    text, offered = _scheduled(mod, SM90, {"wgmma.tile": none, "tensor_core.intrinsics": 1})
    assert "wgmma" not in text and "mlc_mma_" in text
    assert len(offered["tensor_core.tile"]) == len(tensor_core_tiles(256, 256, 256, TENSOR_CORE_VARIANTS))
    text, offered = _scheduled(mod, SM80, {})
    assert "wgmma.tile" not in offered and "_16x16x16_f16f32" in text and "mlc_mma_" not in text


def test_the_float32_gemm_kernels_and_depths_are_choices_of_one_space():
    """The warp-tiled kernel where it fits (the default) or the shared-tiled one, at each
    pipeline depth."""
    mod = batch_matmul(256, 128, 128, 16)
    simt, offered = _scheduled(mod, SM80, {})
    assert offered["matmul.simt"] == [1, 0] and offered["matmul.stages"][0] == 3
    tiled, _ = _scheduled(mod, SM80, {"matmul.simt": 0, "matmul.stages": 1})
    assert simt != tiled and "software_pipeline" in simt and "software_pipeline" not in tiled


@pytest.mark.parametrize("target", [SM80, SM90], ids=["sm_80", "sm_90"])
def test_the_gpu_tuner_starts_from_the_default(target):
    """The search's default point is the default schedule (the same IR), so its mutations
    start there."""
    search = EvolutionarySearch(half_matmul(128, 128, 128), target)
    default, point = search.default(), search.default_point()
    assert point is not None and point.space == space.RULES and point.decisions
    assert point.ir_hash == default.ir_hash


def test_the_gpu_search_goes_on_in_the_generic_tiling_once_the_rules_run_out():
    """The tuner's GPU space still holds the generic tiling's points: a small matmul's rules
    space (its tiles and pipeline depths) runs out, and the search samples the tiled space."""
    search = EvolutionarySearch(matmul(64, 64, 64, name="main"), SM80, population=16)
    batch = search.propose(16, None, [])
    spaces = {c.space for c in batch}
    assert spaces == {space.RULES, space.TILED} and len({c.ir_hash for c in batch}) == 16
