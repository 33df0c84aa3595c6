"""mlc.numpy.linalg against NumPy: eager calls (compiled) and jitted ones on both backends
(reference interpreter and LLVM), Hypothesis-drawn batches and sizes 1 / odd / non-square;
the functions composed from the kernels (pinv, matrix_rank, matrix_norm, matrix_power, solve's
broadcasting), the ones built from other ops (cross, diagonal, trace, outer), complex64 and
complex128 matrices throughout (real eigenvalues, singular values and norms), result names,
errors, and docs/ops.md's list of the namespace."""
import math
import pathlib

import numpy as np
import pytest
from hypothesis import assume, example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
import mlc.numpy as mnp
from mlc import DTypeError, ShapeError

L = mnp.linalg
FLOAT = ("float32", "float64")
INEXACT = FLOAT + ("complex64", "complex128")


def _tol(dtype, n):
    return 32 * max(n, 1) * float(np.finfo(dtype).eps)


def matrices(min_side=1, max_side=4, square=False, dtypes=FLOAT):
    """(batch..., m, n) matrices with entries in [-1, 1] (complex: each part)."""
    def shaped(args):
        dtype, batch, m, n = args
        if dtype.startswith("int"):
            elements = st.integers(-9, 9)
        elif dtype.startswith("complex"):
            part = st.floats(-1, 1, width=np.dtype(dtype).itemsize * 4)
            elements = st.builds(complex, part, part)
        else:
            elements = st.floats(-1, 1, width=np.dtype(dtype).itemsize * 8)
        return hnp.arrays(dtype, batch + (m, m if square else n), elements=elements)
    return st.tuples(st.sampled_from(dtypes), hnp.array_shapes(min_dims=0, max_dims=1, max_side=2),
                     st.integers(min_side, max_side), st.integers(min_side, max_side)).flatmap(shaped)


def _on_backends(fn, *args, **kw):
    """fn's results eagerly (compiled for LLVM) and jitted for the reference interpreter."""
    return [fn(*args, **kw), mlc.jit(lambda *a: fn(*a, **kw), target="reference")(*args)]


def _close(got, want, tol):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def _invertible(x):
    n = x.shape[-1]
    return (x + 2 * n * np.eye(n)).astype(x.dtype)


def _adjoint(x):
    return np.conj(np.swapaxes(x, -1, -2))


@settings(max_examples=12, deadline=None)
@given(x=matrices(square=True, dtypes=INEXACT))
def test_lu_functions_match_numpy(x):
    a = _invertible(x)
    n = a.shape[-1]
    tol = _tol(a.dtype, n)
    for got in _on_backends(L.det, a):
        _close(got, np.linalg.det(a).astype(a.dtype), tol)
    for sign, logabs in _on_backends(L.slogdet, a):
        want = np.linalg.slogdet(a)
        _close(sign, want.sign, 0 if a.dtype.kind == "f" else tol)   # complex: a unit, det / |det|
        _close(logabs, want.logabsdet, tol)
    for got in _on_backends(L.inv, a):
        _close(got, np.linalg.inv(a), tol)
    b = np.linspace(-1, 1, n).astype(a.dtype)
    for got in _on_backends(L.solve, a, b):   # a vector right-hand side, broadcast over the batch
        _close(got, np.linalg.solve(a, np.broadcast_to(b[:, None], a.shape[:-1] + (1,)))[..., 0], tol)
    hpd = a @ _adjoint(a)   # symmetric (Hermitian) positive definite
    for got in _on_backends(L.cholesky, hpd, upper=True):
        _close(got, _adjoint(np.linalg.cholesky(hpd)), tol * 4)
    for got in _on_backends(L.cholesky, hpd):
        _close(got, np.linalg.cholesky(hpd), tol * 4)


