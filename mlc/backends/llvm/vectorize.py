"""LLVM renderings of vector IR (:func:`mlc.passes.tir.vectorize_loops` decides what
is a vector; this module only says how its values look in LLVM).

A ``float32x16`` value is a ``<16 x float>``; ``T.Broadcast(x, 16)`` is an
insertelement and a zero shufflevector (LLVM's splat idiom); ``T.Ramp(b, s,
16)`` is the splat of ``b`` plus the constant ``<0, s, 2s, ...>``. The codegen
(:mod:`.codegen`) renders loads and stores: a stride-1 Ramp index is one
vector load or store, any other index a gather or scatter of lanes.

Example: the register-tile update of the default matmul schedule::

    C_local[T.Ramp(i * 16, 1, 16)] = C_local[T.Ramp(i * 16, 1, 16)]
        + T.Broadcast(A[k], 16) * B[T.Ramp(k * 16, 1, 16)]

is one ``<16 x float>`` load of ``C_local`` and of ``B``, a broadcast of
``A[k]``, one ``fmul``/``fadd`` pair LLVM contracts into an FMA, and one
vector store.
"""
from __future__ import annotations

from collections.abc import Sequence

from llvmlite import ir

from ...ir import dtype as dt
from .types import I32, reg_type

__all__ = ["vector_type", "splat", "ramp", "build_vector", "vector_pointer", "lane"]


def vector_type(dtype: str) -> ir.Type:
    """The register type of ``dtype``: ``<N x T>`` for a vector dtype, else the scalar type."""
    n = dt.lanes(dtype)
    scalar = reg_type(dt.element(dtype))
    return scalar if n == 1 else ir.VectorType(scalar, n)


def splat(b: ir.IRBuilder, v: ir.Value, lanes: int) -> ir.Value:
    """``v`` in every one of ``lanes`` lanes (a vector is returned as it is)."""
    if isinstance(v.type, ir.VectorType):
        return v
    vec = ir.VectorType(v.type, lanes)
    one = b.insert_element(ir.Constant(vec, ir.Undefined), v, ir.Constant(I32, 0))
    zeros = ir.Constant(ir.VectorType(I32, lanes), [0] * lanes)
    return b.shuffle_vector(one, ir.Constant(vec, ir.Undefined), zeros)


def ramp(b: ir.IRBuilder, base: ir.Value, stride: int, lanes: int) -> ir.Value:
    """``[base, base + stride, ...]`` of integer scalar ``base`` (no lane overflows: ``nsw``)."""
    steps = ir.Constant(ir.VectorType(base.type, lanes), [k * stride for k in range(lanes)])
    return b.add(splat(b, base, lanes), steps, flags=("nsw",))


def build_vector(b: ir.IRBuilder, values: Sequence[ir.Value]) -> ir.Value:
    """The vector of scalar ``values``, one per lane, in order."""
    out = ir.Constant(ir.VectorType(values[0].type, len(values)), ir.Undefined)
    for k, v in enumerate(values):
        out = b.insert_element(out, v, ir.Constant(I32, k))
    return out


def lane(b: ir.IRBuilder, v: ir.Value, k: int) -> ir.Value:
    """Lane ``k`` of vector ``v``."""
    return b.extract_element(v, ir.Constant(I32, k))


def vector_pointer(b: ir.IRBuilder, ptr: ir.Value, ty: ir.VectorType) -> ir.Value:
    """``ptr`` as a pointer to ``ty`` (a no-op with opaque pointers)."""
    return ptr if not ptr.type.is_pointer or ptr.type.is_opaque else b.bitcast(ptr, ty.as_pointer())
