"""qr, eigh, eigvalsh, svd and svdvals (Householder and Jacobi kernels) on every target against
NumPy: values (R's diagonal up to sign, eigenvalues ascending, singular values descending)
and what defines the vectors, which are unique only up to sign: reconstruction
(A = Q R, A V = V diag(w), A = U S Vh) and orthonormality. Tall, wide, square, size-1 and
rank-deficient matrices, batches, float32, float64, complex64 and complex128 (Hermitian
eigenproblems, unitary factors, real eigenvalues, singular values and R diagonal)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlc import ShapeError
from mlc.ops import TensorType, get_op

from ._harness import TARGETS, arrays, run_op

FLOAT = ("float32", "float64")
INEXACT = FLOAT + ("complex64", "complex128")


def _adjoint(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _real_dtype(dtype) -> np.dtype:
    """The dtype of a ``dtype`` matrix's eigenvalues and singular values (complex64 -> float32)."""
    return np.finfo(dtype).dtype


def _tol(dtype: str, n: int) -> float:
    """A few n * eps: the backward error of orthogonal transformations (relative to ||A||)."""
    return 16 * max(n, 1) * float(np.finfo(dtype).eps)


def _close(got, want, tol, what):
    np.testing.assert_allclose(got, want, rtol=0, atol=tol, err_msg=what)


def _orthonormal(q, tol, what):
    """The columns of each (..., m, k) ``q`` are orthonormal."""
    gram = _adjoint(q) @ q
    _close(gram, np.broadcast_to(np.eye(q.shape[-1]), gram.shape), tol, f"{what}: columns not orthonormal")


@st.composite
def matrices(draw, *, square=False, max_side=5):
    """Batches of matrices with entries in [-1, 1] (complex: each part); some rank-deficient (a
    repeated column and a zero row) or with repeated values (the identity)."""
    dtype = draw(st.sampled_from(INEXACT), label="dtype")
    m = draw(st.integers(1, max_side), label="m")
    n = m if square else draw(st.integers(1, max_side), label="n")
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=1), label="batch"))
    x = draw(arrays(dtype, batch + (m, n), special=False, bound=1.0)).copy()
    kind = draw(st.sampled_from(["random", "deficient", "identity"]), label="kind")
    if kind == "deficient" and n > 1:
        x[..., :, -1] = x[..., :, 0]
        x[..., 0, :] = 0
    elif kind == "identity":
        x = np.broadcast_to(np.eye(m, n, dtype=dtype), x.shape).copy()
    return x


@settings(max_examples=15, deadline=None)
@given(x=matrices(), mode=st.sampled_from(["reduced", "complete"]))
def test_qr(x, mode):
    m, n = x.shape[-2:]
    tol = _tol(x.dtype.name, max(m, n))
    q_np, r_np = np.linalg.qr(x, mode=mode)
    for target in TARGETS:
        q, r = run_op("qr", [x], target, mode=mode)
        assert q.shape == q_np.shape and r.shape == r_np.shape and q.dtype == r.dtype == x.dtype
        _close(q @ r, x, tol, f"qr on {target}: Q R != A")
        np.testing.assert_array_equal(np.diagonal(r, axis1=-2, axis2=-1).imag, 0,
                                      err_msg=f"qr on {target}: R's diagonal not real")
        _orthonormal(q, tol, f"qr on {target}")
        np.testing.assert_array_equal(np.tril(r, -1), 0, err_msg=f"qr on {target}: R not upper triangular")
        # |diag R| is unique only while the leading columns are independent: after a column
        # that depends on the ones before it, the next reflections (and so R's later
        # rows) are any orthonormal completion, LAPACK's as good as ours
        k = min(m, n)
        if k and np.all(np.linalg.matrix_rank(x[..., :, :k].astype(np.result_type(x.dtype, "float64"))) == k):
            _close(np.abs(np.diagonal(r, axis1=-2, axis2=-1)), np.abs(np.diagonal(r_np, axis1=-2, axis2=-1)),
                   tol, f"qr on {target}: |diag R| differs from NumPy's")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", INEXACT)
