"""The rules space: the default CPU rules with their open decisions sampled.

Every point computes what the reference interpreter computes; the point taking
every default is the default schedule; hand-picked points (another register
tile, packing turned around) build and are correct.
"""
import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.backends.llvm.module import compile_sources
from mlc.ir.structural import structural_equal
from mlc.schedules.default.cpu import schedule_cpu
from mlc.schedules.default.steps import CpuInfo
from mlc.tune import space

from ..targets import AVX2, AVX512, each_pinned_target, pinned_threads
from .workloads import batch_matmul, check_schedule, check_space_point, conv2d, matmul

WORKLOADS = {
    "mm_relu 64x48x40": lambda: matmul(64, 48, 40, relu=True, name="main"),
    "mm 80x128x192": lambda: matmul(80, 128, 192, name="main"),
    "bmm 3x32x32x16": lambda: batch_matmul(3, 32, 32, 16),
    "conv 1x32x10x10 3x3": lambda: conv2d(32, 10),
}


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**30))
def test_every_point_of_the_rules_space_computes_the_reference(workload, seed):
    check_space_point(WORKLOADS[workload](), space.RULES, seed)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@pytest.mark.parametrize("target", [AVX2, AVX512, "llvm"], ids=["avx2", "avx512", "host"])
def test_the_default_schedule_is_the_point_taking_every_default(workload, target):
    mod = WORKLOADS[workload]()
    sch = space.replay(mod, space.RULES, target, space.default_point(mod, target))
    assert any(inst.kind == "sample_categorical" for inst in sch.trace)
    default = space.replay(mod, space.DEFAULT, target)
    assert structural_equal(sch.mod["main"].body, default.mod["main"].body)


def _knobs_taking(choices):
    """Knobs that take ``choices[name]`` where given (and the default elsewhere), recording
    every decision offered."""
    offered = {}

    def knobs(sch, name, options, default):
        offered[name] = options
        return choices.get(name, default) if choices.get(name, default) in options else default
    return knobs, offered


def _schedule_with(mod, target, choices):
    knobs, offered = _knobs_taking(choices)
    sch = mlc.Schedule(mod)
    cpu = CpuInfo.from_target(mlc.Target.from_str(target))
    schedule_cpu(sch, "main", replace(cpu, knobs=knobs))
    return sch, offered


def test_a_hand_picked_matmul_point_builds_and_is_correct():
    """The default's structure with another register tile (6 rows of 2 vectors, as BLIS's
    AVX2 kernel), packed A, a block of rows and the reduction unrolled by 2."""
    mod = matmul(96, 64, 64, name="main")
    choices = {"matmul.pack_b": 1, "matmul.nr": 16, "matmul.mr": 6, "matmul.pack_a": 1, "matmul.k_unroll": 2}
    sch, offered = _schedule_with(mod, AVX2, choices)
    assert {"matmul.nr", "matmul.mr", "matmul.pack_b", "matmul.pack_a", "matmul.row_block",
            "matmul.k_unroll"} <= set(offered)
    assert 6 in offered["matmul.mr"]
    text = sch.mod.script()
    assert "A_global" in text and "B_global" in text       # both packed
    unrolled = [inst for inst in sch.trace if inst.kind == "unroll"]
    assert len(unrolled) >= 3                               # the rows, the write-back, k by 2
    check_schedule(mod, sch)


def test_a_matmul_point_with_the_reduction_blocked_builds_and_is_correct():
    """KC-like blocks of the reduction: a panel's accumulators in a local buffer above them."""
    mod = matmul(40, 64, 256, relu=True, name="main")
    sch, offered = _schedule_with(mod, AVX2, {"matmul.nr": 16, "matmul.k_block": 64, "matmul.k_unroll": 2,
                                              "matmul.mr": 5})
    assert 64 in offered["matmul.k_block"]
    loops = [inst for inst in sch.trace if inst.kind == "split"]
    assert any(inst.inputs.get("factors") == [None, 64] for inst in loops)
    check_schedule(mod, sch)


