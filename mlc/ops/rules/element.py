"""Rules of the single-element ops (``element_get``, ``element_set``): their definitions as a
gather and a ``where`` over the whole array (:class:`~.core.Composite`), which every
transformation already knows. ``element_loop`` is never transformed: it is made after
tracing, by the graph pipeline.
"""
from __future__ import annotations

import numpy as np

from ..registry import define_rules
from .core import Composite, RuleError, apply_op

__all__ = ["element_get_composite", "element_set_composite"]


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


def _pipeline_only(*args, **kwargs):
    raise RuleError("element_loop is made by the graph pipeline after tracing (from a for_loop of element "
                    "code), so no transformation meets it; transform the function before it is compiled")


def _register() -> None:
    get, put = Composite(element_get_composite), Composite(element_set_composite)
    define_rules("element_get", jvp=get, vjp=get, batch=get)
    define_rules("element_set", jvp=put, vjp=put, batch=put)
    define_rules("element_loop", jvp=_pipeline_only, vjp=_pipeline_only, batch=_pipeline_only)


_register()
