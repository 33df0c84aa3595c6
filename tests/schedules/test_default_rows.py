"""The row rule of the default CPU schedule: softmax / layer_norm kernels run one row
at a time, reductions with vector accumulators; results equal the reference interpreter."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.llvm import compile_sources
from mlc.backends.llvm import generate as llvm_generate
from mlc.backends.llvm.generate import lower_for_llvm
from mlc.backends.llvm.streaming import apart, streaming_buffers
from mlc.ir.expr import BufferLoad
from mlc.ir.extern import PREFETCH_FOR_LATER, PREFETCH_FOR_READ, PREFETCH_FOR_WRITE, PREFETCHES, AddressOf, CallExtern
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, For
from mlc.ops import get_op
from mlc.passes.tir.row_prefetch import WRITE_AHEAD
from mlc.schedules import Schedule
from mlc.schedules.default.cpu import inline_injective
from mlc.schedules.default.rows import (accumulator_width, row_accumulators, schedule_row_parts,
                                        schedule_row_reduction, schedule_rows)
from mlc.schedules.default.steps import CpuInfo, attempt
from mlc.target import Target

from .test_default_cpu import check, module, random_args, run

TWO_CORES = CpuInfo(256, 2)


def rows_applied(mod) -> tuple[Schedule, set | None]:
    sch = Schedule(mod)
    inline_injective(sch, "main", TWO_CORES)
    return sch, attempt(sch, schedule_rows, "main", TWO_CORES)


def root_loops(func) -> list[For]:
    body = func.body.block.body if hasattr(func.body, "block") else func.body
    seq = getattr(body, "seq", (body,))
    return [s for s in seq if isinstance(s, For)]


def row_op_module(op: str, rows: int, cols: int):
    """``op`` (softmax, log_softmax over the last axis, or layer_norm) of a ``rows x cols``
    float32 input, as a module."""
    X = te.placeholder((rows, cols), "float32", "X")
    if op == "nn.layer_norm":
        g, b = te.placeholder((cols,), "float32", "g"), te.placeholder((cols,), "float32", "b")
        return module(X, g, b, get_op(op).lower(X, g, b))
    return module(X, get_op(op).lower(X, axis=-1))


@pytest.mark.parametrize("op", ["nn.softmax", "nn.log_softmax"])
def test_softmax_stages_share_one_row_loop(op):
    X = te.placeholder((64, 128), "float32", "X")
    mod = module(X, get_op(op).lower(X, axis=-1))
    sch, done = rows_applied(mod)
    assert done is not None
    (loop,) = root_loops(sch.mod["main"])           # every stage under one loop over rows
    assert loop.extent.value == 64 and loop.kind == "serial"   # 64x128: too little work for threads
    kinds = [n.kind for n in pre_order_nodes(loop) if isinstance(n, For)]
    assert "vectorized" in kinds and "unrolled" in kinds     # vector accumulators
    check(mod, rtol=1e-5, atol=1e-6)


def test_rows_run_in_parallel_when_there_is_enough_work():
    X = te.placeholder((512, 256), "float32", "X")
    sch, _ = rows_applied(module(X, get_op("nn.softmax").lower(X, axis=-1)))
    (loop,) = root_loops(sch.mod["main"])
    assert loop.kind == "parallel" and loop.extent.value == 512


def test_layer_norm_stages_share_one_row_loop():
    X = te.placeholder((8, 3, 40), "float32", "X")
    g, b = te.placeholder((40,), "float32", "g"), te.placeholder((40,), "float32", "b")
    mod = module(X, g, b, get_op("nn.layer_norm").lower(X, g, b))
    sch, done = rows_applied(mod)
    assert done is not None and len(root_loops(sch.mod["main"])) == 1
    check(mod, rtol=1e-4, atol=1e-5)


def test_column_reductions_are_left_to_the_block_rules():
    X = te.placeholder((64, 128), "float32", "X")
    mod = module(X, get_op("nn.softmax").lower(X, axis=0))
    _, done = rows_applied(mod)
    assert done is None
    check(mod, rtol=1e-5, atol=1e-6)


def test_a_move_that_would_recompute_is_undone():
    """out[i, j] = A[i, j] - S[j]: S is read across rows, so computing it per row
    would redo the whole reduction for every row."""
    A = te.placeholder((16, 16), "float32", "A")
    k = te.reduce_axis((0, 16), "k")
    S = te.compute((16,), lambda i: te.sum(A[i, k], axis=k), name="S")
    out = te.compute((16, 16), lambda i, j: A[i, j] - S[j], name="out")
    mod = module(A, out)
    sch, done = rows_applied(mod)
    assert done is None and len(root_loops(sch.mod["main"])) == 2
    check(mod)


def test_accumulator_width():
    assert accumulator_width(1024, 8) == 32       # 4 vectors of 8 lanes
    assert accumulator_width(48, 8) == 24          # 3 vectors divide 48 at least twice
    assert accumulator_width(16, 8) == 8
    assert accumulator_width(8, 8) is None         # one vector: nothing to accumulate
    assert accumulator_width(1023, 8) == 32        # none divides: 4 vectors, the last block ragged
    assert accumulator_width(20, 8) == 8           # one vector fits twice
    assert accumulator_width(15, 8) is None        # not even that
    assert accumulator_width(64, 1) is None


def test_row_accumulators_take_half_vectors_where_only_those_divide_the_row():
    assert row_accumulators(1024, 16) == (64, 16)   # whole vectors divide: as accumulator_width
    assert row_accumulators(1000, 16) == (40, 8)    # five 8-lane accumulators
    assert row_accumulators(1000, 8) == (8, 8)      # AVX2: one whole vector divides
    assert row_accumulators(1001, 16) == (64, 16)   # nothing divides: ragged, as before
    assert row_accumulators(200, 16) == (40, 8)
    assert row_accumulators(24, 16) == (None, 16)   # no whole vector fits twice: no accumulators
    assert row_accumulators(1004, 8) == (32, 8)     # only one 4-lane vector divides: ragged instead


AVX512 = CpuInfo(512, 2)


@pytest.mark.parametrize("op", ["nn.softmax", "nn.layer_norm"])
@pytest.mark.parametrize("rows, cols", [(4, 1000), (3, 200), (2, 120)])
def test_rows_only_half_vectors_divide_share_one_row_loop(op, rows, cols):
    """On AVX-512, 1000 floats are no multiple of a 16-lane vector: the accumulators are
    8-lane vectors (a ragged split would keep compute_at from moving the stages under the
    rows, and each stage would take a pass over all rows of its own)."""
    mod = row_op_module(op, rows, cols)
    sch = Schedule(mod)
    inline_injective(sch, "main", AVX512)
    assert attempt(sch, schedule_rows, "main", AVX512) is not None
    (loop,) = root_loops(sch.mod["main"])
    assert loop.extent.value == rows
    widths = {n.extent.value for n in pre_order_nodes(loop) if isinstance(n, For) and n.kind == "vectorized"}
    assert 8 in widths  # the accumulators
    args = random_args(mod["main"], seed=cols)
    want = run(mod, "reference", args)[-1]
    got = run(sch.mod, "llvm", args, schedule=mlc.schedules.as_written)[-1]  # runs on any host
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([1, 2, 3, 17]), st.sampled_from([1, 7, 8, 16, 33, 64, 96]),
       st.sampled_from(["nn.softmax", "nn.log_softmax", "nn.layer_norm"]))
def test_row_kernels_of_any_size(rows, cols, op):
    mod = row_op_module(op, rows, cols)
    check(mod, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reducer", [te.max, te.sum, te.min])
def test_a_lone_row_reduction_gets_vector_accumulators(reducer):
    A = te.placeholder((64, 256), "float32", "A")
    k = te.reduce_axis((0, 256), "k")
    R = te.compute((64,), lambda i: reducer(A[i, k], axis=k), name="R")
    mod = module(A, R)
    sch = Schedule(mod)
    assert attempt(sch, schedule_row_reduction, "main", "R", TWO_CORES) is not None
    kinds = [n.kind for n in pre_order_nodes(sch.mod["main"].body) if isinstance(n, For)]
    assert kinds.count("vectorized") >= 2 and "unrolled" in kinds
    check(mod, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(77,), (5, 77), (3, 1001)])
@pytest.mark.parametrize("reducer", [te.max, te.sum, te.min])
def test_a_ragged_row_reduction_gets_accumulators_too(shape, reducer):
    """No vector multiple divides the row: the accumulators' split is ragged, its last block
    peeled off; the rf block carries the split's predicate, so the combining blocks move
    under its row loop (compute_at cannot carry such a predicate)."""
    A = te.placeholder(shape, "float32", "A")
    k = te.reduce_axis((0, shape[-1]), "k")
    R = te.compute(shape[:-1], lambda *i: reducer(A[i + (k,)], axis=k), name="R")
    mod = module(A, R)
    sch = Schedule(mod)
    assert attempt(sch, schedule_row_reduction, "main", "R", TWO_CORES) is not None
    assert "R_rf" in sch.mod["main"].script()
    check(mod, rtol=1e-5, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([(1,), (5,), (3, 16), (2, 7, 48), (4, 64), (70,), (3, 77), (2, 130), (5, 2, 33)]), st.booleans(),
       st.sampled_from([te.max, te.sum]))
def test_lone_reductions_over_the_last_axis_of_any_size(shape, keepdims, reducer):
    A = te.placeholder(shape, "float32", "A")
    k = te.reduce_axis((0, shape[-1]), "k")
    lead = shape[:-1]
    if keepdims:
        R = te.compute(lead + (1,), lambda *i: reducer(A[i[:-1] + (k,)], axis=k), name="R")
    else:
        R = te.compute(lead, lambda *i: reducer(A[i + (k,)], axis=k), name="R")
    check(module(A, R), rtol=1e-5, atol=1e-5)


def test_a_full_max_with_a_nan_is_nan():
    A = te.placeholder((128,), "float32", "A")
    k = te.reduce_axis((0, 128), "k")
    mod = module(A, te.compute((), lambda: te.max(A[k], axis=k), name="R"))
    a = np.arange(128, dtype="float32")
    a[77] = np.nan
    out = np.zeros((), "float32")
    mlc.build(mod, "llvm")["main"](a, out)
    assert np.isnan(out)


@pytest.mark.parametrize("shape", [(0, 64), (0, 1, 1), (3, 0)])
def test_empty_tensors_are_left_alone(shape):
    X = te.placeholder(shape, "float32", "X")
    mod = module(X, get_op("nn.softmax").lower(X, axis=-1))
    assert rows_applied(mod)[1] is None
    check(mod)


@pytest.mark.parametrize("rows, cols", [(8, 64), (5, 77), (3, 1001)])
def test_a_matrix_vector_product_gets_vector_accumulators(rows, cols):
    """``A @ x``: each output a dot product along A's rows, scheduled as a row reduction
    (the matmul rule has no column tile to make of it)."""
    A = te.placeholder((rows, cols), "float32", "A")
    x = te.placeholder((cols,), "float32", "x")
    k = te.reduce_axis((0, cols), "k")
    R = te.compute((rows,), lambda i: te.sum(A[i, k] * x[k], axis=k), name="R")
    mod = module(A, x, R)
    sch = Schedule(mod)
    assert attempt(sch, schedule_row_reduction, "main", "R", TWO_CORES) is not None
    kinds = [n.kind for n in pre_order_nodes(sch.mod["main"].body) if isinstance(n, For)]
    assert "vectorized" in kinds, sch.mod["main"].script()
    check(mod, rtol=1e-4, atol=1e-4)


def matvec_module(rows, cols, dtype="float32"):
    A, x = te.placeholder((rows, cols), dtype, "A"), te.placeholder((cols,), dtype, "x")
    k = te.reduce_axis((0, cols), "k")
    return module(A, x, te.compute((rows,), lambda i: te.sum(A[i, k] * x[k], axis=k), name="R"))


def row_tile(sch) -> tuple[int, int] | None:
    """(rows side by side, lanes of a vector) of a scheduled matrix-vector product's update:
    the unrolled loop over rows around the accumulators' vectors; None without one."""
    for n in pre_order_nodes(sch.mod["main"].body):
        if isinstance(n, For) and n.kind == "unrolled" and isinstance(n.body, For) and \
                n.body.kind == "unrolled" and isinstance(n.body.body, For) and n.body.body.kind == "vectorized" \
                and any(getattr(b, "name_hint", "") == "R_rf_update" for b in pre_order_nodes(n)):
            return n.extent.value, n.body.body.extent.value
    return None


