"""A hand-written function made ready for the GPU: the op's own GPU kernel, or its batch loops
on GPU threads.

The graph lowering builds an opaque op's hand-written PrimFunc without knowing
the target, and records the op on it (:mod:`mlc.ops.hand_written`). A GPU build
then rebuilds it, as TVM's op strategies pick ``topi.cuda.sort`` over
``topi.sort``:

1. an op with a ``gpu_prim_func`` (a kernel written for the GPU, its loops
   bound to ``blockIdx``/``threadIdx``) is rebuilt with it for the same input
   types and attributes, on the function's own parameters (so the function
   keeps its name, parameters and calling convention);
2. any other hand-written function (no op recorded, or no GPU kernel) runs
   its batch loops one per thread (:func:`.batch_parallel.batch_parallel`).

Either way the result is marked ``"mlc.scheduled": "hand-written-gpu"``.

>>> from mlc.ops import TensorType
>>> from mlc.ops.hand_written import hand_written
>>> f = hand_written("searchsorted", [TensorType((5,), "float32"), TensorType((3,), "float32")], {})
>>> g = hand_written_for_gpu(f)
>>> [p.name for p in g.params] == [p.name for p in f.params], g.attr("mlc.op"), g.attr("mlc.scheduled")
(True, 'searchsorted', 'hand-written-gpu')
"""
from __future__ import annotations

from ...ir.tir import PrimFunc
from ...ops.hand_written import HAND_WRITTEN_GPU, recorded_op
from ...ops.registry import get_op
from ..edit import on_params
from ..default.batch_parallel import batch_parallel
from ..default.canonical import SCHEDULED_ATTR

__all__ = ["hand_written_for_gpu"]


def hand_written_for_gpu(func: PrimFunc, target=None) -> PrimFunc:
    """``func``, a hand-written function, as its op's GPU kernel where the op has one, else with
    its batch loops bound to GPU threads (see the module docstring). ``target`` (a CUDA
    target) is not consulted yet: one kernel serves every architecture."""
    op = recorded_op(func)
    opdef = get_op(op.name) if op is not None else None
    if opdef is None or opdef.gpu_prim_func is None:
        return batch_parallel(func)
    kernel = opdef.gpu_prim_func(*op.input_types(func), **op.attrs)
    return on_params(kernel, func, op.inputs + op.outputs).with_attr(SCHEDULED_ATTR, HAND_WRITTEN_GPU)

