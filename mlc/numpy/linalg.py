"""``mlc.numpy.linalg``: the Array API's linalg extension (2024.12), real and complex dtypes.

The factorizations are opaque ops with hand-written kernels
(:mod:`mlc.ops.library.factorize`: Cholesky, LU with partial pivoting;
:mod:`mlc.ops.library.spectral`: Householder QR, Jacobi ``eigh`` and ``svd``);
the rest composes registry ops (``pinv`` and ``matrix_rank`` from ``svd``,
``matrix_norm`` from ``svdvals`` or sums). Integer and bool arrays compute in
float64, as NumPy's do. Complex matrices factor with conjugate transposes
(Hermitian ``cholesky`` and ``eigh``, unitary Q, U and Vh); eigenvalues,
singular values, norms and ``slogdet``'s log|det| are real, of the float dtype
of the parts (complex64 -> float32), and ``slogdet``'s sign a complex unit.

Where NumPy raises ``LinAlgError`` (a kernel cannot raise), the result says so
in its values: ``cholesky`` of a matrix that is not positive definite, and
``inv``/``solve`` of a singular one (an exactly zero pivot), are all NaN;
``det`` is then 0 and ``slogdet`` (0, -inf), as NumPy's are.

>>> import numpy as np, mlc
>>> mlc.numpy.linalg.vector_norm(np.array([3.0, -4.0]))
array(5.)
>>> mlc.numpy.linalg.det(np.array([[2.0, 1.0], [1.0, 3.0]]))
array(5.)
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..errors import DTypeError, ShapeError
from ..ir import dtype as dt
from ..ops.library import broadcast_shapes, result_type
from ..tracer.operands import as_tracer, as_tracers
from ._api import emit, hashable, numpy_function
from .contractions import matmul, tensordot, vecdot
from .manipulation import matrix_transpose
from .shapes import broadcast_to, moveaxis, reshape, stack

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
           "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet", "solve",
           "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm"]


class EighResult(NamedTuple):
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray


class QRResult(NamedTuple):
    Q: np.ndarray
    R: np.ndarray


class SlogdetResult(NamedTuple):
    sign: np.ndarray
    logabsdet: np.ndarray


class SVDResult(NamedTuple):
    U: np.ndarray
    S: np.ndarray
    Vh: np.ndarray


def _floating(name: str, x, *, square: bool = False):
    """``x`` as a tracer of a stack of matrices in float32, float64, complex64 or complex128
    (integers: float64)."""
    t = as_tracer(x)
    if t.ndim < 2:
        raise ShapeError(f"{name}: needs a stack of matrices (at least 2 dimensions), got shape {t.shape}")
    if square and t.shape[-1] != t.shape[-2]:
        raise ShapeError(f"{name}: needs square matrices in the last two dimensions, got shape {t.shape}")
    if t.dtype.kind in "biu":
        return emit("astype", [t], dtype="float64")
    if t.dtype not in ("float32", "float64", "complex64", "complex128"):
        raise DTypeError(f"{name}: computes in float32, float64, complex64 or complex128, got {t.dtype}; "
                         "cast the array first")
    return t


def _adjoint(t):
    """The conjugate transpose of each matrix of ``t`` (the transpose when real)."""
    if t.dtype.kind == "c":
        t = emit("conjugate", [t])
    return matrix_transpose(t)


def _const(t, value):
    return as_tracer(t.dtype.type(value), t._ctx)


@numpy_function("x")
def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):  # noqa: A002 - the standard's name
    """The ``ord``-norm of ``x`` over ``axis`` (all axes when None): 2 (Euclidean), 1, inf, -inf,
    0 (count of nonzeros) or any other real ``p`` (``sum(|x|**p)**(1/p)``)."""
    t = as_tracer(x)
    if t.dtype.kind not in "fc":
        raise ShapeError(f"vector_norm: needs a floating-point array, got {t.dtype}; cast it first")
    real = np.dtype(dt.component(t.dtype.name))  # of |x|: a complex array's parts' dtype
    axis, keepdims = hashable(axis), bool(keepdims)
    magnitude = emit("absolute", [t])
    if ord == math.inf:
        return emit("max", [magnitude], axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return emit("min", [magnitude], axis=axis, keepdims=keepdims)
    if ord == 0:
        zero = as_tracer(t.dtype.type(0), t._ctx)
        nonzero = emit("astype", [emit("not_equal", [t, zero])], dtype=real.name)
        return emit("sum", [nonzero], axis=axis, keepdims=keepdims, dtype=None)
    if ord == 1:
        return emit("sum", [magnitude], axis=axis, keepdims=keepdims, dtype=None)
    if ord == 2:
        squares = emit("multiply", [magnitude, magnitude])
        return emit("sqrt", [emit("sum", [squares], axis=axis, keepdims=keepdims, dtype=None)])
    p = as_tracer(real.type(ord), t._ctx)
    total = emit("sum", [emit("power", [magnitude, p])], axis=axis, keepdims=keepdims, dtype=None)
    return emit("power", [total, as_tracer(real.type(1 / ord), t._ctx)])


# ------------------------------------------------------------------ factorizations

@numpy_function("x")
def cholesky(x, /, *, upper=False):
    """The lower (``upper``: upper) Cholesky factor of each symmetric (complex: Hermitian)
    positive-definite matrix of ``x`` (read from its lower triangle), ``x = L Lᴴ = Uᴴ U``; all
    NaN where a matrix is not positive definite."""
    return emit("cholesky", [_floating("cholesky", x, square=True)], upper=bool(upper))


@numpy_function("x")
def det(x, /):
    """The determinant of each square matrix of ``x`` (LU with partial pivoting)."""
    return emit("det", [_floating("det", x, square=True)])


@numpy_function("x")
def _slogdet(x, /):
    return tuple(emit("slogdet", [_floating("slogdet", x, square=True)]))


def slogdet(x, /):
    """(sign, log|det|) of each square matrix of ``x`` (a complex matrix's sign is ``det / |det|``,
    its log|det| real); (0, -inf) for a singular one."""
    return SlogdetResult(*_slogdet(x))


@numpy_function("x")
def inv(x, /):
    """The inverse of each square matrix of ``x``; all NaN for a singular one."""
    return emit("inv", [_floating("inv", x, square=True)])


@numpy_function("x1", "x2")
def solve(x1, x2, /):
    """``x`` with ``x1 @ x == x2``: ``x2`` a vector (1-D, shape (n,)) or a stack of (n, k) matrices
    whose batch dimensions broadcast against ``x1``'s; all NaN where ``x1`` is singular."""
    a = _floating("solve", x1, square=True)
    b = as_tracer(x2)
    b = emit("astype", [b], dtype="float64") if b.dtype.kind in "biu" else b
    dtype = result_type(a.dtype.name, b.dtype.name, op="solve")
    a = a if a.dtype == dtype else emit("astype", [a], dtype=dtype)
    b = b if b.dtype == dtype else emit("astype", [b], dtype=dtype)
    n = a.shape[-1]
    vector = b.ndim == 1
    if vector:
        if b.shape[0] != n:
            raise ShapeError(f"solve: x2 of shape {b.shape} does not match x1's {n} x {n} matrices")
        b = broadcast_to(reshape(b, (n, 1)), a.shape[:-2] + (n, 1))
    elif b.ndim < 2 or b.shape[-2] != n:
        raise ShapeError(f"solve: x2 must be (n,) or (..., n, k) with n = {n}, got shape {b.shape}")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op="solve")
    a = a if a.shape[:-2] == batch else broadcast_to(a, batch + a.shape[-2:])
    b = b if b.shape[:-2] == batch else broadcast_to(b, batch + b.shape[-2:])
    out = emit("solve", [a, b])
    return reshape(out, batch + (n,)) if vector else out