@pytest.mark.parametrize("cpu, rows, cols, tile", [
    (CpuInfo(512, 2), 96, 1024, (8, 16)),    # 32 registers: 8 rows of two 16-lane vectors
    (CpuInfo(256, 2), 96, 1024, (4, 8)),     # 16 registers: 4 rows of two 8-lane vectors
    (CpuInfo(512, 2), 1000, 1000, (8, 8)),   # 1000: one 8-lane vector a row (no two divide it)
    (CpuInfo(512, 2), 1001, 64, (7, 16)),    # 1001 = 7 * 11 * 13: the most rows that divide
])
def test_a_matrix_vector_product_takes_rows_side_by_side(cpu, rows, cols, tile):
    """``A @ x`` computes several rows at once: x's vectors are loaded once for all of them
    and their accumulators are independent chains of updates."""
    sch = Schedule(matvec_module(rows, cols))
    assert attempt(sch, schedule_row_reduction, "main", "R", cpu) is not None
    assert row_tile(sch) == tile, sch.mod["main"].script()


@pytest.mark.parametrize("rows, cols", [(97, 1024), (96, 1001), (96, 8)])
def test_rows_side_by_side_need_rows_and_a_row_that_divide(rows, cols):
    """A prime number of rows, a row no vector multiple divides, a row of half a vector:
    one row at a time, as before (or, for the short row, no accumulators at all)."""
    sch = Schedule(matvec_module(rows, cols))
    attempt(sch, schedule_row_reduction, "main", "R", CpuInfo(512, 2))
    assert row_tile(sch) is None
    check(matvec_module(rows, cols), rtol=1e-4, atol=1e-4)


