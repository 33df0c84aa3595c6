"""Sums and dots of slices with traced bounds loop over the slice, not the whole axis.

``vals @ x[cols]`` with ``cols = A_col[A_row[i]:A_row[i + 1]]``, ``L[i, :i] @ x[:i]``,
``np.flip(r[:k]) @ y[:k]``, ``x[lo:hi].sum()``: each is one loop from ``lo`` to ``hi`` over
element reads (mlc.numpy.windows, then mlc.ops.library.element_loop's sum loop with its
partial sums). Differential tests against NumPy on every length modulo the partial sums,
empty and clipped slices, in compiled loops and in straight-line code; and a structural test
that no kernel loops over the whole axis."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir.expr import IntImm
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For


def csr_matvec(A_row, A_col, A_val, x):
    y = np.empty(A_row.size - 1, A_val.dtype)
    for i in range(A_row.size - 1):
        cols = A_col[A_row[i]:A_row[i + 1]]
        vals = A_val[A_row[i]:A_row[i + 1]]
        y[i] = vals @ x[cols]
    return y


def window_sums(x, bounds):
    lo, hi = bounds[0], bounds[1]
    return x[lo:hi].sum(), (2 * x[lo:hi] + 1) @ np.flip(x[lo:hi]), np.sum(x[:hi] * x[:hi])


def forward(L, b):
    x = np.zeros_like(b)
    for i in range(b.shape[0]):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
    return x


def row_sums(a):
    out = np.zeros(a.shape[0], a.dtype)
    for i in range(a.shape[0]):
        out[i] = a[i, i - 2:].sum() + a[i, :i].astype(np.int64).sum()
    return out


def _csr(rows: int, cols: int, seed: int):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 7, rows)
    counts[0] = 0  # the first window is empty
    A_row = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    A_col = rng.integers(0, cols, max(int(A_row[-1]), 1)).astype(np.int32)
    return A_row, A_col, rng.uniform(-1, 1, A_col.size), rng.uniform(-1, 1, cols)


@settings(max_examples=6, deadline=None)
@given(rows=st.sampled_from([1, 2, 9, 14]), cols=st.sampled_from([1, 5, 12]), seed=st.integers(0, 999))
def test_csr_product_matches_numpy(rows, cols, seed):
    args = _csr(rows, cols, seed)
    np.testing.assert_allclose(mlc.jit(csr_matvec)(*args), csr_matvec(*args), rtol=1e-12, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 13), lo=st.integers(-16, 16), hi=st.integers(-16, 16),
       dtype=st.sampled_from(["float64", "float32", "int32"]))
def test_straight_line_window_sums_clip_as_numpy(n, lo, hi, dtype):
    """Traced bounds read from an array, outside any loop: negative, past the end, lo > hi."""
    x = (np.arange(n) % 7 - 3).astype(dtype)
    bounds = np.array([lo, hi], np.int64)
    got, want = mlc.jit(window_sums)(x, bounds), window_sums(x, bounds)
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g, w, rtol=1e-5)


@settings(max_examples=5, deadline=None)
@given(n=st.sampled_from([1, 4, 9, 14, 17]), seed=st.integers(0, 99))
def test_solves_and_row_sums_in_compiled_loops(n, seed):
    rng = np.random.default_rng(seed)
    L = np.tril(rng.uniform(-1, 1, (n, n))) + n * np.eye(n)
    b = rng.uniform(-1, 1, n)
    np.testing.assert_allclose(mlc.jit(forward)(L, b), forward(L, b), rtol=1e-10)
    a = rng.integers(-50, 50, (n, n)).astype(np.int32)
    np.testing.assert_array_equal(mlc.jit(row_sums)(a), row_sums(a))


def _loop_extents(lowered) -> set:
    return {n.extent.value for f in lowered.mod.values() for n in pre_order_nodes(f.body)
            if isinstance(n, For) and isinstance(n.extent, IntImm)}


def test_window_reductions_loop_over_the_window_not_the_axis():
    """With 997 stored elements, no kernel has a loop of 997 iterations: each row's product
    runs from A_row[i] to A_row[i + 1] (a masked full-size form loops over all 997 per row)."""
    rng = np.random.default_rng(0)
    A_row = np.sort(rng.integers(0, 997, 12)).astype(np.int32)
    A_row[0], A_row[-1] = 0, 997
    A_col = rng.integers(0, 50, 997).astype(np.int32)
    args = (A_row, A_col, rng.uniform(-1, 1, 997), rng.uniform(-1, 1, 50))
    assert 997 not in _loop_extents(mlc.jit(csr_matvec).lower(*args))
    x = rng.uniform(-1, 1, 997)
    assert 997 not in _loop_extents(mlc.jit(window_sums).lower(x, np.array([3, 900])))


def test_window_loops_on_the_cuda_emulator():
    """The element-loop kernels (the sum loop's partial sums, unwrapped reads) render for the
    GPU backends: checked on the emulator."""
    args = _csr(5, 6, 3)
    got = mlc.jit(csr_matvec, target="cuda-emulator")(*args)
    np.testing.assert_allclose(np.asarray(got.get() if hasattr(got, "get") else got), csr_matvec(*args),
                               rtol=1e-12, atol=1e-12)
    x = np.arange(11, dtype=np.float64)
    got = mlc.jit(window_sums, target="cuda-emulator")(x, np.array([-9, 10]))
    for g, w in zip(got, window_sums(x, np.array([-9, 10]))):
        np.testing.assert_allclose(np.asarray(g.get() if hasattr(g, "get") else g), w)


def test_gathered_indices_are_checked_inside_the_window_only():
    """x[cols] read element by element still raises NumPy's IndexError for an index inside a
    row's window, and ignores one outside every window (NumPy never reads it)."""
    A_row = np.array([0, 2, 3] + [3] * 10, np.int32)
    bad = (A_row, np.array([0, 7, 1, 99], np.int32), np.ones(4), np.ones(5))
    with pytest.raises(IndexError):
        mlc.jit(csr_matvec)(*bad)
    fine = (A_row, np.array([0, 4, 1, 99], np.int32), np.ones(4), np.ones(5))
    np.testing.assert_array_equal(mlc.jit(csr_matvec)(*fine), csr_matvec(*fine))
