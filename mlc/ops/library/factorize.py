"""Cholesky and LU factorizations: ``cholesky``, ``det``, ``slogdet``, ``solve``, ``inv``.

Each op is ``opaque`` with a hand-written PrimFunc, batched over the leading
dimensions (one matrix after another), computing in the input's dtype
(float32, float64, complex64 or complex128, as LAPACK's s/d/c/z routines do;
one kernel for both kinds, written with conjugate transposes that are plain
transposes for real matrices):

- ``cholesky``: the Cholesky-Banachiewicz recurrence on the lower triangle of a
  symmetric (Hermitian) matrix (``upper``: the conjugate transpose), a real matrix's row
  products summed in a vector of partial sums; a real lower factor a panel of columns at a
  time, the rows' updates in parallel (:func:`_panels`). A matrix that is not positive definite (a pivot
  ``<= 0`` or NaN) gives an all-NaN factor: NumPy raises LinAlgError, the Array
  API leaves it to the implementation, and a kernel cannot raise.
- ``det``, ``slogdet``, ``solve``, ``inv``: LU with partial pivoting (the row
  of largest magnitude in the column: ``|re| + |im|`` for complex, as LAPACK measures it), on a
  scratch copy; ``solve`` and ``inv`` then substitute a row of the right-hand side at a time. A singular matrix (an
  exactly zero pivot) has ``det`` 0 and ``slogdet`` (0, -inf), as NumPy's; for
  ``solve`` and ``inv`` (NumPy: LinAlgError) the result is all NaN. A complex
  matrix's ``slogdet`` sign is a complex number of modulus 1 and its log|det| real.

>>> from mlc.ops import TensorType, get_op
>>> get_op("slogdet").infer(TensorType((2, 3, 3), "complex64"))
(TensorType(shape=(2,), dtype='complex64'), TensorType(shape=(2,), dtype='float32'))
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir.buffer import decl_buffer
from ...ir.expr import const
from ...ir.tir import Allocate, BufferStore, For, seq
from ..registry import TensorType, register_op
from ._common import hand_written_func
from ._kernel import (Scalar, abs2, batched, check_matrix, conj, div_real, ix, lift, loop, real, real_dtype,
                      scratch as _scratch, when)

__all__ = ["lu_steps"]


def _nan(dtype: str):
    return const(float("nan"), dtype)


# ------------------------------------------------------------------ cholesky

def _cholesky_infer(x: TensorType, *, upper=False) -> TensorType:
    check_matrix("cholesky", x, square=True)
    return TensorType(x.shape, x.dtype)


def _cholesky_func(x: TensorType, *, upper=False) -> object:
    _cholesky_infer(x)
    X, OUT = decl_buffer(x.shape, x.dtype, "x"), decl_buffer(x.shape, x.dtype, "out")
    n, f = x.shape[-1], x.dtype
    acc, diag, bad = Scalar("acc", f), Scalar("diag", real_dtype(f)), Scalar("bad", "int32")
    # a real matrix's row products in vector partial sums; a complex one's stay scalar
    parts = None if dt.is_complex(f) or not _DOT_BYTES else decl_buffer((_DOT_BYTES * 8 // dt.bits(f),), f, "parts")

    def matrix(r):
        # the factor L (i >= j) where the output keeps it: L itself, or U = Lᴴ when ``upper``
        def L(i, j):
            return conj(OUT[r + (j, i)]) if upper else OUT[r + (i, j)]

        def put(value, i, j):
            return BufferStore(OUT, conj(value), r + (j, i)) if upper else BufferStore(OUT, value, r + (i, j))

        def column(j):
            # L[j, j] = sqrt(A[j, j] - sum |L[j, k]|^2): real (a Hermitian diagonal's imaginary part
            # is not read, as LAPACK's)
            pivot = seq(diag.set(real(X[r + (j, j)])),
                        loop("k", 0, j, lambda k: diag.set(diag.get() - abs2(L(j, k)))),
                        when(_e.logical_not(diag.get() > const(0, diag.dtype)), bad.set(1)),
                        diag.set(_e.sqrt(diag.get())), put(lift(diag.get(), f), j, j))

            def below(i):  # L[i, j] = (A[i, j] - sum L[i, k] conj(L[j, k])) / L[j, j]
                if parts is not None:  # the sum in vector partial sums (see _DOT_BYTES)
                    return seq(_minus_sum(acc, X[r + (i, j)], parts, j, lambda k: L(i, k) * L(j, k)),
                               put(div_real(acc.get(), diag.get()), i, j))
                return seq(acc.set(X[r + (i, j)]),
                           loop("k", 0, j, lambda k: acc.set(acc.get() - L(i, k) * conj(L(j, k)))),
                           put(div_real(acc.get(), diag.get()), i, j))
            return seq(pivot, loop("i", j + 1, n, below))

        # the other triangle is zero: written first, along the output's rows (contiguous), and
        # never read (the factor reads only its own triangle)
        zero = lambda i, j: BufferStore(OUT, const(0, f), r + (i, j))  # noqa: E731
        zeros = loop("i", 0, n, lambda i: loop("j", 0, i, lambda j: zero(i, j)) if upper else
                     loop("j", i + 1, n, lambda j: zero(i, j)))
        poison = loop("i", 0, n, lambda i: loop("j", 0, n, lambda j: BufferStore(OUT, _nan(f), r + (i, j))))
        if parts is not None and not upper:
            factor = _panels(X, OUT, r, n, acc, diag, bad)
        else:
            factor = loop("j", 0, n, column)
        return seq(zeros, bad.set(0), factor, when(bad.get() != 0, poison))

    allocs = (acc.buffer, diag.buffer, bad.buffer) + ((parts,) if parts is not None else ())
    return hand_written_func((X, OUT), batched(x.shape[:-2], matrix), allocs)


#: Bytes of the partial sums of a row product in the Cholesky kernel (:func:`_minus_sum`): one
#: 512-bit vector of them (two 256-bit ones), updated side by side, instead of one scalar
#: accumulator that waits the FMA's latency at every step (a 1000 x 1000 float64 factor 4.3x
#: faster; wider sums leave a longer scalar rest: benchmarks/results/decisions.md, "Cholesky").
_DOT_BYTES = 64


#: Columns of a real lower factor computed together (:func:`_panels`): each row of the matrix
#: read once for this many row products instead of once for each.
_PANEL = 8

#: The least order of a real lower factor whose panel updates run in parallel.
_PARALLEL_ORDER = 64


def _panels(X, OUT, r, n: int, acc: Scalar, diag: Scalar, bad: Scalar):
    """The real lower Cholesky factor of ``X[r]`` into ``OUT[r]`` (its upper triangle zero
    already), :data:`_PANEL` columns at a time (left-looking, as LAPACK's blocked ``potrf``).

    For the panel of columns ``j0 .. j0 + w``, each row ``i >= j0`` first takes its products
    with the panel's rows over the columns ``k < j0``, all finished (``L[i, j0 + t] = A[i, j0 +
    t] - sum L[i, k] L[j0 + t, k]``): ``w`` sums in vector partial sums (:func:`_minus_sum`)
    from one pass over the row, where a column at a time reads the whole lower left block once
    per column (1000 x 1000: 1.3 GB from memory); the rows are independent, and run in
    parallel from order :data:`_PARALLEL_ORDER`. Then the panel's own columns, one after
    another, as the unblocked recurrence over ``k`` in ``j0 .. j`` only. Reassociates the sums
    as a blocked LAPACK factorization does.
    """
    f = OUT.dtype
    width = _DOT_BYTES * 8 // dt.bits(f)
    at = lambda i, j: r + (i, j)  # noqa: E731

    def lanes(body):
        v = _e.Var("l", dt.INDEX)
        return For(v, ix(0), ix(width), "vectorized", body(v))

    def update(j0, w: int):  # the panel's columns less the finished columns' products
        parts = decl_buffer((w * width,), f, "parts")
        rest = decl_buffer((1,), f, "rest")
        whole = ix(j0) // ix(width)

        def row(i):
            def chunk(c):
                return seq(*[lanes(lambda l, t=t: BufferStore(
                    parts, parts[(t * width + l,)] + OUT[at(i, c * ix(width) + l)] * OUT[at(j0 + t, c * ix(width) + l)],
                    (t * width + l,))) for t in range(w)])

            def finish(t):
                sums = [parts[(ix(t * width + l),)] for l in range(width)]
                while len(sums) > 1:  # a tree: the partial sums pairwise
                    sums = [a + b for a, b in zip(sums[::2], sums[1::2])]
                k0 = whole * ix(width)
                return when(j0 + t <= i, seq(
                    BufferStore(rest, X[at(i, j0 + t)] - sums[0], (ix(0),)),
                    loop("k", k0, j0, lambda k: BufferStore(
                        rest, rest[(ix(0),)] - OUT[at(i, k)] * OUT[at(j0 + t, k)], (ix(0),))),
                    BufferStore(OUT, rest[(ix(0),)], at(i, j0 + t))))
            body = seq(*[lanes(lambda l, t=t: BufferStore(parts, const(0, f), (t * width + l,))) for t in range(w)],
                       loop("c", 0, whole, chunk), *[finish(t) for t in range(w)])
            return Allocate(parts, Allocate(rest, body))
        v = _e.Var("i", dt.INDEX)
        kind = "parallel" if n >= _PARALLEL_ORDER else "serial"
        return For(v, ix(j0), ix(n) - ix(j0), kind, row(v))

    def column(j0, j):  # L[j, j], then L[i, j] below it, over the panel's earlier columns
        def below(i):
            return seq(acc.set(OUT[at(i, j)]),
                       loop("k", j0, j, lambda k: acc.set(acc.get() - OUT[at(i, k)] * OUT[at(j, k)])),
                       BufferStore(OUT, acc.get() / diag.get(), at(i, j)))
        return seq(diag.set(OUT[at(j, j)]),
                   loop("k", j0, j, lambda k: diag.set(diag.get() - OUT[at(j, k)] * OUT[at(j, k)])),
                   when(_e.logical_not(diag.get() > const(0, f)), bad.set(1)),
                   diag.set(_e.sqrt(diag.get())), BufferStore(OUT, diag.get(), at(j, j)),
                   loop("i", j + 1, n, below))

    def panel(j0, w: int):
        return seq(update(j0, w), *[column(j0, j0 + t) for t in range(w)])

    full, left = divmod(n, _PANEL)
    return seq(loop("p", 0, full, lambda p: panel(p * ix(_PANEL), _PANEL)),
               panel(ix(full * _PANEL), left) if left else None)


def _minus_sum(acc: Scalar, start, parts, stop, term):
    """Statements setting ``acc`` to ``start - sum(term(k) for k in range(stop))``, the sum in
    the partial sums of the buffer ``parts`` (:data:`_DOT_BYTES` of them) that a vectorized loop
    updates side by side, then the last few terms one by one. Reassociates the sum, as a
    blocked LAPACK factorization does."""
    width = _DOT_BYTES * 8 // dt.bits(parts.dtype)

    def lanes(body):
        v = _e.Var("l", dt.INDEX)
        return For(v, ix(0), ix(width), "vectorized", body(v))

    whole = ix(stop) // ix(width)
    chunk = lambda c: lanes(lambda l: BufferStore(parts, parts[(l,)] + term(c * ix(width) + l), (l,)))  # noqa: E731
    sums = [parts[(ix(l),)] for l in range(width)]
    while len(sums) > 1:  # a tree: the partial sums pairwise
        sums = [a + b for a, b in zip(sums[::2], sums[1::2])]
    return seq(lanes(lambda l: BufferStore(parts, const(0, parts.dtype), (l,))),
               loop("c", 0, whole, chunk),
               acc.set(start - sums[0]),
               loop("k", whole * ix(width), stop, lambda k: acc.set(acc.get() - term(k))))


def _cholesky_reference(x, *, upper=False):
    low = np.linalg.cholesky(x)
    return np.swapaxes(low, -1, -2).conj() if upper else low


register_op("cholesky", pattern="opaque", infer=_cholesky_infer, lower=None, reference=_cholesky_reference,
            prim_func=_cholesky_func,
            doc="The Cholesky factor of each symmetric (Hermitian) positive-definite matrix (lower, or ``upper``); "
                "all NaN where the matrix is not positive definite.")


# ------------------------------------------------------------------ LU with partial pivoting

def lu_steps(M, r, n: int, sign: Scalar, piv: Scalar, best: Scalar, tmp: Scalar, singular: Scalar,
             rhs=None):
    """Statements factoring ``M[r]`` (n x n, in place) as P M = L U with partial pivoting:
    ``sign`` the permutation's sign, ``singular`` 1 where a pivot is exactly 0. ``rhs``: a
    function ``(k, p) -> Stmt`` swapping rows k and p of a right-hand side too."""
    f = M.dtype

    def at(i, j):
        return r + (i, j)

    def swap(k):
        p = _e.cast(piv.get(), "int32")

        def col(j):
            return seq(tmp.set(M[at(k, j)]), BufferStore(M, M[at(p, j)], at(k, j)), BufferStore(M, tmp.get(), at(p, j)))
        stmts = [loop("j", 0, n, col)]
        if rhs is not None:
            stmts.append(rhs(k, p))
        stmts.append(sign.set(_e.select(p != k, -sign.get(), sign.get())))
        return seq(*stmts)

    def eliminate(k):
        def rows(over):  # the multipliers M[i, k] over the pivot, each row updated by its own
            return loop("i", k + 1, n, lambda i: seq(
                BufferStore(M, over(M[at(i, k)]), at(i, k)),
                loop("j", k + 1, n, lambda j: BufferStore(M, M[at(i, j)] - M[at(i, k)] * M[at(k, j)], at(i, j)))))
        return when(M[at(k, k)] != const(0, f), by_pivot(M[at(k, k)], tmp, rows), singular.set(1))

    def step(k):
        def search(i):
            magnitude = _pivot_size(M[at(i, k)])
            return when(magnitude > best.get(), seq(best.set(magnitude), piv.set(_e.cast(i, "int32"))))
        return seq(piv.set(_e.cast(k, "int32")), best.set(_pivot_size(M[at(k, k)])),
                   loop("i", k + 1, n, search), swap(k), eliminate(k))

    return seq(sign.set(1.0), singular.set(0), loop("k", 0, n, step))


def by_pivot(pivot, inverse: Scalar, body):
    """``body(over)``, ``over(x)`` being ``x / pivot`` (a Stmt): as ``x * (1 / pivot)``, one
    division for all the ``x``, where the reciprocal is finite (LAPACK's getf2 does the same,
    for a pivot of at least the smallest normal size), ``inverse`` holding it."""
    f = pivot.dtype
    tiny = const(float(np.finfo(np.dtype(real_dtype(f))).tiny), real_dtype(f))
    return when(_pivot_size(pivot) >= tiny, seq(inverse.set(const(1, f) / pivot), body(lambda x: x * inverse.get())),
                body(lambda x: x / pivot))


def _pivot_size(x):
    """The size partial pivoting compares: ``|x|``, and ``|re| + |im|`` for a complex ``x``, as
    LAPACK's ``izamax`` (``dcabs1``) measures it in the ``zgetrf`` NumPy calls (the same pivots
    as NumPy's, without a ``hypot`` per candidate)."""
    if not dt.is_complex(x.dtype):
        return _e.abs(x)
    return _e.abs(_e.real(x)) + _e.abs(_e.imag(x))


