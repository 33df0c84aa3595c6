"""Schedule primitives and the default CPU rules on loops of symbolic extent
(``n = te.var("n")``): guarded splits, fused symbolic loops, threads on the
symbolic outer loop, and the refusals."""
import numpy as np
import pytest

import mlc
from mlc import ScheduleError
from mlc.ir import te
from mlc.schedules import Schedule
from mlc.schedules.default import default_schedule
from mlc.schedules.default.steps import CpuInfo
from mlc.schedules.default.cpu import schedule_cpu


def _scale(n, m=8):
    A = te.placeholder((n, m), "float32", "A")
    B = te.compute((n, m), lambda i, j: A[i, j] * 2, name="B")
    return te.create_prim_func([A, B])


def _matmul(n):
    A = te.placeholder((n, 64), "float32", "A")
    W = te.placeholder((64, 48), "float32", "W")
    k = te.reduce_axis((0, 64), "k")
    Y = te.compute((n, 48), lambda i, j: te.sum(A[i, k] * W[k, j], axis=k), name="Y")
    Z = te.compute((n, 48), lambda i, j: te.max(Y[i, j], te.const(0, "float32")), name="Z")
    return te.create_prim_func([A, W, Z])


def test_split_of_a_symbolic_loop_infers_the_outer_extent_and_guards_the_tail():
    sch = Schedule(_scale(te.var("n")))
    i, _ = sch.get_loops(sch.get_block("B"))
    sch.split(i, [None, 4])
    script = sch.mod["main"].script()
    assert "for i_0, i_1, j in T.grid((n + 3) // 4, 4, 8):" in script
    assert "vi = T.axis.spatial(n, i_0 * 4 + i_1)" in script
    assert "T.where(i_0 * 4 + i_1 < n)" in script


def test_split_of_a_symbolic_loop_by_constant_factors_only_is_refused():
    sch = Schedule(_scale(te.var("n")))
    i, _ = sch.get_loops(sch.get_block("B"))
    with pytest.raises(ScheduleError, match=r"loop i has the symbolic extent `n`; split it with one factor None"):
        sch.split(i, [4, 8])


def test_fuse_of_symbolic_loops_multiplies_their_extents():
    n, m = te.var("n"), te.var("m")
    sch = Schedule(_scale(n, m))
    i, j = sch.get_loops(sch.get_block("B"))
    sch.fuse(i, j)
    script = sch.mod["main"].script()
    assert "for i_j_fused in range(n * m):" in script
    assert "vi = T.axis.spatial(n, i_j_fused // m)" in script
    assert "vj = T.axis.spatial(m, i_j_fused % m)" in script


def test_parallel_and_vectorize_on_symbolic_loops_and_the_refusal_of_a_parallel_reduction():
    n = te.var("n")
    sch = Schedule(_matmul(n))
    i, j, k = sch.get_loops(sch.get_block("Y"))
    sch.parallel(i)
    with pytest.raises(ScheduleError, match="parallel"):
        sch.parallel(k)
    A = te.placeholder((n,), "float32", "A")
    k2 = te.reduce_axis((0, n), "k2")
    S = te.compute((1,), lambda _: te.sum(A[k2], axis=k2), name="S")
    sch = Schedule(te.create_prim_func([A, S]))
    _, r = sch.get_loops(sch.get_block("S"))
    with pytest.raises(ScheduleError, match="parallel"):
        sch.parallel(r)


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_a_split_fused_symbolic_nest_runs_every_size(target):
    sch = Schedule(_scale(te.var("n"), 6))
    i, j = sch.get_loops(sch.get_block("B"))
    outer, inner = sch.split(sch.fuse(i, j), [None, 16])
    sch.parallel(outer)
    lib = mlc.build(sch.mod, target=target)
    for rows in (0, 1, 2, 3, 11):
        a = np.random.default_rng(rows).standard_normal((rows, 6)).astype("float32")
        b = np.full_like(a, np.nan)
        lib["main"](a, b)
        np.testing.assert_array_equal(b, a * 2)


