"""``a[key]`` with one integer index array among slices, None and ``...`` (NumPy's advanced
indexing of one index): a gather after the basic indexing, as NumPy computes it."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc

X = np.arange(60, dtype="float32").reshape(3, 4, 5)

CONSTANT_KEYS = [
    lambda a: a[:, [0, 2]], lambda a: a[[2, 0, 1]], lambda a: a[..., [4, -1, 0]],
    lambda a: a[:, :, [[0, 1], [2, 3]]], lambda a: a[None, [1, 1]], lambda a: a[1:, [3, 0], ::2],
    lambda a: a[[]], lambda a: a[np.array([2, 1])], lambda a: a[:, np.array([[1], [3]]), None],
    lambda a: a[..., [0], :], lambda a: a[np.array(1)], lambda a: a[::-1, [-4]],
]


@pytest.mark.parametrize("target", ["llvm", "reference", "cuda-emulator"])
@pytest.mark.parametrize("n", range(len(CONSTANT_KEYS)))
def test_a_constant_index_array_gathers_as_numpy(n, target):
    index = CONSTANT_KEYS[n]
    got, expected = mlc.jit(index, target=target)(X), index(X)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=20, deadline=None)
@given(data=st.data(), axis=st.integers(0, 2), index_shape=st.sampled_from([(), (1,), (3,), (2, 2)]))
def test_a_traced_index_array_gathers_as_numpy(data, axis, index_shape):
    n = X.shape[axis]
    index = np.asarray(data.draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(index_shape)),
                                          max_size=int(np.prod(index_shape)))), "int64").reshape(index_shape)
    key = lambda i: (slice(None),) * axis + (i,)  # noqa: E731
    got = mlc.jit(lambda a, i: a[key(i)])(X, index)
    np.testing.assert_array_equal(got, X[key(index)])


@pytest.mark.parametrize("key", [lambda i: (None, slice(None), i), lambda i: (i, None), lambda i: (Ellipsis, None, i),
                                 lambda i: (slice(None, None, -1), i)])
def test_one_traced_index_array_beside_none_ellipsis_and_slices_gathers_as_numpy(key):
    index = np.array([2, 0, -1])
    got = mlc.jit(lambda a, i: a[key(i)])(X, index)
    expected = X[key(index)]
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_a_constant_index_out_of_range_is_refused_as_numpy_refuses_it():
    with pytest.raises(mlc.ShapeError, match="index 9 is out of bounds for axis 1 with size 4"):
        mlc.jit(lambda a: a[:, [0, 9]])(X)
    with pytest.raises(mlc.ShapeError, match="index -4 is out of bounds for axis 0 with size 3"):
        mlc.jit(lambda a: a[[-4]])(X)


@pytest.mark.parametrize("index", [lambda a: a[[0, 2], [1, -1]], lambda a: a[0, [1, 3]], lambda a: a[[[2], [0]], [1, 3]],
                                   lambda a: a[1:, [2, 0], 3], lambda a: a[..., np.array([[0, 1]]), 2],
                                   lambda a: a[[True, False, True]], lambda a: a[:, np.eye(4, 5, dtype=bool)]])
def test_index_arrays_with_ints_and_each_other_on_adjacent_axes_gather(index):
    np.testing.assert_array_equal(mlc.jit(index)(X3), index(X3))


def test_index_arrays_separated_by_a_slice_are_refused():
    with pytest.raises(mlc.TraceError, match="index arrays separated by slices"):
        mlc.jit(lambda a: a[[0], 1:, [1]])(X3)


X3 = np.arange(60, dtype=np.float32).reshape(3, 4, 5)


@pytest.mark.parametrize("index", [lambda a: a[a > 3]])
def test_other_advanced_indexing_says_what_is_supported(index):
    with pytest.raises(mlc.TraceError, match="a traced boolean mask selects a number of elements known only"):
        mlc.jit(index)(X)


@pytest.mark.parametrize("index", [lambda a: a[a > 3], lambda a: a[:, a[0] > 1]])
def test_a_boolean_mask_read_says_what_to_write_instead(index):
    with pytest.raises(mlc.TraceError, match=r"boolean mask.*np.where\(mask, x, 0\).sum\(\)"):
        mlc.jit(index)(X)


def test_a_gather_along_a_dynamic_axis_wraps_checks_and_refuses_an_empty_axis():
    """Along a dynamic axis (its length known at the call) an index counts from the end when
    negative, and one out of bounds raises as NumPy's (checked against the call's size), in
    int64 whatever its dtype (int8 ids of 300 rows); an empty axis with indices to take is
    refused at the call. The gather had failed to lower there (an int32 bound of 2^63)."""
    by_index = mlc.jit(lambda a, i: a[i], dynamic=("a", 0))
    by_take = mlc.jit(lambda a, i: np.take(a, i, axis=0), dynamic=("a", 0))
    for rows, dtype in ((3, "int64"), (6, "int32"), (1, "int64"), (300, "int8")):
        y = np.arange(rows * 4, dtype="float32").reshape(rows, 4)
        index = np.array([min(rows - 1, 127), 0, -1, -rows if rows < 128 else -128], dtype)
        np.testing.assert_array_equal(by_index(y, index), y[index])
        np.testing.assert_array_equal(by_take(y, index), np.take(y, index, axis=0))
    with pytest.raises(mlc.BoundsError, match="index 7 is out of bounds for axis 0 with size 2"):
        by_index(np.ones((2, 4), "float32"), np.array([7, 1]))
    with pytest.raises(mlc.BoundsError, match="index -9 is out of bounds for axis 0 with size 2"):
        by_take(np.ones((2, 4), "float32"), np.array([-9]))
    with pytest.raises(mlc.BoundsError, match=r"take: index out of bounds: elements taken from an empty axis \(axis 0 of a"):
        by_index(np.zeros((0, 4), "float32"), np.array([0]))


_TAKE_ROWS = mlc.jit(lambda a, i: a[i], dynamic=("a", 0))


@settings(max_examples=15, deadline=None)
@given(rows=st.sampled_from([0, 0, 1, 3, 7]), cols=st.integers(1, 5), taken=st.integers(0, 4), data=st.data())
def test_indices_into_a_dynamic_axis_raise_where_numpy_raises_index_error(rows, cols, taken, data):
    """An index array into an axis whose length is dynamic raises as NumPy does: any index into
    the axis empty on this call, or one out of bounds, is NumPy's IndexError (mlc's
    BoundsError); no index at all takes nothing."""
    a = np.arange(rows * cols, dtype="float64").reshape(rows, cols)
    index = np.array(data.draw(st.lists(st.integers(-8, 8), min_size=taken, max_size=taken)), "int64")
    try:
        expected = a[index]
    except IndexError:
        with pytest.raises(mlc.BoundsError) as raised:
            _TAKE_ROWS(a, index)
        assert isinstance(raised.value, IndexError)
        return
    np.testing.assert_array_equal(_TAKE_ROWS(a, index), expected)
