"""jit(schedule=...): the user's schedule edits the fused kernels before the one build."""
import numpy as np
import pytest

import mlc
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For

RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 32)).astype("float32")
W = RNG.standard_normal((32, 8)).astype("float32")
B = RNG.standard_normal(8).astype("float32")


def layer(x, w, b):
    return np.maximum(x @ w + b, 0)


def tile_matmul(sch):
    block = sch.get_block("T_matmul", func_name="fused_matmul_add_maximum")
    i, j, k = sch.get_loops(block)
    i0, i1 = sch.split(i, factors=[None, 4])
    sch.parallel(i0)


def test_schedule_function_edits_the_kernels():
    f = mlc.jit(layer, schedule=tile_matmul)
    np.testing.assert_allclose(f(X, W, B), layer(X, W, B), rtol=1e-5, atol=1e-5)
    func = f.lower(X, W, B).scheduled()["fused_matmul_add_maximum"]
    kinds = [n.kind for n in pre_order_nodes(func.body) if isinstance(n, For)]
    assert "parallel" in kinds and len(kinds) == 6  # i split in two, plus j, k and the epilogue's 2


def test_schedule_may_return_a_schedule_or_module():
    def returning(sch):
        tile_matmul(sch)
        return sch

    def returning_mod(sch):
        tile_matmul(sch)
        return sch.mod

    for schedule in (returning, returning_mod):
        np.testing.assert_allclose(mlc.jit(layer, schedule=schedule)(X, W, B), layer(X, W, B), rtol=1e-5, atol=1e-5)


def test_bad_schedule_result():
    with pytest.raises(mlc.MLCError, match="edits the Schedule"):
        mlc.jit(layer, schedule=lambda sch: 42)(X, W, B)


def test_illegal_schedule_raises_schedule_error():
    def bad(sch):
        block = sch.get_block("T_matmul", func_name="fused_matmul_add_maximum")
        sch.parallel(sch.get_loops(block)[2])  # the reduction loop

    with pytest.raises(mlc.ScheduleError):
        mlc.jit(layer, schedule=bad)(X, W, B)


def test_without_a_schedule_the_default_rules_apply():
    lowered = mlc.jit(layer).lower(X, W, B)
    scheduled = lowered.scheduled()
    assert not mlc.structural_equal(scheduled, lowered.mod)
    kinds = {n.kind for func in scheduled.values() for n in pre_order_nodes(func.body) if isinstance(n, For)}
    assert "vectorized" in kinds or "parallel" in kinds
    reference = mlc.jit(layer, target="reference").lower(X, W, B).scheduled()
    assert mlc.structural_equal(reference, lowered.mod)  # the reference target runs kernels as written