def test_a_plain_row_sum_streams_its_rows_one_at_a_time():
    """No operand the rows share: nothing to load once for several rows."""
    A = te.placeholder((96, 1024), "float32", "A")
    k = te.reduce_axis((0, 1024), "k")
    sch = Schedule(module(A, te.compute((96,), lambda i: te.sum(A[i, k], axis=k), name="R")))
    assert attempt(sch, schedule_row_reduction, "main", "R", CpuInfo(512, 2)) is not None
    assert "T.unroll(8)" not in sch.mod["main"].script()


@settings(max_examples=20, deadline=None)
@given(rows=st.sampled_from([1, 2, 6, 7, 8, 24, 30, 64]), cols=st.sampled_from([16, 32, 48, 64, 96, 256, 784]),
       dtype=st.sampled_from(["float32", "float64", "int32"]))
def test_matrix_vector_products_of_any_size(rows, cols, dtype):
    """Whichever way the rule takes (rows side by side or one at a time), the product is
    the reference interpreter's (on the host's vector width; the cases above pin both)."""
    check(matvec_module(rows, cols, dtype), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("rows, cols, parallel", [(2048, 256, True), (64, 128, False)])
def test_a_row_statistic_runs_its_rows_in_parallel_by_the_work_of_its_reduction(rows, cols, parallel):
    """x.mean(axis=1, keepdims=True): one output element per row, but the reduction reads every
    element; the rows are shared among the threads where that work is enough (it was judged by
    the one element per row, and 2048 rows of 256 ran on one thread)."""
    X = te.placeholder((rows, cols), "float32", "X")
    mod = module(X, get_op("mean").lower(X, axis=1, keepdims=True))
    sch, done = rows_applied(mod)
    assert done is not None
    (loop,) = root_loops(sch.mod["main"])
    assert (loop.kind == "parallel") == parallel
    check(mod, rtol=1e-5, atol=1e-6)


def layer_norm_vjp_module(parts: int, rows: int, cols: int):
    """``nn.layer_norm_vjp`` of a ``parts * rows x cols`` float32 input, its column sums by
    ``parts`` parts of ``rows`` rows, as a module."""
    X = te.placeholder((parts * rows, cols), "float32", "X")
    g = te.placeholder((cols,), "float32", "g")
    C = te.placeholder((parts * rows, cols), "float32", "C")
    return module(X, g, C, *get_op("nn.layer_norm_vjp").lower(X, g, C, parts=parts))


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3), st.sampled_from([1, 2, 3, 4, 6, 8, 12]), st.sampled_from([1, 7, 32, 64, 96, 100]))
@example(2, 8, 64).via("four rows a group")
@example(1, 6, 96).via("two rows a group")
@example(3, 3, 64).via("odd rows: no groups")
def test_layer_norm_gradient_runs_its_last_pass_over_groups_of_rows(parts, rows, cols):
    """The rows of a part in groups of up to four (two groups at least) where the row's
    columns make steps of two vectors: dx and the rows' terms of gamma's and beta's partial
    sums for the group side by side; the same numbers as the reference interpreter, groups
    or not (one row, odd rows, columns no vector divides)."""
    mod = layer_norm_vjp_module(parts, rows, cols)
    sch = Schedule(mod)
    inline_injective(sch, "main", AVX512)
    done = attempt(sch, schedule_row_parts, "main", AVX512)
    jam = next((j for j in (4, 2) if rows % j == 0 and rows > j), 1) if cols % 32 == 0 and cols > 32 else 1
    text = sch.mod["main"].script()
    assert done is not None or jam == 1, text
    if done is not None:
        update = text[text.index('T.block("T_lnv_dgamma_update")'):]
        assert (f"* {jam} + " in update[:update.index("T.reads")]) == (jam > 1), text
    check_gradient_outputs(mod, sch.mod, seed=rows * cols)