def _lu_scalars(f: str):
    return Scalar("sign", f), Scalar("piv", "int32"), Scalar("best", real_dtype(f)), Scalar("tmp", f), \
        Scalar("singular", "int32")


def _copy(src, dst, r, rows: int, cols: int):
    return loop("i", 0, rows, lambda i: loop("j", 0, cols, lambda j: BufferStore(dst, src[r + (i, j)], r + (i, j))))


def _det_infer(x: TensorType) -> TensorType:
    check_matrix("det", x, square=True)
    return TensorType(x.shape[:-2], x.dtype)


def _slogdet_infer(x: TensorType):
    check_matrix("slogdet", x, square=True)
    return TensorType(x.shape[:-2], x.dtype), TensorType(x.shape[:-2], real_dtype(x.dtype))


def _unit(d):
    """``d / |d|``, the sign of a real ``d`` or the phase of a complex one; 0 where ``d`` is 0
    (NaN stays NaN)."""
    f = d.dtype
    if dt.is_complex(f):
        magnitude = _e.abs(d)
        return _e.select(magnitude == const(0, magnitude.dtype), const(0, f), div_real(d, magnitude))
    return _e.select(d < const(0, f), const(-1.0, f), _e.select(d > const(0, f), const(1.0, f), d * const(0, f)))


