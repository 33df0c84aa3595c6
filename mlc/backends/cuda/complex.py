"""Complex values in CUDA C: ``mlc_complex64``/``mlc_complex128`` pairs.

A complex64 (complex128) value is the struct ``mlc_complex<float>``
(``mlc_complex<double>``) of its real and imaginary parts, aligned as CUDA's
``float2`` (``double2``) and CuPy's complex arrays; a buffer holds interleaved
pairs, as NumPy stores them, so complex buffers are loaded and stored element
by element (no ``float4`` access). Every operation on complex values is float
TIR by the time it reaches codegen (:mod:`mlc.passes.tir.lower_complex`: the
arithmetic, casts and math calls, NumPy's semantics), so the backend renders
only the three primitives and the shuffle of both parts across a warp.
:data:`PRELUDE` holds the type; the codegen puts it into a kernel source only
when a function has complex values.

>>> from mlc.backends.intrinsics import intrinsic_lowering
>>> intrinsic_lowering("cuda", "complex", "float32")(["x", "y"], "float32", False)
'mlc_complex64{x, y}'
>>> intrinsic_lowering("cuda", "real", "complex128")(["z"], "complex128", False)
'(z).re'
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.functor import pre_order_nodes
from ...ir.tir import Allocate, BufferStore
from ..intrinsics import register_intrinsic_lowering
from .intrinsics import BACKEND, FLOAT_COMPUTE

__all__ = ["C_TYPES", "PRELUDE", "uses_complex", "shfl_down"]

#: The CUDA C type of each complex dtype.
C_TYPES = {"complex64": "mlc_complex64", "complex128": "mlc_complex128"}

#: The complex type and the shuffle of both parts.
PRELUDE = r"""
// complex64 and complex128: (real, imaginary) pairs, interleaved as NumPy stores them
template <typename T> struct alignas(2 * sizeof(T)) mlc_complex { T re, im; };
typedef mlc_complex<float> mlc_complex64;
typedef mlc_complex<double> mlc_complex128;
template <typename T> __device__ __forceinline__ mlc_complex<T> mlc_shfl_down(unsigned mask, mlc_complex<T> z,
                                                                             int offset, int width) {
  return {__shfl_down_sync(mask, z.re, offset, width), __shfl_down_sync(mask, z.im, offset, width)};
}
"""


def uses_complex(buffers, body) -> bool:
    """Whether a function with parameters and workspace ``buffers`` and ``body`` has a complex
    buffer or computes a complex value (and so needs :data:`PRELUDE`)."""
    if any(dt.is_complex(b.dtype) for b in buffers):
        return True
    for n in pre_order_nodes(body):
        dtype = n.buffer.dtype if isinstance(n, (BufferStore, Allocate)) else getattr(n, "dtype", None)
        if isinstance(dtype, str) and dt.is_complex(dt.element(dtype)):
            return True
    return False


def shfl_down(value: str, offset: int, width: int) -> str:
    """The warp shuffle of a complex ``value``: both parts from the lane ``offset`` above."""
    return f"mlc_shfl_down(__activemask(), {value}, {offset}, {width})"


def _register() -> None:
    register_intrinsic_lowering(BACKEND, "real", lambda args, dtype, fast: f"({args[0]}).re", dtypes=dt.COMPLEX)
    register_intrinsic_lowering(BACKEND, "imag", lambda args, dtype, fast: f"({args[0]}).im", dtypes=dt.COMPLEX)
    register_intrinsic_lowering(BACKEND, "complex", lambda args, dtype, fast:
                                f"{C_TYPES[dt.complex_of(dtype)]}{{{args[0]}, {args[1]}}}", dtypes=FLOAT_COMPUTE)


_register()
