"""A product over a window of columns whose bounds are known when the function runs: ``window_matmul``.

``window_matmul(a, b, lo, hi)`` is ``a @ b`` of a vector ``a`` (K,) and a matrix ``b`` (K, N)
at the columns ``lo <= j < hi`` only, zeros at the others; ``lo`` and ``hi`` are 0-d int values
(a loop's index, ``i + 1``), clamped into ``[0, N]``. It is what ``data[:, i] @ data[:, i + 1:]``
computes in a compiled loop (:mod:`mlc.numpy.windows`): the slice's length changes with the
loop's index while the loop is compiled once, so the product is made over the whole axis and
used within the bounds only. Its kernel's column loop runs from ``lo`` to ``hi`` — the
window's ``hi - lo`` columns, not the axis's ``N`` — so a loop of such products does NumPy's
work (a triangle: half the square's), where the whole-axis product does the square's.

The kernel: the result's columns in tiles of :data:`TILE_BYTES` (the tile's partial sums stay
in the first-level cache while the rows of ``b`` stream past), each tile zeroed, then for each
row ``k`` of ``b`` the tile's columns inside the window updated, ``out[j] += a[k] * b[k, j]``: a
loop of contiguous loads whose bounds are read from ``lo`` and ``hi`` (LLVM vectorizes it).

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
from ...ir.tir import BufferStore, For, seq
from ..registry import TensorType, register_op
from ._common import hand_written_func
from ._kernel import batch_loop

__all__ = ["TILE_BYTES", "window_dtypes"]

#: The bytes of partial sums one tile of the result holds: an eighth of a 32 KiB first-level
#: data cache, leaving the rest to the rows of ``b`` that stream through it.
TILE_BYTES = 4096


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
    """``(a, b, lo, hi, out)``: tiles of the columns (batch loops: independent), each zeroed
    and then updated row by row of ``b`` over its columns inside the window."""
    out_t = _infer(a, b, lo, hi)
    k_extent, n = int(b.shape[0]), int(b.shape[1])
    ab, bb = decl_buffer((k_extent,), a.dtype, "a"), decl_buffer((k_extent, n), b.dtype, "b")
    lob, hib = decl_buffer((), lo.dtype, "lo"), decl_buffer((), hi.dtype, "hi")
    out = decl_buffer((n,), out_t.dtype, "out")
    tile = max(TILE_BYTES // np.dtype(out_t.dtype).itemsize, 1)
    tiles = -(-n // tile) if n else 0
    first, last = _clamped(lob[()], hib[()], n)

    def per_tile(t):
        start = t * const(tile, dt.INDEX)
        stop = _e.min(start + const(tile, dt.INDEX), const(n, dt.INDEX))
        j, c, kv = Var("j", dt.INDEX), Var("c", dt.INDEX), Var("k", dt.INDEX)
        zero = For(j, start, stop - start, "vectorized", BufferStore(out, const(0, out.dtype), (j,)))
        s, e = _e.max(first, start), _e.min(last, stop)
        update = BufferStore(out, out[c] + ab[kv] * bb[kv, c], (c,))
        rows = For(kv, const(0, dt.INDEX), const(k_extent, dt.INDEX), "serial",
                   For(c, s, _e.max(e - s, const(0, dt.INDEX)), "vectorized", update))
        return seq(zero, rows)
    return hand_written_func([ab, bb, lob, hib, out], batch_loop("t", tiles, per_tile))


register_op("window_matmul", pattern="opaque", infer=_infer, lower=_lower, reference=_reference,
            prim_func=_prim_func,
            doc="``a @ b`` of a vector ``a`` (K,) and a matrix ``b`` (K, N) at the columns ``lo <= j < hi`` "
                "(0-d int values clamped into [0, N]), zeros at the others; its kernel's loop over the columns "
                "runs over the window only.")
