"""Unitary factorizations: ``qr``, ``eigh``/``eigvalsh``, ``svd``/``svdvals``.

Opaque ops with hand-written PrimFuncs, batched over the leading dimensions,
computing in the input's dtype (float32, float64, complex64 or complex128; one
kernel for both kinds, written with conjugate transposes, which are plain
transposes for real matrices). Eigenvalues and singular values are real: of the
float dtype of a complex matrix's parts.

- ``qr``: LAPACK's Householder reflectors (xGEQRF's ``H = I - tau v vᴴ`` with
  ``Hᴴ x = beta e1``, ``beta`` real and of the opposite sign to ``Re x[0]``), so
  that R's diagonal is real and Q and R are NumPy's while the leading columns are
  independent; accumulated into an m x m ``Q``, ``mode="reduced"`` keeps its
  first min(m, n) columns.
- ``eigh``: cyclic Jacobi rotations of the Hermitian matrix of the lower
  triangle (as NumPy's ``UPLO="L"``; the diagonal's imaginary part is not read)
  until the off-diagonal part is below rounding (at most :data:`MAX_SWEEPS`
  sweeps), eigenvalues ascending, eigenvectors in columns (the matrix scaled by
  its largest magnitude first, as for ``svd``). A complex off-diagonal ``g``
  rotates with the phase ``g / |g|`` folded into the rotation's sine.
- ``svd``: one-sided (Hestenes) Jacobi on the columns of A (of Aᴴ when it is
  wide), singular values descending; the columns of U that the values leave
  undetermined (zero singular values, ``full_matrices``) are completed to an
  orthonormal basis by Gram-Schmidt on the unit vectors. The matrix is scaled by its
  largest magnitude first (LAPACK scales too), so tiny and huge values keep their digits.

Eigenvectors and singular vectors are unique only up to a sign (a phase when
complex) and within a repeated value, so tests check reconstruction and
orthonormality.

>>> from mlc.ops import TensorType, get_op
>>> [t.shape for t in get_op("svd").infer(TensorType((5, 3), "float64"), full_matrices=False)]
[(5, 3), (3,), (3, 3)]
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir.buffer import decl_buffer
from ...ir.expr import const
from ...ir.tir import BufferStore, seq
from ..registry import TensorType, register_op
from ._common import hand_written_func
from ._kernel import (Scalar, abs2, batched, check_matrix, conj, div_real, lift, loop, mul_real, real,
                      real_dtype, scratch, when)

__all__ = ["MAX_SWEEPS"]

#: Jacobi sweeps at most (each converges quadratically once rotations are small; a sweep with
#: nothing left to rotate ends the iteration).
MAX_SWEEPS = 40


def _eps(dtype: str) -> float:
    return float(np.finfo(dtype).eps)


def _zero(f):
    return const(0, f)


def _fill(buf, r, rows, cols, value):
    return loop("i", 0, rows, lambda i: loop("j", 0, cols, lambda j: BufferStore(buf, value(i, j), r + (i, j))))


def _swap(buf, a, b, tmp: Scalar):
    """Swap ``buf[a]`` and ``buf[b]`` (index tuples)."""
    return seq(tmp.set(buf[a]), BufferStore(buf, buf[b], a), BufferStore(buf, tmp.get(), b))


def _rotate(buf, rows: int, p, q, c, s, tmp: Scalar):
    """``buf J`` for the rotation ``J = [[c, s], [-conj(s), c]]`` of columns p, q (``c`` real):
    col_p, col_q of ``buf`` (rows x ...) become c*col_p - conj(s)*col_q and s*col_p + c*col_q."""
    def row(i):
        return seq(tmp.set(buf[(i, p)]), BufferStore(buf, mul_real(tmp.get(), c) - conj(s) * buf[(i, q)], (i, p)),
                   BufferStore(buf, s * tmp.get() + mul_real(buf[(i, q)], c), (i, q)))
    return loop("i", 0, rows, row)


def _rotation(a, b, g, c: Scalar, s: Scalar, phase: Scalar):
    """The Jacobi rotation ``J = [[c, phase], [-conj(phase), c]]`` that zeroes the off-diagonal
    ``g`` of the Hermitian 2 x 2 matrix ``[[a, g], [conj(g), b]]`` (``a``, ``b`` real) in ``Jᴴ M J``.

    With ``zeta = (b - a) / (2 |g|)``, ``t = sign(zeta) / (|zeta| + hypot(1, zeta))``, ``c = 1 /
    sqrt(1 + t²)``, ``s = c t`` and ``phase = s g / |g|``: a real ``g`` is taken with its sign
    (``zeta = (b - a) / (2 g)``, ``phase = s``), the rotation of the real symmetric case."""
    f = c.dtype
    one = const(1, f)
    complex_g = dt.is_complex(g.dtype)
    size = _e.abs(g) if complex_g else g
    zeta = (b - a) / (const(2, f) * size)
    t = _e.copysign(one, zeta) / (_e.abs(zeta) + _e.hypot(one, zeta))
    return seq(c.set(one / _e.sqrt(one + t * t)), s.set(c.get() * t),
               phase.set(mul_real(div_real(g, size), s.get()) if complex_g else s.get()))


# ------------------------------------------------------------------ QR

def _largest_part(x):
    """``|x|`` for a real ``x``; the larger of ``|Re x|`` and ``|Im x|`` for a complex one."""
    if not dt.is_complex(x.dtype):
        return _e.abs(x)
    return _e.max(_e.abs(_e.real(x)), _e.abs(_e.imag(x)))


#: LAPACK's safe minimum (xLAMCH('S') / xLAMCH('E')): below it, a reflector's beta would
#: carry fewer bits than the dtype has (xLARFG rescales such a column).
_SAFE_MIN = {d: float(np.finfo(d).tiny / np.finfo(d).eps) for d in ("float16", "float32", "float64")}


def _qr_infer(x: TensorType, *, mode="reduced"):
    check_matrix("qr", x)
    if mode not in ("reduced", "complete"):
        raise ShapeError(f"qr: mode must be 'reduced' or 'complete', got {mode!r}")
    m, n = x.shape[-2:]
    k = m if mode == "complete" else min(m, n)
    return TensorType(x.shape[:-2] + (m, k), x.dtype), TensorType(x.shape[:-2] + (k, n), x.dtype)


def _qr_func(x: TensorType, *, mode="reduced"):
    q_type, r_type = _qr_infer(x, mode=mode)
    lead, (m, n), f = x.shape[:-2], x.shape[-2:], x.dtype
    kq = q_type.shape[-1]
    X = decl_buffer(x.shape, f, "x")
    QO, RO = decl_buffer(q_type.shape, f, "q"), decl_buffer(r_type.shape, f, "r")
    R, Q, v = decl_buffer(scratch(m, n), f, "rw"), decl_buffer(scratch(m, m), f, "qw"), \
        decl_buffer(scratch(m), f, "v")
    acc, tau = Scalar("acc", f), Scalar("tau", f)
    norm, beta = Scalar("norm", real_dtype(f)), Scalar("beta", real_dtype(f))
    scale = Scalar("scale", real_dtype(f))

    def reflect(k):
        """LAPACK's reflector (xLARFG) of column k: ``H = I - tau v vᴴ`` with ``v[k] = 1`` and
        ``Hᴴ R[k:, k] = beta e1``, ``beta`` real; R becomes ``Hᴴ R`` and Q becomes ``Q H``."""
        alpha = R[(k, k)]

        def apply_r(j):  # R[k:, j] -= conj(tau) v (vᴴ R[k:, j])
            return seq(acc.set(0.0), loop("i", k, m, lambda i: acc.set(acc.get() + conj(v[i]) * R[(i, j)])),
                       acc.set(conj(tau.get()) * acc.get()),
                       loop("i", k, m, lambda i: BufferStore(R, R[(i, j)] - acc.get() * v[i], (i, j))))

        def apply_q(j):  # Q[j, k:] -= tau (Q[j, k:] v) vᴴ
            return seq(acc.set(0.0), loop("i", k, m, lambda i: acc.set(acc.get() + Q[(j, i)] * v[i])),
                       acc.set(tau.get() * acc.get()),
                       loop("i", k, m, lambda i: BufferStore(Q, Q[(j, i)] - acc.get() * conj(v[i]), (j, i))))
        # the column's norm computed on the column divided by its largest part (xNRM2 scales too):
        # squares of values near the dtype's limits neither overflow nor underflow
        rf = real_dtype(f)
        largest = seq(scale.set(0.0), loop("i", k, m, lambda i: scale.set(_e.max(scale.get(), _largest_part(R[(i, k)])))),
                      scale.set(_e.select(scale.get() == _zero(rf), const(1, rf), scale.get())))
        below = seq(norm.set(0.0), loop("i", k + 1, m, lambda i: norm.set(
            norm.get() + abs2(div_real(R[(i, k)], scale.get())))))
        # H = I where the column is already beta e1 with a real beta (always its last row when real)
        needed = norm.get() != _zero(rf)
        if dt.is_complex(f):
            needed = _e.logical_or(needed, _e.imag(alpha) != _zero(rf))
        # A column this small would leave beta subnormal, short of bits (from 2^-149 and
        # 2^-149, beta = -2^-149 * sqrt(2) rounds to -2^-149 and Q's column to norm 2): the
        # reflector is computed in units of ``unit``, the column's largest part, as xLARFG
        # rescales it (tau and v do not depend on the unit; beta is scaled back last). Any
        # other column has unit 1, and every step below is exactly what it is without units.
        unit = _e.select(scale.get() < const(_SAFE_MIN[rf], rf), scale.get(), const(1, rf))
        alpha_u = div_real(alpha, unit)
        beta_value = -_e.copysign(scale.get() / unit * _e.sqrt(abs2(div_real(alpha, scale.get())) + norm.get()),
                                  real(alpha))
        return seq(largest, below, when(needed, seq(
            beta.set(beta_value),  # in units
            tau.set(div_real(lift(beta.get(), f) - alpha_u, beta.get())),
            BufferStore(v, const(1, f), (k,)),
            acc.set(alpha_u - lift(beta.get(), f)),
            loop("i", k + 1, m, lambda i: BufferStore(v, div_real(R[(i, k)], unit) / acc.get(), (i,))),
            loop("j", k + 1, n, apply_r), loop("j", 0, m, apply_q),
            BufferStore(R, lift(beta.get() * unit, f), (k, k)))),
            loop("i", k + 1, m, lambda i: BufferStore(R, _zero(f), (i, k))))  # +0, also for a -0 input

    def matrix(r):
        return seq(_fill(R, (), m, n, lambda i, j: X[r + (i, j)]),
                   _fill(Q, (), m, m, lambda i, j: _e.select(i == j, const(1, f), _zero(f))),
                   loop("k", 0, min(m, n), reflect),
                   _fill(QO, r, m, kq, lambda i, j: Q[(i, j)]),
                   _fill(RO, r, r_type.shape[-2], n, lambda i, j: R[(i, j)]))

    allocs = (R, Q, v, acc.buffer, tau.buffer, norm.buffer, beta.buffer, scale.buffer)
    return hand_written_func((X, QO, RO), batched(lead, matrix), allocs)


def _qr_reference(x, *, mode="reduced"):
    return tuple(np.linalg.qr(x, mode=mode))


register_op("qr", pattern="opaque", infer=_qr_infer, lower=None, reference=_qr_reference, num_outputs=2,
            prim_func=_qr_func,
            doc="Q (orthonormal columns; unitary when complex) and R (upper triangular, real diagonal) "
                "with ``x = Q @ R`` for each matrix (LAPACK's Householder reflectors; ``mode`` 'reduced' "
                "or 'complete').")


# ------------------------------------------------------------------ eigh

def _eigh_infer(x: TensorType, vectors: bool):
    check_matrix("eigh" if vectors else "eigvalsh", x, square=True)
    w = TensorType(x.shape[:-1], real_dtype(x.dtype))
    return (w, TensorType(x.shape, x.dtype)) if vectors else w


def _sort_columns(keys, mats, n: int, r, descending: bool, best: Scalar, at: Scalar, key_tmp: Scalar,
                  tmp: Scalar):
    """Selection sort of ``keys[r + (i,)]`` (n of them) swapping the columns of each (buf, rows)
    of ``mats`` (scratch matrices indexed without ``r``) along; ``key_tmp`` and ``tmp`` hold a
    key and a matrix element while they swap."""
    def place(i):
        def scan(j):
            better = keys[r + (j,)] > best.get() if descending else keys[r + (j,)] < best.get()
            return when(better, seq(best.set(keys[r + (j,)]), at.set(_e.cast(j, "int32"))))
        j = _e.cast(at.get(), "int32")
        swaps = [_swap(keys, r + (i,), r + (j,), key_tmp)]
        swaps += [loop("k", 0, rows, lambda k, buf=buf: _swap(buf, (k, i), (k, j), tmp)) for buf, rows in mats]
        return seq(best.set(keys[r + (i,)]), at.set(_e.cast(i, "int32")), loop("j", i + 1, n, scan), *swaps)
    return loop("i", 0, n, place)


def _eigh_func(x: TensorType, vectors: bool):
    _eigh_infer(x, vectors)
    lead, n, f = x.shape[:-2], x.shape[-1], x.dtype
    fr = real_dtype(f)
    X = decl_buffer(x.shape, f, "x")
    W = decl_buffer(x.shape[:-1], fr, "w")
    VO = decl_buffer(x.shape, f, "v") if vectors else None
    A, V = decl_buffer(scratch(n, n), f, "aw"), decl_buffer(scratch(n, n), f, "vw")
    c, s, key_tmp, off, total, scale, best = (Scalar(k, fr) for k in (
        "c", "s", "key_tmp", "off", "total", "scale", "best"))
    phase, tmp = Scalar("phase", f), Scalar("tmp", f)
    at, done = Scalar("at", "int32"), Scalar("done", "int32")
    tol = const(_eps(fr) ** 2, fr)

    def pair(p, q):
        apq = A[(p, q)]
        return when(apq != _zero(f), seq(
            _rotation(real(A[(p, p)]), real(A[(q, q)]), apq, c, s, phase),
            _rotate(A, n, p, q, c.get(), phase.get(), tmp),      # A J
            loop("k", 0, n, lambda k: seq(                        # Jᴴ (A J)
                tmp.set(A[(p, k)]),
                BufferStore(A, mul_real(tmp.get(), c.get()) - phase.get() * A[(q, k)], (p, k)),
                BufferStore(A, conj(phase.get()) * tmp.get() + mul_real(A[(q, k)], c.get()), (q, k)))),
            BufferStore(A, _zero(f), (p, q)), BufferStore(A, _zero(f), (q, p)),
            _rotate(V, n, p, q, c.get(), phase.get(), tmp)))

    def sweep(_):
        measure = seq(off.set(0.0), total.set(0.0),
                      loop("p", 0, n, lambda p: loop("q", 0, n, lambda q: seq(
                          total.set(total.get() + abs2(A[(p, q)])),
                          when(p != q, off.set(off.get() + abs2(A[(p, q)])))))),
                      when(_e.logical_not(off.get() > tol * total.get()), done.set(1)))
        rotate = loop("p", 0, n, lambda p: loop("q", p + 1, n, lambda q: pair(p, q)))
        return when(done.get() == 0, seq(measure, when(done.get() == 0, rotate)))

    def matrix(r):
        def lower(i, j):  # the Hermitian matrix of X's lower triangle (its diagonal's real part)
            return _e.select(i > j, X[r + (i, j)],
                             _e.select(i == j, lift(real(X[r + (j, i)]), f), conj(X[r + (j, i)])))

        # scaled by its largest magnitude, so that the sums of squares neither underflow nor overflow
        largest = loop("i", 0, n, lambda i: loop("j", 0, i + 1, lambda j: scale.set(
            _e.max(scale.get(), _e.abs(X[r + (i, j)])))))
        usable = _e.logical_and(scale.get() > _zero(fr), _e.isfinite(scale.get()))
        stmts = [scale.set(0.0), largest, scale.set(_e.select(usable, scale.get(), const(1, fr))),
                 _fill(A, (), n, n, lambda i, j: div_real(lower(i, j), scale.get())),
                 _fill(V, (), n, n, lambda i, j: _e.select(i == j, const(1, f), _zero(f))),
                 done.set(0), loop("sweep", 0, MAX_SWEEPS, sweep),
                 loop("i", 0, n, lambda i: BufferStore(W, real(A[(i, i)]) * scale.get(), r + (i,))),
                 _sort_columns(W, [(V, n)], n, r, False, best, at, key_tmp, tmp)]
        if vectors:
            stmts.append(_fill(VO, r, n, n, lambda i, j: V[(i, j)]))
        return seq(*stmts)

    allocs = (A, V) + tuple(b.buffer for b in (c, s, key_tmp, off, total, scale, best, phase, tmp, at, done))
    outs = (W, VO) if vectors else (W,)
    return hand_written_func((X,) + outs, batched(lead, matrix), allocs)


register_op("eigh", pattern="opaque", infer=lambda x: _eigh_infer(x, True), lower=None, num_outputs=2,
            reference=lambda x: tuple(np.linalg.eigh(x)), prim_func=lambda x: _eigh_func(x, True),
            doc="Eigenvalues (ascending, real) and eigenvectors (columns) of each symmetric (Hermitian) "
                "matrix, from its lower triangle (cyclic Jacobi).")
register_op("eigvalsh", pattern="opaque", infer=lambda x: _eigh_infer(x, False), lower=None,
            reference=np.linalg.eigvalsh, prim_func=lambda x: _eigh_func(x, False),
            doc="Eigenvalues (ascending, real) of each symmetric (Hermitian) matrix, from its lower triangle "
                "(cyclic Jacobi).")


# ------------------------------------------------------------------ svd

def _svd_infer(x: TensorType, vectors: bool, full_matrices=True):
    check_matrix("svd" if vectors else "svdvals", x)
    lead, (m, n) = x.shape[:-2], x.shape[-2:]
    k = min(m, n)
    s = TensorType(lead + (k,), real_dtype(x.dtype))
    if not vectors:
        return s
    ku, kv = (m, n) if full_matrices else (k, k)
    return TensorType(lead + (m, ku), x.dtype), s, TensorType(lead + (kv, n), x.dtype)


def _svd_func(x: TensorType, vectors: bool, full_matrices=True):
    types = _svd_infer(x, vectors, full_matrices)
    lead, (m, n), f = x.shape[:-2], x.shape[-2:], x.dtype
    fr = real_dtype(f)
    tall = m >= n
    big, k = max(m, n), min(m, n)          # the work matrix is big x k: A, or Aᴴ when wide
    X = decl_buffer(x.shape, f, "x")
    S = decl_buffer(lead + (k,), fr, "s")
    U, V = decl_buffer(scratch(big, big), f, "uw"), decl_buffer(scratch(k, k), f, "vw")
    res = decl_buffer(scratch(big), f, "res")
    c, s, key_tmp, alpha, beta, best, norm, scale = (Scalar(name, fr) for name in (
        "c", "s", "key_tmp", "alpha", "beta", "best", "norm", "scale"))
    gamma, phase, tmp = Scalar("gamma", f), Scalar("phase", f), Scalar("tmp", f)
    at, rotated, done = Scalar("at", "int32"), Scalar("rotated", "int32"), Scalar("done", "int32")
    eps = const(_eps(fr), fr)

    def pair(p, q):
        """Rotate columns p, q of U (and V) to orthogonality: the Jacobi rotation of their Gram
        matrix [[alpha, gamma], [conj(gamma), beta]], gamma = u_pᴴ u_q."""
        dots = seq(alpha.set(0.0), beta.set(0.0), gamma.set(0.0), loop("i", 0, big, lambda i: seq(
            alpha.set(alpha.get() + abs2(U[(i, p)])), beta.set(beta.get() + abs2(U[(i, q)])),
            gamma.set(gamma.get() + conj(U[(i, p)]) * U[(i, q)]))))
        needed = _e.abs(gamma.get()) > eps * _e.sqrt(alpha.get()) * _e.sqrt(beta.get())
        return seq(dots, when(needed, seq(
            rotated.set(1), _rotation(alpha.get(), beta.get(), gamma.get(), c, s, phase),
            _rotate(U, big, p, q, c.get(), phase.get(), tmp), _rotate(V, k, p, q, c.get(), phase.get(), tmp))))

    def sweep(_):
        rotate = loop("p", 0, k, lambda p: loop("q", p + 1, k, lambda q: pair(p, q)))
        return when(done.get() == 0, seq(rotated.set(0), rotate, when(rotated.get() == 0, done.set(1))))

    def complete(col, r):
        """Column ``col`` of U: the unit vector farthest from columns 0..col-1, orthogonalized."""
        def residual(j):  # res = e_j - sum_t U[:, t] (U[:, t]ᴴ e_j)
            return seq(loop("i", 0, big, lambda i: BufferStore(res, _e.select(i == j, const(1, f), _zero(f)), (i,))),
                       loop("t", 0, col, lambda t: seq(
                           tmp.set(conj(U[(j, t)])),
                           loop("i", 0, big, lambda i: BufferStore(res, res[i] - tmp.get() * U[(i, t)], (i,))))))

        def length():
            return seq(norm.set(0.0), loop("i", 0, big, lambda i: norm.set(norm.get() + abs2(res[i]))))

        def candidate(j):
            return seq(residual(j), length(),
                       when(norm.get() > best.get(), seq(best.set(norm.get()), at.set(_e.cast(j, "int32")))))

        reorthogonalize = loop("t", 0, col, lambda t: seq(
            tmp.set(0.0), loop("i", 0, big, lambda i: tmp.set(tmp.get() + conj(U[(i, t)]) * res[i])),
            loop("i", 0, big, lambda i: BufferStore(res, res[i] - tmp.get() * U[(i, t)], (i,)))))
        return seq(best.set(-1.0), at.set(0), loop("j", 0, big, candidate), residual(at.get()),
                   reorthogonalize, length(), norm.set(_e.sqrt(norm.get())),
                   loop("i", 0, big, lambda i: BufferStore(U, div_real(res[i], norm.get()), (i, col))))

    def matrix(r):
        # scaled by its largest magnitude, so that the sums of squares neither underflow nor overflow
        largest = loop("i", 0, m, lambda i: loop("j", 0, n, lambda j: scale.set(
            _e.max(scale.get(), _e.abs(X[r + (i, j)])))))
        usable = _e.logical_and(scale.get() > _zero(fr), _e.isfinite(scale.get()))
        work = _fill(U, (), big, k, lambda i, j: div_real(X[r + (i, j)] if tall else conj(X[r + (j, i)]), scale.get()))
        stmts = [scale.set(0.0), largest, scale.set(_e.select(usable, scale.get(), const(1, fr))), work,
                 _fill(V, (), k, k, lambda i, j: _e.select(i == j, const(1, f), _zero(f))),
                 done.set(0), loop("sweep", 0, MAX_SWEEPS, sweep)]

        def value(j):
            return seq(norm.set(0.0), loop("i", 0, big, lambda i: norm.set(norm.get() + abs2(U[(i, j)]))),
                       BufferStore(S, _e.sqrt(norm.get()), r + (j,)))
        unscale = loop("j", 0, k, lambda j: BufferStore(S, S[r + (j,)] * scale.get(), r + (j,)))
        stmts += [loop("j", 0, k, value), _sort_columns(S, [(U, big), (V, k)], k, r, True, best, at, key_tmp, tmp)]
        if not vectors:
            return seq(*stmts, unscale)
        # normalize the determined columns; complete the rest (values below rounding, full_matrices)
        threshold = S[r + (0,)] * eps * const(float(big), fr) if k else _zero(fr)
        kept = big if full_matrices else k

        def finish(j):
            if k == 0:
                return complete(j, r)
            value = S[r + (_e.min(j, k - 1),)]
            determined = _e.logical_and(j < k, value > threshold)
            normalize = loop("i", 0, big, lambda i: BufferStore(U, div_real(U[(i, j)], value), (i, j)))
            return when(determined, normalize, complete(j, r))
        stmts.append(loop("j", 0, kept, finish))
        u_out, _, vh_out = types
        if tall:   # A = U S Vᴴ
            stmts += [_fill(u_out_buf, r, m, u_out.shape[-1], lambda i, j: U[(i, j)]),
                      _fill(vh_out_buf, r, n, n, lambda i, j: conj(V[(j, i)]))]
        else:      # Aᴴ = U S Vᴴ, so A = V S Uᴴ
            stmts += [_fill(u_out_buf, r, m, m, lambda i, j: V[(i, j)]),
                      _fill(vh_out_buf, r, vh_out.shape[-2], n, lambda i, j: conj(U[(j, i)]))]
        return seq(*stmts, unscale)

    if vectors:
        u_out_buf = decl_buffer(types[0].shape, f, "u")
        vh_out_buf = decl_buffer(types[2].shape, f, "vh")
        params = (X, u_out_buf, S, vh_out_buf)
    else:
        params = (X, S)
    allocs = (U, V, res) + tuple(b.buffer for b in (c, s, key_tmp, alpha, beta, best, norm, scale, gamma, phase,
                                                    tmp, at, rotated, done))
    return hand_written_func(params, batched(lead, matrix), allocs)


def _svd_reference(x, *, full_matrices=True):
    return tuple(np.linalg.svd(x, full_matrices=full_matrices))


register_op("svd", pattern="opaque", infer=lambda x, *, full_matrices=True: _svd_infer(x, True, full_matrices),
            lower=None, num_outputs=3, reference=_svd_reference,
            prim_func=lambda x, *, full_matrices=True: _svd_func(x, True, full_matrices),
            doc="U, S (descending, real) and Vh with ``x = U @ diag(S) @ Vh`` for each matrix (one-sided Jacobi; "
                "``full_matrices``: square U and Vh).")
register_op("svdvals", pattern="opaque", infer=lambda x: _svd_infer(x, False), lower=None,
            reference=lambda x: np.linalg.svd(x, compute_uv=False), prim_func=lambda x: _svd_func(x, False),
            doc="The singular values of each matrix, descending and real (one-sided Jacobi).")
