"""A ufunc's ``dtype=`` and ``casting=``: NumPy casts the inputs to the loop dtype and computes
there, refusing casts that ``casting`` does not allow; traced, eager and NumPy agree."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
import mlc.numpy as mnp
import mlc.testing as mt
from mlc import DTypeError

UNARY = ["exp", "sin", "sqrt", "log", "tanh", "log1p", "cos"]
BINARY = ["divide", "add", "multiply", "subtract", "arctan2", "hypot", "power"]

_values = hnp.arrays("float32", st.integers(1, 6), elements=st.floats(0.0625, 4.0, width=32))


@pytest.mark.parametrize("name", UNARY)
@settings(max_examples=8, deadline=None)
@given(x=_values)
def test_unary_computes_in_the_requested_dtype(name, x):
    ufunc = getattr(np, name)
    want = ufunc(x, dtype=np.float64)
    mt.assert_close(mlc.jit(lambda a: ufunc(a, dtype=np.float64))(x), want)  # a few float64 ulps
    mt.assert_close(getattr(mnp, name)(x, dtype=np.float64), want)


@pytest.mark.parametrize("name", BINARY)
@settings(max_examples=8, deadline=None)
@given(x=_values, scalar=st.sampled_from([3, 0.1, 2]))
def test_binary_computes_in_the_requested_dtype(name, x, scalar):
    ufunc = getattr(np, name)
    want = ufunc(x, scalar, dtype=np.float64)
    mt.assert_close(mlc.jit(lambda a: ufunc(a, scalar, dtype=np.float64))(x), want)
    mt.assert_close(getattr(mnp, name)(x, scalar, dtype=np.float64), want)


@pytest.mark.parametrize("dtype, casting", [("float32", "same_kind"), ("int16", "unsafe"),
                                            ("float16", "same_kind"), ("int64", "same_kind")])
def test_narrower_and_unsafe_loops_match_numpy(dtype, casting):
    x = np.array([1.7, -2.5, 300.25], "float64")
    i = np.array([1, -2, 3], "int8")
    for a in (x, i):
        try:
            want = np.multiply(a, 3, dtype=dtype, casting=casting)
        except TypeError:
            with pytest.raises(DTypeError, match="same_kind"):
                mlc.jit(lambda v: np.multiply(v, 3, dtype=dtype, casting=casting))(a)
            continue
        got = mlc.jit(lambda v: np.multiply(v, 3, dtype=dtype, casting=casting))(a)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_a_cast_that_is_not_same_kind_is_a_dtype_error():
    x = np.array([1.5, 2.0], "float32")
    with pytest.raises(TypeError):  # NumPy's UFuncTypeError
        np.multiply(x, 3, dtype=np.int16)
    for call in (lambda: mlc.jit(lambda a: np.multiply(a, 3, dtype=np.int16))(x),
                 lambda: mnp.multiply(x, 3, dtype=np.int16)):
        with pytest.raises(DTypeError, match=r"(?s)multiply.*float32.*same_kind.*astype\(np\.int16\)"):
            call()


def test_a_dtype_no_loop_gives_is_a_dtype_error():
    x = np.array([1.5, 2.0], "float32")
    with pytest.raises(DTypeError, match="no loop"):
        mlc.jit(lambda a: np.exp(a, dtype=np.int64))(x)
    with pytest.raises(DTypeError, match="casting must be one of"):
        mnp.exp(x, casting="sometimes")


def test_matmul_dtype_computes_in_the_requested_dtype():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    want = np.matmul(x, x.T, dtype=np.float64)
    np.testing.assert_allclose(mlc.jit(lambda a: np.matmul(a, a.T, dtype=np.float64))(x), want, rtol=1e-12)


@pytest.mark.parametrize("src, dst", [("int64", "int8"), ("float64", "float32"), ("int32", "float64"),
                                      ("float32", "int32"), ("uint8", "int16")])
@pytest.mark.parametrize("casting", ["no", "equiv", "safe", "same_kind", "unsafe"])
def test_astype_follows_its_casting_rule_as_numpy(src, dst, casting):
    x = np.array([3], src)
    f = mlc.jit(lambda v: v.astype(dst, casting=casting))
    if np.can_cast(src, dst, casting):
        np.testing.assert_array_equal(f(x), x.astype(dst, casting=casting))
        return
    with pytest.raises(TypeError):
        x.astype(dst, casting=casting)
    with pytest.raises(DTypeError, match=rf"cannot cast array data from {src} to {dst} according to the rule "
                                         rf"'{casting}', as in NumPy"):
        f(x)