def check_gradient_outputs(mod, scheduled, seed: int):
    """``scheduled`` (run as written) and ``mod`` under this host's default schedule give
    the reference interpreter's outputs of ``mod`` (a gradient module: its outputs after
    its three inputs)."""
    args = random_args(mod["main"], seed=seed)
    want = run(mod, "reference", args)
    got = run(scheduled, "llvm", args, schedule=mlc.schedules.as_written)  # runs on any host
    default = run(mod, "llvm", args)  # this host's default schedule
    for p, w, o, d in list(zip(mod["main"].params, want, got, default))[3:]:
        np.testing.assert_allclose(o, w, rtol=1e-4, atol=1e-4, err_msg=p.name)
        np.testing.assert_allclose(d, w, rtol=1e-4, atol=1e-4, err_msg=p.name)


ZEN3 = CpuInfo(256, 2, caches=(32 << 10, 512 << 10, 32 << 20), l1_ways=8)


@settings(max_examples=2, deadline=None)
@given(st.sampled_from([1, 2, 3]), st.sampled_from([1, 3, 8]), st.sampled_from([1, 7, 64, 100, 256]))
@example(2, 8, 256).via("groups of four rows, 16 steps")
@example(1, 3, 64).via("odd rows: a row a group")
def test_layer_norm_gradients_last_pass_asks_for_the_next_rows_and_the_lines_it_writes(parts, rows, cols):
    """By default (ASK_AHEAD off), the gradient's last pass over a group of rows (dx and the
    rows' terms of the column sums) asks, a step at a time, for the next group's lines of X and C
    into the L2 (PREFETCH_FOR_LATER: the last group for itself) and for the lines of dx it
    writes WRITE_AHEAD steps on (PREFETCH_FOR_WRITE); not for g or the column sums (the same
    lines for every row), and the statistics' passes ask for nothing. The pinned target's code
    has the instructions. dx and the column sums are the reference interpreter's, hints or not
    (one row, one column, odd rows, columns no vector divides)."""
    mod = layer_norm_vjp_module(parts, rows, cols)
    sch = Schedule(mod)
    inline_injective(sch, "main", ZEN3)
    done = attempt(sch, schedule_row_parts, "main", ZEN3)
    lowered = lower_for_llvm(sch.mod)["main"]
    assert prefetched(lowered.body) == set()
    if done is not None and rows > 1 and cols > 1:
        (last,) = [f for f in pre_order_nodes(lowered.body) if isinstance(f, For) and hinted(f)
                   and not any(isinstance(g, For) and hinted(g) for g in pre_order_nodes(f.body))]
        assert any(isinstance(n, BufferStore) and n.buffer.name == "T_lnv_dx" for n in pre_order_nodes(last.body))
        assert prefetched(last, PREFETCH_FOR_LATER) == {"X", "C"}
        assert prefetched(last, PREFETCH_FOR_WRITE) == {"T_lnv_dx"}
        group = [f for f in pre_order_nodes(lowered.body) if isinstance(f, For) and f is not last
                 and any(g is last for g in pre_order_nodes(f.body))][-1]  # the loop over the groups
        for n in pre_order_nodes(last.body):
            if isinstance(n, CallExtern) and n.name in PREFETCHES:
                index = str(n.args[0].load.indices[0])
                after = f"T.min({group.loop_var.name} + 1, " if n.name == PREFETCH_FOR_LATER else \
                    f"T.min({last.loop_var.name} + {WRITE_AHEAD}, {last.extent.value - 1})"
                assert after in index, index
    if (parts, rows, cols) == (2, 8, 256):
        asm = compile_sources(sch.mod, Target("llvm", "znver3"))["asm"]
        assert "prefetcht1" in asm and "prefetchw" in asm
    check_gradient_outputs(mod, sch.mod, seed=parts * rows * cols)


