"""tensorize with a description that has an init (what te.sum writes).

The description's init re-initialises its output at every call; it matches a
block only when that is when the block's own init runs (the tile covers the
whole reduction). A reduction continuing across tiles is refused, and the
TVM recipe (decompose_reduction, then an init-free description) is correct.
"""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import ScheduleError, te
from mlc.ir.tir import BlockRealize
from mlc.schedules import Schedule, TensorIntrin
from mlc.schedules.apply import as_written
from mlc.schedules.tensor_intrin import body_of, unit_of


def mm_bt(m, n, k):
    """C = A @ B.T, written in te (so the block has an init)."""
    A = te.placeholder((m, k), "float32", "A")
    B = te.placeholder((n, k), "float32", "B")
    r = te.reduce_axis((0, k), "k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r] * B[j, r], axis=r), "C")
    return te.create_prim_func([A, B, C])


def without_init(func):
    """The description with its block's init removed: it accumulates into C."""
    loops, realize = unit_of(body_of(func))
    stmt = replace(realize, block=replace(realize.block, init=None))
    for loop in reversed(loops):
        stmt = replace(loop, body=stmt)
    root = func.root_block
    return func.with_body(BlockRealize((), func.body.predicate, replace(root, body=stmt)))


def intrinsic(t: int, init: bool) -> str:
    name = f"test_te_mm_bt_{t}{'' if init else '_acc'}"
    desc = mm_bt(t, t, t) if init else without_init(mm_bt(t, t, t))
    impl = mm_bt(t, t, t) if init else without_init(mm_bt(t, t, t))
    TensorIntrin.register(name, desc, impl, override=True)
    return name


def tiled(m, n, k, t, decompose=False):
    """Tile i, j, k by t, blockize the t*t*t tile; optionally decompose the init first."""
    sch = Schedule(mlc.IRModule({"main": mm_bt(m, n, k)}))
    block = sch.get_block("C")
    i, j, kk = sch.get_loops(block)
    i0, i1 = sch.split(i, [None, t])
    j0, j1 = sch.split(j, [None, t])
    k0, k1 = sch.split(kk, [None, t])
    sch.reorder(i0, j0, k0, i1, j1, k1)
    if decompose:
        sch.decompose_reduction(block, k0)
    return sch, sch.blockize(i1)


def check(mod, m, n, k, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (m, k)).astype("float32")
    b = rng.uniform(-1, 1, (n, k)).astype("float32")
    want = np.full((m, n), np.nan, "float32")
    mlc.build(mlc.IRModule({"main": mm_bt(m, n, k)}), "reference")["main"](a, b, want)
    np.testing.assert_allclose(want, a @ b.T, rtol=1e-4, atol=1e-4)
    for target in ("reference", "llvm"):
        c = np.full((m, n), np.nan, "float32")
        mlc.build(mod, target, schedule=as_written)["main"](a, b, c)
        np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-4, err_msg=target)


def test_a_reduction_split_across_tiles_is_refused_with_the_reason():
    """N=64 tiled by 16: the description's init would zero C at every k tile."""
    name = intrinsic(16, init=True)
    sch, outer = tiled(64, 64, 64, 16)
    before = sch.mod
    with pytest.raises(ScheduleError, match=r"re-initialises the output at the start of every tile, "
                                            r"but the reduction over vk_o continues across tiles \(vk_o "
                                            r"takes 4 values\)"):
        sch.tensorize(outer, name)
    mlc.assert_structural_equal(sch.mod, before)


@settings(max_examples=12, deadline=None)
@given(t=st.sampled_from([1, 2, 4]), mi=st.integers(1, 3), ni=st.integers(1, 3),
       ragged=st.booleans())
def test_a_tile_covering_the_whole_reduction_is_tensorized_correctly(t, mi, ni, ragged):
    name = intrinsic(t, init=True)
    m, n = mi * t + (1 if ragged and t > 1 else 0), ni * t
    sch, outer = tiled(m, n, t, t)
    if m % t:
        with pytest.raises(ScheduleError, match="whole tiles"):
            sch.tensorize(outer, name)
        return
    sch.tensorize(outer, name)
    check(sch.mod, m, n, t)


def test_a_decomposed_init_does_not_match_a_description_that_overwrites():
    name = intrinsic(4, init=True)
    sch, outer = tiled(8, 8, 8, 4, decompose=True)
    with pytest.raises(ScheduleError, match="its init was decomposed"):
        sch.tensorize(outer, name)


@settings(max_examples=8, deadline=None)
@given(t=st.sampled_from([1, 2, 4]), mi=st.integers(1, 3), ni=st.integers(1, 2), ki=st.integers(1, 3))
def test_decompose_then_an_accumulating_description_is_correct_across_k_tiles(t, mi, ni, ki):
    """TVM's recipe: the init runs on its own, the intrinsic accumulates tile after tile."""
    name = intrinsic(t, init=False)
    m, n, k = mi * t, ni * t, ki * t
    sch, outer = tiled(m, n, k, t, decompose=True)
    sch.tensorize(outer, name)
    check(sch.mod, m, n, k)


def test_an_accumulating_description_refuses_a_block_with_an_init():
    name = intrinsic(4, init=False)
    sch, outer = tiled(8, 8, 8, 4)
    with pytest.raises(ScheduleError, match="decompose_reduction first"):
        sch.tensorize(outer, name)
