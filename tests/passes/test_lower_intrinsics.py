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
def test_small_integer_powers_have_no_pow_call(exponent):
    assert calls(lower_intrinsics(power_func(exponent))) == []


@pytest.mark.parametrize("exponent", [0.5, 5, -5, 2.5])
def test_other_powers_keep_the_call(exponent):
    assert calls(lower_intrinsics(power_func(exponent))) == ["pow"]


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