@settings(max_examples=10, deadline=None)
@given(x=matrices(square=True, dtypes=INEXACT))
def test_eigh_matches_numpy(x):
    """Eigenvalues against NumPy's; eigenvectors (unique up to a phase) by A V = V diag(w)."""
    n = x.shape[-1]
    hermitian = ((x + _adjoint(x)) / 2).astype(x.dtype)
    tol = _tol(x.dtype, n)
    want = np.linalg.eigvalsh(hermitian)
    for got in _on_backends(L.eigvalsh, hermitian):
        _close(got, want, tol)
    for w, v in _on_backends(L.eigh, hermitian):
        _close(w, want, tol)
        assert v.dtype == x.dtype
        np.testing.assert_allclose(hermitian @ v, v * w[..., None, :], atol=tol)
        np.testing.assert_allclose(_adjoint(v) @ v, np.broadcast_to(np.eye(n), v.shape), atol=tol)


MATRIX_ORDS = ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf]
VECTOR_ORDS = [2, 1, math.inf]


def _svd_composites(rtol):
    """Every function composed from the singular values, of one matrix argument: traced into
    one program per backend, so that each drawn shape costs one build per backend instead of
    one per function (each function's own lowering is traced and run all the same)."""
    def composites(x):
        return (L.matrix_rank(x, rtol=rtol), L.pinv(x) if rtol is None else None,
                [L.matrix_norm(x, ord=o, keepdims=True) for o in MATRIX_ORDS], L.svdvals(x),
                tuple(L.svd(x, full_matrices=False)), [L.vector_norm(x, ord=o, axis=-1) for o in VECTOR_ORDS])
    return composites


@settings(max_examples=12, deadline=None)
@given(x=matrices(dtypes=INEXACT), rtol=st.sampled_from([None, 0.5]))
@example(x=np.array([[4.08792e-103], [1.40129846e-45]]), rtol=None)  # NumPy's pinv underflows to 0
def test_svd_composites_match_numpy(x, rtol):
    tol = _tol(x.dtype, max(x.shape[-2:]))
    x = x.copy()
    if x.shape[-1] > 1:
        x[..., -1] = x[..., 0]   # rank-deficient: pinv and matrix_rank must cut the zero value
    np_rtol = max(x.shape[-2:]) * np.finfo(x.dtype).eps if rtol is None else rtol
    s = np.linalg.svd(x, compute_uv=False)
    relative = s / np.maximum(s[..., :1], np.finfo(x.dtype).tiny)
    # rank and pinv are ill-posed where a singular value sits near the cutoff (rounding decides)
    assume(not ((relative > np_rtol / 1e3) & (relative < max(np_rtol * 1e3, 1e-3))).any())
    want_rank = np.linalg.matrix_rank(x, rtol=np_rtol)
    real = np.finfo(x.dtype).dtype   # of the norms and singular values: complex64 -> float32
    composites = _svd_composites(rtol)
    for target in ("llvm", "reference"):
        rank, pinv, matrix_norms, svdvals, (u, s, vh), vector_norms = mlc.jit(composites, target=target)(x)
        _close(rank, np.asarray(want_rank).astype("int64"), 0)
        if rtol is None:
            want = np.linalg.pinv(x, rtol=np_rtol).astype(x.dtype)
            # entries far below the largest are rounding noise in either result (NumPy's may
            # underflow to 0 where the exact value is tiny next to 1/s), so the absolute error
            # scales with it
            scale = max(float(np.abs(want).max(initial=0.0)), 1.0)
            assert pinv.shape == want.shape and pinv.dtype == want.dtype
            np.testing.assert_allclose(pinv, want, rtol=tol * 8, atol=tol * 8 * scale)
        for ord_, got in zip(MATRIX_ORDS, matrix_norms, strict=True):
            _close(got, np.linalg.norm(x, ord=ord_, axis=(-2, -1), keepdims=True).astype(real), tol)
        _close(svdvals, np.linalg.svd(x, compute_uv=False), tol)
        # unique up to phases: A = U S Vh
        assert s.dtype == real and u.dtype == vh.dtype == x.dtype
        np.testing.assert_allclose((u * s[..., None, :]) @ vh, x, atol=tol)
        for ord_, got in zip(VECTOR_ORDS, vector_norms, strict=True):
            _close(got, np.linalg.vector_norm(x, ord=ord_, axis=-1), tol)


