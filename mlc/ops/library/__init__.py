"""The built-in op library: importing it registers every op.

Modules by kind: elementwise (ufuncs, where, clip, astype), reduce, linalg
(matmul, dot, einsum), window (a product over a window of columns whose bounds are
read when the kernel runs), factorize (Cholesky, LU: det, solve, inv), spectral
(QR, eigh, svd), shape (reshape, transpose, slicing, concat, pad, ...)
nn (activations, softmax, normalisation, dense), conv (conv2d, pooling) and random
(Threefry random bits). The
NumPy shape and dtype rules they share live in :mod:`._common`;
``broadcast_shapes`` and ``result_type`` are re-exported for the tracer.
"""
from . import conv, element, element_loop, elementwise, factorize, gather, linalg, nn, random, reduce, rows, shape, sorting, spectral, update, window
from ._common import broadcast_shapes, normalize_axis, result_type
from .shape import plan_getitem

__all__ = ["conv", "elementwise", "factorize", "gather", "linalg", "nn", "random", "reduce", "shape", "sorting", "spectral", "window", "broadcast_shapes", "normalize_axis", "result_type",
           "plan_getitem"]
