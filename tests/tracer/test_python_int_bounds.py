"""Python ints at and beyond an integer dtype's bounds, as NumPy 2 treats them (NEP 50).

The int takes the array's dtype; one it cannot hold raises (NumPy: OverflowError;
mlc: DTypeError), except where NumPy 2 computes an exact answer: comparisons,
ops whose loop is bool (logical_*) or float64 (divide), and ``clip``, which
drops a bound beyond the dtype's range. Checked differentially against NumPy
for ``mlc.numpy`` (eager), for a literal inside ``@mlc.jit`` and for a Python
scalar argument of ``@mlc.jit`` (known only when the function runs).
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
import mlc.numpy as mnp

INT_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
BINARY = ["add", "subtract", "multiply", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor",
          "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
          "logical_or", "logical_xor", "divide"]


def _bound_values(dtype: str):
    """Ints at, just past and far past ``dtype``'s bounds, int64's and uint64's too (a traced
    argument is an int64; past that it is traced as a constant)."""
    info = np.iinfo(dtype)
    edges = [int(info.min) - 1, int(info.min), int(info.min) + 1, int(info.max) - 1, int(info.max),
             int(info.max) + 1, 2 * int(info.max) + 2, -2 * int(info.max) - 2, 0, 1, -1]
    return st.sampled_from(edges) | st.sampled_from([2**63, 2**64 - 1, 2**64, 2**70, -2**63 - 1, -2**70])


def _numpy(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return fn()
        except (OverflowError, TypeError) as err:  # TypeError: no loop for such an int (object)
            return err


def _agree(want, run):
    """``run()`` raises DTypeError where NumPy raised, else gives NumPy's array."""
    if isinstance(want, Exception):
        with pytest.raises(mlc.DTypeError, match="out of bounds"):
            run()
        return
    got = run()
    want = np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got, want)
    np.testing.assert_array_equal(got, want)


@st.composite
def _cases(draw):
    dtype = draw(st.sampled_from(INT_DTYPES))
    x = draw(hnp.arrays(dtype, 3))
    return x, draw(_bound_values(dtype))


@settings(max_examples=60, deadline=None)
@given(_cases(), st.sampled_from(BINARY), st.booleans())
def test_binary_ops_with_python_ints_match_numpy(case, name, scalar_first):
    x, value = case
    order = (lambda a, v: (v, a)) if scalar_first else (lambda a, v: (a, v))
    want = _numpy(lambda: getattr(np, name)(*order(x, value)))
    _agree(want, lambda: getattr(mnp, name)(*order(x, value)))                                  # eager
    _agree(want, lambda: mlc.jit(lambda a: getattr(np, name)(*order(a, value)))(x))             # literal
    _agree(want, lambda: mlc.jit(lambda a, v: getattr(np, name)(*order(a, v)))(x, value))       # argument


@settings(max_examples=60, deadline=None)
@given(_cases(), st.data())
def test_clip_with_python_int_bounds_matches_numpy(case, data):
    x, low = case
    high = data.draw(_bound_values(x.dtype.name) | st.none())
    low = data.draw(st.sampled_from([low, None])) if high is not None else low
    want = _numpy(lambda: np.clip(x, low, high))
    _agree(want, lambda: mnp.clip(x, low, high))
    _agree(want, lambda: mlc.jit(lambda a: np.clip(a, low, high))(x))
    _agree(want, lambda: mlc.jit(lambda a, lo, hi: np.clip(a, lo, hi))(x, low, high))


def test_the_reported_cases():
    with pytest.raises(mlc.DTypeError, match="add: Python integer 300 .* out of bounds for int8"):
        mnp.add(np.array([1, 2], np.int8), 300)
    u = np.array([0, 2, 5], np.uint32)
    np.testing.assert_array_equal(mnp.clip(u, -2, 3), [0, 2, 3])
    np.testing.assert_array_equal(mlc.jit(lambda a: np.clip(a, -2, 3))(u), [0, 2, 3])


def test_a_traced_int_is_checked_each_run_including_values_computed_from_it():
    f = mlc.jit(lambda a, v: a + v * 2)
    x = np.array([1, -1], np.int8)
    np.testing.assert_array_equal(f(x, 10), [21, 19])
    with pytest.raises(mlc.DTypeError, match=r"add: Python integer 200 \(a Python scalar argument, or "
                                             r"computed from one\) is out of bounds for int8"):
        f(x, 100)
    np.testing.assert_array_equal(f(x, -64), x + np.int8(-128))  # -128 fits; the sum wraps as NumPy's
    assert f.trace_count == 1


def test_ints_past_64_bits_are_exact_where_numpy_is():
    """Such an int is traced as a constant (one compilation per value)."""
    u = np.array([0, 2**64 - 1], np.uint64)
    i = np.array([-(2**63), 2**63 - 1], np.int64)
    np.testing.assert_array_equal(mnp.less(u, 2**64), [True, True])
    np.testing.assert_array_equal(mnp.equal(u, 2**64 - 1), [False, True])
    np.testing.assert_array_equal(mnp.greater(i, -2**70), [True, True])
    np.testing.assert_array_equal(mnp.add(u, 2**63), u + np.uint64(2**63))
    np.testing.assert_array_equal(mnp.clip(i, -2**70, 2**70), i)
    f = mlc.jit(lambda a, v: a < v)
    np.testing.assert_array_equal(f(i, 2**70), [True, True])
    np.testing.assert_array_equal(f(i, -2**70), [False, False])
    with pytest.raises(mlc.DTypeError, match="add: Python integer 1180591620717411303424 is out of bounds for int64"):
        mnp.add(i, 2**70)


def test_where_refuses_an_int_its_dtype_cannot_hold():
    """NumPy 2.4's ``np.where(c, x_i8, 300)`` wraps silently to 44; mlc refuses instead."""
    x = np.array([1, 2], np.int8)
    with pytest.raises(mlc.DTypeError, match=r"where: Python integer 300 .*out of bounds for int8.*NumPy 2 "
                                             r"keeps its low bits silently there, which mlc refuses"):
        mnp.where(x > 1, x, 300)
    with pytest.raises(mlc.DTypeError, match=r"where: Python integer 300 is out of bounds for int8 \(NumPy 2 "
                                             r"keeps its low bits silently there, which mlc refuses"):
        mlc.jit(lambda a: np.where(a > 1, a, 300))(x)
