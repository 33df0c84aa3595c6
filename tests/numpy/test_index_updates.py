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
    with pytest.raises(TraceError, match="fill_value"):
        mlc.jit(lambda x: x.at[5].get(fill_value=0.0))(np.zeros(3))
    with pytest.raises(TraceError, match="unexpected keyword arguments \\['wrap'\\]"):
        mlc.jit(lambda x: x.at[0].add(1.0, wrap=True))(np.zeros(3))
    with pytest.raises(IndexError):  # out of bounds: an error, as in NumPy (JAX would drop the update)
        mlc.jit(lambda x, i: x.at[i].add(1.0))(np.zeros(3), 3)


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


@pytest.mark.parametrize("ufunc", [np.add, np.subtract, np.multiply, np.maximum, np.minimum],
                         ids=lambda u: u.__name__)
def test_ufunc_at_of_many_writes_is_a_loop_that_matches_numpy(ufunc):
    """300 writes into 301 positions: past the one-hot limit, a compiled loop of updates."""
    from mlc.numpy.ufunc_methods import ONE_HOT_LIMIT
    rng = np.random.default_rng(7)
    x = rng.random(301) + 0.5
    idx = rng.integers(-301, 301, 300)  # negative indices and repeats
    v = rng.random(300) + 0.5
    assert idx.size * x.size > ONE_HOT_LIMIT

    def f(x, idx, v):
        ufunc.at(x, idx, v)
        return x

    want, got = x.copy(), x.copy()
    f(want, idx, v)
    mlc.jit(f)(got, idx, v)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(shape=st.sampled_from([(1,), (5,), (3, 4), (2, 1, 3)]), nvals=st.integers(1, 4), seed=st.integers(0, 999),
       dtype=st.sampled_from(["float64", "int32"]))
def test_place_puts_values_in_order_at_the_true_positions(shape, nvals, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.integers(-9, 9, shape).astype(dtype)
    mask = rng.random(shape) < 0.5
    vals = rng.integers(10, 99, nvals).astype(dtype)

    def f(x, mask, vals):
        np.place(x, mask, vals)
        return x * 1

    want, got = x.copy(), x.copy()
    f(want, mask, vals)
    out = mlc.jit(f)(got, mask, vals)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(got, want)  # the argument is written, as NumPy writes it


@settings(max_examples=10, deadline=None)
@given(shape=st.sampled_from([(1,), (5,), (3, 4)]), nvals=st.integers(1, 13), seed=st.integers(0, 999))
def test_putmask_repeats_values_by_position(shape, nvals, seed):
    rng = np.random.default_rng(seed)
    x = rng.random(shape)
    mask = rng.random(shape) < 0.5
    vals = rng.random(nvals)

    def f(x, mask, vals):
        np.putmask(x, mask, vals)
        return x * 1

    want, got = x.copy(), x.copy()
    f(want, mask, vals)
    np.testing.assert_array_equal(mlc.jit(f)(got, mask, vals), want)
    np.testing.assert_array_equal(got, want)


def test_counting_loops_differentiate_and_batch():
    """The scattered counts of a weighted histogram and ``np.add.at`` run inside mlc.grad and
    mlc.vmap: their loops index in range by construction (no bounds check in a transformed loop)."""
    rng = np.random.default_rng(3)
    a, w, c = rng.random(50), rng.random(50), np.arange(20.0)
    counts = lambda w: np.histogram(a, 20, range=(0, 1), weights=w)[0]  # noqa: E731
    grad = mlc.jit(mlc.grad(lambda w: (counts(w) * c).sum()))(w)
    np.testing.assert_allclose(grad, c[np.clip((a * 20).astype(int), 0, 19)])
    ws = np.stack([w, 2 * w])
    np.testing.assert_allclose(mlc.jit(mlc.vmap(counts))(ws), np.stack([counts(x) for x in ws]))

    idx = rng.integers(0, 301, 300)

    def scatter(v):
        x = np.zeros(301)
        np.add.at(x, idx, v)
        return (x * np.arange(301.0)).sum()
    np.testing.assert_allclose(mlc.jit(mlc.grad(scatter))(np.ones(300)), idx.astype(float))