def _det_func(x: TensorType, log: bool):
    check_matrix("slogdet" if log else "det", x, square=True)
    lead, n, f = x.shape[:-2], x.shape[-1], x.dtype
    X = decl_buffer(x.shape, f, "x")
    M = decl_buffer(_scratch(n, n), f, "lu")
    outs = (decl_buffer(lead, f, "sign"), decl_buffer(lead, real_dtype(f), "logabsdet")) if log else \
        (decl_buffer(lead, f, "det"),)
    scalars = _lu_scalars(f)
    sign, _, _, _, _ = scalars
    acc = Scalar("acc", real_dtype(f) if log else f)

    def matrix(r):
        copy = loop("i", 0, n, lambda i: loop("j", 0, n, lambda j: BufferStore(M, X[r + (i, j)], (i, j))))
        factor = lu_steps(M, (), n, *scalars)
        if log:
            def diag(k):
                d = M[(k, k)]
                return seq(sign.set(sign.get() * _unit(d)), acc.set(acc.get() + _e.log(_e.abs(d))))
            return seq(copy, factor, acc.set(0.0), loop("k", 0, n, diag),
                       BufferStore(outs[0], sign.get(), r), BufferStore(outs[1], acc.get(), r))
        return seq(copy, factor, acc.set(sign.get()),
                   loop("k", 0, n, lambda k: acc.set(acc.get() * M[(k, k)])),
                   BufferStore(outs[0], acc.get(), r))

    allocs = (M, acc.buffer) + tuple(s.buffer for s in scalars)
    return hand_written_func((X,) + outs, batched(lead, matrix), allocs)