def test_layer_norm_gradients_dx_streams_in_one_version_and_is_asked_for_in_the_other():
    """dx (8 MiB: beyond the pinned target's streaming threshold) is the kernel's only
    write-only output once the write-ahead hints' addresses count as no load of it: one
    version of the kernel stores it non-temporally (and ends with ``sfence``), the other,
    taken where dx starts near the page offset of a stream the kernel loads, stores it
    cached with the hints (``prefetchw``). dx streams from a threshold its 8 MiB reach, or
    the 16 MiB of X and C do (an output asked to be written ahead)."""
    mod = layer_norm_vjp_module(16, 128, 1024)
    sch = Schedule(mod)
    inline_injective(sch, "main", ZEN3)
    assert attempt(sch, schedule_row_parts, "main", ZEN3) is not None
    lowered = lower_for_llvm(sch.mod)["main"]
    dx = next(p for p in lowered.params if p.name == "T_lnv_dx")
    assert streaming_buffers(lowered, 8 << 20) == streaming_buffers(lowered, 16 << 20) == {dx}
    assert streaming_buffers(lowered, (16 << 20) + (8 << 10)) == frozenset()  # X, C and g: 16 MiB + 4 KiB
    asm = compile_sources(sch.mod, Target("llvm", "znver3"))["asm"]
    assert "vmovntps" in asm and "sfence" in asm and "prefetchw" in asm


