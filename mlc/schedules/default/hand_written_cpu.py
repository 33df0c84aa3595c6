"""A hand-written function made ready for a CPU: an op's faster kernel where the target has it.

The graph lowering builds an opaque op's hand-written PrimFunc without knowing the
target (:mod:`mlc.ops.hand_written`), and that function is written for any CPU. A
CPU with AVX-512 sorts 4-byte values faster with a vectorised quicksort than with
the radix sort the ``sort`` op writes (:mod:`mlc.ops.library.vector_sort`), so on
such a target that kernel is put in its place, on the function's own parameters;
every other function stays as written.

>>> from mlc.ops import TensorType
>>> from mlc.ops.hand_written import hand_written
>>> from mlc.target import Target
>>> f = hand_written("sort", [TensorType((5,), "float32")], {"descending": False})
>>> hand_written_for_cpu(f, Target("llvm", "haswell")) is f
True
>>> g = hand_written_for_cpu(f, Target("llvm", "skylake-avx512"))
>>> g is f, [p.name for p in g.params] == [p.name for p in f.params]
(False, True)
"""
from __future__ import annotations

from ...ir.tir import PrimFunc
from ...ops.hand_written import recorded_op
from ...ops.library import vector_sort
from ...target import Target
from ..edit import on_params

__all__ = ["hand_written_for_cpu"]


def hand_written_for_cpu(func: PrimFunc, target: Target) -> PrimFunc:
    """``func``, a hand-written function, with ``sort``'s vectorised quicksort in place of its
    radix sort where :func:`mlc.ops.library.vector_sort.applies`; else ``func`` itself."""
    op = recorded_op(func)
    if op is None or op.name != "sort":
        return func
    (x,) = op.input_types(func)
    if not vector_sort.applies(x, target):
        return func
    kernel = vector_sort.vector_sort_func(x, descending=bool(op.attrs.get("descending", False)))
    return on_params(kernel, func, op.inputs + op.outputs)
