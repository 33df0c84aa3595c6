"""Sorting along the last axis: the ops ``sort`` and ``argsort``, stable.

On the CPU they run a radix sort of the elements' keys (:mod:`.radix_sort`), on
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
        order = _order(x, descending)
        return order.astype("int64") if indices else np.take_along_axis(x, order, axis=-1)
    return reference


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
