"""Loop extents that multiply past int32: fuse and split widen the new loop variable to int64.

The big programs are only scheduled and printed (nothing of their size is
allocated); the kernels that run count their iterations into one int64
cell, so LLVM runs billions of iterations in closed form.
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.ir import BufferRegion, IterVar, Range, Var, const
from mlc.ir.buffer import decl_buffer
from mlc.ir.tir import Block, BlockRealize, BufferStore, For, PrimFunc
from mlc.schedules import Schedule
from mlc.schedules.apply import as_written
from mlc.schedules.state import all_loops

TRUE = const(True, "bool")
INT32_MAX = 2**31 - 1


def counting(extents) -> mlc.IRModule:
    """``C[0] += 1`` for every point of ``extents`` (no init: the caller zeroes C)."""
    C = decl_buffer((1,), "int64", "C")
    ivs = tuple(IterVar(Var(f"v{n}"), Range.from_extent(const(e)), "reduce") for n, e in enumerate(extents))
    loops = [Var(f"i{n}") for n in range(len(extents))]
    blk = Block("count", ivs, (), (BufferRegion(C, (Range(const(0), const(1)),)),),
                BufferStore(C, C[0] + const(1, "int64"), (const(0),)))
    body = BlockRealize(tuple(loops), TRUE, blk)
    for var, e in reversed(list(zip(loops, extents))):
        body = For(var, const(0), const(e), "serial", body)
    root = Block("root", (), (), (), body)
    return mlc.IRModule({"main": PrimFunc((C,), BlockRealize((), TRUE, root),
                                          (("global_symbol", "main"), ("tir.noalias", True)))})


def count(mod, target) -> int:
    c = np.zeros(1, "int64")
    mlc.build(mod, target, schedule=as_written)["main"](c)
    return int(c[0])


def fused_counting(extents) -> mlc.IRModule:
    sch = Schedule(counting(extents))
    sch.fuse(*sch.get_loops(sch.get_block("count")))
    return sch.mod


def test_fusing_past_int32_gives_an_int64_loop_and_casts_each_part_back():
    A = te.placeholder((65536, 32769), "float32", "A")
    B = te.compute((65536, 32769), lambda i, j: A[i, j] + 1, "B")
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    sch.fuse(*sch.get_loops(sch.get_block("B")))
    (loop,) = [loc.node for loc in all_loops(sch.mod["main"])]
    assert loop.loop_var.dtype == "int64" and loop.extent.value == 65536 * 32769
    text = sch.mod["main"].script()
    assert "for i_j_fused in range(T.int64(2147549184)):" in text
    assert 'vi = T.axis.spatial(65536, T.Cast("int32", i_j_fused // T.int64(32769)))' in text
    assert 'vj = T.axis.spatial(32769, T.Cast("int32", i_j_fused % T.int64(32769)))' in text


@settings(max_examples=12, deadline=None)
@given(n=st.integers(2, 1 << 16), over=st.integers(-2, 3))
def test_fused_loops_near_the_int32_limit_run_every_iteration(n, over):
    """Around 2**31 iterations: the fused loop runs exactly n * m of them (LLVM)."""
    m = max(1, (INT32_MAX + over) // n + 1)
    mod = fused_counting((n, m))
    assert count(mod, "llvm") == n * m


@settings(max_examples=10, deadline=None)
@given(extents=st.lists(st.integers(1, 7), min_size=2, max_size=3))
def test_small_fused_loops_keep_their_dtype_and_count_right(extents):
    mod = fused_counting(extents)
    (loop,) = [loc.node for loc in all_loops(mod["main"])]
    assert loop.loop_var.dtype == "int32"
    want = int(np.prod(extents))
    assert count(mod, "reference") == want and count(mod, "llvm") == want


def test_split_factors_that_multiply_past_int32_give_int64_loops():
    """The guard ``j_0 * 65536 + j_1 < 10`` must not wrap to a negative index."""
    sch = Schedule(counting((10,)))
    (i,) = sch.get_loops(sch.get_block("count"))
    sch.split(i, [65536, 65536])
    loops = [loc.node for loc in all_loops(sch.mod["main"])]
    assert [f.loop_var.dtype for f in loops] == ["int64", "int64"]
    assert [f.extent.value for f in loops] == [65536, 65536]
    assert "T.where(i0_0 * T.int64(65536) + i0_1 < T.int64(10))" in sch.mod["main"].script()


@settings(max_examples=10, deadline=None)
@given(extent=st.integers(1, 40), factor=st.integers(1, 9))
def test_small_splits_keep_int32_and_count_right(extent, factor):
    sch = Schedule(counting((extent,)))
    (i,) = sch.get_loops(sch.get_block("count"))
    sch.split(i, [None, factor])
    assert {loc.node.loop_var.dtype for loc in all_loops(sch.mod["main"])} == {"int32"}
    assert count(sch.mod, "reference") == extent and count(sch.mod, "llvm") == extent


def test_fusing_an_empty_loop_gives_an_empty_loop():
    A = te.placeholder((4, 0), "float32", "A")
    B = te.compute((4, 0), lambda i, j: A[i, j] + 1, "B")
    mod = mlc.IRModule({"main": te.create_prim_func([A, B])})
    sch = Schedule(mod)
    sch.fuse(*sch.get_loops(sch.get_block("B")))
    (loop,) = [loc.node for loc in all_loops(sch.mod["main"])]
    assert loop.extent.value == 0
    for target in ("reference", "llvm"):
        mlc.build(sch.mod, target)["main"](np.zeros((4, 0), "float32"), np.zeros((4, 0), "float32"))
