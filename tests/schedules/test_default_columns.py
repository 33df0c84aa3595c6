"""The column rule of the default CPU schedule (:mod:`mlc.schedules.default.columns`):
a reduction down the columns of a tall matrix (``a.sum(axis=0)``, ``x @ A``) has its
rows cut into parts summed in parallel, then the parts added; on one thread, a sum's rows
are swept in order into the output; smaller ones, row reductions and a max on one thread
are left to the other rules. Results equal the
reference interpreter and NumPy, ragged sizes included."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import mlc
from mlc import te
from mlc.config import override
from mlc.schedules import Schedule
from mlc.schedules.default.columns import (MAX_ROWS_PER_STEP, MIN_BYTES, MIN_ELEMENTS, MIN_ROWS, NARROW_MIN_BYTES,
                                           NARROW_ROW_BYTES, column_parts, rows_per_step, schedule_columns)
from mlc.schedules.default.steps import CpuInfo

from .test_default_cpu import check, module

TWO_CORES = CpuInfo(256, 2)
#: Zen 3's caches (32 KiB 8-way L1d): the rows a step adds depend on the L1's associativity.
ZEN3 = CpuInfo(256, 2, caches=(32 << 10, 512 << 10, 32 << 20), l1_ways=8)


def vecmat(rows, cols, dtype="float32"):
    x, A = te.placeholder((rows,), dtype, "x"), te.placeholder((rows, cols), dtype, "A")
    r = te.reduce_axis((0, rows), "r")
    return module(x, A, te.compute((cols,), lambda j: te.sum(x[r] * A[r, j], axis=r), name="Y"))


def batch_of_one(rows, cols, dtype="float32"):
    """``x @ A`` with ``x`` of shape (1, rows): one more (unit) axis on the output."""
    x, A = te.placeholder((1, rows), dtype, "x"), te.placeholder((rows, cols), dtype, "A")
    r = te.reduce_axis((0, rows), "r")
    return module(x, A, te.compute((1, cols), lambda i, j: te.sum(x[i, r] * A[r, j], axis=r), name="Y"))


def column_sum(rows, cols, dtype="float32"):
    A = te.placeholder((rows, cols), dtype, "A")
    r = te.reduce_axis((0, rows), "r")
    return module(A, te.compute((cols,), lambda j: te.sum(A[r, j], axis=r), name="Y"))


def row_sum(rows, cols):
    A = te.placeholder((rows, cols), "float32", "A")
    k = te.reduce_axis((0, cols), "k")
    return module(A, te.compute((rows,), lambda i: te.sum(A[i, k], axis=k), name="Y"))


def applied(mod, cpu=TWO_CORES):
    sch = Schedule(mod)
    return sch, schedule_columns(sch, "main", "Y", cpu)


def test_a_tall_column_reduction_is_summed_in_parts_in_parallel():
    sch, done = applied(vecmat(1024, 1024))
    assert done == {"Y", "Y_init", "Y_update", "Y_rf_init", "Y_rf_update"}
    text = sch.mod["main"].script()
    parts = column_parts(1024, TWO_CORES)
    assert parts == 4
    assert f"Y_rf = T.alloc_buffer(({parts}, 1024))" in text and f"T.parallel({parts})" in text
    assert text.count("T.vectorized(16)") == 4  # the parts' rows and their sum, each with its init


@pytest.mark.parametrize("cols, step", [(1024, 4), (4096, 4), (2000, 8), (1003, 8)])
def test_each_step_adds_several_rows_to_the_partial_sums(cols, step):
    """The part's rows go ``step`` at a time inside the vector loop's outer loop, unrolled, so
    the partial sums are loaded and stored once a step; rows a multiple of 4 KiB apart (1024
    and 4096 float32 columns) fill one L1 set and take half as many."""
    assert rows_per_step(cols * 4, ZEN3) == step
    sch, done = applied(vecmat(1024, cols), ZEN3)
    text = sch.mod["main"].script()
    assert done is not None and f"T.unroll({step})" in text, text
    update = text[text.index("for r_1_0"):text.index('T.block("Y_rf_update")')]
    assert f"for r_1_1 in T.unroll({step}):" in update and "T.vectorized(16)" in update
    assert update.index("T.unroll") > update.index("j_0")  # the rows inside the column loop


def test_without_the_associativity_a_step_takes_the_most_rows():
    assert rows_per_step(4096, TWO_CORES) == MAX_ROWS_PER_STEP


def test_a_batch_of_one_row_is_a_column_reduction_too():
    sch, done = applied(batch_of_one(1024, 1024))
    assert done is not None
    assert "Y_rf = T.alloc_buffer((4, 1, 1024))" in sch.mod["main"].script()
    assert applied(module(*_batch_of_two()))[1] is None  # two rows of x: the matmul rule's


def _batch_of_two():
    x, A = te.placeholder((2, 1024), "float32", "x"), te.placeholder((1024, 1024), "float32", "A")
    r = te.reduce_axis((0, 1024), "r")
    return x, A, te.compute((2, 1024), lambda i, j: te.sum(x[i, r] * A[r, j], axis=r), name="Y")


@pytest.mark.parametrize("mod, why", [
    (vecmat(300, 128), "narrow rows, under NARROW_MIN_BYTES"),
    (vecmat(384, 1024), "under MIN_BYTES"),
    (vecmat(MIN_ROWS - 1, 2048), "fewer than MIN_ROWS rows"),
    (row_sum(1024, 1024), "a reduction along the rows"),
])
def test_small_matrices_and_row_reductions_are_left_to_the_other_rules(mod, why):
    assert applied(mod)[1] is None, why


ONE_CORE = CpuInfo(256, 1, caches=(32 << 10, 512 << 10, 32 << 20), l1_ways=8)


@pytest.mark.parametrize("cols, step", [(1024, 4), (2000, 8)])
def test_one_thread_sweeps_the_rows_into_the_output_several_at_a_time(cols, step):
    """One thread: no parts, no partial sums, nothing parallel: the rows in order, ``step`` of
    them added to each vector of the output at a time, inside the column loop."""
    sch, done = applied(vecmat(1024, cols), ONE_CORE)
    assert done == {"Y", "Y_init", "Y_update"}
    text = sch.mod["main"].script()
    assert "Y_rf" not in text and "T.parallel" not in text
    update = text[text.index('T.block("Y_init")'):]
    assert f"T.unroll({step})" in update and "T.vectorized(16)" in update
    assert update.index("T.unroll") > update.index("j_0")  # the rows inside the column loop
    assert applied(column_sum(1024, cols), ONE_CORE)[1] is not None


def test_one_thread_leaves_a_max_and_small_matrices_to_the_other_rules():
    """A max's steps would be a chain of compares and selects, slower swept than the other rules
    run it on one thread; below the thresholds the other rules' plans stay, as with threads."""
    A = te.placeholder((1024, 1024), "float32", "A")
    r = te.reduce_axis((0, 1024), "r")
    assert applied(module(A, te.compute((1024,), lambda j: te.max(A[r, j], axis=r), name="Y")), ONE_CORE)[1] is None
    assert applied(vecmat(MIN_ROWS - 1, 4096), ONE_CORE)[1] is None
    assert applied(vecmat(300, 300), ONE_CORE)[1] is None