def test_svd_composites_eagerly():
    """The same functions called eagerly (each compiled on its own), on one rank-deficient
    batch of non-square matrices; the drawn matrices run them traced together above."""
    x = np.array([[[1.0, 2.0, 1.0], [0.5, -1.0, 0.5]], [[0.0, 3.0, 0.0], [2.0, 1.0, 2.0]]])
    tol = _tol(x.dtype, 3)
    _close(L.matrix_rank(x), np.linalg.matrix_rank(x).astype("int64"), 0)
    np.testing.assert_allclose(L.pinv(x), np.linalg.pinv(x), rtol=tol * 8, atol=tol * 8)
    for ord_ in MATRIX_ORDS:
        _close(L.matrix_norm(x, ord=ord_, keepdims=True), np.linalg.norm(x, ord=ord_, axis=(-2, -1), keepdims=True),
               tol)
    _close(L.svdvals(x), np.linalg.svd(x, compute_uv=False), tol)
    u, s, vh = L.svd(x, full_matrices=False)
    np.testing.assert_allclose((u * s[..., None, :]) @ vh, x, atol=tol)
    for ord_ in VECTOR_ORDS:
        _close(L.vector_norm(x, ord=ord_, axis=-1), np.linalg.vector_norm(x, ord=ord_, axis=-1), tol)


@settings(max_examples=10, deadline=None)
@given(x=matrices(square=True, dtypes=INEXACT), n=st.integers(-3, 5))
def test_matrix_power_matches_numpy(x, n):
    a = _invertible(x) / (2 * x.shape[-1] + 1)  # entries and powers stay near 1
    a = a.astype(x.dtype)
    for got in _on_backends(lambda m: L.matrix_power(m, n), a):
        _close(got, np.linalg.matrix_power(a, n), _tol(a.dtype, a.shape[-1]) * (abs(n) + 1))


@settings(max_examples=10, deadline=None)
@given(x=matrices(min_side=1, max_side=5, dtypes=("int32", "float32", "float64", "complex64")), data=st.data())
def test_diagonal_trace_match_numpy(x, data):
    m, n = x.shape[-2:]
    offset = data.draw(st.integers(-m - 1, n + 1), label="offset")
    for got in _on_backends(L.diagonal, x, offset=offset):
        _close(got, np.diagonal(x, offset=offset, axis1=-2, axis2=-1), 0)
    for got in _on_backends(L.trace, x, offset=offset):
        _close(got, np.trace(x, offset=offset, axis1=-2, axis2=-1), _tol(x.dtype, n) if x.dtype.kind in "fc" else 0)


@settings(max_examples=10, deadline=None)
@given(v=hnp.arrays("float64", hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
                    elements=st.floats(-4, 4)), data=st.data())
def test_cross_and_outer_match_numpy(v, data):
    axis = data.draw(st.integers(-v.ndim, v.ndim - 1), label="axis")
    shape = list(v.shape)
    shape[axis] = 3
    a = np.resize(v, shape)
    b = np.roll(a, 1) + 0.5
    for got in _on_backends(L.cross, a, b, axis=axis):
        _close(got, np.cross(a, b, axis=axis), 1e-13)
    x, y = a.reshape(-1), b.reshape(-1)[:5]
    for got in _on_backends(L.outer, x, y):
        _close(got, np.outer(x, y), 0)
    c = (a + 1j * b).astype("complex128")   # complex vectors: no conjugation in either
    for got in _on_backends(L.cross, c, b, axis=axis):
        _close(got, np.cross(c, b, axis=axis), 1e-13)
    for got in _on_backends(L.outer, c.reshape(-1), y):
        _close(got, np.outer(c.reshape(-1), y), 0)


def test_results_are_named_and_cast_like_numpys():
    a = np.array([[4, 1], [1, 3]])
    w, v = L.eigh(a)
    assert L.eigh(a).eigenvalues.dtype == np.float64 and v.shape == (2, 2)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(a), rtol=1e-14)
    assert L.qr(a.astype("float32")).Q.dtype == np.float32
    assert set(L.svd(a)._fields) == {"U", "S", "Vh"}
    assert L.slogdet(a).logabsdet.dtype == np.float64
    c = (a + 1j * np.array([[0, 1], [-1, 0]])).astype("complex64")   # Hermitian
    assert L.eigvalsh(c).dtype == L.svdvals(c).dtype == L.matrix_norm(c).dtype == np.float32
    assert L.slogdet(c).sign.dtype == np.complex64 and L.slogdet(c).logabsdet.dtype == np.float32
    assert L.eigh(c).eigenvectors.dtype == L.qr(c).R.dtype == L.svd(c).Vh.dtype == np.complex64