@pytest.mark.parametrize("magnitude", ["huge", "tiny"])
def test_qr_of_values_near_the_dtypes_limits_is_numpys(target, dtype, magnitude):
    """A column whose squares overflow (or underflow) its dtype: the reflector's norm is taken on
    the column scaled by its largest part, as LAPACK's xNRM2 does, so R is finite and NumPy's
    (this complex64 matrix once gave R = [[-inf, nan], [0, nan]])."""
    limits = np.finfo(dtype)
    if magnitude == "huge":  # squares beyond the largest finite value
        big = float(limits.max) ** 0.5 * 1.25
    else:  # squares below the smallest subnormal
        big = float(limits.smallest_normal) ** 0.5 * float(limits.eps)
    x = np.array([[1.0, 0.0], [0.31, 0.0]]) * big
    x = (x * 1j).astype(dtype) if np.dtype(dtype).kind == "c" else x.astype(dtype)
    q, r = run_op("qr", [x], target)
    q_np, r_np = np.linalg.qr(x)
    assert np.isfinite(q).all() and np.isfinite(r).all(), f"qr on {target}: {r}"
    _close(q, q_np, _tol(dtype, 2), f"qr on {target}: Q differs from NumPy's")
    _close(r * (1 / big), r_np * (1 / big), _tol(dtype, 2), f"qr on {target}: R differs from NumPy's")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", INEXACT)
@pytest.mark.parametrize("column", [(1, 1), (3, 2), (1, 0, 1), (5, -4, 2)])
def test_qr_of_subnormal_columns_is_orthonormal(target, dtype, column):
    """Columns of subnormal values: a reflector computed on them directly has a subnormal beta
    with too few bits (from 2^-149 and 2^-149 in float32, Q's column came out with norm 2);
    it is computed on the column in units of its largest part, as LAPACK's xLARFG rescales."""
    real = _real_dtype(dtype)
    tiny = np.finfo(real).smallest_subnormal
    x = (np.array(column, dtype=real) * tiny)[:, None]
    x = np.concatenate([x, x[::-1]], axis=1)
    x = (x * (1 + 1j)).astype(dtype) if np.dtype(dtype).kind == "c" else x.astype(dtype)
    q, r = run_op("qr", [x], target)
    q_np, r_np = np.linalg.qr(x)
    assert np.isfinite(q).all() and np.isfinite(r).all()
    _orthonormal(q, _tol(dtype, len(column)), f"qr on {target}")
    np.testing.assert_array_equal(np.tril(r, -1), 0)
    # R is subnormal: it and Q R are compared in units of the smallest subnormal
    shift = -int(np.log2(tiny))

    def units(a):  # a / tiny, without overflowing 1 / tiny
        a = a.astype(np.result_type(a.dtype, "float64"))
        return np.ldexp(a.real, shift) + 1j * np.ldexp(a.imag, shift) if a.dtype.kind == "c" else np.ldexp(a, shift)
    np.testing.assert_allclose(units(q_np.astype(q.dtype) @ r_np), units(x), atol=2)  # (NumPy's own slack)
    np.testing.assert_allclose(units(q @ r), units(x), atol=2, err_msg=f"qr on {target}: Q R != A")
    np.testing.assert_allclose(np.abs(units(np.diagonal(r))[0]), np.abs(units(np.diagonal(r_np))[0]), atol=1,
                               err_msg=f"qr on {target}: |R[0, 0]| differs from NumPy's")


@settings(max_examples=15, deadline=None)
@given(x=matrices(square=True))
def test_eigh(x):
    n = x.shape[-1]
    tol = _tol(x.dtype.name, n)
    # what both read: the lower triangle, and the real part of the diagonal
    sym = np.tril(x, -1) + _adjoint(np.tril(x, -1)) + np.real(x) * np.eye(n)
    w_np = np.linalg.eigvalsh(x)
    for target in TARGETS:
        w, v = run_op("eigh", [x], target)
        (w_only,) = run_op("eigvalsh", [x], target)
        assert w.dtype == w_only.dtype == _real_dtype(x.dtype) and v.dtype == x.dtype
        _close(w, w_np, tol, f"eigh on {target}: eigenvalues")
        np.testing.assert_array_equal(w_only, w, err_msg=f"eigvalsh on {target} differs from eigh")
        assert (np.diff(w, axis=-1) >= 0).all(), f"eigh on {target}: eigenvalues not ascending"
        _close(sym @ v, v * w[..., None, :], tol, f"eigh on {target}: A V != V diag(w)")
        _orthonormal(v, tol, f"eigh on {target}")


