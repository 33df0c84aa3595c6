"""Rules of the linear algebra ops, on stacks of matrices (real floating point).

``inv``, ``solve``, ``det`` and ``slogdet`` have their textbook forward and
reverse rules (``d inv = -inv dA inv``; ``d det = det * tr(inv dA)``).
``cholesky``, ``eigh``, ``eigvalsh``, ``qr``, ``svd`` and ``svdvals`` declare
their forward rules (as JAX writes them) and get the reverse ones by
transposing those (:data:`~.core.TRANSPOSED_JVP`). ``cholesky``, ``eigh`` and
``eigvalsh`` read only the lower triangle of their operand, so their
derivatives are those of that function: the upper triangle's are zero and the
lower one's count twice off the diagonal (JAX symmetrises the operand
instead, which halves both). ``qr`` is differentiable for ``m >= n`` in mode
'reduced', ``svd`` with ``full_matrices=False`` or a square operand, as in JAX;
repeated eigenvalues or singular values give infinite derivatives.
"""
from __future__ import annotations

import numpy as np

from ...errors import MLCError
from ..registry import define_rules
from .core import TRANSPOSED_JVP, Zero, apply_op, batch_front, differentiable, is_zero, move_batch_to_front

__all__: list[str] = []


def _mT(x):
    return np.swapaxes(x, -1, -2)


def _eye(n: int, dtype):
    return np.eye(n, dtype=np.dtype(dtype))


def _diagonal(x):
    """The diagonal of each matrix of a stack."""
    return np.sum(x * _eye(x.shape[-1], x.dtype), axis=-1)


def _diagonal_matrix(v):
    return np.expand_dims(v, -1) * _eye(v.shape[-1], v.dtype)


def _lower_symmetric(t):
    """The symmetric matrix an op reading only the lower triangle sees in ``t``."""
    return np.tril(t) + _mT(np.tril(t, -1))


# ------------------------------------------------------------------ inv, solve, det, slogdet

def _inv_jvp(primals, tangents, out):
    return -np.matmul(out, np.matmul(tangents[0], out))


def _inv_vjp(ct, primals, out):
    yt = _mT(out)
    return (-np.matmul(yt, np.matmul(ct, yt)),)


def _solve_jvp(primals, tangents, out):
    (a, b), (ta, tb) = primals, tangents
    rhs = None if is_zero(tb) else tb
    if not is_zero(ta):
        moved = np.matmul(ta, out)
        rhs = -moved if rhs is None else rhs - moved
    return apply_op("solve", a, rhs)


def _solve_vjp(ct, primals, out):
    a, b = primals
    gb = apply_op("solve", _mT(a), ct)
    return (-np.matmul(gb, _mT(out)) if differentiable(a.dtype) else None), gb


def _det_jvp(primals, tangents, out):
    x, t = primals[0], tangents[0]
    return out * np.sum(_mT(apply_op("inv", x)) * t, axis=(-2, -1))


def _det_vjp(ct, primals, out):
    scale = np.expand_dims(np.expand_dims(ct * out, -1), -1)
    return (scale * _mT(apply_op("inv", primals[0])),)


def _slogdet_jvp(primals, tangents, out):
    sign, logabs = out
    x, t = primals[0], tangents[0]
    return Zero.like(sign), np.sum(_mT(apply_op("inv", x)) * t, axis=(-2, -1))


def _slogdet_vjp(ct, primals, out):
    _, g = ct
    if is_zero(g):
        return (None,)
    return (np.expand_dims(np.expand_dims(g, -1), -1) * _mT(apply_op("inv", primals[0])),)


# ------------------------------------------------------------------ cholesky

def _cholesky_jvp(primals, tangents, out, *, upper=False):
    low = _mT(out) if upper else out
    inv = apply_op("inv", low)
    x = np.matmul(inv, np.matmul(_lower_symmetric(tangents[0]), _mT(inv)))
    phi = np.tril(x) - 0.5 * _diagonal_matrix(_diagonal(x))
    d = np.matmul(low, phi)
    return _mT(d) if upper else d


# ------------------------------------------------------------------ eigh, eigvalsh

def _eigen_gaps(w):
    """``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal, 0 on it."""
    eye = _eye(w.shape[-1], w.dtype)
    gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye
    return (1 - eye) / gaps


def _eigh_jvp(primals, tangents, out):
    w, v = out
    vt_dx_v = np.matmul(_mT(v), np.matmul(_lower_symmetric(tangents[0]), v))
    dw = _diagonal(vt_dx_v)
    dv = np.matmul(v, _eigen_gaps(w) * vt_dx_v)
    return dw, dv


