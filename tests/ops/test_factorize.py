"""cholesky, det, slogdet, solve and inv (Cholesky and LU kernels) against NumPy on every target:
batches, sizes 1 and odd, rows that need pivoting, float32, float64, complex64 and complex128
(Hermitian Cholesky, a complex slogdet sign); singular and indefinite matrices give the
documented NaN / 0 / (0, -inf) results."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlc import DTypeError, ShapeError
from mlc.ops import TensorType, get_op

from ._harness import TARGETS, arrays, check_op, run_op

FLOAT = ("float32", "float64")
INEXACT = FLOAT + ("complex64", "complex128")


def _adjoint(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _bound(dtype: str, n: int) -> float:
    """Relative error bound of a backward-stable factorization of a matrix of condition number
    at most ~3 (the strategy's): a few n * eps, as LAPACK's own error analysis gives."""
    return 8 * max(n, 1) * float(np.finfo(dtype).eps)


@st.composite
def well_conditioned(draw, *, max_batch=2, max_n=5, real=False):
    """(batch..., n, n) matrices: entries in [-1, 1] plus 2n on the diagonal (condition number
    about 3 at most; complex: each part in [-1, 1]), rows permuted so that partial pivoting has
    rows to swap."""
    dtype = draw(st.sampled_from(FLOAT if real else INEXACT), label="dtype")
    n = draw(st.integers(1, max_n), label="n")
    batch = tuple(draw(st.lists(st.integers(1, max_batch), max_size=2), label="batch"))
    x = draw(arrays(dtype, batch + (n, n), special=False, bound=1.0))
    x = x + (2 * n * np.eye(n)).astype(dtype)
    perm = draw(st.permutations(range(n)), label="row order")
    return np.ascontiguousarray(x[..., perm, :])


@settings(max_examples=20, deadline=None)
@given(x=well_conditioned(), upper=st.booleans())
def test_cholesky(x, upper):
    spd = np.ascontiguousarray(x @ _adjoint(x))   # Hermitian positive definite when complex
    low = np.linalg.cholesky(spd)
    expected = np.ascontiguousarray(_adjoint(low)) if upper else low
    n = x.shape[-1]
    bound = _bound(x.dtype.name, n) * 4
    # an element that is zero in exact arithmetic comes out as rounding noise in one of the two:
    # its error is bounded relative to the factor's size, not to itself
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    check_op("cholesky", [spd], expected, rtol=bound, atol=bound * scale, upper=upper)


@settings(max_examples=12, deadline=None)
@given(x=well_conditioned(max_batch=1, max_n=40, real=True), upper=st.booleans())
def test_cholesky_of_rows_longer_than_a_vector(x, upper):
    """Real factors of up to 40 rows: row products of several vectors of partial sums and a
    scalar rest (sizes 1, odd, not multiples of the vector)."""
    test_cholesky.hypothesis.inner_test(x, upper)


@pytest.mark.parametrize("dtype", FLOAT)
@settings(max_examples=4, deadline=None)
@given(x=well_conditioned(max_batch=1, max_n=3, real=True), n=st.integers(64, 83), data=st.data())
def test_cholesky_in_parallel_panels(dtype, x, n, data):
    """A real lower factor of order 64 and more: panels of columns whose row updates run in
    parallel (orders not a multiple of the panel nor of the vector leave a narrower last panel
    and scalar rests). Both real dtypes always: a float32 vector of partial sums spans two
    panels, so every other panel's row products end in a scalar rest (a float64 one, never)."""
    y = data.draw(arrays(dtype, x.shape[:-2] + (n, n), special=False, bound=1.0))
    spd = np.ascontiguousarray(y @ _adjoint(y) + n * np.eye(n, dtype=dtype))
    expected = np.linalg.cholesky(spd)
    bound = _bound(dtype, n) * 4
    check_op("cholesky", [spd], expected, targets=("llvm",), rtol=bound, atol=bound * float(np.abs(expected).max()))


@pytest.mark.parametrize("dtype, vector", [("float32", True), ("float64", True), ("complex64", False)])
def test_cholesky_sums_real_row_products_in_vectors(dtype, vector):
    """A real factor's row products run in a vectorized loop of partial sums (one accumulator
    waits the FMA latency at every step: 4x slower at 1000 x 1000); a complex one's stay scalar."""
    from mlc.ops.hand_written import hand_written
    text = hand_written("cholesky", [TensorType((20, 20), dtype)], {}).script()
    assert ("T.vectorized" in text) == vector


@settings(max_examples=20, deadline=None)
@given(x=well_conditioned())
def test_det_and_slogdet(x):
    rtol = _bound(x.dtype.name, x.shape[-1])
    check_op("det", [x], np.linalg.det(x).astype(x.dtype), rtol=rtol)
    sign, logabs = np.linalg.slogdet(x)
    check_op("slogdet", [x], (sign, logabs), rtol=rtol, atol=rtol)
    if x.dtype.kind == "c":  # the sign is a complex unit and log|det| real
        for target in TARGETS:
            got_sign, got_logabs = run_op("slogdet", [x], target)
            assert got_logabs.dtype == np.finfo(x.dtype).dtype
            np.testing.assert_allclose(np.abs(got_sign), 1, rtol=rtol)


@settings(max_examples=20, deadline=None)
@given(x=well_conditioned(), data=st.data())
def test_solve_and_inv(x, data):
    n = x.shape[-1]
    k = data.draw(st.integers(1, 3), label="k")
    b = data.draw(arrays(x.dtype.name, x.shape[:-1] + (k,), special=False, bound=1.0))
    rtol = _bound(x.dtype.name, n)
    check_op("solve", [x, b], np.linalg.solve(x, b), rtol=rtol, atol=rtol / n)
    check_op("inv", [x], np.linalg.inv(x), rtol=rtol, atol=rtol / n)


@settings(max_examples=10, deadline=None)
@given(x=well_conditioned(max_batch=1, max_n=12), data=st.data())
def test_solve_of_many_right_hand_sides(x, data):
    """Right-hand sides of up to 40 columns (1, odd, not multiples of a vector), substituted a
    row at a time along the columns (a complex one in separate real and imaginary planes)."""
    n = x.shape[-1]
    k = data.draw(st.integers(1, 40), label="k")
    b = data.draw(arrays(x.dtype.name, x.shape[:-1] + (k,), special=False, bound=1.0))
    rtol = _bound(x.dtype.name, n)
    check_op("solve", [x, b], np.linalg.solve(x, b), rtol=rtol, atol=rtol / n)


@pytest.mark.parametrize("dtype", INEXACT)
def test_solve_and_inv_with_a_subnormal_pivot(dtype):
    """A pivot whose reciprocal overflows divides instead, as LAPACK's getf2 does (x * (1 / p)
    would be inf; NumPy's OpenBLAS gives inf here too, NaN for complex, so the expected values
    are exact ones); a complex division by it is scaled, not NaN."""
    t = float(np.finfo(dtype).tiny) / 4   # subnormal
    a = np.array([[t, 0, 0], [0, 2, 1], [0, 1, 3]], dtype)
    b = np.array([[t, 2 * t], [1, 0], [0, 1]], dtype)
    inverse = np.array([[0.6, -0.2], [-0.2, 0.4]])   # of [[2, 1], [1, 3]]
    for target in TARGETS:
        (got,) = run_op("solve", [a, b], target)
        np.testing.assert_allclose(got, np.vstack([[1, 2], inverse]), rtol=1e-5)
        (inv,) = run_op("inv", [a[1:, 1:] * np.asarray(t, dtype)], target)   # pivots of subnormal size
        np.testing.assert_allclose(inv, inverse / t, rtol=1e-5)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", INEXACT)
def test_singular_and_indefinite_matrices(target, dtype):
    """NumPy raises LinAlgError for these; the kernels give the values docs/ops.md promises."""
    singular = np.array([[[1, 2, 3], [2, 4, 6], [0, 1, 1]], [[0, 0, 0], [0, 0, 0], [0, 0, 0]]], dtype)
    (det,) = run_op("det", [singular], target)
    np.testing.assert_array_equal(det, [0, 0])
    sign, logabs = run_op("slogdet", [singular], target)
    np.testing.assert_array_equal(sign, [0, 0])
    np.testing.assert_array_equal(logabs, [-np.inf, -np.inf])
    (inv,) = run_op("inv", [singular], target)
    assert np.isnan(inv).all()
    (sol,) = run_op("solve", [singular, np.ones((2, 3, 1), dtype)], target)
    assert np.isnan(sol).all()
    indefinite = np.array([[[1, 2], [2, 1]], [[4, 2], [2, 3]]], dtype)
    (low,) = run_op("cholesky", [indefinite], target)
    assert np.isnan(low[0]).all()
    np.testing.assert_allclose(low[1], np.linalg.cholesky(indefinite[1]), rtol=1e-6)


def test_illegal_uses():
    with pytest.raises(ShapeError, match="square"):
        get_op("det").infer(TensorType((2, 3), "float32"))
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        get_op("inv").infer(TensorType((3,), "float32"))
    with pytest.raises(DTypeError, match="float32, float64, complex64 or complex128"):
        get_op("cholesky").infer(TensorType((3, 3), "int32"))
    with pytest.raises(ShapeError, match="one batch shape"):
        get_op("solve").infer(TensorType((2, 3, 3), "float32"), TensorType((3, 1), "float32"))
