"""Rules of the scans (cumsum, cumprod) and of sorting and searching.

``cumsum`` is linear: its cotangent is the reversed running sum of the
cotangent. ``cumprod``'s derivatives come from its definition as
``ceil(log2 n)`` doubling steps, each multiplying the running products by
themselves shifted (the Hillis-Steele scan), which differentiates exactly
where elements are zero. ``sort`` moves each tangent with its element
(the stable order ``argsort`` gives, so ties keep theirs); ``argsort`` and
``searchsorted`` give integers, with zero tangents.
"""
from __future__ import annotations

import numpy as np

from ..library._common import normalize_axis
from ..registry import define_rules
from .core import Composite, ZeroRules, apply_op, loop_batch, move_batch_to_front, slice_axis

__all__ = ["cumprod_by_doubling"]


def _cumsum_jvp(primals, tangents, out, *, axis=0, dtype=None):
    return apply_op("cumsum", tangents[0], axis=axis, dtype=dtype)


def _cumsum_vjp(ct, primals, out, *, axis=0, dtype=None):
    axis = normalize_axis("cumsum", axis, primals[0].ndim)
    return (apply_op("flip", apply_op("cumsum", apply_op("flip", ct, axis=axis), axis=axis), axis=axis),)


def cumprod_by_doubling(x, *, axis=0, dtype=None):
    """``cumprod(x, axis)`` as products of shifted copies: after the step with shift ``s`` each
    element holds the product of the ``2 s`` elements ending there."""
    axis = normalize_axis("cumprod", axis, x.ndim)
    if dtype is not None:
        x = x.astype(dtype)
    n = x.shape[axis]
    shift = 1
    while shift < n:
        head = slice_axis(x, axis, None, n - shift)
        widths = [(0, 0)] * x.ndim
        widths[axis] = (shift, 0)
        x = x * apply_op("pad", head, pad_width=tuple(widths), constant_values=1)
        shift *= 2
    return x


def _scan_batch(name):
    def rule(args, dims, *, axis=0, dtype=None):
        x = move_batch_to_front(args[0], dims[0])
        return apply_op(name, x, axis=normalize_axis(name, axis, x.ndim - 1) + 1, dtype=dtype), 0
    return rule


def _sort_permutation(x, descending):
    return apply_op("argsort", x, descending=descending)


def _sort_jvp(primals, tangents, out, *, descending=False):
    order = _sort_permutation(primals[0], descending)
    return apply_op("take_along_axis", tangents[0], order, axis=-1)


def _sort_vjp(ct, primals, out, *, descending=False):
    order = _sort_permutation(primals[0], descending)
    return (apply_op("take_along_axis", ct, apply_op("argsort", order), axis=-1),)


def _last_axis_batch(name):
    """An op along the last axis: the batch axis in front leaves it where it is."""
    def rule(args, dims, **attrs):
        return apply_op(name, move_batch_to_front(args[0], dims[0]), **attrs), 0
    return rule


def _searchsorted_batch(args, dims, *, side="left"):
    """Queries batched against one sorted array: one search; a batch of sorted arrays: a search
    per element of the batch (the op takes one 1-D sorted array)."""
    (a, v), (da, dv) = args, dims
    if da is None:
        return apply_op("searchsorted", a, v, side=side), dv
    return loop_batch("searchsorted")(args, dims, side=side)


def _register() -> None:
    define_rules("cumsum", jvp=_cumsum_jvp, vjp=_cumsum_vjp, batch=_scan_batch("cumsum"))
    define_rules("cumprod", jvp=Composite(cumprod_by_doubling), vjp=Composite(cumprod_by_doubling),
                 batch=_scan_batch("cumprod"))
    define_rules("sort", jvp=_sort_jvp, vjp=_sort_vjp, batch=_last_axis_batch("sort"))
    define_rules("argsort", **ZeroRules, batch=_last_axis_batch("argsort"))
    define_rules("searchsorted", **ZeroRules, batch=_searchsorted_batch)


_register()
