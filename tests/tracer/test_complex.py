"""Complex arrays through ``mlc.numpy``, jitted (llvm and the reference interpreter) and eager,
against NumPy: arithmetic, abs/exp/log/sqrt, conj/real/imag, ==/!=, sum/prod/mean, matmul and
vecdot, promotion with real arrays and Python scalars (NEP 50), astype, and the Array API's
result_type/can_cast/isdtype."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.numpy as mnp
import mlc.testing as mt

FUNCTIONS = {
    "x + y": lambda x, y: x + y,
    "x - y * x": lambda x, y: x - y * x,
    "x / y": lambda x, y: x / y,
    "-x": lambda x, y: -x,
    "abs(x)": lambda x, y: np.abs(x),
    "exp(x)": lambda x, y: np.exp(x),
    "log(x)": lambda x, y: np.log(x),
    "sqrt(x)": lambda x, y: np.sqrt(x),
    "conj(x)": lambda x, y: np.conj(x),
    "real(x) + imag(y)": lambda x, y: np.real(x) + np.imag(y),
    "x.conj() * y.real - x.imag": lambda x, y: x.conj() * y.real - x.imag,
    "x.conjugate()": lambda x, y: x.conjugate(),
    "x == y, x != y": lambda x, y: (x == y, x != y),
    "where(x == y, x, 2j)": lambda x, y: np.where(x == y, x, 2j),
    "sum(x * y, axis=0)": lambda x, y: np.sum(x * y, axis=0),
    "prod(x)": lambda x, y: np.prod(x),
    "mean(x)": lambda x, y: np.mean(x),
    "x * 2.5 + 1": lambda x, y: x * 2.5 + 1,
    "x + 1j": lambda x, y: x + 1j,
}
ROUNDING = {"abs(x)", "exp(x)", "log(x)", "sqrt(x)", "sum(x * y, axis=0)", "prod(x)", "mean(x)"}


def _tolerance(dtype):
    return 16 * float(np.finfo(np.dtype(dtype)).eps)


def _assert_matches(got, want, rounding, what):
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    for g, w in zip(got, want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, f"{what}: {g.dtype}{g.shape} vs {w.dtype}{w.shape}"
        rtol = _tolerance(w.dtype) if rounding and w.dtype.kind in "fc" else 0.0
        mt.assert_close(g, w, rtol=rtol, atol=rtol, what=what)


@pytest.mark.parametrize("target", ["llvm", "reference"])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_jitted_complex_functions_match_numpy(name, target, data):
    dtype = data.draw(st.sampled_from(mt.COMPLEX), label="dtype")
    shape = data.draw(mt.shapes(min_dims=1, max_dims=2, min_side=1, max_side=4), label="shape")
    x = data.draw(mt.arrays(dtype, shape, bound=8.0), label="x")
    y = data.draw(mt.arrays(dtype, shape, bound=8.0), label="y")
    fn = FUNCTIONS[name]
    with np.errstate(all="ignore"):
        want = fn(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = mlc.jit(fn, target=target)(x, y)
    _assert_matches(got, want, name in ROUNDING, f"{name} ({target})")


@pytest.mark.parametrize("real", ["bool", "int16", "uint8", "float16", "float32", "float64"])
@pytest.mark.parametrize("dtype", mt.COMPLEX)
def test_complex_and_real_arrays_promote_like_numpy(dtype, real):
    x = np.array([1 + 2j, -3.5 + 0.25j, 0j], dtype)
    r = np.array([1, 0, 1], real)
    for fn in (lambda a, b: a + b, lambda a, b: b * a, lambda a, b: a / (b + 1)):
        _assert_matches(mlc.jit(fn)(x, r), fn(x, r), False, f"{dtype} with {real}")


@pytest.mark.parametrize("scalar", [2, 2.5, 1 - 2j, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "complex64", "complex128"])
def test_python_scalars_are_weak_next_to_complex_and_complex_scalars_promote(dtype, scalar):
    """NEP 50: ``x_c64 * 2.5`` is complex64, ``x_f32 + 1j`` is complex64, ``x_i32 + 1j`` is
    complex128; a Python complex passed to the jitted function is weak too."""
    x = np.array([1, 2, 3], dtype)
    fn = lambda a: a * scalar - scalar  # noqa: E731
    _assert_matches(mlc.jit(fn)(x), fn(x), False, f"{dtype} with {scalar!r}")
    _assert_matches(mlc.jit(lambda a, s: a * s - s)(x, scalar), fn(x), False, "traced scalar")


@pytest.mark.parametrize("dtype", mt.COMPLEX)
def test_eager_mlc_numpy_computes_on_complex_arrays(dtype):
    x = np.array([1 + 2j, -0.0 - 1j, np.inf + 0j, 3 - 4j], dtype)
    y = np.array([2 - 1j, 1 + 1j, 1j, -2 + 0.5j], dtype)
    with np.errstate(invalid="ignore"):
        _assert_matches(mnp.multiply(x, y), x * y, False, "multiply")
        _assert_matches(mnp.divide(x, y), x / y, False, "divide")
    _assert_matches(mnp.conj(x), np.conj(x), False, "conj")
    _assert_matches(mnp.real(x), np.real(x), False, "real")
    _assert_matches(mnp.imag(x), np.imag(x), False, "imag")
    _assert_matches(mnp.abs(y), np.abs(y), True, "abs")
    _assert_matches(mnp.sqrt(x), np.sqrt(x), True, "sqrt")
    a = np.arange(6).reshape(2, 3).astype(dtype) * (1 - 1j)
    _assert_matches(mnp.matmul(a, a.T), a @ a.T, True, "matmul")


def test_vecdot_conjugates_the_first_vector():
    x, y = np.array([1j, 2j, 3 + 1j]), np.array([1, 2j, 3])
    _assert_matches(mnp.vecdot(x, y), np.vecdot(x, y), True, "vecdot")
    _assert_matches(mlc.jit(lambda a, b: mnp.linalg.vecdot(a, b))(x, y), np.vecdot(x, y), True, "jit vecdot")


def test_astype_complex_to_real_keeps_the_real_part_and_warns_as_numpy():
    x = np.array([1.5 + 2j, -3 - 1j], "complex64")
    with pytest.warns(np.exceptions.ComplexWarning):
        got = mlc.jit(lambda a: a.astype(np.float32))(x)
    np.testing.assert_array_equal(got, np.real(x))
    np.testing.assert_array_equal(mnp.astype(np.array([1, 2], "int8"), mnp.complex128),
                                  np.array([1, 2], "complex128"))


def test_complex_numbers_compare_in_numpys_order_but_have_no_maximum():
    """``<`` and its kin order complex values as NumPy does (real part, then imaginary part:
    tests/tracer/test_numpy_idioms.py); np.maximum of them is refused."""
    x = np.array([1 + 1j, 1 + 2j, 0 + 5j], "complex64")
    with pytest.raises(mlc.DTypeError, match="complex"):
        mlc.jit(lambda a: np.maximum(a, a))(x)
    np.testing.assert_array_equal(mlc.jit(lambda a: a < a[1])(x), x < x[1])


def test_array_api_dtype_functions_know_complex_promotion():
    assert mnp.result_type(mnp.complex64, mnp.float64) == np.complex128
    assert mnp.result_type(mnp.float32, 1j) == np.complex64
    assert mnp.result_type(mnp.int8, mnp.complex64) == np.complex64
    assert mnp.can_cast(mnp.float32, mnp.complex64) and not mnp.can_cast(mnp.float64, mnp.complex64)
    assert not mnp.can_cast(mnp.complex64, mnp.float32)
    assert mnp.isdtype(mnp.complex128, "complex floating") and not mnp.isdtype(mnp.complex64, "real floating")


@pytest.mark.parametrize("ord", [2, 1, 0, np.inf, -np.inf, 3])
@pytest.mark.parametrize("dtype", mt.COMPLEX)
def test_vector_norm_of_complex_vectors_is_real(dtype, ord):
    x = np.array([[3 + 4j, 1 - 1j, 0j], [-2j, 0.5 + 0j, 1 + 1j]], dtype)
    want = np.linalg.vector_norm(x, ord=ord, axis=1)
    _assert_matches(mnp.linalg.vector_norm(x, ord=ord, axis=1), want, True, f"ord={ord}")


@pytest.mark.parametrize("dtype", ["complex128", "float32"])
def test_complex_power_with_python_scalars_jitted_and_eager(dtype):
    """``z ** 2.5``, ``z ** 1j`` and ``2 ** z`` jitted, ``mnp.pow`` eager, with NumPy's dtypes (a
    Python scalar is weak: float32 ** 1j is complex64) and values."""
    x = np.array([1.5 - 0.5j, -2 + 1j, 0.25j, 3] if dtype.startswith("complex") else [1.5, -2, 0.25, 3], dtype)
    w = np.array([2 - 1j, 0.5 + 0j, 3, -1], "complex64")

    def fn(a):
        return a ** 2.5, a ** 1j, 2 ** (a * 1j)

    with np.errstate(all="ignore"):
        want = fn(x)
        _assert_matches(mlc.jit(fn)(x), want, True, "z ** 2.5, z ** 1j, 2 ** (z * 1j)")
        _assert_matches(mnp.pow(x, w), np.pow(x, w), True, "pow")


@pytest.mark.parametrize("dtype", ["complex64", "complex128", "float32", "float64", "float16", "int32",
                                   "uint8", "bool"])
@pytest.mark.parametrize("deg", [False, True])
def test_angle_is_numpys_jitted_and_eager(dtype, deg):
    if dtype.startswith("complex"):
        z = np.array([1j, -1, 1 + 1j, -0.0 - 0j, complex(-1, -0.0), complex(np.inf, np.nan), 0j], dtype)
    elif dtype == "bool":
        z = np.array([True, False])
    elif dtype.startswith(("int", "uint")):
        z = np.array([1, 0, 3, 100], dtype)
    else:
        z = np.array([1.0, -1.0, 0.0, -0.0, np.inf, -np.inf, np.nan], dtype)
    expected = np.angle(z, deg=deg)
    for got in (mlc.jit(lambda v: np.angle(v, deg=deg))(z), mnp.angle(z, deg=deg)):
        assert got.dtype == expected.dtype
        mt.assert_close(got, expected, ulps=4)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
