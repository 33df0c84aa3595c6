"""The built-in op library: importing it registers every op.

Modules by kind: elementwise (ufuncs, where, clip, astype), reduce, linalg
(matmul, dot, einsum), shape (reshape, transpose, slicing, concat, pad, ...)
nn (activations, softmax, normalisation, dense) and conv (conv2d, pooling). The
NumPy shape and dtype rules they share live in :mod:`._common`;
``broadcast_shapes`` and ``result_type`` are re-exported for the tracer.
"""
from . import conv, elementwise, gather, linalg, nn, reduce, shape, sorting
from ._common import broadcast_shapes, result_type
from .shape import plan_getitem

__all__ = ["conv", "elementwise", "gather", "linalg", "nn", "reduce", "shape", "sorting", "broadcast_shapes", "result_type",
           "plan_getitem"]