@numpy_function("x")
def _qr(x, /, *, mode="reduced"):
    return tuple(emit("qr", [_floating("qr", x)], mode=mode))


def qr(x, /, *, mode="reduced"):
    """Q (orthonormal columns: unitary when complex) and R (upper triangular, real diagonal)
    with ``x = Q @ R`` (Householder, LAPACK's signs): ``mode`` 'reduced' (k = min(m, n) columns of
    Q) or 'complete' (Q square)."""
    return QRResult(*_qr(x, mode=mode))


@numpy_function("x")
def _eigh(x, /):
    return tuple(emit("eigh", [_floating("eigh", x, square=True)]))


def eigh(x, /):
    """Eigenvalues (ascending, real) and eigenvectors (columns) of each symmetric (complex:
    Hermitian) matrix of ``x``, read from its lower triangle."""
    return EighResult(*_eigh(x))


@numpy_function("x")
def eigvalsh(x, /):
    """Eigenvalues (ascending, real) of each symmetric (complex: Hermitian) matrix of ``x`` (its
    lower triangle)."""
    return emit("eigvalsh", [_floating("eigvalsh", x, square=True)])


@numpy_function("x")
def _svd(x, /, *, full_matrices=True):
    return tuple(emit("svd", [_floating("svd", x)], full_matrices=bool(full_matrices)))


