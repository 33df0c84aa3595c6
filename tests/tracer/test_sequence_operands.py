"""Lists and tuples of numbers are arrays to eager mlc.numpy and mlc.nn calls, as to NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.numpy as mnp
from mlc.errors import ShapeError

numbers = st.one_of(st.integers(-50, 50), st.floats(-5, 5, allow_nan=False), st.booleans())


@settings(max_examples=25, deadline=None)
@given(values=st.lists(numbers, min_size=1, max_size=5), nested=st.booleans(), as_tuple=st.booleans())
def test_a_list_of_numbers_is_the_array_numpy_makes_of_it(values, nested, as_tuple):
    data = [values, values] if nested else values
    data = tuple(data) if as_tuple else data
    want = np.add(data, 1)
    got = mnp.add(data, 1)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    x = np.ones(np.shape(data), np.float32)
    assert mnp.multiply(data, x).dtype == np.multiply(data, x).dtype  # a list is strong: float64 for floats


def test_unary_functions_layers_and_reductions_take_lists():
    np.testing.assert_allclose(mnp.exp([1.0, 2.0]), np.exp([1.0, 2.0]))
    np.testing.assert_array_equal(mlc.nn.relu([1.0, -2.0]), [1.0, 0.0])
    assert mnp.sum([True, False, True]) == 2
    np.testing.assert_array_equal(mnp.concatenate([[1, 2], [3]]), [1, 2, 3])


def test_a_ragged_list_is_a_shape_error_as_in_numpy():
    with pytest.raises(ShapeError, match=r"elements have the shapes \[\(1,\), \(2,\)\].*same shape"):
        mnp.exp([[1.0], [2.0, 3.0]])


def test_traced_scalars_in_a_list_inside_jit():
    f = mlc.jit(lambda a, b: mnp.exp([a, b]))  # (NumPy's own np.exp sees a list, not a traced value)
    np.testing.assert_allclose(f(np.float32(1), np.float32(2)), np.exp(np.array([1, 2], np.float32)), rtol=1e-6)


def lorenz(s):
    """A right-hand side written as NumPy users write it: np.array of a list of traced scalars."""
    return np.array([10.0 * (s[1] - s[0]), s[0] * (28.0 - s[2]) - s[1], s[0] * s[1] - 8.0 / 3.0 * s[2]])


def rows(s, k):
    a = np.array([[s[0], 1.0], [s[k], s[0] * 2]])  # nested, Python floats among traced values
    a[0, 1] = s[1]                                 # a new array the function may write into
    return a, np.asarray([s[0]] * (k + 1), dtype=np.float32)


@settings(max_examples=6, deadline=None)
@given(dtype=st.sampled_from(["float32", "float64", "int64"]), k=st.integers(0, 2))
def test_np_array_of_traced_scalars_inside_jit(dtype, k):
    """np.array / np.asarray of a list holding traced scalars make one traced array, of NumPy's
    dtype (it read the Tracers' data and was refused)."""
    s = np.array([1.5, -2.0, 3.0]).astype(dtype)
    for fn, args in ((lorenz, (s,)), (rows, (s, k))):
        want = fn(*args)
        got = mlc.jit(fn, static_argnames=("k",) if fn is rows else ())(*args)
        for g, w in zip(got if isinstance(want, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-6)
