"""Small builders for the hand-written PrimFuncs of the dense linear algebra ops.

A factorization is a sequence of loops whose bounds depend on outer loop
variables (``for i in range(k + 1, n)``) and whose scalars (a pivot, a running
sum) live in one-element buffers. These helpers keep such kernels readable:

>>> from mlc.ir.buffer import decl_buffer
>>> from mlc.ir.tir import seq
>>> acc = Scalar("acc", "float32")
>>> x = decl_buffer((4,), "float32", "x")
>>> stmt = seq(acc.set(0.0), loop("i", 0, 4, lambda i: acc.set(acc.get() + x[i])))
>>> type(stmt).__name__
'SeqStmt'
"""
from __future__ import annotations

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir.buffer import decl_buffer
from ...ir.expr import PrimExpr, Var, cast, const
from ...ir.tir import BufferStore, For, IfThenElse
from ..hand_written import BATCH
from ..registry import TensorType

__all__ = ["Scalar", "loop", "when", "batch_loop", "batched", "unflatten", "ix", "check_matrix", "scratch", "LINALG_DTYPES",
           "real_dtype", "conj", "real", "abs2", "lift", "mul_real", "div_real"]

#: The dtypes the factorizations compute in (LAPACK's s, d, c and z routines, NumPy's).
LINALG_DTYPES = ("float32", "float64", "complex64", "complex128")


# The scalar algebra that one kernel shares between real and complex matrices: each helper is the
# identity (or the plain operation) for a real dtype, so that a kernel written once with conjugate
# transposes reads as the textbook real algorithm and computes the Hermitian one for complex.

def real_dtype(dtype: str) -> str:
    """The dtype of a ``dtype`` value's modulus: its parts' float dtype (``dtype`` when real)."""
    return dt.component(dtype)


def conj(x: PrimExpr) -> PrimExpr:
    """The complex conjugate of ``x``; ``x`` itself when real."""
    return _e.conj(x) if dt.is_complex(x.dtype) else x


def real(x: PrimExpr) -> PrimExpr:
    """The real part of ``x``; ``x`` itself when real."""
    return _e.real(x) if dt.is_complex(x.dtype) else x


def abs2(x: PrimExpr) -> PrimExpr:
    """``|x|**2`` in ``x``'s real dtype (``x * conj(x)`` without its zero imaginary part)."""
    if not dt.is_complex(x.dtype):
        return x * x
    re, im = _e.real(x), _e.imag(x)
    return re * re + im * im


def lift(x: PrimExpr, dtype: str) -> PrimExpr:
    """The real value ``x`` as a value of ``dtype`` (``x + 0j`` when complex)."""
    if not dt.is_complex(dtype):
        return cast(x, dtype)
    return _e.complex(cast(x, dt.component(dtype)), const(0, dt.component(dtype)))


def mul_real(z: PrimExpr, r: PrimExpr) -> PrimExpr:
    """``z * r`` for a real ``r``: each part of a complex ``z`` scaled (no complex product)."""
    if not dt.is_complex(z.dtype):
        return z * r
    return _e.complex(_e.real(z) * r, _e.imag(z) * r)


def div_real(z: PrimExpr, r: PrimExpr) -> PrimExpr:
    """``z / r`` for a real ``r``: each part of a complex ``z`` divided (no complex division)."""
    if not dt.is_complex(z.dtype):
        return z / r
    return _e.complex(_e.real(z) / r, _e.imag(z) / r)


def ix(value) -> PrimExpr:
    """An index expression (``dt.INDEX``) from an int or an expression."""
    if isinstance(value, PrimExpr):
        return value if value.dtype == dt.INDEX else cast(value, dt.INDEX)
    return const(int(value), dt.INDEX)


def loop(name: str, start, stop, body) -> For:
    """``for v in range(start, stop): body(v)``; the bounds may use outer loop variables."""
    v = Var(name, dt.INDEX)
    lo = ix(start)
    return For(v, lo, ix(stop) - lo, "serial", body(v))


def when(condition, then_case, else_case=None) -> IfThenElse:
    """``if condition: then_case else: else_case`` (statements)."""
    return IfThenElse(condition, then_case, else_case)


class Scalar:
    """A scalar variable of a kernel: a one-element buffer the root block allocates."""

    def __init__(self, name: str, dtype: str):
        self.buffer = decl_buffer((1,), dtype, name)
        self.dtype = dtype

    def get(self) -> PrimExpr:
        return self.buffer[const(0, dt.INDEX)]

    def set(self, value):
        value = value if isinstance(value, PrimExpr) else const(value, self.dtype)
        if value.dtype != self.dtype:
            value = cast(value, self.dtype)
        return BufferStore(self.buffer, value, (const(0, dt.INDEX),))


def scratch(*shape: int) -> tuple[int, ...]:
    """The shape of a kernel's work buffer for ``shape``: at least one element per dimension, so
    that empty matrices allocate nothing of size zero."""
    return tuple(max(d, 1) for d in shape)


def batch_loop(name: str, extent: int, body) -> For:
    """``for v in range(extent): body(v)``, annotated as a batch loop (``"mlc.batch"``: its
    iterations are independent, see :mod:`mlc.ops.hand_written`)."""
    v = Var(name, dt.INDEX)
    return For(v, const(0, dt.INDEX), const(extent, dt.INDEX), "serial", body(v), annotations=((BATCH, True),))


def batched(lead: tuple[int, ...], body, name: str = "b"):
    """``body(r)`` for every index tuple ``r`` over the leading (batch) dimensions, in order: a
    nest of :func:`batch_loop` loops named ``b0``, ``b1``, ..."""
    def nest(depth, r):
        if depth == len(lead):
            return body(r)
        return batch_loop(f"{name}{depth}", lead[depth], lambda v: nest(depth + 1, r + (v,)))
    return nest(0, ())


def unflatten(index: PrimExpr, shape: tuple[int, ...]) -> tuple[PrimExpr, ...]:
    """The index tuple of element ``index`` of a row-major array of ``shape`` (its last dimension
    fastest): how a GPU kernel's one thread index addresses an N-d buffer."""
    out, rest = [], index
    for k, extent in enumerate(reversed(shape)):
        if k == len(shape) - 1:
            out.append(rest)  # the outermost needs no modulo: index < prod(shape)
        else:
            out.append(rest % const(extent, dt.INDEX))
            rest = rest // const(extent, dt.INDEX)
    return tuple(reversed(out))


def check_matrix(op: str, x: TensorType, *, square: bool = False) -> None:
    """A float32/float64/complex64/complex128 array of at least 2 dimensions (square in its last
    two if asked)."""
    if x.ndim < 2:
        raise ShapeError(f"{op}: needs a stack of matrices (at least 2 dimensions), got shape {x.shape}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"{op}: needs square matrices in the last two dimensions, got shape {x.shape}")
    if x.dtype not in LINALG_DTYPES:
        raise DTypeError(f"{op}: computes in float32, float64, complex64 or complex128, got {x.dtype}; "
                         "cast the array first "
                         "(mlc.numpy.linalg casts integers to float64)")