register_op("det", pattern="opaque", infer=_det_infer, lower=None,
            reference=lambda x: np.linalg.det(x).astype(x.dtype),
            prim_func=lambda x: _det_func(x, False),
            doc="The determinant of each square matrix (LU with partial pivoting; 0 when singular).")
register_op("slogdet", pattern="opaque", infer=_slogdet_infer, lower=None, num_outputs=2,
            reference=lambda x: tuple(np.linalg.slogdet(x)), prim_func=lambda x: _det_func(x, True),
            doc="The sign and the log of the absolute value of each square matrix's determinant "
                "((0, -inf) when singular).")


def _solve_infer(a: TensorType, b: TensorType) -> TensorType:
    check_matrix("solve", a, square=True)
    check_matrix("solve", b)
    if b.shape[:-1] != a.shape[:-1] or a.dtype != b.dtype:
        raise ShapeError(f"solve: needs a (..., n, n) and b (..., n, k) of one dtype and one batch shape, "
                         f"got {a.dtype}{list(a.shape)} and {b.dtype}{list(b.shape)}; broadcast and cast "
                         "them first (mlc.numpy.linalg.solve does)")
    return TensorType(b.shape, b.dtype)


def _planes(f: str, n: int, k: int) -> tuple:
    """The work buffers of a complex right-hand side's substitutions, its real parts and its
    imaginary parts (see :func:`_substitutions`); none for a real dtype."""
    if not dt.is_complex(f):
        return ()
    part = real_dtype(f)
    return decl_buffer(_scratch(n, k), part, "re"), decl_buffer(_scratch(n, k), part, "im")


