"""Hypothesis: jitted compositions of NumPy calls equal NumPy itself.

Shapes broadcast against each other (size 1, odd and prime sizes, 0-d),
dtypes vary, and values include negatives and zeros.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
import mlc.testing as mt

FLOATS = ["float16", "float32", "float64"]
INTS = ["int32", "int64", "int8", "uint8"]


def arrays(dtype, shape):
    if np.dtype(dtype).kind == "f":
        elements = st.floats(-8, 8, width=np.dtype(dtype).itemsize * 8).map(
            lambda v: 0.0 if abs(v) < 1e-3 else v)
    else:
        info = np.iinfo(dtype)
        elements = st.integers(max(info.min, -50), min(info.max, 50))
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def broadcast_pair(draw, dtypes):
    shapes = draw(mt.broadcastable(2, max_dims=3, max_side=7))
    dtype = draw(st.sampled_from(dtypes))
    return draw(arrays(dtype, shapes[0])), draw(arrays(dtype, shapes[1]))


def assert_same(got, want, rtol=1e-5):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if got.dtype == np.float16:  # one float16 ulp: math functions may round the other way
        rtol = max(rtol, 2 * float(np.finfo(np.float16).eps))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


def elementwise_chain(a, b):
    return np.maximum(a * b + a, b - 1) - np.minimum(a, 2)


@given(broadcast_pair(FLOATS + INTS))
def test_elementwise_chain(pair):
    a, b = pair
    with np.errstate(all="ignore"):
        assert_same(mlc.jit(elementwise_chain)(a, b), elementwise_chain(a, b))


def float_math(a, b):
    return np.where(a > b, np.exp(-np.abs(a)), np.tanh(b)) / (1 + a * a) + np.sqrt(np.abs(b))


@given(broadcast_pair(FLOATS))
def test_float_math_with_where(pair):
    a, b = pair
    assert_same(mlc.jit(float_math)(a, b), float_math(a, b), rtol=1e-4)


@st.composite
def matrix_and_axis(draw):
    shape = draw(mt.shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    # float16 sums accumulate in float32 in mlc (rounded once), pairwise in float16 in NumPy
    dtype = draw(st.sampled_from(["float32", "float64", "int32", "int64"]))
    axis = draw(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
    return draw(arrays(dtype, shape)), axis, draw(st.booleans())


def reduce_and_normalise(x, axis, keepdims):
    s = x.sum(axis=axis, keepdims=True)
    m = np.max(x, axis=axis, keepdims=keepdims)
    return (x - s) * 2, m + 1, np.mean(x, axis=axis, keepdims=keepdims)


@given(matrix_and_axis())
def test_reductions_with_epilogues(case):
    x, axis, keepdims = case
    f = mlc.jit(reduce_and_normalise, static_argnums=(1, 2))
    for got, want in zip(f(x, axis, keepdims), reduce_and_normalise(x, axis, keepdims)):
        assert_same(got, want, rtol=1e-4)


@st.composite
def matmul_case(draw):
    m, k, n = (draw(st.integers(1, 9)) for _ in range(3))
    dtype = draw(st.sampled_from(FLOATS))
    return (draw(arrays(dtype, (m, k))), draw(arrays(dtype, (k, n))), draw(arrays(dtype, (n,))))


def dense_relu(x, w, b):
    return np.maximum(x @ w + b, 0) * 0.5


@given(matmul_case())
def test_matmul_bias_relu(case):
    assert_same(mlc.jit(dense_relu)(*case), dense_relu(*case), rtol=1e-4)


@given(arrays("float32", mt.shapes(min_dims=1, max_dims=3, min_side=1, max_side=6)),
       st.sampled_from([2, 0.5, -3, True]))
def test_python_scalars_follow_nep50(x, scalar):
    def f(a):
        return a * scalar + scalar, a > scalar

    for got, want in zip(mlc.jit(f)(x), f(x)):
        assert_same(got, want)


@given(arrays("int32", mt.shapes(min_dims=1, max_dims=2, min_side=1, max_side=5)))
def test_int_array_with_float_scalar_is_float64(x):
    got = mlc.jit(lambda a: a * 1.5)(x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, x * 1.5)


@given(st.data())
def test_static_slices_and_transposes(data):
    shape = data.draw(mt.shapes(min_dims=2, max_dims=3, min_side=1, max_side=6))
    x = data.draw(arrays("float32", shape))
    key = tuple(data.draw(st.slices(n)) for n in shape)

    def f(a):
        return a[key].T * 2

    assert_same(mlc.jit(f)(x), f(x))


def test_a_partial_and_a_callable_object_are_jitted_like_functions():
    """``functools.partial`` and objects with ``__call__`` have no ``__name__``: the jit names
    them ``partial(f)`` and by their type (they crashed at the first call)."""
    import functools

    x = np.arange(6, dtype="float32").reshape(2, 3)
    scaled = mlc.jit(functools.partial(lambda a, b, scale: (a - b) * scale, b=np.float32(1), scale=2.0))
    np.testing.assert_array_equal(scaled(x), (x - 1) * 2)
    assert scaled.__name__ == "partial(<lambda>)"

    class Shift:
        def __call__(self, a):
            return a + 3

    shift = mlc.jit(Shift())
    np.testing.assert_array_equal(shift(x), x + 3)
    assert shift.__name__ == "Shift"
    with pytest.raises(mlc.DTypeError, match=r"argument 'a' of Shift\(\)"):
        shift("not an array")
