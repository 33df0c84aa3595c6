"""Operands NumPy takes as Python objects (None, strings) and ``out=`` on ufuncs, traced."""
import operator

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
import mlc.numpy as mnp
from mlc import DTypeError, TraceError

_arrays = hnp.arrays(st.sampled_from(["float32", "int32", "bool"]), hnp.array_shapes(min_dims=0, max_dims=3),
                     elements=st.just(1))


@pytest.mark.parametrize("compare", [operator.eq, operator.ne, np.equal, np.not_equal])
@pytest.mark.parametrize("obj", [None, object(), {}])
@settings(max_examples=5, deadline=None)
@given(a=_arrays)
def test_comparing_with_an_object_matches_numpy(compare, obj, a):
    got, want = mlc.jit(lambda x: compare(x, obj))(a), compare(a, obj)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(mlc.jit(lambda x: compare(obj, x))(a), compare(obj, a))


@pytest.mark.parametrize("obj", [None, "text"])
@settings(max_examples=5, deadline=None)
@given(a=_arrays)
def test_operators_compare_any_object_as_numpy_does(obj, a):
    np.testing.assert_array_equal(mlc.jit(lambda x: x == obj)(a), a == obj)
    np.testing.assert_array_equal(mlc.jit(lambda x: obj != x)(a), obj != a)


def test_the_equal_ufunc_refuses_a_string_as_numpy_does():
    a = np.ones(2, "float32")
    with pytest.raises(TypeError):
        np.equal(a, "text")
    with pytest.raises(DTypeError, match="str"):
        mlc.jit(lambda x: np.equal(x, "text"))(a)


@pytest.mark.parametrize("op, symbol", [(operator.add, r"\+"), (operator.mul, r"\*"), (operator.lt, "<"),
                                        (operator.pow, r"\*\*"), (np.add, r"\+")])
def test_arithmetic_with_none_is_a_dtype_error(op, symbol):
    a = np.ones(2)
    with pytest.raises(TypeError):
        op(a, None)
    with pytest.raises(DTypeError, match=rf"(?s){symbol}.*NoneType.*test_object_operands.py"):
        mlc.jit(lambda x: op(x, None))(a)


@pytest.mark.parametrize("call", [
    lambda a: np.exp(a, out=np.empty_like(a)),
    lambda a: np.add(a, 1, out=np.empty_like(a)),
    lambda a: np.add(a, 1, np.empty_like(a)),
    lambda a: np.multiply(a, a, out=(np.empty_like(a),)),
])
def test_ufunc_out_writes_into_a_traced_array(call):
    a = np.arange(3.0)
    np.testing.assert_allclose(mlc.jit(call)(a), call(a), rtol=1e-15)


def _functions_with_out(x, k):
    y = np.zeros((3, x.shape[0]))
    np.cumsum(x, out=y[1])               # into a row: a view of y
    np.clip(x, 0.2, 0.5, out=y[2])
    t = x.copy()
    np.cumprod(t, out=t)                 # into its own operand
    z = np.zeros(x.shape[0] + k)
    np.cumsum(0.5 * (x[1:] + x[:-1]), out=z[k + 1:])
    return y, t, z


@settings(max_examples=5, deadline=None)
@given(n=st.integers(1, 9), k=st.integers(0, 2))
def test_out_of_numpy_functions_writes_into_a_traced_array(n, k):
    """np.cumsum, np.clip and np.cumprod with out= a traced array (a view of one, or the operand
    itself) store their result there, as NumPy's do (they were refused)."""
    x = np.random.default_rng(n).uniform(0.1, 1.0, n)
    for got, want in zip(mlc.jit(_functions_with_out, static_argnames=("k",))(x, k), _functions_with_out(x, k)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_ufunc_out_into_a_numpy_constant_is_a_trace_error():
    with pytest.raises(TraceError, match=r"(?s)out=.*cannot write into this array.*test_object_operands.py"):
        mlc.jit(lambda a: np.add(a, 1, out=OUT))(np.ones(3))


OUT = np.zeros(3)


def test_ufunc_out_none_is_accepted():
    a = np.ones(3, "float32")
    np.testing.assert_array_equal(mlc.jit(lambda x: np.add(x, 1, out=None))(a), a + 1)
    np.testing.assert_array_equal(mnp.add(a, 1, out=None), a + 1)
    with pytest.raises(TraceError, match="out="):
        mnp.exp(a, out=np.empty_like(a))
