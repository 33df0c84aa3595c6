"""A product over a window of columns whose bounds are known when the function runs: ``window_matmul``.

``window_matmul(a, b, lo, hi)`` is ``a @ b`` of a vector ``a`` (K,) and a matrix ``b`` (K, N)
at the columns ``lo <= j < hi`` only, zeros at the others; ``lo`` and ``hi`` are 0-d int values
(a loop's index, ``i + 1``), clamped into ``[0, N]``. It is what ``data[:, i] @ data[:, i + 1:]``
computes in a compiled loop (:mod:`mlc.numpy.windows`): the slice's length changes with the
loop's index while the loop is compiled once, so the result spans the whole axis (a static
shape) and is used within the bounds only. Its kernel's column loops run from ``lo`` to ``hi`` — the
window's ``hi - lo`` columns, not the axis's ``N`` — so a loop of such products does NumPy's
work (a triangle: half the square's), where the whole-axis product does the square's.

The kernel: zeros outside the window; inside it, blocks of :data:`BLOCK_BYTES` of columns from
``lo``, each a vector of sums ``acc[u] += a[k] * b[k, c + u]`` over the rows ``k`` of ``b`` (one
vector load and multiply-add per row, the sums in registers), the last block ending at the
window's end, a window narrower than a block column by column. The loops' bounds are read from
``lo`` and ``hi`` when the kernel runs.

>>> import numpy as np
>>> from mlc.ops import get_op
>>> a, b = np.ones(3), np.arange(12.0).reshape(3, 4)
>>> get_op("window_matmul").reference(a, b, np.int64(1), np.int64(3))
array([ 0., 15., 18.,  0.])
"""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ...ir.buffer import decl_buffer
from ...ir.expr import Var, cast, const
from ...ir.tir import BufferStore, For, IfThenElse, seq
from ..registry import TensorType, register_op
from ._common import hand_written_func
from ._kernel import batch_loop

__all__ = ["BLOCK_BYTES", "window_dtypes"]

#: The bytes of one block of columns: four 256-bit vectors of sums, held in registers while
#: the block's column of ``b`` is read row by row.
BLOCK_BYTES = 128


def window_dtypes(a_dtype: str, b_dtype: str) -> bool:
    """Whether ``window_matmul`` takes operands of these dtypes (one float dtype)."""
    return a_dtype == b_dtype and a_dtype in ("float32", "float64")


