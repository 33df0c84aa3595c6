"""Temporal blocking of time-step loops over row stencils (mlc.passes.graph.temporal_blocking):
the blocked program gives NumPy's answer for any size, step count and tiling, on llvm and on
the reference interpreter; what is no row stencil is left as it is and still right."""
import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import mlc
from mlc.backends.llvm import target_kind
from mlc.ir import te
from mlc.ir.arith import Analyzer
from mlc.ir.expr import const
from mlc.ir.functor import pre_order_nodes, substitute
from mlc.ir.tir import For

tb = importlib.import_module("mlc.passes.graph.temporal_blocking")  # the module, not its pass
#: the share of the L3 cache that a step staying in it takes (small_tiles sets it to 0)
L3_SHARE = tb.L3_SHARE
#: the fixture sets every example's sizes itself
FIXTURE_OK = [HealthCheck.function_scoped_fixture]


def heat(u, steps):
    for t in range(steps):
        u[1:-1, 1:-1] += 0.1 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1])


def heat3(u, steps):  # a 3-D stencil, returned rather than written in place
    for t in range(steps):
        u = u.copy()
        u[1:-1, 1:-1, 1:-1] = 0.25 * (u[2:, 1:-1, 1:-1] + u[:-2, 1:-1, 1:-1] + u[1:-1, 2:, 1:-1]
                                      + u[1:-1, 1:-1, :-2])
    return u


def wide(u, steps):  # reaches two rows down and three up
    for t in range(steps):
        v = u.copy()
        v[3:-2] = 0.5 * u[3:-2] + 0.25 * u[5:] + 0.125 * u[:-5]
        u = v
    return u


def edges(u, steps):  # a select guards reads past the last rows: not proven, left as it is
    for t in range(steps):
        u = 0.5 * u + 0.25 * np.concatenate([u[2:], u[-2:]]) + 0.125 * np.concatenate([u[:3], u[:-3]])
    return u


def rolled(u, steps):  # wraps around: a select guards reads past the last row, left as it is
    for t in range(steps):
        u = 0.5 * (np.roll(u, 1, axis=0) + u)
    return u


def flat_rolled(u, steps):  # a row's first element reads the row before's last: no row stencil
    for t in range(steps):
        u = 0.5 * (u + np.roll(u.ravel(), 1).reshape(u.shape))
    return u


def counted(u, steps):  # reads the loop's index: no stencil of u alone
    for t in range(steps):
        u = 0.5 * u + t
    return u


@pytest.fixture
def small_tiles(monkeypatch):
    """Block every array, in tiles of a few rows: ``set(scratch_rows, row_bytes)``."""
    monkeypatch.setattr(tb, "MIN_ARRAY_BYTES", 0)
    monkeypatch.setattr(tb, "L3_SHARE", 0)
    monkeypatch.setattr(tb, "MAX_REDUNDANCY", 1e9)

    def set_sizes(scratch_rows, row_bytes, steps=4):
        monkeypatch.setattr(tb, "SCRATCH_BYTES", scratch_rows * row_bytes)
        monkeypatch.setattr(tb, "STEPS", steps)
    return set_sizes


def _blocked_kernels(f, *args):
    mod = f.lower(*args).mod
    return [name for name, func in mod.items() if func.attr("mlc.scheduled") == tb.TEMPORAL_BLOCKED]


def _check(fn, u, steps, target, blocked=True):
    f = mlc.jit(fn, static_argnames=("steps",), target=target)
    if blocked is not None:
        assert bool(_blocked_kernels(f, u, steps)) == blocked
    ours, theirs = u.copy(), u.copy()
    got, expected = f(ours, steps), fn(theirs, steps)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    if expected is not None:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@settings(max_examples=8, deadline=None, suppress_health_check=FIXTURE_OK)
@given(n=st.integers(3, 19), m=st.integers(3, 37), steps=st.integers(9, 21), scratch=st.integers(1, 30),
       per_sweep=st.sampled_from([2, 4, 6]))