def test_the_thresholds_are_what_the_rule_checks():
    wide = MIN_BYTES // (4 * MIN_ROWS)  # float32 columns of a MIN_BYTES matrix of MIN_ROWS rows
    assert wide * 4 > NARROW_ROW_BYTES
    assert applied(column_sum(MIN_ROWS, wide))[1] is not None
    assert applied(column_sum(MIN_ROWS, wide - 1))[1] is None
    narrow = NARROW_ROW_BYTES // 4
    rows = NARROW_MIN_BYTES // NARROW_ROW_BYTES
    assert applied(column_sum(rows, narrow))[1] is not None  # narrow rows: the lower threshold
    assert applied(column_sum(rows - 1, narrow))[1] is None
    assert applied(column_sum(rows, narrow + 1))[1] is None  # not narrow: MIN_BYTES


def test_a_wide_float64_matrix_needs_min_elements_too():
    """MIN_BYTES of float64 are half MIN_ELEMENTS: one thread's sweep (``data[:, i] @ data``,
    600x500, in correlation's loop); twice as many rows are the rule's again."""
    assert MIN_ELEMENTS == MIN_BYTES // 4
    assert 600 * 500 * 8 >= MIN_BYTES and 600 * 500 < MIN_ELEMENTS
    assert applied(vecmat(600, 500, "float64"))[1] is None
    assert applied(column_sum(600, 500, "float64"))[1] is None
    assert applied(vecmat(1200, 500, "float64"))[1] is not None
    wide = MIN_ELEMENTS // MIN_ROWS  # float64 columns of MIN_ELEMENTS in MIN_ROWS rows
    assert applied(column_sum(MIN_ROWS, wide, "float64"))[1] is not None
    assert applied(column_sum(MIN_ROWS, wide - 1, "float64"))[1] is None