def test_complex_linalg_inside_jit():
    """Complex factorizations compose with complex arithmetic in one jitted function."""
    @mlc.jit
    def f(a, b):
        h = a @ np.conj(a).T + 4 * np.eye(3)
        q, r = L.qr(a)
        return L.solve(h, b), L.eigvalsh(h), L.pinv(a) @ (q @ r), L.det(L.cholesky(h))

    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))).astype("complex128")
    b = (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype("complex128")
    h = a @ a.conj().T + 4 * np.eye(3)
    solved, w, identity, det_low = f(a, b)
    np.testing.assert_allclose(solved, np.linalg.solve(h, b), rtol=1e-12)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(h), rtol=1e-12)
    np.testing.assert_allclose(identity, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(det_low, np.prod(np.diagonal(np.linalg.cholesky(h))), rtol=1e-12)


def test_singular_inputs_give_the_documented_values():
    assert np.isnan(L.inv(np.ones((2, 2)))).all()
    assert np.isnan(L.solve(np.zeros((2, 2)), np.ones(2))).all()
    assert np.isnan(L.cholesky(-np.eye(2))).all()
    assert L.det(np.ones((3, 3))) == 0
    assert tuple(L.slogdet(np.zeros((2, 2)))) == (0.0, -np.inf)


def test_errors_name_the_function():
    with pytest.raises(ShapeError, match="cross: axis"):
        L.cross(np.ones(2), np.ones(2))
    with pytest.raises(ShapeError, match="outer: needs two 1-D"):
        L.outer(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ShapeError, match="solve: x2 must be"):
        L.solve(np.eye(3), np.ones((2, 2)))
    with pytest.raises(ShapeError, match="matrix_norm: ord"):
        L.matrix_norm(np.eye(2), ord=3)
    with pytest.raises(ShapeError, match="square"):
        L.det(np.ones((2, 3)))
    with pytest.raises(DTypeError, match="float32, float64, complex64 or complex128"):
        L.inv(np.eye(2, dtype="float16"))


def test_docs_list_the_linalg_namespace():
    text = (pathlib.Path(__file__).parents[2] / "docs" / "ops.md").read_text()
    section = text.split("`mlc.numpy.linalg` is the standard's linalg extension", 1)[1]
    listed = section.split("```", 2)[1].split()
    assert listed == sorted(listed) and set(listed) == set(L.__all__)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 0), (0, 2, 2)])
def test_empty_matrices_and_batches_have_numpys_shapes(shape):
    x = np.zeros(shape)
    for mode in ("reduced", "complete"):
        for got, want in zip(L.qr(x, mode=mode), np.linalg.qr(x, mode=mode)):
            assert got.shape == want.shape
    u, s, vh = L.svd(x)
    assert [u.shape, s.shape, vh.shape] == [a.shape for a in np.linalg.svd(x)]
    if u.size:  # U is square and orthonormal even without singular values to determine it
        np.testing.assert_allclose(u.swapaxes(-1, -2) @ u, np.broadcast_to(np.eye(u.shape[-1]), u.shape))
    if shape[-1] == shape[-2]:
        _close(L.det(x), np.linalg.det(x), 0)
        assert L.inv(x).shape == L.cholesky(x).shape == x.shape and L.eigvalsh(x).shape == x.shape[:-1]


@pytest.mark.parametrize("fn", [lambda x: np.diagonal(x), lambda x: np.diagonal(x, 1, 1, 2),
                                lambda x: np.diagonal(x, -1, axis1=2, axis2=0), lambda x: np.trace(x),
                                lambda x: np.trace(x, -1, 2, 0), lambda x: np.trace(x, 1, dtype=np.float64)])
def test_numpys_diagonal_and_trace_take_their_axes(fn):
    """NumPy's functions (axes 0 and 1 by default) as its methods, not the Array API's last two axes."""
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    got, want = mlc.jit(fn)(x), fn(x)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
