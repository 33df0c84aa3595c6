"""lower_intrinsics: small integer powers become multiplications and still match NumPy."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
from mlc import te
from mlc.ir.expr import Call
from mlc.ir.functor import pre_order_nodes
from mlc.passes.tir import lower_intrinsics


def power_func(exponent, dtype="float32", n=16):
    A = te.placeholder((n,), dtype, "A")
    B = te.compute((n,), lambda i: te.pow(A[i], te.const(exponent, dtype)), "B")
    return te.create_prim_func([A, B])


def calls(func):
    return [n.op for n in pre_order_nodes(func.body) if isinstance(n, Call)]


@pytest.mark.parametrize("exponent", [-4, -2, -1, 0, 1, 2, 3, 4])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_small_integer_powers_have_no_pow_call(exponent, dtype):
    assert calls(lower_intrinsics(power_func(exponent, dtype))) == []


@pytest.mark.parametrize("exponent", [-8, -7, -5, 5, 6, 8])
def test_narrow_floats_multiply_up_to_the_eighth_power_in_double(exponent):
    for dtype in ("float32", "float16"):
        func = lower_intrinsics(power_func(exponent, dtype))
        assert calls(func) == []
        assert "float64" in func.script()
    assert calls(lower_intrinsics(power_func(exponent, "float64"))) == ["pow"]


@pytest.mark.parametrize("exponent", [0.5, -0.5, 1.5, -7.5, 8.5])
def test_narrow_floats_take_half_integer_powers_of_a_square_root_in_double(exponent):
    func = lower_intrinsics(power_func(exponent))
    assert set(calls(func)) == ({"pow"} if abs(exponent) > 8 else {"abs", "sqrt"})
    assert calls(lower_intrinsics(power_func(exponent, "float64"))) == ["pow"]


@pytest.mark.parametrize("exponent", [9, -9, 2.25, 1 / 3])
def test_other_powers_keep_the_call(exponent):
    assert calls(lower_intrinsics(power_func(exponent))) == ["pow"]


def _float32_sweep():
    """Every 509th positive float32 bit pattern (all exponents, subnormals), both signs,
    and zeros, infinities, NaN."""
    x = np.arange(1, 0x7F800000, 509, dtype=np.uint32).view(np.float32)
    return np.concatenate([x, -x, np.array([0.0, -0.0, np.inf, -np.inf, np.nan], np.float32)])


@pytest.mark.parametrize("exponent", [-8, -5, -3, -2, -1, 2, 3, 4, 7, 8, -7.5, -1.5, -0.5, 1.5, 2.5, 7.5])
def test_float32_integer_powers_round_as_pow_does(exponent):
    """Over the whole float32 range: within 0.51 ulp of x^y (float64's power of the float,
    itself within 2^-52 for these y), zeros, infinities and NaN as C99's pow gives them
    (``(-0)^-3 = -inf``, ``(-inf)^-3 = -0``, ``(-0)^-0.5 = +inf``, ``(-inf)^1.5 = +inf``,
    a negative x to a half-integer NaN), underflow to 0 and overflow to inf included.
    (Multiplied in float32, x^3 was up to 1.13 ulp off and x^4 1.56.)"""
    x = _float32_sweep()
    out = np.empty_like(x)
    mlc.build(power_func(exponent, n=x.size), "llvm")["main"](x, out)
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), exponent)
        rounded = want.astype(np.float32)
    same = (out == rounded) | (np.isnan(out) & np.isnan(rounded))
    np.testing.assert_array_equal(np.signbit(out[same]), np.signbit(rounded[same]))
    finite = ~same & np.isfinite(rounded)
    err = np.abs(out[finite].astype(np.float64) - want[finite]) / np.spacing(np.abs(rounded[finite])).astype(np.float64)
    assert (~same == finite).all() and (err.size == 0 or err.max() <= 0.51), err.max()


@given(exponent=st.sampled_from([-4, -3, -2, -1, 0, 1, 2, 3, 4]),
       dtype=st.sampled_from(["float32", "float64"]), data=st.data())
def test_lowered_powers_match_numpy(exponent, dtype, data):
    x = data.draw(hnp.arrays(dtype, 16, elements=st.floats(-1e3, 1e3, width=32 if dtype == "float32" else 64)))
    x[:4] = [np.nan, np.inf, -np.inf, 0.0]
    out = np.empty_like(x)
    mlc.build(power_func(exponent, dtype), "llvm")["main"](x, out)
    with np.errstate(all="ignore"):
        want = np.power(x, np.asarray(exponent, dtype))
    np.testing.assert_allclose(out, want, rtol=4 * np.finfo(dtype).eps, atol=0)