@settings(max_examples=15, deadline=None)
@given(x=matrices(), full=st.booleans())
def test_svd(x, full):
    m, n = x.shape[-2:]
    k = min(m, n)
    tol = _tol(x.dtype.name, max(m, n))
    u_np, s_np, vh_np = np.linalg.svd(x, full_matrices=full)
    for target in TARGETS:
        u, s, vh = run_op("svd", [x], target, full_matrices=full)
        (s_only,) = run_op("svdvals", [x], target)
        assert u.shape == u_np.shape and vh.shape == vh_np.shape and u.dtype == vh.dtype == x.dtype
        assert s.dtype == s_only.dtype == _real_dtype(x.dtype)
        _close(s, s_np, tol, f"svd on {target}: singular values")
        np.testing.assert_array_equal(s_only, s, err_msg=f"svdvals on {target} differs from svd")
        assert (np.diff(s, axis=-1) <= 0).all(), f"svd on {target}: singular values not descending"
        _close((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], x, tol, f"svd on {target}: U S Vh != A")
        _orthonormal(u, tol, f"svd on {target}: U")
        _orthonormal(_adjoint(vh), tol, f"svd on {target}: Vh")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", INEXACT)
def test_qr_is_numpys(target, dtype):
    """LAPACK's reflectors: Q and R themselves are NumPy's (R's diagonal real, of either sign),
    also where a column is already reduced (its reflector is the identity, or for a complex
    diagonal a phase)."""
    x = np.array([[2, 1, 0.5], [-1, 3, 1], [0.5, -2, 4], [1, 0, -1]], dtype)
    if x.dtype.kind == "c":
        x = x + 1j * np.array([[1, 0, -1], [0.5, 2, 0], [-1, 1, 1], [0, -0.5, 2]])
    triangular = np.triu(x[:3])
    for a in (x, x[:3].T.copy(), triangular):
        for mode in ("reduced", "complete"):
            q, r = run_op("qr", [a], target, mode=mode)
            q_np, r_np = np.linalg.qr(a, mode=mode)
            tol = _tol(dtype, 4)
            _close(q, q_np, tol, f"qr({mode}) on {target}: Q differs from NumPy's")
            _close(r, r_np, tol, f"qr({mode}) on {target}: R differs from NumPy's")
    # a column with nothing to reduce below the diagonal (-0 there) still gives R zeros of +0
    signed = np.array([[1, 2], [-0.0, 3], [-0.0, 1]], dtype)
    q, r = run_op("qr", [signed], target, mode="complete")
    assert not np.signbit(np.tril(r, -1).real).any(), f"qr on {target}: -0 below R's diagonal"
    _close(q @ r, signed, _tol(dtype, 3), f"qr on {target}: Q R != A")


@pytest.mark.parametrize("target", TARGETS)
def test_zero_matrix_has_orthonormal_singular_vectors(target):
    u, s, vh = run_op("svd", [np.zeros((3, 2))], target, full_matrices=True)
    np.testing.assert_array_equal(s, [0, 0])
    _orthonormal(u, 1e-15, "U of a zero matrix")
    _orthonormal(vh.T, 1e-15, "Vh of a zero matrix")


def test_illegal_uses():
    with pytest.raises(ShapeError, match="mode must be"):
        get_op("qr").infer(TensorType((3, 3), "float32"), mode="r")
    with pytest.raises(ShapeError, match="square"):
        get_op("eigh").infer(TensorType((3, 2), "float64"))
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        get_op("svdvals").infer(TensorType((3,), "float64"))
