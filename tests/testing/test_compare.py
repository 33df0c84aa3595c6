"""mlc.testing.assert_close / compare / ulp_distance: the rules and the messages."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import mlc.testing as mt


def test_ulp_distance_counts_representable_floats():
    one = np.float32(1)
    up = np.nextafter(one, np.float32(2))
    assert mt.ulp_distance(up, one) == 1
    assert mt.ulp_distance(np.float64(-0.0), np.float64(0.0)) == 0
    smallest = np.finfo(np.float16).smallest_subnormal
    assert mt.ulp_distance(np.float16(smallest), np.float16(-smallest)) == 2
    assert mt.ulp_distance(np.float32(np.inf), np.finfo(np.float32).max) == 1
    assert np.isnan(mt.ulp_distance(np.float64(np.nan), np.float64(1)))
    with pytest.raises(TypeError, match="one float dtype"):
        mt.ulp_distance(np.float32(1), np.float64(1))


@given(st.floats(-1e300, 1e300), st.integers(0, 50))
def test_ulp_distance_inverts_nextafter(x, n):
    y = np.float64(x)
    for _ in range(n):
        y = np.nextafter(y, np.inf)
    assert mt.ulp_distance(y, np.float64(x)) == n


def test_integers_and_bools_compare_exactly():
    mt.assert_close(np.int32([1, 2]), np.int32([1, 2]))
    with pytest.raises(AssertionError, match=r"1 of 2 elements differ \(integers and bools compare "
                                             r"exactly\)\n  first at index \(1,\): actual 3, expected 2"):
        mt.assert_close(np.int32([1, 3]), np.int32([1, 2]), ulps=10, rtol=1)
    with pytest.raises(AssertionError, match="dtype int64 != expected int32"):
        mt.assert_close(np.int64([1]), np.int32([1]))
    with pytest.raises(AssertionError, match=r"shape \(2,\) != expected \(1, 2\)"):
        mt.assert_close(np.zeros(2), np.zeros((1, 2)))


def test_nan_positions_and_infinities_must_match():
    mt.assert_close(np.float32([np.nan, np.inf, -np.inf]), np.float32([np.nan, np.inf, -np.inf]))
    with pytest.raises(AssertionError, match=r"NaN positions differ at \[\(1,\)\]"):
        mt.assert_close(np.float32([1, np.nan]), np.float32([1, 2]), rtol=1)
    with pytest.raises(AssertionError, match="infinities differ"):
        mt.assert_close(np.float32([np.inf]), np.float32([-np.inf]), rtol=1)
    with pytest.raises(AssertionError, match="infinities differ"):
        mt.assert_close(np.float32([np.finfo(np.float32).max]), np.float32([np.inf]), ulps=4)


def test_overflow_order_leaves_out_what_an_order_of_operations_decides():
    actual = np.float32([np.nan, 3.4e38, np.inf, 1.0, np.nan, -np.inf])
    expected = np.float32([0.0, np.inf, np.nan, 1.0, np.nan, -np.inf])
    with pytest.raises(AssertionError, match="NaN positions differ"):
        mt.assert_close(actual, expected)
    assert mt.compare(actual, expected, overflow_order=True)  # finite or not, NaN or inf: left out
    wrong = mt.compare(np.float32([np.nan, 2.0]), np.float32([0.0, 1.0]), overflow_order=True)
    assert not wrong and "1 of 2 elements differ" in wrong.summary  # the finite pair is compared
    assert mt.compare(np.float32([np.inf]), np.float32([-np.inf]), overflow_order=True)  # max + max - 3 max
    assert mt.compare(np.complex64([complex(np.nan, 1)]), np.complex64([complex(0, 1)]), overflow_order=True)


def test_ulps_rtol_and_atol_each_suffice():
    e = np.float32([1.0, 1e-3])
    a = np.nextafter(np.nextafter(e, np.float32(9)), np.float32(9))  # two ulps up
    mt.assert_close(a, e, ulps=2)
    with pytest.raises(AssertionError, match=r"tolerance: 1 ulps\)\n  worst at index \(\d,\).* 2 ulps"):
        mt.assert_close(a, e, ulps=1)
    mt.assert_close(a, e, ulps=1, rtol=3e-7)
    mt.assert_close(np.float64([1e-9]), np.float64([0.0]), atol=1e-9)
    with pytest.raises(AssertionError, match="rel error inf"):
        mt.assert_close(np.float64([1e-9]), np.float64([0.0]))


def test_default_tolerance_is_the_dtypes_one_op_rtol():
    e = np.float32([3.0])
    mt.assert_close(e * np.float32(1 + 1.9e-6), e)
    with pytest.raises(AssertionError, match=r"what: float32 \(1,\): 1 of 1"):
        mt.assert_close(e * np.float32(1 + 4e-6), e, what="what")


def test_subnormals_may_flush_to_zero():
    tiny = np.finfo(np.float32).tiny
    mt.assert_close(np.float32([0.0]), np.float32([tiny / 8]), ulps=0)


def test_compare_reports_the_largest_errors():
    c = mt.compare(np.float64([1.0, 2.0]), np.float64([1.0, 2.5]))
    assert not c and c.max_abs == 0.5 and c.max_rel == pytest.approx(0.2)
    assert c.max_ulps == mt.ulp_distance(np.float64(2.0), np.float64(2.5))


def test_a_complex_part_beside_an_overflowed_one_is_compared_to_its_own_value():
    """cosh(90+1j) in complex64: the real part 3.3e38 is finite, the imaginary one inf, so
    the modulus is no scale; a finite part one ulp off is within the default tolerance."""
    with np.errstate(over="ignore"):
        expected = np.array([np.cosh(np.complex64(90 + 1j))], dtype="complex64")
    assert np.isfinite(expected.real[0]) and np.isinf(expected.imag[0])
    actual = expected.copy()
    actual.real = np.nextafter(expected.real, np.float32(np.inf))
    mt.assert_close(actual, expected)
    actual.real = expected.real * np.float32(1.001)
    with pytest.raises(AssertionError, match="real parts"):
        mt.assert_close(actual, expected)
