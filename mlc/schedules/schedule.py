"""``mlc.Schedule``: TensorIR transformations with legality checks and a trace.

>>> import mlc
>>> from mlc import te
>>> A = te.placeholder((8,), "float32", "A")
>>> B = te.compute((8,), lambda i: A[i] + 1, "B")
>>> sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
>>> (i,) = sch.get_loops(sch.get_block("B"))
>>> print(sch.trace)
def apply_schedule(sch):
    b0 = sch.get_block(name='B', func_name=None)
    l1, = sch.get_loops(block=b0)
"""
from __future__ import annotations

from .base import BlockRV, ExprRV, LoopRV
from .primitives.blockize import BlockizePrimitives
from .primitives.cache import CachePrimitives
from .primitives.compute_location import ComputeLocationPrimitives
from .primitives.get import GetPrimitives
from .primitives.inline import InlinePrimitives
from .primitives.layout import LayoutPrimitives
from .primitives.loops import LoopPrimitives
from .primitives.sampling import SamplingPrimitives
from .primitives.transform_layout import LayoutTransformPrimitives
from .primitives.reduction import ReductionPrimitives
from .primitives.tensorize import TensorizePrimitives
from .primitives.kernels import KernelPrimitives

__all__ = ["Schedule", "BlockRV", "LoopRV", "ExprRV"]


class Schedule(GetPrimitives, LoopPrimitives, SamplingPrimitives, ComputeLocationPrimitives,
               InlinePrimitives, CachePrimitives, ReductionPrimitives, LayoutPrimitives,
               BlockizePrimitives, TensorizePrimitives, LayoutTransformPrimitives, KernelPrimitives):
    """Edit a copy of an IRModule; ``sch.mod`` is the result, ``sch.trace`` the record."""
