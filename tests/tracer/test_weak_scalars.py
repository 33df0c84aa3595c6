"""A Python scalar argument of ``@mlc.jit`` stays weak (NEP 50) through every op NumPy keeps it weak.

In NumPy 2 a Python operator between Python scalars gives a Python scalar (weak:
``x * 2 + y_f32`` is float32), while a NumPy function of one gives a typed NumPy
scalar (``np.exp(2.0)`` is float64, strong). Each expression is run on real
Python scalars with NumPy and traced with the scalar as an argument.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc

EXPRESSIONS = {
    "x * 2 + y": lambda x, y: x * 2 + y,
    "2 * x + y": lambda x, y: 2 * x + y,
    "-x + y": lambda x, y: -x + y,
    "+x + y": lambda x, y: +x + y,
    "x + 1 + y": lambda x, y: x + 1 + y,
    "abs(x) + y": lambda x, y: abs(x) + y,
    "x * x - x + y": lambda x, y: x * x - x + y,
    "x / 2 + y": lambda x, y: x / 2 + y,
    "x // 3 + y": lambda x, y: x // 3 + y,
    "x % 3 + y": lambda x, y: x % 3 + y,
    "x ** 2 + y": lambda x, y: x ** 2 + y,
    "x * 0.5 + y": lambda x, y: x * 0.5 + y,
    "(x > 1) + y": lambda x, y: (x > 1) + y,
    "(x == x) * y": lambda x, y: (x == x) * y,
    "y - (x + x)": lambda x, y: y - (x + x),
    "np.exp(x) + y": lambda x, y: np.exp(x) + y,
    "np.add(x, 1) + y": lambda x, y: np.add(x, 1) + y,
    "np.negative(x) * y": lambda x, y: np.negative(x) * y,
    "np.maximum(x, 1) + y": lambda x, y: np.maximum(x, 1) + y,
}

SCALARS = st.integers(-20, 20) | st.floats(-20, 20, allow_nan=False) | st.booleans()
ARRAYS = st.sampled_from(["bool", "int8", "uint8", "int16", "int32", "int64", "float16", "float32",
                          "float64"]).flatmap(
    lambda d: hnp.arrays(d, 3, elements=None if d == "bool" else st.integers(0, 20)))


def _numpy(expr, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return np.asarray(expr(x, y))
        except (OverflowError, TypeError) as err:
            return err


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(EXPRESSIONS)), SCALARS, ARRAYS)
def test_python_scalar_arguments_promote_like_numpy(name, x, y):
    expr = EXPRESSIONS[name]
    want = _numpy(expr, x, y)
    f = mlc.jit(expr)
    if isinstance(want, Exception):
        with pytest.raises(mlc.MLCError):
            f(x, y)
        return
    got = f(x, y)
    assert got.dtype == want.dtype, (name, x, y.dtype, got.dtype, want.dtype)
    rtol = 1e-3 if want.dtype == np.float16 else 1e-6
    np.testing.assert_allclose(got, want, rtol=rtol)


@pytest.mark.parametrize("name", ["x * 2 + y", "-x + y", "x + 1 + y", "abs(x) + y"])
def test_the_reported_cases(name):
    f = mlc.jit(EXPRESSIONS[name])
    assert f(2.0, np.ones(3, "float32")).dtype == np.float32
    assert f(2, np.ones(3, "int8")).dtype == np.int8
