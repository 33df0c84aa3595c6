"""mlc.numpy's sort, argsort, searchsorted, take and take_along_axis against NumPy, called eagerly
(traced and compiled on the spot) and inside @mlc.jit: any axis, descending, float16, empty axes,
and their errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.numpy as mnp
import mlc.testing as mt
from mlc import BoundsError, DTypeError, ShapeError


def _stable_descending(x, axis):
    """NumPy's stable descending order along ``axis`` (ties and NaNs in input order, NaN first)."""
    y = np.moveaxis(x, axis, -1)
    n = y.shape[-1]
    order = n - 1 - np.argsort(y[..., ::-1], axis=-1, kind="stable")[..., ::-1]
    return np.moveaxis(order, -1, axis)


@settings(max_examples=20, deadline=None)
@given(x=mt.arrays(mt.ALL, shapes=mt.shapes(min_dims=1, max_dims=3, max_side=6), special=("nan", "inf", "zero")),
       data=st.data(), descending=st.booleans())
def test_sort_argsort_eager(x, data, descending):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    order = _stable_descending(x, axis) if descending else np.argsort(x, axis=axis, kind="stable")
    got = mnp.argsort(x, axis=axis, descending=descending)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, order)
    values = mnp.sort(x, axis=axis, descending=descending)
    assert values.dtype == x.dtype and values.tobytes() == np.take_along_axis(x, order, axis).tobytes()


def test_sort_inside_jit_against_numpy():
    @mlc.jit
    def f(x, q):
        s = mnp.sort(x, axis=0)
        return s, mnp.argsort(x, axis=1, descending=True), mnp.searchsorted(s[:, 0], q, side="right")

    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, (300, 5)).astype("float32")
    x[::13, 0] = np.nan
    q = np.array([-3, 0, 0.5, 3, np.nan, np.inf], "float32")
    s, a, pos = f(x, q)
    np.testing.assert_array_equal(s, np.sort(x, axis=0))
    np.testing.assert_array_equal(a, _stable_descending(x, 1))
    np.testing.assert_array_equal(pos, np.searchsorted(np.sort(x, axis=0)[:, 0], q, side="right"))


def test_sort_of_a_million_float64_matches_numpy():
    x = np.random.default_rng(1).standard_normal(1 << 20)
    np.testing.assert_array_equal(mnp.sort(x), np.sort(x))


@settings(max_examples=15, deadline=None)
@given(data=st.data(), side=st.sampled_from(["left", "right"]),
       dtypes=st.sampled_from([("float32", "float32"), ("int8", "int64"), ("uint16", "float32"), ("bool", "bool")]))
def test_searchsorted_eager(data, side, dtypes):
    a = np.sort(data.draw(mt.arrays(dtypes[0], shapes=mt.shapes(min_dims=1, max_dims=1, max_side=20),
                                    special=("nan", "inf"))))
    v = data.draw(mt.arrays(dtypes[1], shapes=mt.shapes(max_dims=2, max_side=5), special=("nan", "inf")))
    np.testing.assert_array_equal(mnp.searchsorted(a, v, side=side), np.searchsorted(a, v, side=side))


@settings(max_examples=15, deadline=None)
@given(x=mt.arrays(mt.ALL, shapes=mt.shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)), data=st.data())
def test_take_and_take_along_axis_eager(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[axis]
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), max_size=5)), "int64")
    np.testing.assert_array_equal(mnp.take(x, idx, axis=axis), np.take(x, idx, axis=axis))
    along = np.broadcast_to(np.expand_dims(idx, tuple(d for d in range(x.ndim) if d != axis % x.ndim)),
                            tuple(len(idx) if d == axis % x.ndim else 1 for d in range(x.ndim)))
    np.testing.assert_array_equal(mnp.take_along_axis(x, along, axis=axis), np.take_along_axis(x, along, axis))


def test_take_out_of_bounds():
    x = np.arange(5.0)
    with pytest.raises(BoundsError, match="index 5 is out of bounds for axis 0 with size 5"):
        mnp.take(x, np.array([0, 5]))
    with pytest.raises(IndexError, match="index -6"):
        mnp.take_along_axis(x, np.array([-6]), axis=0)

    def f(x, i):  # the values are unknown while tracing: checked when the function runs
        return mnp.take(x, i)
    with pytest.raises(BoundsError, match=r"np.take: index (7|-9) is out of bounds for axis 0 with size 5"):
        mlc.jit(f)(x, np.array([7, -9, -1]))
    np.testing.assert_array_equal(mlc.jit(f)(x, np.array([4, -5, -1])), [4.0, 0.0, 4.0])
    # bounds_check=False: JAX's semantics, the kernel clips them
    np.testing.assert_array_equal(mlc.jit(f, bounds_check=False)(x, np.array([7, -9, -1])), [4.0, 0.0, 4.0])


def test_errors():
    with pytest.raises(ShapeError, match="0-d"):
        mnp.sort(np.float32(1))
    with pytest.raises(ShapeError, match="axis 2 is out of bounds"):
        mnp.argsort(np.zeros((2, 2)), axis=2)
    with pytest.raises(DTypeError, match="integer array"):
        mnp.take(np.zeros(3), np.array([0.5]))
    with pytest.raises(ShapeError, match="axis is required"):
        mnp.take(np.zeros((2, 2)), np.array([0]))
    with pytest.raises(ShapeError, match="sorter must be integer indices shaped like x1"):
        mnp.searchsorted(np.zeros(3), np.zeros(2), sorter=np.arange(2))
    with pytest.raises(ShapeError, match="must be 1-D"):
        mnp.searchsorted(np.zeros((2, 2)), np.zeros(2))


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_gathers_fused_with_their_neighbours(target):
    """Elementwise producers and consumers fuse around take/take_along_axis (scheduled by default),
    and sorts compose with gathers, on both backends."""
    rng = np.random.default_rng(0)
    # the interpreter runs the sort along axis 0 one column after another (about 0.2 s each):
    # 11 columns there, the 129 (a vector and one) on llvm
    cols = 129 if target == "llvm" else 11
    x = rng.standard_normal((37, cols)).astype("float32")
    i, j = rng.integers(-cols, cols, 300), rng.integers(-37, 37, (50, 1))
    f = mlc.jit(lambda x, i: mnp.take(mnp.exp(x) * 2, i, axis=1) + 1, target=target)
    np.testing.assert_allclose(f(x, i), np.take(np.exp(x) * 2, i, axis=1) + 1, rtol=1e-5)
    g = mlc.jit(lambda x, j: mnp.take_along_axis(x + 1, j, axis=0) * x[:1], target=target)
    np.testing.assert_allclose(g(x, j), np.take_along_axis(x + 1, j, axis=0) * x[:1], rtol=1e-6)
    h = mlc.jit(lambda x: mnp.sort(mnp.take(x, mnp.argsort(x[0]), axis=1), axis=0), target=target)
    np.testing.assert_array_equal(h(x), np.sort(np.take(x, np.argsort(x[0], kind="stable"), axis=1), axis=0))
