"""The hand-written PrimFunc of ``cumsum`` and ``cumprod``: one pass along the axis.

Each output element is the previous one combined with the next input, so a
scan is O(n) with one accumulator per line along the axis (a register when the
axis is the last one): the same order of operations as NumPy's, so float32,
float64 and complex results are NumPy's bit for bit (float16 accumulates in
float32 and rounds each output once, where NumPy rounds every step to float16:
an ulp apart at times, and the more accurate). Lines are the elements of the dimensions
after the axis; the dimensions before it are walked one after the other
(batch loops). The GPU's kernels are :mod:`.scan_gpu`'s.

>>> from mlc.ops import TensorType
>>> f = scan_func(TensorType((3, 4), "float32"), "float32", axis=1, product=False)
>>> [p.name for p in f.params]
['x', 'out']
"""
from __future__ import annotations

import math

from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir.buffer import decl_buffer
from ...ir.expr import cast, const, make_binary, select
from ...ir.tir import BufferStore, PrimFunc, seq
from ..registry import TensorType
from ._common import accumulate_dtype, hand_written_func
from ._kernel import batched, loop

__all__ = ["scan_func", "scan_operation"]


def scan_operation(acc_dtype: str, product: bool):
    """(identity, combine) of the scan accumulating in ``acc_dtype``: sum or product (logical or
    and logical and for bools)."""
    if acc_dtype == "bool":
        return const(product, "bool"), (_e.logical_and if product else _e.logical_or)
    # -0.0 + x is x for every float x (0.0 + -0.0 would be +0.0: NumPy's first output is x[0])
    identity = const(1 if product else (-0.0 if dt.is_float(acc_dtype) else 0), acc_dtype)
    return identity, ((lambda a, b: a * b) if product else (lambda a, b: a + b))


def scan_func(x: TensorType, out_dtype: str, *, axis: int, product: bool) -> PrimFunc:
    """The PrimFunc ``(x, out)``: the inclusive sum (``product``: product) of ``x`` along ``axis``."""
    acc_dtype = accumulate_dtype(out_dtype)
    X, OUT = decl_buffer(x.shape, x.dtype, "x"), decl_buffer(x.shape, out_dtype, "out")
    outer, n, inner = x.shape[:axis], x.shape[axis], x.shape[axis + 1:]
    ACC = decl_buffer((max(math.prod(inner), 1),), acc_dtype, "acc")
    identity, combine = scan_operation(acc_dtype, product)

    def lines(body):
        """``body(j, flat)`` for every index tuple ``j`` over the dimensions after the axis."""
        def nest(depth, j, flat):
            if depth == len(inner):
                return body(j, flat)
            return loop(f"j{depth}", 0, inner[depth],
                        lambda v: nest(depth + 1, j + (v,), flat * const(inner[depth], dt.INDEX) + v))
        return nest(0, (), const(0, dt.INDEX))

    def block(o):
        start = lines(lambda j, a: BufferStore(ACC, identity, (a,)))

        def step(i):
            def one(j, a):
                x_i = cast(X[o + (i,) + j], acc_dtype)
                value = combine(ACC[a], x_i)
                if dt.is_complex(acc_dtype):  # (1+0j) * (inf+0j) is inf+nanj: the first output is x[0]
                    value = select(make_binary("eq", i, const(0, i.dtype)), x_i, value)
                return seq(BufferStore(ACC, value, (a,)), BufferStore(OUT, cast(ACC[a], out_dtype), o + (i,) + j))
            return lines(one)
        return seq(start, loop("i", 0, n, step))

    return hand_written_func((X, OUT), batched(outer, block), (ACC,))