def svd(x, /, *, full_matrices=True):
    """U, S (descending, real) and Vh with ``x = U @ diag(S) @ Vh`` (``full_matrices``: U and Vh
    square; unitary when complex)."""
    return SVDResult(*_svd(x, full_matrices=full_matrices))


@numpy_function("x")
def svdvals(x, /):
    """The singular values of each matrix of ``x``, descending (real: complex64 -> float32)."""
    return emit("svdvals", [_floating("svdvals", x)])


# ------------------------------------------------------------------ composed

def _cutoff(s, rtol, m: int, n: int):
    """``rtol * max(s)`` per matrix, kept as (..., 1); rtol defaults to max(m, n) * eps."""
    if rtol is None:
        rtol = max(m, n) * float(np.finfo(s.dtype.name).eps)
    top = emit("max", [s], axis=(-1,), keepdims=True) if s.shape[-1] else emit(
        "sum", [s], axis=(-1,), keepdims=True, dtype=None)
    r = as_tracer(rtol, s._ctx) if not isinstance(rtol, (int, float)) else _const(s, rtol)
    if r.ndim:  # an array of tolerances, one per matrix
        r = reshape(r, r.shape + (1,))
    r = r if r.dtype == s.dtype else emit("astype", [r], dtype=s.dtype.name)
    return emit("multiply", [r, top])


@numpy_function("x", "rtol")
def matrix_rank(x, /, *, rtol=None):
    """The number of singular values of each matrix above ``rtol * max(S)`` (``rtol`` defaults to
    max(m, n) * eps; an array broadcasts against the batch), as int64."""
    t = _floating("matrix_rank", x)
    s = emit("svdvals", [t])
    above = emit("greater", [s, _cutoff(s, rtol, *t.shape[-2:])])
    return emit("sum", [emit("astype", [above], dtype="int64")], axis=(-1,), keepdims=False, dtype=None)


@numpy_function("x", "rtol")
def pinv(x, /, *, rtol=None):
    """The Moore-Penrose pseudo-inverse of each matrix (from ``svd``; singular values at most
    ``rtol * max(S)`` count as zero, ``rtol`` defaulting to max(m, n) * eps)."""
    t = _floating("pinv", x)
    u, s, vh = emit("svd", [t], full_matrices=False)
    keep = emit("greater", [s, _cutoff(s, rtol, *t.shape[-2:])])
    one, zero = _const(s, 1), _const(s, 0)
    inverse = emit("where", [keep, emit("divide", [one, emit("where", [keep, s, one])]), zero])
    scaled = emit("multiply", [_adjoint(vh), reshape(inverse, inverse.shape[:-1] + (1,) + inverse.shape[-1:])])
    return emit("matmul", [scaled, _adjoint(u)])


