"""The GPU kernels of ``cumsum`` and ``cumprod`` (their ``gpu_prim_func``): a thread per line,
or long lines cut into chunks.

A scan's lines (one per position of the dimensions before and after the
axis) are independent. With many lines each GPU thread scans one, the axis
loop inside the thread and the accumulator in a register: NumPy's order of
operations, so its results bit for bit. Lines are numbered with the
dimensions after the axis fastest, so that the threads of a warp read
consecutive elements where the axis is not the last.

Few long lines (a 1-D cumsum is one line) would leave the GPU idle and one
thread walking millions of elements. Such lines are cut into chunks
(:func:`scan_chunks`) and scanned by three kernels:

1. a thread per chunk reduces it into ``totals``;
2. a thread per line turns its chunks' totals, in place, into what the line
   holds before each chunk (an exclusive scan);
3. a thread per chunk scans it again from that value, writing the output.

The first chunk of a line starts from the identity, as the one-thread scan
does; the others from their prefix, so float sums and products differ from
NumPy's sequential ones by rounding. Integer and bool scans stay exact
(wrapping arithmetic, logical or and and are associative).

>>> scan_chunks(lines=1, n=1 << 22), scan_chunks(lines=3, n=100_003), scan_chunks(lines=4096, n=100)
(2895, 447, 1)
"""
from __future__ import annotations

import math

from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir.buffer import decl_buffer
from ...ir.expr import cast, const
from ...ir.tir import Allocate, BufferStore, PrimFunc, seq
from ..hand_written import thread_loops
from ..registry import TensorType
from ._common import accumulate_dtype, hand_written_func
from ._kernel import loop, unflatten
from .scan import scan_operation

__all__ = ["scan_gpu_func", "scan_chunks", "PARALLEL", "MIN_CHUNK"]

#: The threads a scan keeps busy before it cuts its lines into chunks.
PARALLEL = 1 << 16
#: The fewest elements a chunk holds.
MIN_CHUNK = 32
#: The fewest chunks worth two more kernels.
MIN_CHUNKS = 4


def scan_chunks(lines: int, n: int) -> int:
    """How many chunks each of ``lines`` lines of ``n`` elements is scanned in (1: a thread per
    line). About ``sqrt(2 n)`` of them, which balances the two passes over a chunk against the
    pass over a line's chunk totals; at most :data:`PARALLEL` threads in all, at least
    :data:`MIN_CHUNK` elements a chunk (the last one may be shorter)."""
    if lines == 0:
        return 1
    chunks = min(n // MIN_CHUNK, PARALLEL // lines, math.isqrt(2 * n))
    if chunks < MIN_CHUNKS:
        return 1
    length = -(-n // chunks)
    return -(-n // length)


def scan_gpu_func(x: TensorType, out_dtype: str, *, axis: int, product: bool) -> PrimFunc:
    """The PrimFunc ``(x, out)`` of :func:`.scan.scan_func`, for the GPU (module docstring)."""
    acc_dtype = accumulate_dtype(out_dtype)
    identity, combine = scan_operation(acc_dtype, product)
    X, OUT = decl_buffer(x.shape, x.dtype, "x"), decl_buffer(x.shape, out_dtype, "out")
    outer, n, inner = x.shape[:axis], x.shape[axis], x.shape[axis + 1:]
    n_inner = math.prod(inner)
    lines = math.prod(outer) * n_inner
    chunks = scan_chunks(lines, n)
    length = -(-n // chunks)
    zero = const(0, dt.INDEX)

    def element(o, i, j):
        """The index tuple of element ``i`` of the line at outer position ``o``, inner ``j``."""
        return unflatten(o, outer) + (i,) + unflatten(j, inner)

    def scan(o, j, start, stop, first, write: bool):
        """Combine elements ``[start, stop)`` of a line into a register starting at ``first``,
        writing each prefix to ``out`` (``write``); returns the register and the statement."""
        acc = decl_buffer((1,), acc_dtype, "acc", scope="local")

        def step(i):
            stores = [BufferStore(acc, combine(acc[zero], cast(X[element(o, i, j)], acc_dtype)), (zero,))]
            if write:
                stores.append(BufferStore(OUT, cast(acc[zero], out_dtype), element(o, i, j)))
            return seq(*stores)
        return acc, seq(BufferStore(acc, first, (zero,)), loop("i", start, stop, step))

    def whole_line(t):
        acc, stmt = scan(t // const(n_inner, dt.INDEX), t % const(n_inner, dt.INDEX), 0, n, identity, True)
        return Allocate(acc, stmt)

    if n == 0 or lines == 0:
        return hand_written_func((X, OUT), seq(), gpu=True)
    if chunks == 1:
        return hand_written_func((X, OUT), thread_loops(lines, whole_line), gpu=True)

    # chunk threads t = (o, c, j), j fastest; totals[t] is chunk c of line (o, j)
    totals = decl_buffer((lines * chunks,), acc_dtype, "totals")

    def chunk(t, write: bool):
        j = t % const(n_inner, dt.INDEX)
        c = t // const(n_inner, dt.INDEX) % const(chunks, dt.INDEX)
        o = t // const(n_inner * chunks, dt.INDEX)
        start = c * const(length, dt.INDEX)
        stop = _e.min(start + const(length, dt.INDEX), const(n, dt.INDEX))
        acc, stmt = scan(o, j, start, stop, totals[t] if write else identity, write)
        return Allocate(acc, stmt if write else seq(stmt, BufferStore(totals, acc[zero], (t,))))

    def prefixes(line):
        o, j = line // const(n_inner, dt.INDEX), line % const(n_inner, dt.INDEX)
        acc = decl_buffer((1,), acc_dtype, "acc", scope="local")
        total = decl_buffer((1,), acc_dtype, "total", scope="local")

        def step(c):
            at = (o * const(chunks, dt.INDEX) + c) * const(n_inner, dt.INDEX) + j
            return seq(BufferStore(total, totals[at], (zero,)), BufferStore(totals, acc[zero], (at,)),
                       BufferStore(acc, combine(acc[zero], total[zero]), (zero,)))
        return Allocate(acc, Allocate(total, seq(BufferStore(acc, identity, (zero,)), loop("c", 0, chunks, step))))

    body = seq(thread_loops(lines * chunks, lambda t: chunk(t, False)), thread_loops(lines, prefixes),
               thread_loops(lines * chunks, lambda t: chunk(t, True)))
    return hand_written_func((X, OUT), body, (totals,), gpu=True)