def _placed(a: np.ndarray, page_offset: int) -> np.ndarray:
    """A copy of ``a`` whose data starts ``page_offset`` bytes into a 4 KiB page."""
    raw = np.empty(a.nbytes + 8192, np.uint8)
    out = np.ndarray(a.shape, a.dtype, raw, (page_offset - raw.ctypes.data) % 4096)
    out[...] = a
    return out


def _build_streaming_everything(mod):
    """``mod`` built for the host with every write-only output of its kernels streamed (on
    x86-64: whatever its size)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(llvm_generate, "streaming_threshold", lambda triple, caches: 1 if "x86_64" in triple else 0)
        return mlc.build(mod, "llvm")


@settings(max_examples=3, deadline=None)
@given(st.sampled_from([1, 2]), st.sampled_from([1, 3, 8]), st.sampled_from([1, 7, 64, 100, 1024]))
@example(2, 4, 1024).via("rows of 4 KiB, two a group")
@example(1, 1, 1).via("one element")
def test_layer_norm_gradient_is_right_whether_dx_streams_or_not(parts, rows, cols):
    """The kernel built with dx streamed (any size, here) takes its cached version where dx
    starts 48 bytes past X's and C's page offset and its streamed one where it starts half
    a page away (from g and the partial sums too: :func:`~mlc.backends.llvm.streaming.apart`
    tells the two apart, as the kernel's own test does); dx and the partial sums are the
    reference interpreter's either way, and equal bit for bit (one element, odd rows,
    columns no vector divides)."""
    mod = layer_norm_vjp_module(parts, rows, cols)
    args = random_args(mod["main"], seed=parts * rows * cols)
    want = run(mod, "reference", args)
    lib = _build_streaming_everything(mod)
    got = {}
    for near, dx_at in ((True, 64 + 48), (False, 64 + 2048)):
        x, g, c = _placed(args[0], 64), _placed(args[1], 1024 + 64), _placed(args[2], 64)
        outs = [_placed(args[3], dx_at), _placed(args[4], 3072 + 64), _placed(args[5], 3072 + 64)]
        loaded = (x, g, c, outs[1], outs[2])
        assert all(apart(outs[0].ctypes.data, a.ctypes.data) for a in loaded) != near
        lib["main"](x, g, c, *outs)
        for p, w, o in zip(mod["main"].params[3:], want[3:], outs):
            np.testing.assert_allclose(o, w, rtol=1e-4, atol=1e-4, err_msg=p.name)
        got[near] = outs
    for near, far in zip(got[True], got[False]):
        np.testing.assert_array_equal(near, far)


def group_rows(text: str) -> int:
    """The rows side by side in the last pass of a scheduled ``nn.layer_norm_vjp`` (its text)."""
    update = text[text.index('T.block("T_lnv_dgamma_update")'):]
    update = update[:update.index("T.reads")]
    return next((j for j in (4, 2) if f"* {j} + " in update), 1)


@settings(max_examples=3, deadline=None)
@given(st.sampled_from([1, 2]), st.sampled_from([1, 3, 8]), st.sampled_from([96, 256, 512, 1024, 2048]),
       st.sampled_from([32, 48]))
@example(2, 8, 1024, 32).via("rows of 4 KiB, 8 ways: two rows a group")
@example(2, 8, 1024, 48).via("rows of 4 KiB, 12 ways: four rows a group")
@example(1, 8, 512, 32).via("rows of 2 KiB, 8 ways: four rows a group")
@example(1, 1, 1024, 32).via("one row")
def test_layer_norm_gradient_groups_no_more_rows_than_the_l1_ways_hold(parts, rows, cols, l1_kib):
    """Rows a multiple of 4 KiB long fall in the same L1 sets: a group of four rows of x, ct
    and dx is 12 lines of one set at each step, more than a 32 KiB (8-way) L1 holds, and two
    rows a group are taken there (a 48 KiB, 12-way, L1 takes four); shorter rows spread over
    the sets. dx and the column sums are NumPy's, whichever group is taken."""
    mod = layer_norm_vjp_module(parts, rows, cols)
    cpu = CpuInfo(256, 2, caches=(l1_kib << 10, 0, 0), l1_ways=l1_kib // 4)
    sch = Schedule(mod)
    inline_injective(sch, "main", cpu)
    done = attempt(sch, schedule_row_parts, "main", cpu)
    most = 2 if cols % 1024 == 0 and l1_kib == 32 else 4
    want = next((j for j in (4, 2) if j <= most and rows % j == 0 and rows > j), 1)
    assert done is not None or want == 1
    if done is not None:
        assert group_rows(sch.mod["main"].script()) == want
    x, gamma, ct = random_args(mod["main"], seed=rows * cols)[:3]
    got = run(sch.mod, "llvm", [x, gamma, ct, *(np.zeros(p.static_shape(), "float32")
                                                for p in mod["main"].params[3:])],
              schedule=mlc.schedules.as_written)
    for o, w in zip(got[3:], get_op("nn.layer_norm_vjp").reference(x, gamma, ct, parts=parts)):
        np.testing.assert_allclose(o, w, rtol=1e-4, atol=1e-4)


def loaded(stmt) -> set[str]:
    """The buffers ``stmt`` loads (not those whose address a prefetch takes)."""
    addresses = {id(n.load) for n in pre_order_nodes(stmt) if isinstance(n, AddressOf)}
    return {n.buffer.name for n in pre_order_nodes(stmt) if isinstance(n, BufferLoad) and id(n) not in addresses}


def prefetched(stmt, hint: str = PREFETCH_FOR_READ) -> set[str]:
    """The buffers whose lines ``stmt`` asks for (with ``hint``: ``mlc_prefetch_for_read``)."""
    return {n.args[0].load.buffer.name for n in pre_order_nodes(stmt)
            if isinstance(n, CallExtern) and n.name == hint}


def hinted(stmt) -> set[str]:
    """The names of the cache hints ``stmt`` calls."""
    return {n.name for n in pre_order_nodes(stmt) if isinstance(n, CallExtern) and n.name in PREFETCHES}


def passes_of(func) -> list[set[str]]:
    """The reductions' first accumulator updates (``..._rf_update`` blocks) under each loop
    that holds some and has no loop inside holding the same ones: each pass over a row (and
    the row loop, holding them all)."""
    def updates(stmt) -> frozenset[str]:
        return frozenset(n.block.name_hint for n in pre_order_nodes(stmt)
                         if hasattr(n, "block") and n.block.name_hint.endswith("_rf_update"))

    loops = [n for n in pre_order_nodes(func.body) if isinstance(n, For)]
    return [set(updates(f)) for f in loops if updates(f)
            and not any(g is not f and updates(g) == updates(f) for g in pre_order_nodes(f) if isinstance(g, For))]


@pytest.fixture
def ask_ahead(monkeypatch):
    """The rules' prefetch marks on (off by default: benchmarks/results/decisions.md)."""
    import mlc.schedules.default.row_passes as row_passes
    monkeypatch.setattr(row_passes, "ASK_AHEAD", True)


@pytest.mark.parametrize("parts, rows, cols", [(2, 8, 256), (1, 3, 96)])
def test_layer_norm_gradient_sums_ct_gamma_in_the_pass_that_reads_ct_and_gamma_again(parts, rows, cols, ask_ahead):
    """The sums of ct * gamma and of ct * gamma * (x - mean) (with the squares, which wait for
    the mean too) take one pass over the row; the row's sum of x alone the pass before, so
    that ct and gamma are read once (the sum of ct * gamma used to join the sum of x)."""
    mod = layer_norm_vjp_module(parts, rows, cols)
    sch = Schedule(mod)
    inline_injective(sch, "main", AVX512)
    assert attempt(sch, schedule_row_parts, "main", AVX512) is not None
    passes = passes_of(sch.mod["main"])
    assert {"T_lnv_sum_rf_update"} in passes, passes
    assert {"T_lnv_g_rf_update", "T_lnv_gd_rf_update", "T_lnv_sq_rf_update"} in passes, passes
    lowered = lower_for_llvm(sch.mod)["main"]
    (first,) = [f for f in pre_order_nodes(lowered.body) if isinstance(f, For)  # the pass of x's sum
                and "X" in loaded(f) and "C" not in loaded(f) and prefetched(f)]
    asked = prefetched(first)
    assert asked == {"C"}, asked  # C's lines (not g's: every row reads the same)
    args = random_args(mod["main"], seed=rows * cols)
    want = run(mod, "reference", args)
    got = run(sch.mod, "llvm", args, schedule=mlc.schedules.as_written)
    for p, w, o in list(zip(mod["main"].params, want, got))[3:]:
        np.testing.assert_allclose(o, w, rtol=1e-4, atol=1e-4, err_msg=p.name)


@pytest.mark.parametrize("op, rows, cols, asked", [("nn.layer_norm", 8, 256, True), ("nn.layer_norm", 5, 64, True),
                                                   ("nn.layer_norm", 1, 64, False), ("nn.softmax", 7, 96, False)])
def test_a_rows_last_pass_asks_for_the_next_rows_lines(op, rows, cols, asked, ask_ahead):
    """layer_norm's pass writing the output asks, a step at a time, for the lines it reads of X
    in the next row (the last row for itself), into the L2: the next row's first pass then finds
    them in the cache. Not g's or b's, which every row reads alike; nothing for one row, nor for
    softmax, whose last pass reads the row's exponentials (its own buffer), not X. The output is
    the reference interpreter's."""
    mod = row_op_module(op, rows, cols)
    sch, done = rows_applied(mod)
    assert done is not None
    lowered = lower_for_llvm(sch.mod)["main"]
    check(mod, rtol=1e-5, atol=1e-5)
    if not asked:
        assert prefetched(lowered.body, PREFETCH_FOR_LATER) == set()
        return
    (last,) = [f for f in pre_order_nodes(lowered.body) if isinstance(f, For) and prefetched(f, PREFETCH_FOR_LATER)
               and not any(isinstance(g, For) and prefetched(g, PREFETCH_FOR_LATER) for g in pre_order_nodes(f.body))]
    assert prefetched(last, PREFETCH_FOR_LATER) == {"X"}
    assert any(isinstance(n, BufferStore) and n.buffer.name == "T_layer_norm" for n in pre_order_nodes(last.body))
    (row,) = [f for f in pre_order_nodes(lowered.body) if isinstance(f, For) and any(g is last for g in pre_order_nodes(f.body))]
    index = {str(n.args[0].load.indices[0]) for n in pre_order_nodes(last.body)
             if isinstance(n, CallExtern) and n.name == PREFETCH_FOR_LATER}
    assert index and all(f"T.min({row.loop_var.name} + 1, {rows - 1})" in i for i in index), index
