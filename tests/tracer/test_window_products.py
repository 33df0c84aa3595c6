"""A vector times a matrix windowed along its columns in a compiled loop (``data[:, i] @ data[:,
i + 1:M]``, NPBench's correlation as written for NumPy) is ``window_matmul``: a product over the
window's columns only, whose elements are stored into the slices one by one. Differential tests
against NumPy (sizes 1, odd and even; windows empty, partial and whole), and the work pinned."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc


def correlation(M, float_n, data):
    mean = np.mean(data, axis=0)
    stddev = np.std(data, axis=0)
    stddev[stddev <= 0.1] = 1.0
    data -= mean
    data /= np.sqrt(float_n) * stddev
    corr = np.eye(M, dtype=data.dtype)
    for i in range(M - 1):
        corr[i + 1:M, i] = corr[i, i + 1:M] = data[:, i] @ data[:, i + 1:M]
    return corr


def lower_products(x):
    out = np.zeros((x.shape[1], x.shape[1]), x.dtype)
    for i in range(x.shape[1]):
        out[i, :i] = 2 * (x[:, i] @ x[:, :i]) - 1  # arithmetic on the product, then stored
    return out


def window_sums(x, v):
    out = np.zeros(x.shape[1], x.dtype)
    for i in range(x.shape[1]):
        out[i] = np.sum(v @ x[:, i:])  # reduced, not stored
    return out


def middle_products(x, v):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i, i // 2:i + 1] = v @ x[:, i // 2:i + 1]
    return out


_DIMS = st.sampled_from([1, 2, 9, 10, 13, 16, 17])


@settings(max_examples=5, deadline=None)
@given(m=_DIMS, n=_DIMS, dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 9))
def test_windowed_products_match_numpy(m, n, dtype, seed):
    rng = np.random.default_rng(seed)
    tol = {"rtol": 2e-4, "atol": 2e-4} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-10}
    data = rng.standard_normal((n, m)).astype(dtype)
    want_data, got_data = data.copy(), data.copy()
    want = correlation(m, dtype_n := np.dtype(dtype).type(n), want_data)
    got = mlc.jit(correlation, static_argnums=(0,))(m, dtype_n, got_data)
    np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_allclose(got_data, want_data, **tol)
    v = rng.standard_normal(n).astype(dtype)
    np.testing.assert_allclose(mlc.jit(lower_products)(data), lower_products(data), **tol)
    np.testing.assert_allclose(mlc.jit(window_sums)(data, v), window_sums(data, v), **tol)
    square = rng.standard_normal((m, m)).astype(dtype)
    w = rng.standard_normal(m).astype(dtype)
    np.testing.assert_allclose(mlc.jit(middle_products)(square, w), middle_products(square, w), **tol)


def test_the_loop_multiplies_over_the_window_only():
    """The loop's product is ``window_matmul`` (its kernel's column loops run from the loop's
    ``i + 1``), not a product over all ``M`` columns, and its result is stored by loops over
    the window (no masked row of ``M`` elements)."""
    M, N = 40, 30
    data = np.random.default_rng(0).standard_normal((N, M))
    traced = mlc.jit(correlation, static_argnums=(0,)).lower(M, np.float64(N), data).traced
    (loop,) = [b for b in traced.bindings if b.op == "for_loop"]
    ops = [b.op for b in loop.attr("body").bindings]
    assert ops.count("window_matmul") == 1
    assert "matmul" not in ops and "dynamic_update_slice" not in ops
    # data[:, i] and data[:, i + 1:] read data where it is: no copy of all of it each iteration
    assert "slice" not in ops, ops