@numpy_function("x")
def matrix_norm(x, /, *, keepdims=False, ord="fro"):  # noqa: A002 - the standard's name
    """The ``ord`` norm of each matrix: 'fro', 'nuc' (sum of singular values), 2 / -2 (largest /
    smallest singular value), 1 / -1 (largest / smallest column sum of |x|), inf / -inf (row sums);
    real (complex64 -> float32)."""
    t = _floating("matrix_norm", x)
    keepdims = bool(keepdims)

    def shaped(r):  # a per-matrix result to (...) or (..., 1, 1)
        return reshape(r, t.shape[:-2] + (1, 1)) if keepdims else r
    if ord == "fro":
        magnitude = emit("absolute", [t]) if t.dtype.kind == "c" else t
        squares = emit("multiply", [magnitude, magnitude])
        return emit("sqrt", [emit("sum", [squares], axis=(-2, -1), keepdims=keepdims, dtype=None)])
    if ord in ("nuc", 2, -2):
        s = emit("svdvals", [t])
        op = {"nuc": "sum", 2: "max", -2: "min"}[ord]
        extra = {"dtype": None} if op == "sum" else {}
        return shaped(emit(op, [s], axis=(-1,), keepdims=False, **extra))
    if ord in (1, -1, math.inf, -math.inf):
        summed = -2 if ord in (1, -1) else -1
        sums = emit("sum", [emit("absolute", [t])], axis=(summed,), keepdims=False, dtype=None)
        return shaped(emit("max" if ord > 0 else "min", [sums], axis=(-1,), keepdims=False))
    raise ShapeError(f"matrix_norm: ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or -inf, got {ord!r}")


@numpy_function("x")
def matrix_power(x, n, /):
    """``x`` multiplied by itself ``n`` times (square matrices; ``n`` 0: identity, negative: the
    power of ``inv(x)``), by repeated squaring."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ShapeError(f"matrix_power: n must be an int, got {type(n).__name__}")
    t = as_tracer(x)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ShapeError(f"matrix_power: needs square matrices, got shape {t.shape}")
    n = int(n)
    if n < 0:
        t, n = inv(t), -n
    if n == 0:
        eye = as_tracer(np.eye(t.shape[-1], dtype=t.dtype.name), t._ctx)
        return broadcast_to(eye, t.shape)
    result, square = None, t
    while n:
        if n & 1:
            result = square if result is None else emit("matmul", [result, square])
        n >>= 1
        if n:
            square = emit("matmul", [square, square])
    return result


@numpy_function("x")
def diagonal(x, /, *, offset=0):
    """The ``offset`` diagonal of each matrix of ``x`` (above the main one when positive)."""
    t = as_tracer(x)
    if t.ndim < 2:
        raise ShapeError(f"diagonal: needs a stack of matrices (at least 2 dimensions), got shape {t.shape}")
    m, n = t.shape[-2:]
    offset = int(offset)
    rows = range(max(0, -offset), min(m, n - offset)) if -m < offset < n else range(0)
    flat = reshape(t, t.shape[:-2] + (m * n,))
    positions = np.array([i * n + i + offset for i in rows], dtype="int64")
    return emit("take", [flat, as_tracer(positions, t._ctx)], axis=t.ndim - 2)


@numpy_function("x")
def trace(x, /, *, offset=0, dtype=None):
    """The sum of each matrix's ``offset`` diagonal (``dtype``: of the sum, as for ``sum``)."""
    d = diagonal(x, offset=offset)
    return emit("sum", [d], axis=(-1,), keepdims=False, dtype=None if dtype is None else np.dtype(dtype).name)


@numpy_function("x1", "x2")
def outer(x1, x2, /):
    """The outer product of two vectors: ``out[i, j] = x1[i] * x2[j]``."""
    a, b = as_tracers([x1, x2], op="outer")
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: needs two 1-D arrays, got shapes {a.shape} and {b.shape}")
    return emit("multiply", [reshape(a, (a.shape[0], 1)), reshape(b, (1, b.shape[0]))])


@numpy_function("x1", "x2")
def cross(x1, x2, /, *, axis=-1):
    """The cross product of 3-vectors along ``axis`` (the other dimensions broadcast)."""
    a, b = as_tracers([x1, x2], op="cross")
    shape = broadcast_shapes(a.shape, b.shape, op="cross")
    if isinstance(axis, bool) or not isinstance(axis, int) or not -len(shape) <= axis < len(shape) \
            or shape[axis] != 3:
        raise ShapeError(f"cross: axis {axis!r} must name a dimension of size 3 of the broadcast shape {shape}")
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    a, b = moveaxis(a, axis, -1), moveaxis(b, axis, -1)

    def part(t, i):
        return t[..., i]

    def term(i, j):
        return emit("subtract", [emit("multiply", [part(a, i), part(b, j)]),
                                 emit("multiply", [part(a, j), part(b, i)])])
    out = stack([term(1, 2), term(2, 0), term(0, 1)], axis=-1)
    return moveaxis(out, -1, axis)