def _substitutions(M, B, r, n: int, k: int, acc: Scalar, planes: tuple):
    """Statements overwriting ``B[r]`` (n x k) with ``U^-1 L^-1 B[r]``, where ``M`` holds the
    unit lower L and the upper U.

    Row after row, each row of B updated by a multiple of an earlier (later) one along its k
    contiguous elements: independent updates a vector unit runs side by side, where a column at
    a time waits on one accumulator's latency at every step (and strides across B); each
    element's terms are subtracted in the same order either way. A complex B is worked on in
    two real ``planes`` (:func:`_planes`), where the products are plain vector multiply-adds
    instead of shuffles of interleaved pairs. Each row is scaled by its pivot's reciprocal, one
    division a row (as OpenBLAS's trsm kernels do): a complex division per element is a scalar
    Smith's algorithm the vector unit cannot share.
    """
    f = M.dtype
    columns = lambda body: loop("j", 0, k, body)  # noqa: E731
    if not planes:
        def axpy(i, t):  # B[i, :] -= M[i, t] * B[t, :]
            return columns(lambda j: BufferStore(B, B[r + (i, j)] - M[(i, t)] * B[r + (t, j)], r + (i, j)))

        def scale(i):
            return by_pivot(M[(i, i)], acc, lambda over: columns(
                lambda j: BufferStore(B, over(B[r + (i, j)]), r + (i, j))))
        split = ()
    else:
        re, im = planes

        def axpy(i, t):  # (re + i im)[i, :] -= (a + i b) * (re + i im)[t, :]
            a, b = _e.real(M[(i, t)]), _e.imag(M[(i, t)])
            return columns(lambda j: seq(
                BufferStore(re, re[(i, j)] - (a * re[(t, j)] - b * im[(t, j)]), (i, j)),
                BufferStore(im, im[(i, j)] - (a * im[(t, j)] + b * re[(t, j)]), (i, j))))

        def scale(i):  # the row's result into B, and from there into the planes for the rows above
            return seq(by_pivot(M[(i, i)], acc, lambda over: columns(lambda j: BufferStore(
                           B, over(_e.complex(re[(i, j)], im[(i, j)])), r + (i, j)))),
                       columns(lambda j: seq(BufferStore(re, _e.real(B[r + (i, j)]), (i, j)),
                                             BufferStore(im, _e.imag(B[r + (i, j)]), (i, j)))))
        split = (loop("i", 0, n, lambda i: columns(lambda j: seq(
            BufferStore(re, _e.real(B[r + (i, j)]), (i, j)), BufferStore(im, _e.imag(B[r + (i, j)]), (i, j))))),)
    forward = loop("i", 0, n, lambda i: loop("t", 0, i, lambda t: axpy(i, t)))  # L y = P b, L unit lower
    backward = loop("q", 0, n, lambda q: seq(  # U x = y, from the last row up
        loop("t", n - q, n, lambda t: axpy(n - 1 - q, t)), scale(n - 1 - q)))
    return seq(*split, forward, backward)