def test_default_rules_tile_a_symbolic_batch_matmul_and_run_its_row_tiles_on_threads():
    sch = Schedule(_matmul(te.var("n")))
    schedule_cpu(sch, "main", CpuInfo(vector_bits=256, cores=4))
    script = sch.mod["main"].script()
    # the rows are the outer, parallel loop, tiled and guarded; the columns vector tiles;
    # the register tile accumulates in a local cache and relu is fused into its write back
    assert "for i_0 in T.parallel((n + 5) // 6):" in script
    assert "T.where(i_0 * 6 + i_1 < n)" in script
    assert "Z[v0, v1] = T.max(Y_local[v0, v1], T.float32(0))" in script
    assert "T.vectorized(16)" in script


def test_default_rules_parallelize_a_symbolic_elementwise_outer_loop_and_vectorize_the_rows():
    sch = Schedule(_scale(te.var("n"), 256))
    schedule_cpu(sch, "main", CpuInfo(vector_bits=256, cores=4))
    script = sch.mod["main"].script()
    assert "for i in T.parallel(n):" in script
    assert "T.vectorized(16)" in script


def test_default_rules_vectorize_a_one_dimensional_symbolic_loop_with_a_guarded_tail():
    n = te.var("n")
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] + 1, name="B")
    mod = default_schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}), mlc.Target("llvm", "haswell"))
    script = mod.mod["main"].script()
    assert "for i_1 in T.vectorized(16):" in script
    assert "T.where(i_0 * 16 + i_1 < n)" in script


def test_compact_buffers_shrinks_the_register_tile_of_a_symbolic_matmul():
    from mlc.backends.llvm.module import lower_for_llvm
    sch = Schedule(_matmul(te.var("n")))
    schedule_cpu(sch, "main", CpuInfo(vector_bits=256, cores=4))
    lowered = lower_for_llvm(sch.mod)["main"].script()
    assert 'Y_local = T.allocate([96], "float32", "local")' in lowered


def test_default_rules_run_a_symbolic_batch_of_softmax_rows_one_row_at_a_time():
    n = te.var("n")
    A = te.placeholder((n, 64), "float32", "A")
    k = te.reduce_axis((0, 64), "k")
    M = te.compute((n,), lambda i: te.max(A[i, k], axis=k), name="M")
    E = te.compute((n, 64), lambda i, j: te.exp(A[i, j] - M[i]), name="E")
    k2 = te.reduce_axis((0, 64), "k2")
    S = te.compute((n,), lambda i: te.sum(E[i, k2], axis=k2), name="S")
    O = te.compute((n, 64), lambda i, j: E[i, j] / S[i], name="O")
    sch = Schedule(te.create_prim_func([A, O]))
    schedule_cpu(sch, "main", CpuInfo(vector_bits=256, cores=4))
    script = sch.mod["main"].script()
    assert "for i in T.parallel(n):" in script
    assert script.count("for i in") == 1  # every stage under the one row loop
    lib = mlc.build(sch.mod)
    a = np.random.default_rng(0).standard_normal((5, 64)).astype("float32")
    o = np.empty_like(a)
    lib["main"](a, o)
    e = np.exp(a - a.max(1, keepdims=True))
    np.testing.assert_allclose(o, e / e.sum(1, keepdims=True), rtol=1e-5)


def test_default_rules_give_a_symbolic_batch_of_row_sums_vector_accumulators_and_threads():
    n = te.var("n")
    A = te.placeholder((n, 256), "float32", "A")
    k = te.reduce_axis((0, 256), "k")
    S = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), name="S")
    sch = Schedule(te.create_prim_func([A, S]))
    schedule_cpu(sch, "main", CpuInfo(vector_bits=256, cores=4))
    script = sch.mod["main"].script()
    assert "T.parallel(n)" in script and "T.vectorized(8)" in script
    lib = mlc.build(sch.mod)
    for rows in (0, 1, 3):
        a = np.random.default_rng(rows).standard_normal((rows, 256)).astype("float32")
        s = np.empty(rows, "float32")
        lib["main"](a, s)
        np.testing.assert_allclose(s, a.sum(1), rtol=1e-5, atol=1e-5)
