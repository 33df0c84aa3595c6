"""The built-in op library: importing it registers every op.

Modules by kind: elementwise (ufuncs, where, clip, astype), reduce, linalg
(matmul, dot, einsum), shape (reshape, transpose, slicing, concat, pad, ...)
and nn (activations, softmax, normalisation, convolution, pooling). The
NumPy shape and dtype rules they share live in :mod:`._common`.
"""
from . import elementwise, linalg, nn, reduce, shape  # noqa: F401
from ._common import broadcast_shapes, result_type  # noqa: F401