def _solve_steps(M, B, r, n: int, k: int, scalars, acc: Scalar, planes: tuple):
    """Factor ``M`` (one matrix) and overwrite ``B[r]`` (n x k) with ``M^-1 B``; NaN if singular
    (``planes``: :func:`_planes`)."""
    f = M.dtype
    _, _, _, tmp, singular = scalars

    def rhs(row, p):
        def col(j):
            return seq(tmp.set(B[r + (row, j)]), BufferStore(B, B[r + (p, j)], r + (row, j)),
                       BufferStore(B, tmp.get(), r + (p, j)))
        return loop("jb", 0, k, col)

    poison = loop("i", 0, n, lambda i: loop("j", 0, k, lambda j: BufferStore(B, _nan(f), r + (i, j))))
    return seq(lu_steps(M, (), n, *scalars, rhs=rhs), _substitutions(M, B, r, n, k, acc, planes),
               when(singular.get() != 0, poison))


def _solve_func(a: TensorType, b: TensorType):
    _solve_infer(a, b)
    n, k, f = a.shape[-1], b.shape[-1], a.dtype
    A, Bin = decl_buffer(a.shape, f, "a"), decl_buffer(b.shape, f, "b")
    OUT = decl_buffer(b.shape, f, "out")
    M = decl_buffer(_scratch(n, n), f, "lu")
    scalars, acc = _lu_scalars(f), Scalar("acc", f)

    def matrix(r):
        copy = loop("i", 0, n, lambda i: loop("j", 0, n, lambda j: BufferStore(M, A[r + (i, j)], (i, j))))
        return seq(copy, _copy(Bin, OUT, r, n, k), _solve_steps(M, OUT, r, n, k, scalars, acc, planes))

    planes = _planes(f, n, k)
    allocs = (M, acc.buffer) + tuple(s.buffer for s in scalars) + planes
    return hand_written_func((A, Bin, OUT), batched(a.shape[:-2], matrix), allocs)


def _inv_infer(x: TensorType) -> TensorType:
    check_matrix("inv", x, square=True)
    return TensorType(x.shape, x.dtype)


def _inv_func(x: TensorType):
    _inv_infer(x)
    n, f = x.shape[-1], x.dtype
    X, OUT = decl_buffer(x.shape, f, "x"), decl_buffer(x.shape, f, "out")
    M = decl_buffer(_scratch(n, n), f, "lu")
    scalars, acc = _lu_scalars(f), Scalar("acc", f)

    def matrix(r):
        copy = loop("i", 0, n, lambda i: loop("j", 0, n, lambda j: seq(
            BufferStore(M, X[r + (i, j)], (i, j)),
            BufferStore(OUT, _e.select(i == j, const(1, f), const(0, f)), r + (i, j)))))
        return seq(copy, _solve_steps(M, OUT, r, n, n, scalars, acc, planes))

    planes = _planes(f, n, n)
    allocs = (M, acc.buffer) + tuple(s.buffer for s in scalars) + planes
    return hand_written_func((X, OUT), batched(x.shape[:-2], matrix), allocs)


register_op("solve", pattern="opaque", infer=_solve_infer, lower=None,
            reference=lambda a, b: np.linalg.solve(a, b), prim_func=_solve_func,
            doc="``x`` with ``a @ x == b`` for each square ``a`` and (n, k) ``b`` of one batch shape "
                "(LU with partial pivoting; all NaN when ``a`` is singular).")
register_op("inv", pattern="opaque", infer=_inv_infer, lower=None, reference=np.linalg.inv,
            prim_func=_inv_func,
            doc="The inverse of each square matrix (LU with partial pivoting; all NaN when singular).")