def _eigvalsh_jvp(primals, tangents, out):
    _, v = apply_op("eigh", primals[0])
    return _diagonal(np.matmul(_mT(v), np.matmul(_lower_symmetric(tangents[0]), v)))


# ------------------------------------------------------------------ qr

def _qr_jvp(primals, tangents, out, *, mode="reduced"):
    x, dx = primals[0], tangents[0]
    q, r = out
    m, n = x.shape[-2:]
    if m < n or (mode == "complete" and m > n):
        raise MLCError(f"qr: derivatives need m >= n and mode 'reduced' (or a square matrix), got a "
                       f"{m}x{n} matrix in mode {mode!r} (as in JAX)")
    dx_rinv = np.matmul(dx, apply_op("inv", r))
    qt_dx_rinv = np.matmul(_mT(q), dx_rinv)
    lower = np.tril(qt_dx_rinv, -1)
    skew = lower - _mT(lower)
    dq = np.matmul(q, skew - qt_dx_rinv) + dx_rinv
    dr = np.matmul(qt_dx_rinv - skew, r)
    return dq, dr


# ------------------------------------------------------------------ svd, svdvals

def _reduced_svd(x):
    return apply_op("svd", x, full_matrices=False)


def _svd_jvp(primals, tangents, out, *, full_matrices=True):
    x, dx = primals[0], tangents[0]
    m, n = x.shape[-2:]
    if full_matrices and m != n:
        raise MLCError(f"svd: derivatives of full_matrices=True need a square matrix, got {m}x{n}; "
                       "use full_matrices=False (as in JAX)")
    u, s, vt = out
    v = _mT(vt)
    ut = _mT(u)
    row = np.expand_dims(s, -2)
    ds_mat = np.matmul(ut, np.matmul(dx, v))
    ds = _diagonal(ds_mat)
    eye = _eye(s.shape[-1], s.dtype)
    diffs = (row + _mT(row)) * (row - _mT(row))
    f = 1 / (diffs + eye) - eye
    dss = row * ds_mat
    sds = _mT(row) * ds_mat
    s_zero = (s == 0).astype(s.dtype)
    s_inv = _diagonal_matrix(1 / (s + s_zero) - s_zero)
    du = np.matmul(u, f * (dss + _mT(dss)) + 0.5 * (ds_mat - _mT(ds_mat)) * s_inv)
    dv = np.matmul(v, f * (sds + _mT(sds)))
    if m > n:
        dxv = np.matmul(dx, v)
        du = du + (dxv - np.matmul(u, np.matmul(ut, dxv))) / row
    if n > m:
        dxtu = np.matmul(_mT(dx), u)
        dv = dv + (dxtu - np.matmul(v, np.matmul(vt, dxtu))) / row
    return du, ds, _mT(dv)


def _svdvals_jvp(primals, tangents, out):
    u, _, vt = _reduced_svd(primals[0])
    return _diagonal(np.matmul(_mT(u), np.matmul(tangents[0], _mT(vt))))


# ------------------------------------------------------------------ batching

def _stack_batch(name):
    """An op on stacks of matrices: the batch axis in front is one more stack axis."""
    def rule(args, dims, **attrs):
        out = apply_op(name, *batch_front(args, dims), **attrs)
        return out, ((0,) * len(out) if isinstance(out, tuple) else 0)
    return rule


def _one_operand_batch(name):
    def rule(args, dims, **attrs):
        out = apply_op(name, move_batch_to_front(args[0], dims[0]), **attrs)
        return out, ((0,) * len(out) if isinstance(out, tuple) else 0)
    return rule


def _register() -> None:
    define_rules("inv", jvp=_inv_jvp, vjp=_inv_vjp, batch=_one_operand_batch("inv"))
    define_rules("solve", jvp=_solve_jvp, vjp=_solve_vjp, batch=_stack_batch("solve"))
    define_rules("det", jvp=_det_jvp, vjp=_det_vjp, batch=_one_operand_batch("det"))
    define_rules("slogdet", jvp=_slogdet_jvp, vjp=_slogdet_vjp, batch=_one_operand_batch("slogdet"))
    for name, jvp in (("cholesky", _cholesky_jvp), ("eigh", _eigh_jvp), ("eigvalsh", _eigvalsh_jvp),
                      ("qr", _qr_jvp), ("svd", _svd_jvp), ("svdvals", _svdvals_jvp)):
        define_rules(name, jvp=jvp, vjp=TRANSPOSED_JVP, batch=_one_operand_batch(name))


_register()
