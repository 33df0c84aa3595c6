"""Sorting along the last axis: the ops ``sort`` and ``argsort``, stable.

On the CPU they run a radix sort of the elements' keys (:mod:`.radix_sort`; a
float32, int32 or uint32 ``sort`` on an AVX-512 CPU a vectorised quicksort instead,
:mod:`.vector_sort`, which the CPU rules put in its place), on
the GPU a bitonic network over the same keys (:mod:`.sorting_gpu`); both get one
order from :mod:`._sort_keys`. Their work is no loop nest of te stages (its stores
go to data-dependent places), so the ops are ``opaque`` ones with a hand-written
PrimFunc, already scheduled.

>>> from mlc.ops import TensorType, get_op
>>> f = get_op("argsort").prim_func(TensorType((5,), "float32"), descending=False)
>>> [p.name for p in f.params]
['x', 'out']
"""
from __future__ import annotations

import numpy as np

from ..registry import TensorType, register_op
from ._sort_keys import check_sortable
from .radix_sort import radix_sort_func
from .sorting_gpu import bitonic_sort_func

__all__: list[str] = []


def _infer(name: str, indices: bool):
    def infer(x: TensorType, *, descending=False) -> TensorType:
        check_sortable(name, x)
        return TensorType(x.shape, "int64" if indices else x.dtype)
    return infer


def _reference(indices: bool):
    def reference(x, *, descending=False):
        if not indices:
            return _sorted_values(x, descending)
        return _order(x, descending).astype("int64")
    return reference


def _sorted_values(x, descending: bool):
    """``x`` sorted along its last axis as the stable sort leaves it, by NumPy's fast sort
    (``np.sort``'s default: several times faster than a stable argsort, so the eager first
    tier can sort): values that compare equal are equal bit for bit, except NaNs (payloads,
    signs) and the two zeros, which a row holding them gets back in their input order.

    >>> _sorted_values(np.array([0.0, np.nan, -0.0, -1.0]), descending=True)
    array([nan,  0., -0., -1.])
    """
    out = np.sort(x, axis=-1)
    out = np.ascontiguousarray(out[..., ::-1]) if descending else out
    n = x.shape[-1]
    if x.dtype.kind != "f" or n == 0:
        return out
    rows, sorted_rows = x.reshape(-1, n), out.reshape(-1, n)
    odd = np.isnan(rows) | ((rows == 0) & np.signbit(rows))
    for r in np.flatnonzero(odd.any(axis=-1)):
        v, row = rows[r], sorted_rows[r]
        nan, zero = np.isnan(v), v == 0
        nans = np.count_nonzero(nan)
        if descending:
            row[:nans] = v[nan]
            start = nans + np.count_nonzero(v > 0)
        else:
            row[n - nans:] = v[nan]
            start = np.count_nonzero(v < 0)
        row[start:start + np.count_nonzero(zero)] = v[zero]
    return out


def _order(x, descending: bool):
    """NumPy's stable order along the last axis; descending: NaN first, ties in input order."""
    if not descending:
        return np.argsort(x, axis=-1, kind="stable")
    if x.dtype.kind == "f":
        nan = np.isnan(x)
        return np.lexsort((-np.where(nan, 0, x), ~nan), axis=-1)
    return np.argsort(np.invert(x.astype("uint8") if x.dtype == np.bool_ else x), axis=-1, kind="stable")


def _prim_func(indices: bool):
    def prim_func(x: TensorType, *, descending=False):
        check_sortable("argsort" if indices else "sort", x)
        return radix_sort_func(x, descending=bool(descending), indices=indices)
    return prim_func


def _gpu_prim_func(indices: bool):
    def gpu_prim_func(x: TensorType, *, descending=False):
        return bitonic_sort_func(x, descending=bool(descending), indices=indices)
    return gpu_prim_func


register_op("sort", pattern="opaque", infer=_infer("sort", False), lower=None, reference=_reference(False),
            prim_func=_prim_func(False), gpu_prim_func=_gpu_prim_func(False),
            doc="``x`` sorted along its last axis, stably (NaN last; ``descending``: NaN first, "
                "ties still in input order).")
register_op("argsort", pattern="opaque", infer=_infer("argsort", True), lower=None,
            reference=_reference(True), prim_func=_prim_func(True), gpu_prim_func=_gpu_prim_func(True),
            doc="The int64 positions that sort ``x`` along its last axis, stably (as ``sort``).")