def _infer(a: TensorType, b: TensorType, lo: TensorType, hi: TensorType) -> TensorType:
    if len(a.shape) != 1 or len(b.shape) != 2 or not all(isinstance(n, (int, np.integer))
                                                          for n in tuple(a.shape) + tuple(b.shape)):
        raise ShapeError(f"window_matmul: needs a vector and a matrix of static shapes, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if int(a.shape[0]) != int(b.shape[0]):
        raise ShapeError(f"window_matmul: the vector's length {a.shape[0]} is not the matrix's number of rows "
                         f"{b.shape[0]}")
    if not window_dtypes(a.dtype, b.dtype):
        raise DTypeError(f"window_matmul: needs two float32 or two float64 operands, got {a.dtype} and {b.dtype}")
    for t in (lo, hi):
        if t.shape != () or not dt.is_int(t.dtype):
            raise DTypeError(f"window_matmul: the bounds must be 0-d int values, got {t.dtype}{list(t.shape)}")
    return TensorType((int(b.shape[1]),), a.dtype)


def _clamped(lo, hi, n: int):
    """``lo`` and ``hi`` (int expressions) clamped into ``[0, n]``, ``hi`` not below ``lo``, as
    index expressions (clamped in 64 bits first: a bound past the index type's range is no
    wrapped one)."""
    zero, top = const(0, "int64"), const(n, "int64")
    lo = _e.min(_e.max(cast(lo, "int64"), zero), top)
    hi = _e.max(_e.min(cast(hi, "int64"), top), lo)
    return cast(lo, dt.INDEX), cast(hi, dt.INDEX)


def _lower(a, b, lo, hi):
    """The functional form: the whole product, then zeros outside the window."""
    k_extent, n = int(b.shape[0]), int(b.shape[1])
    k = te.reduce_axis((0, k_extent), name="k")
    full = te.compute((n,), lambda j: te.sum(a[k] * b[k, j], axis=k), name="T_matmul")
    first, last = _clamped(lo[()], hi[()], n)
    return te.compute((n,), lambda j: _e.select(_e.logical_and(j >= first, j < last), full[j],
                                                const(0, a.dtype)), name="T_window_matmul")


def _reference(a, b, lo, hi):
    n = b.shape[1]
    first = min(max(int(lo), 0), n)
    last = max(min(int(hi), n), first)
    out = np.zeros(n, np.result_type(a, b))
    out[first:last] = np.asarray(a) @ np.asarray(b)[:, first:last]
    return out


def _prim_func(a: TensorType, b: TensorType, lo: TensorType, hi: TensorType):
    """``(a, b, lo, hi, out)``: zeros outside the window, then the window's columns in blocks of
    :data:`BLOCK_BYTES` (batch loops: independent), each a vector of sums over the rows of ``b``;
    the last block ends at the window's end (it computes again some columns of the one before,
    the same values), and a window narrower than a block is summed column by column."""
    out_t = _infer(a, b, lo, hi)
    k_extent, n = int(b.shape[0]), int(b.shape[1])
    ab, bb = decl_buffer((k_extent,), a.dtype, "a"), decl_buffer((k_extent, n), b.dtype, "b")
    lob, hib = decl_buffer((), lo.dtype, "lo"), decl_buffer((), hi.dtype, "hi")
    out = decl_buffer((n,), out_t.dtype, "out")
    width = max(BLOCK_BYTES // np.dtype(out_t.dtype).itemsize, 1)
    acc, one = decl_buffer((width,), out_t.dtype, "acc"), decl_buffer((1,), out_t.dtype, "acc1")
    first, last = _clamped(lob[()], hib[()], n)
    zero_v, top = const(0, out.dtype), const(n, dt.INDEX)

    def span(name, lo_, hi_, kind, body):
        v = Var(name, dt.INDEX)
        return For(v, lo_, _e.max(hi_ - lo_, const(0, dt.INDEX)), kind, body(v))

    def lanes(name, body):
        v = Var(name, dt.INDEX)
        return For(v, const(0, dt.INDEX), const(width, dt.INDEX), "vectorized", body(v))

    def rows(body):
        v = Var("k", dt.INDEX)
        return For(v, const(0, dt.INDEX), const(k_extent, dt.INDEX), "serial", body(v))

    def per_block(t):
        start = first + t * const(width, dt.INDEX)
        c0 = _e.min(start, last - const(width, dt.INDEX))  # the last block ends at the window's end
        whole = seq(lanes("u", lambda u: BufferStore(acc, zero_v, (u,))),
                    rows(lambda k: lanes("u", lambda u: BufferStore(acc, acc[u] + ab[k] * bb[k, c0 + u], (u,)))),
                    lanes("u", lambda u: BufferStore(out, acc[u], (c0 + u,))))
        zero1 = (const(0, dt.INDEX),)
        column = lambda c: seq(BufferStore(one, zero_v, zero1),  # noqa: E731
                               rows(lambda k: BufferStore(one, one[zero1] + ab[k] * bb[k, c], zero1)),
                               BufferStore(out, one[zero1], (c,)))
        narrow = span("c", start, last, "serial", column)  # a window narrower than a block
        return IfThenElse(start < last, IfThenElse(last - first >= const(width, dt.INDEX), whole, narrow))
    blocks = -(-n // width) if n else 0
    body = seq(span("j", const(0, dt.INDEX), first, "serial", lambda j: BufferStore(out, zero_v, (j,))),
               span("j", last, top, "serial", lambda j: BufferStore(out, zero_v, (j,))),
               batch_loop("t", blocks, per_block))
    return hand_written_func([ab, bb, lob, hib, out], body, allocs=(acc, one))


register_op("window_matmul", pattern="opaque", infer=_infer, lower=_lower, reference=_reference,
            prim_func=_prim_func,
            doc="``a @ b`` of a vector ``a`` (K,) and a matrix ``b`` (K, N) at the columns ``lo <= j < hi`` "
                "(0-d int values clamped into [0, N]), zeros at the others; its kernel's loop over the columns "
                "runs over the window only.")