def test_blocked_heat_matches_numpy_on_llvm(small_tiles, n, m, steps, scratch, per_sweep):
    small_tiles(scratch + 2 * per_sweep * 2, 4 * m, per_sweep)  # at least one row a tile
    u = np.random.default_rng(n * 100 + m).random((n, m), dtype=np.float32)
    _check(heat, u, steps, "llvm")


@settings(max_examples=4, deadline=None, suppress_health_check=FIXTURE_OK)
@given(n=st.integers(3, 9), m=st.integers(3, 9), steps=st.integers(9, 13), scratch=st.integers(1, 6))
def test_blocked_heat_matches_numpy_on_the_reference_backend(small_tiles, n, m, steps, scratch):
    small_tiles(scratch + 8, 4 * m, 2)
    u = np.random.default_rng(n + m).random((n, m), dtype=np.float32)
    _check(heat, u, steps, "reference")


def test_a_gpu_target_keeps_its_loop_as_it_is(small_tiles):
    small_tiles(40, 4 * 5, 2)
    _check(heat, np.random.default_rng(4).random((6, 5), dtype=np.float32), 9, "cuda-emulator", blocked=False)


@pytest.mark.parametrize("steps, per_sweep", [(9, 8), (11, 10)])
def test_a_sweep_has_no_more_steps_than_the_loop(small_tiles, steps, per_sweep):
    small_tiles(60, 4 * 5, 12)
    u = np.random.default_rng(steps).random((6, 5), dtype=np.float32)
    f = mlc.jit(heat, static_argnames=("steps",))
    assert [n.rsplit("_", 1)[1] for n in _blocked_kernels(f, u, steps)] == [f"blocked{per_sweep}"]
    _check(heat, u, steps, "llvm")


@pytest.mark.parametrize("shape, steps, blocked", [((7, 4, 5), 9, True), ((1, 1, 1), 10, None),
                                                   ((12, 3, 3), 11, True)])
def test_a_3d_stencil_is_blocked_and_matches_numpy(small_tiles, shape, steps, blocked):
    small_tiles(10, 4 * shape[1] * shape[2], 2)  # (1, 1, 1): its loop only copies, and may go
    _check(heat3, np.random.default_rng(1).random(shape, dtype=np.float32), steps, "llvm", blocked)


@pytest.mark.parametrize("n", [40, 6, 1])
def test_a_wider_stencil_matches_numpy(small_tiles, n):
    small_tiles(30, 8 * 3, 2)
    _check(wide, np.random.default_rng(n).random((n, 3)), 9, "llvm", blocked=None if n < 6 else True)


@pytest.mark.parametrize("fn", [flat_rolled, counted, edges, rolled])
def test_what_is_no_row_stencil_is_left_as_it_is(small_tiles, fn):
    small_tiles(20, 4 * 6, 2)
    _check(fn, np.random.default_rng(2).random((6, 5), dtype=np.float32), 9, "llvm", blocked=False)