@each_pinned_target
def test_a_blocked_reduction_keeps_its_register_tile_in_registers(isa, target):
    """Blocks of the reduction keep a column panel's accumulators in a heap buffer, its
    register tile at a row tile's offset: LLVM holds the tile in registers across the
    reduction's steps (``phi`` of vectors in the optimised loop) only where each of its
    wide loads and stores is one access of the same type, not a store split in registers."""
    mod = matmul(96, 256, 512, name="main")
    with pinned_threads():
        sch, offered = _schedule_with(mod, target, {"matmul.k_block": 128, "matmul.pack_b": 1})
    assert 128 in offered["matmul.k_block"]
    optimized = compile_sources(sch.mod, target)["ll"]
    lanes = 16 if isa == "avx512" else 8
    tiles = re.findall(rf"= phi <(\d+) x float>", optimized)
    assert tiles and all(int(n) % lanes == 0 for n in tiles), tiles
    check_schedule(mod, sch)


def test_a_matmul_point_with_blocks_of_rows_columns_and_reduction_builds_and_is_correct():
    """MC/NC/KC-like blocking: blocks of 64 rows (the last one ragged), groups of 4
    panels of 16 columns, blocks of 64 of the reduction."""
    mod = matmul(96, 128, 128, name="main")
    choices = {"matmul.nr": 16, "matmul.mr": 4, "matmul.row_block": 64, "matmul.col_block": 4,
               "matmul.k_block": 64}
    sch, offered = _schedule_with(mod, AVX2, choices)
    assert all(value in offered[name] for name, value in choices.items())
    splits = [inst.inputs.get("factors") for inst in sch.trace if inst.kind == "split"]
    assert [None, 4] in splits and [None, 64] in splits
    check_schedule(mod, sch)


@pytest.mark.parametrize("choices", [{"conv.cr": 16, "conv.rows": 5},
                                     {"conv.cr": 8, "conv.rows": 5, "conv.out_rows": 2}], ids=str)
def test_a_hand_picked_conv_point_builds_and_is_correct(choices):
    """Two vectors of channels by 5 columns; one vector by 5 columns by 2 output rows."""
    mod = conv2d(32, 10)
    sch, offered = _schedule_with(mod, AVX2, choices)
    assert all(value in offered[name] for name, value in choices.items())
    check_schedule(mod, sch)


def test_a_measured_default_seeds_the_search_as_its_point_of_the_space(tmp_path):
    """Mutations start from the default too: its record comes back as the rules space's
    point with the same IR (decisions that can be mutated one at a time)."""
    from mlc.tune import Database, EvolutionarySearch, extract_tasks
    from mlc.tune.tuner import _elites
    mod = matmul(32, 32, 32, name="main")
    (task,) = extract_tasks(mod)
    search = EvolutionarySearch(task.mod, "llvm")
    default = search.default()
    db = Database(str(tmp_path / "db.sqlite"))
    db.commit(task.func, "llvm", default.trace_json, [1e-3], space=space.DEFAULT, decisions=[],
              ir_hash=default.ir_hash, flops=task.flops)
    (elite,) = _elites(search, db, task, "llvm")
    assert elite.space == space.RULES and elite.decisions and elite.ir_hash == default.ir_hash
    assert default.ir_hash in search.seen                     # and it is not measured again


def test_an_elementwise_kernel_goes_on_in_the_generic_tiling():
    """The rules leave nothing open in an elementwise kernel: its one point is the default,
    so the search samples the tiled space too (never the default's IR twice)."""
    from mlc import te
    from mlc.tune import EvolutionarySearch
    A = te.placeholder((64, 256), "float32", name="A")
    B = te.compute((64, 256), lambda i, j: A[i, j] * 2, name="B")
    mod = mlc.IRModule({"main": te.create_prim_func([A, B])})
    search = EvolutionarySearch(mod, "llvm")
    search.mark_seen(search.default().ir_hash)
    batch = search.propose(3, None, [])
    assert len(batch) == 3 and {c.space for c in batch} == {space.TILED}
    assert len({c.ir_hash for c in batch}) == 3
    child = search._mutate(batch[0])                            # a tiled parent has tiled children
    assert child.space == space.TILED
