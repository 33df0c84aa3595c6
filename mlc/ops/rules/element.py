"""Rules of the single-element ops (``element_get``, ``element_set``), of
``dynamic_update_slice`` and of ``window_matmul``: their definitions as a gather (a product)
and a ``where`` over the whole array (:class:`~.core.Composite`), which every
transformation already knows. ``element_loop`` is never transformed: it is made after
tracing, by the graph pipeline.
"""
from __future__ import annotations

import numpy as np

from ..registry import define_rules
from .core import Composite, RuleError, apply_op

__all__ = ["element_get_composite", "element_set_composite", "dynamic_update_slice_composite",
           "window_matmul_composite"]


def _flat(shape, indices):
    """The row-major flat position of ``indices`` (negative ones counted from the end) and
    whether every one is inside its axis."""
    flat, inside = None, None
    stride = 1
    for k, n in reversed(list(zip(indices, shape))):
        k = apply_op("astype", k, dtype="int64")
        k = apply_op("where", apply_op("less", k, np.int64(0)), apply_op("add", k, np.int64(n)), k)
        ok = apply_op("logical_and", apply_op("greater_equal", k, np.int64(0)), apply_op("less", k, np.int64(n)))
        term = apply_op("multiply", k, np.int64(stride))
        flat = term if flat is None else apply_op("add", flat, term)
        inside = ok if inside is None else apply_op("logical_and", inside, ok)
        stride *= n
    return flat, inside


def element_get_composite(x, *indices):
    """``x[i, j, ...]`` as ``take`` of the flattened array (clipped, as ``element_get``)."""
    flat, _ = _flat(x.shape, indices)
    rows = apply_op("reshape", x, newshape=(-1,))
    got = apply_op("take", rows, apply_op("reshape", flat, newshape=(1,)), axis=0)
    return apply_op("reshape", got, newshape=())


def element_set_composite(x, value, *indices):
    """``x`` with ``x[i, j, ...] = value`` as ``where(position == flat, value, x)``."""
    flat, inside = _flat(x.shape, indices)
    size = int(np.prod(x.shape))
    positions = np.arange(size, dtype=np.int64).reshape(x.shape)
    hit = apply_op("logical_and", apply_op("equal", flat, positions), inside)
    return apply_op("where", hit, value, x)


def dynamic_update_slice_composite(x, v, *starts, steps=()):
    """``x`` with ``v`` at ``start + k * step`` as ``where(hit, v gathered per axis, x)``: along
    axis ``d``, position ``p`` is hit where ``p - start`` is ``k * step`` with ``0 <= k < m``."""
    hit, value = None, v
    for d, (s, step, n, m) in enumerate(zip(starts, steps, x.shape, v.shape)):
        s = apply_op("astype", s, dtype="int64")
        s = apply_op("where", apply_op("less", s, np.int64(0)), apply_op("add", s, np.int64(n)), s)
        shape = [1] * len(x.shape)
        shape[d] = n
        off = apply_op("subtract", np.arange(n, dtype=np.int64).reshape(shape), s)
        k = apply_op("floor_divide", off, np.int64(step))
        on = apply_op("equal", apply_op("multiply", k, np.int64(step)), off)
        inside = apply_op("logical_and", apply_op("greater_equal", k, np.int64(0)), apply_op("less", k, np.int64(m)))
        h = apply_op("logical_and", on, inside)
        hit = h if hit is None else apply_op("logical_and", hit, h)
        at = apply_op("minimum", apply_op("maximum", k, np.int64(0)), np.int64(m - 1))
        value = apply_op("take", value, apply_op("reshape", at, newshape=(n,)), axis=d)
    return apply_op("where", hit, value, x)


def window_matmul_composite(a, b, lo, hi):
    """``a @ b`` at the columns ``lo <= j < hi`` (clamped into the axis), zeros at the others,
    as ``where(inside, a @ b, 0)``."""
    n = b.shape[1]
    j = np.arange(n, dtype=np.int64)
    first = apply_op("minimum", apply_op("maximum", apply_op("astype", lo, dtype="int64"), np.int64(0)), np.int64(n))
    last = apply_op("maximum", apply_op("minimum", apply_op("astype", hi, dtype="int64"), np.int64(n)), first)
    inside = apply_op("logical_and", apply_op("greater_equal", j, first), apply_op("less", j, last))
    product = apply_op("matmul", a, b)
    return apply_op("where", inside, product, np.zeros((), product.dtype))


def _pipeline_only(*args, **kwargs):
    raise RuleError("element_loop is made by the graph pipeline after tracing (from a for_loop of element "
                    "code), so no transformation meets it; transform the function before it is compiled")


def _register() -> None:
    get, put = Composite(element_get_composite), Composite(element_set_composite)
    define_rules("element_get", jvp=get, vjp=get, batch=get)
    define_rules("element_set", jvp=put, vjp=put, batch=put)
    region = Composite(dynamic_update_slice_composite)
    define_rules("dynamic_update_slice", jvp=region, vjp=region, batch=region)
    window = Composite(window_matmul_composite)
    define_rules("window_matmul", jvp=window, vjp=window, batch=window)
    define_rules("element_loop", jvp=_pipeline_only, vjp=_pipeline_only, batch=_pipeline_only)


_register()