def test_the_heat_benchmark_is_blocked_at_its_size():
    # a named CPU (not the host): the default caches of AVX2, an 8 MiB L3 that the 8 MiB of a
    # step's input and output do not stay in
    f = mlc.jit(heat, static_argnames=("steps",), target="llvm -mcpu=skylake")
    u = np.zeros((1024, 1024), np.float32)
    (name,) = _blocked_kernels(f, u, 1000)
    loops = [b for b in f.lower(u, 1000).graph.bindings if b.op == "for_loop"]
    assert [int(b.args[1].data) for b in loops] == [1000 // tb.STEPS] and name in str(loops[0].attr("body").script())


@pytest.fixture
def host_l3(monkeypatch, small_tiles):
    """Make the host's L3 cache ``set(l3_bytes)`` bytes (its L1 and L2 as they are), a step
    staying in it where it takes at most the pass's own share of it."""
    l1, l2, _ = mlc.Target.from_str("llvm").caches
    monkeypatch.setattr(tb, "L3_SHARE", L3_SHARE)
    monkeypatch.setattr(tb, "FAST_L3_CPUS", ("",))  # whatever the host's CPU

    def set_l3(l3_bytes):
        monkeypatch.setattr(target_kind, "host_caches", lambda: (l1, l2, l3_bytes))
    return set_l3


@pytest.mark.parametrize("l3_bytes, blocked", [(2 * 8 * 7 * 4 * 2, False), (2 * 8 * 7 * 4 * 2 - 4, True)])
def test_a_loop_whose_steps_stay_in_the_l3_is_not_blocked(small_tiles, host_l3, l3_bytes, blocked):
    small_tiles(20, 4 * 7, 2)
    host_l3(l3_bytes)  # an 8 x 7 float32 step reads and writes 448 bytes: L3_SHARE of 896 holds them
    assert L3_SHARE == 0.5
    _check(heat, np.random.default_rng(5).random((8, 7), dtype=np.float32), 9, "llvm", blocked)


@settings(max_examples=8, deadline=None, suppress_health_check=FIXTURE_OK)
@given(n=st.integers(1, 13), m=st.integers(1, 21), steps=st.sampled_from([0, 1, 2, 3, 7, 9, 12]),
       stays=st.booleans())
def test_heat_matches_numpy_whether_its_steps_stay_in_the_l3_or_not(small_tiles, host_l3, n, m, steps, stays):
    small_tiles(24, 4 * m, 2)
    step_bytes = 2 * n * m * 4
    host_l3(int(step_bytes / L3_SHARE) if stays else step_bytes - 4)
    u = np.random.default_rng(n * 50 + m).random((n, m), dtype=np.float32)
    _check(heat, u, steps, "llvm", blocked=False if stays else None)


def test_the_cpu_pipeline_blocks_only_steps_that_leave_the_l3():
    traced = mlc.jit(heat, static_argnames=("steps",), target="llvm -mcpu=skylake").trace(
        np.zeros((1024, 1024), np.float32), 1000)
    names = {l3: [p.__name__ for p in mlc.passes.graph.cpu_graph_pipeline(l3)] for l3 in (0, 32 << 20)}
    assert names[0] == names[32 << 20] and "temporal_blocking" in names[0]
    assert mlc.passes.graph.cpu_graph_pipeline(0) == mlc.passes.graph.CPU_GRAPH_PIPELINE
    kernels = {l3: [f.attr("mlc.scheduled") for _, f in mlc.passes.graph.run_graph_passes(
        traced.graph, mlc.passes.graph.cpu_graph_pipeline(l3)).module.items()] for l3 in (8 << 20, 32 << 20)}
    assert tb.TEMPORAL_BLOCKED in kernels[8 << 20] and tb.TEMPORAL_BLOCKED not in kernels[32 << 20]


def test_find_stencil_refuses_a_column_that_moves_with_the_row():
    A = te.placeholder((4, 4), "float32", "A")
    B = te.compute((4, 4), lambda i, j: A[i, j] + A[i, (i + j) % 4], name="B")
    assert tb.find_stencil(te.create_prim_func([A, B])) is None
    C = te.compute((4, 4), lambda i, j: A[i, j] * 2, name="C")
    assert tb.find_stencil(te.create_prim_func([A, C])).halo == 0


def test_blocking_plan_leaves_small_arrays_and_few_steps_alone():
    assert tb.blocking_plan((512, 256), 4, 1, 1000) is None          # 512 KiB: in cache
    assert tb.blocking_plan((4096, 4096), 4, 1, 1) is None            # one step
    assert tb.blocking_plan((4096,), 4, 1, 1000) is None              # one axis
    plan = tb.blocking_plan((2048, 2048), 4, 1, 1000)
    assert plan.steps % 2 == 0 and plan.rows > 0
    assert tb.blocking_plan((1024, 1024), 4, 1, 1000, l3_bytes=32 << 20) is None   # 8 MiB a step, in L3
    assert tb.blocking_plan((1024, 1024), 4, 1, 1000, l3_bytes=(16 << 20) - 1) is not None
    assert tb.blocking_plan((2048, 2048), 4, 1, 1000, l3_bytes=32 << 20) == plan


def test_covers_allows_a_smaller_reach_only_where_the_edge_rows_alone_reach_further():
    A = te.placeholder((40, 4), "float32", "A")
    clamped = te.compute((40, 4), lambda i, j: A[te.max(te.min(i - 1, 37), 0) + 2, j], name="B")  # row 0 reads 2
    two_away = te.compute((40, 4), lambda i, j: A[te.min(i + 2, 39), j], name="C")
    st_clamped, st_two = (tb.find_stencil(te.create_prim_func([A, t])) for t in (clamped, two_away))
    assert (st_clamped.halo, st_two.halo) == (2, 2)
    assert tb.covers(st_clamped, tb.Plan(4, 6, 1)) and not tb.covers(st_two, tb.Plan(4, 6, 1))
    assert tb.covers(st_two, tb.Plan(4, 6, 2))


def _vector_starts(func):
    """For each vector loop of ``func`` over a row of a buffer whose rows are a whole number of
    vectors: its buffer's row length, lanes and the column each of its vectors starts at."""
    starts = []
    for loop in pre_order_nodes(func.body):
        if not (isinstance(loop, For) and isinstance(loop.body, For) and loop.body.kind == "vectorized"):
            continue
        store, lanes = loop.body.body, int(loop.body.extent.value)
        width = tb.static_shape(store.buffer)[-1]
        if width % lanes:
            continue
        at = [Analyzer().simplify(substitute(store.indices[-1], {loop.loop_var: const(o, loop.loop_var.dtype),
                                                                 loop.body.loop_var: const(0, loop.loop_var.dtype)}))
              for o in range(int(loop.extent.value))]
        starts.append((width, lanes, [int(a.value) for a in at]))
    return starts


@pytest.mark.parametrize("m", [64, 48])
def test_a_rows_vectors_start_on_the_vector_grid_but_its_first_and_last(small_tiles, m):
    """Every vector of a row but the first and the last is stored where a whole vector of the
    buffer's memory starts (a cache line for 16 float32): the row's first computed column is
    not on it (the stencil's edge), and vectors from there straddled the grid, each load and
    store of them across two cache lines half the time."""
    small_tiles(12, 4 * m, 2)
    u = np.zeros((20, m), np.float32)
    mod = mlc.jit(heat, static_argnames=("steps",)).lower(u, 9).mod
    (stencil,) = [s for s in map(tb.find_stencil, mod.values()) if s is not None and s.halo]
    starts = _vector_starts(tb.blocked_kernel(stencil, tb.Plan(2, 4, 1)))
    assert starts
    for width, lanes, at in starts:
        assert all(a % lanes == 0 for a in at[1:-1]), (width, lanes, at)
        assert at[-1] + lanes <= width and at[0] < lanes


@settings(max_examples=5, deadline=None, suppress_health_check=FIXTURE_OK)
@given(n=st.integers(1, 12), m=st.sampled_from([1, 2, 3, 17, 18, 19, 20, 21, 33, 35, 36, 37, 47, 48, 50, 53]),
       steps=st.integers(9, 13), scratch=st.integers(1, 9))
def test_rows_of_any_length_match_numpy_with_their_vectors_on_the_grid(small_tiles, n, m, steps, scratch):
    """Rows whose length is no whole number of vectors (each row starts elsewhere on the grid)
    and rows of one vector or a few more."""
    small_tiles(scratch + 8, 4 * m, 2)
    u = np.random.default_rng(n * 100 + m).random((n, m), dtype=np.float32)
    _check(heat, u, steps, "llvm", blocked=None)
