"""The CPU design space: every point is correct, decisions replay it exactly."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.tune import space

from .workloads import check_schedule, check_space_point, matmul, scale_add

WORKLOADS = {
    "mm_relu 32": lambda: matmul(32, 32, 32, relu=True, name="main"),
    "mm ragged 20x36x12": lambda: matmul(20, 36, 12, name="main"),
    "mm 1x48x8": lambda: matmul(1, 48, 8, name="main"),
    "scale_add 24": lambda: scale_add(24),
}


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**30))
def test_every_point_of_the_space_computes_the_reference(workload, seed):
    check_space_point(WORKLOADS[workload](), space.TILED, seed)


def test_the_space_tiles_reductions_in_levels_and_samples_every_rule():
    sch = space.replay(matmul(64, 64, 64, relu=True, name="main"), space.TILED, "llvm", seed=3)
    kinds = [inst.kind for inst in sch.trace]
    assert kinds.count("sample_perfect_tile") == 3            # i and j in 4 levels, k in 2
    assert kinds.count("sample_categorical") >= 2              # write-back level, unroll depth, ...
    assert "cache_write" in kinds and "vectorize" in kinds and "parallel" in kinds
    tiles = [inst.inputs["decision"] for inst in sch.trace if inst.kind == "sample_perfect_tile"]
    assert [len(t) for t in tiles] == [4, 4, 2]
    assert all(np.prod(t) == 64 for t in tiles)


def test_unfitting_decisions_are_drawn_again():
    mod = matmul(32, 32, 32, name="main")
    sch = space.replay(mod, space.TILED, "llvm", [[5, 5, 5, 5], "nonsense", 99], seed=0)
    tiles = space.decisions_of(sch.trace)[0]
    assert np.prod(tiles) == 32
    check_schedule(mod, sch)


def test_the_default_schedule_is_a_point_without_decisions():
    mod = matmul(32, 32, 32, name="main")
    sch = space.replay(mod, space.DEFAULT, "llvm")
    assert space.decisions_of(sch.trace) == []
    mlc.assert_structural_equal(sch.mod["main"].body, mlc.schedules.default_schedule(mod, "llvm").mod["main"].body)
