"""``write_row``: an array with one row (its index traced) replaced, written in place where it may be.

``write_row(stack, value, index)`` is ``stack`` with ``stack[index] = value``
(``index`` a 0-d integer array, negative counting from the end and clipped into
the rows as ``take``'s; ``value`` of
the shape and dtype of one row). Reverse mode stores a loop's carries with it,
one row per iteration (:mod:`mlc.transforms.control`), as ``mlc.scan`` may its
``ys``. Its kernel is a *region write*: it writes the one row, the rest of the
result being ``stack``; the copy of ``stack`` is skipped where the result is ``stack``'s
own memory (the graph's ``main`` copies it, and gives a loop's carry one buffer, written
by its kernel, when nothing reads the carry's old value after it), so a loop that
writes a row of a stacked carry per iteration costs a row per iteration, not
the stack.

>>> import numpy as np
>>> from mlc.ops.registry import get_op
>>> get_op("write_row").reference(np.zeros((3, 2), "float32"), np.ones(2, "float32"), np.int64(1))
array([[0., 0.],
       [1., 1.],
       [0., 0.]], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir.buffer import decl_buffer
from ...ir.expr import cast, const, make_binary, select
from ...ir.tir import BufferStore, PrimFunc, seq
from ..hand_written import REGION_WRITE
from ..registry import TensorType, register_op
from ._common import hand_written_func
from ._kernel import batched

__all__ = ["write_row_func"]


def _infer(stack: TensorType, value: TensorType, index: TensorType) -> TensorType:
    if len(stack.shape) < 1:
        raise ShapeError("write_row: the stack must have at least one dimension (its rows), got a 0-d array")
    if tuple(value.shape) != tuple(stack.shape[1:]):
        raise ShapeError(f"write_row: the value must have a row's shape {tuple(stack.shape[1:])}, got "
                         f"{tuple(value.shape)}")
    if value.dtype != stack.dtype:
        raise DTypeError(f"write_row: the value must have the stack's dtype {stack.dtype}, got {value.dtype}")
    if tuple(index.shape) != () or not dt.is_int(index.dtype):
        raise ShapeError(f"write_row: the index must be a 0-d integer array, got {index.dtype}{list(index.shape)}")
    return stack


def write_row_func(stack: TensorType, value: TensorType, index: TensorType) -> PrimFunc:
    """The PrimFunc ``(stack, value, index, out)``: ``out[index] = value``, the region it writes;
    the rest of ``out`` is ``stack``, which the caller copies there unless ``out`` is ``stack``'s
    memory (:data:`~mlc.ops.hand_written.REGION_WRITE`: ``main`` does)."""
    S, OUT = decl_buffer(stack.shape, stack.dtype, "stack"), decl_buffer(stack.shape, stack.dtype, "out")
    V = decl_buffer(value.shape, value.dtype, "value")
    I = decl_buffer((), index.dtype, "index")
    rows = int(stack.shape[0])
    zero = const(0, dt.INDEX)
    at = cast(I[()], dt.INDEX)
    at = select(make_binary("lt", at, zero), at + const(rows, dt.INDEX), at)  # from the end, as take
    at = select(make_binary("lt", at, zero), zero, at)
    last = const(max(rows - 1, 0), dt.INDEX)
    at = select(make_binary("gt", at, last), last, at)
    write = batched(tuple(stack.shape[1:]), lambda r: BufferStore(OUT, V[r], (at,) + r), "r")
    func = hand_written_func((S, V, I, OUT), write if rows else seq())
    return func.with_attr(REGION_WRITE, 0)


def _reference(stack, value, index):
    out = np.array(stack, copy=True)
    if out.shape[0]:
        n = out.shape[0]
        at = int(index) + n if int(index) < 0 else int(index)
        out[min(max(at, 0), n - 1)] = value
    return out


register_op("write_row", pattern="opaque", infer=_infer, lower=None, reference=_reference,
            prim_func=write_row_func,
            doc="``stack`` with row ``index`` (a 0-d integer, as ``take``'s index along axis 0) replaced by ``value``: "
                "a region write, in place where ``stack``'s memory may be the result's (reverse mode's "
                "stored loop carries, one row per iteration).")
