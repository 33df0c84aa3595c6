"""``x.at[idx].<method>(v)`` (JAX's functional updates) against the NumPy program each one
means, and counting into many bins (a compiled loop of scattered adds) against NumPy's
histogram and bincount."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import TraceError


def _numpy_update(x, index, method, v):
    """What ``x.at[index].<method>(v)`` returns, written with NumPy."""
    y = x.copy()
    v = np.asarray(v).astype(x.dtype)
    if method == "set":
        y[index] = v
    elif method in ("add", "subtract", "multiply", "min", "max"):
        ufunc = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "min": np.minimum,
                 "max": np.maximum}[method]
        ufunc.at(y, index, v)
    elif method == "divide":
        y[index] = (y[index] / v).astype(x.dtype)
    elif method == "get":
        return x[index]
    return y


def _call(t, index, method, v):
    ref = t.at[index]
    return ref.get() if method == "get" else getattr(ref, method)(v)


METHODS = ["set", "add", "subtract", "multiply", "min", "max", "divide", "get"]


@settings(max_examples=20, deadline=None)
@given(data=st.data(), n=st.integers(1, 9), method=st.sampled_from(METHODS),
       dtype=st.sampled_from(["float64", "float32", "int32"]))
def test_updates_follow_numpy(data, n, method, dtype):
    x = np.arange(1, n + 1).astype(dtype) * 3
    kind = data.draw(st.sampled_from(["int", "slice", "array"]))
    if kind == "int":
        index = data.draw(st.integers(-n, n - 1))
        shape = ()
    elif kind == "slice":
        start, stop = sorted(data.draw(st.tuples(st.integers(0, n), st.integers(0, n))))
        index = slice(start, stop, data.draw(st.integers(1, 3)))
        shape = x[index].shape
    else:  # integer arrays repeat positions: the accumulating methods add up every occurrence
        index = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6)))
        shape = index.shape
    v = np.asarray(data.draw(st.integers(1, 5)) + np.zeros(shape)).astype(dtype)
    if method == "divide" and dtype == "int32":
        method = "multiply"
    f = mlc.jit(lambda x, v: (_call(x, index, method, v), x))
    got, kept = f(x.copy(), v)
    want = _numpy_update(x, index, method, v)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert np.asarray(got).dtype == want.dtype
    np.testing.assert_array_equal(kept, x)  # x itself is unchanged


def test_traced_index_in_a_compiled_loop():
    def scatter(idx, w):
        return mlc.fori_loop(0, idx.shape[0], lambda i, acc: acc.at[idx[i]].add(w[i]), np.zeros(7))

    idx = np.array([3, 0, 3, 6, 3, 1])
    w = np.arange(6.0)
    np.testing.assert_allclose(mlc.jit(scatter)(idx, w), np.bincount(idx, w, minlength=7))


def test_unsupported_modes_are_refused():
    with pytest.raises(TraceError, match="mode='drop'"):
        mlc.jit(lambda x: x.at[0].set(1.0, mode="drop"))(np.zeros(3))


@settings(max_examples=12, deadline=None)
@given(size=st.integers(1, 300), bins=st.sampled_from([3, 16, 17, 100]), weighted=st.booleans(),
       ranged=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_histogram_and_bincount_with_many_bins(size, bins, weighted, ranged, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=size)
    w = rng.random(size).astype(np.float32) if weighted else None
    kwargs = {"range": (-1.0, 1.5)} if ranged else {}  # some values fall outside: not counted

    def hist(a, w):
        return np.histogram(a, bins, weights=w, **kwargs)

    got, want = mlc.jit(hist)(a, w), hist(a, w)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    assert np.asarray(got[0]).dtype == want[0].dtype
    np.testing.assert_allclose(got[1], want[1])

    k = rng.integers(0, bins, size)
    np.testing.assert_array_equal(mlc.jit(lambda k: np.bincount(k, minlength=bins))(k),
                                  np.bincount(k, minlength=bins))