@pytest.mark.parametrize("mod", [vecmat(512, 1024), column_sum(601, 1001), column_sum(300, 999, "float64"),
                                 batch_of_one(700, 513), vecmat(600, 500, "float64"), vecmat(1201, 437, "float64")],
                         ids=["vecmat", "ragged", "float64", "batch of one", "float64 vecmat, other rules",
                              "float64 vecmat, ragged"])
def test_the_scheduled_reduction_equals_the_reference(mod):
    check(mod, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("mod", [vecmat(512, 1024), column_sum(601, 1001), batch_of_one(1100, 513),
                                 vecmat(1201, 437, "float64")],
                         ids=["vecmat", "ragged", "batch of one", "float64 vecmat, ragged"])
def test_the_one_thread_sweep_equals_the_reference(mod):
    with override(num_threads=1):
        scheduled = check(mod, rtol=1e-4, atol=1e-3)
    text = scheduled["main"].script()
    assert "Y_rf" not in text and "r_0, j_0 in T.grid(" in text  # the sweep: steps of rows, then columns


@settings(max_examples=8, deadline=None)
@given(rows=st.integers(MIN_ROWS, 2200), cols=st.integers(1, 1100), dtype=st.sampled_from(["float32", "float64"]),
       op=st.sampled_from(["vecmat", "batch of one", "sum", "mean", "max", "argmin"]), threads=st.sampled_from([1, 2]))
@example(rows=1029, cols=1024, dtype="float32", op="vecmat", threads=1).via("the one-thread sweep, ragged steps")
def test_jitted_column_reductions_equal_numpy(rows, cols, dtype, op, threads):
    rng = np.random.default_rng(rows * 7 + cols)
    A = rng.standard_normal((rows, cols)).astype(dtype)
    A[rng.integers(rows), rng.integers(cols)] = np.nan  # the reductions propagate it (vecmat too)
    x = rng.standard_normal(rows).astype(dtype)
    with override(num_threads=threads):
        _check_column_reduction(A, x, op, dtype, rows)


def _check_column_reduction(A, x, op, dtype, rows):
    if op == "vecmat":
        got, want = mlc.jit(lambda x, A: x @ A)(x, A), x @ A
    elif op == "batch of one":
        got, want = mlc.jit(lambda x, A: x @ A)(x[None], A), x[None] @ A
    elif op == "sum":
        got, want = mlc.jit(lambda A: A.sum(axis=0))(A), A.sum(axis=0)
    elif op == "mean":
        got, want = mlc.jit(lambda A: A.mean(axis=0))(A), A.mean(axis=0)
    elif op == "max":
        got, want = mlc.jit(lambda A: A.max(axis=0))(A), A.max(axis=0)
    else:
        got, want = mlc.jit(lambda A: A.argmin(axis=0))(A), A.argmin(axis=0)
        np.testing.assert_array_equal(got, want)
        return
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(rows))


@settings(max_examples=6, deadline=None)
@given(rows=st.integers(MIN_ROWS, 3000).map(lambda r: r | 1), cols=st.sampled_from([1024, 2048, 999, 1001, 17]),
       dtype=st.sampled_from(["float32", "float64"]))
def test_a_vector_of_odd_length_times_a_matrix_equals_numpy(rows, cols, dtype):
    """``x @ A``, x of odd length: the parts' rows are ragged in the steps of rows_per_step."""
    rng = np.random.default_rng(rows + cols)
    x, A = rng.standard_normal(rows).astype(dtype), rng.standard_normal((rows, cols)).astype(dtype)
    got = mlc.jit(lambda x, A: x @ A)(x, A)
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(got, x @ A, rtol=tol, atol=tol * np.sqrt(rows))
