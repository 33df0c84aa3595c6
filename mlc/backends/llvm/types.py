"""How mlc dtypes look in LLVM: register types, memory types and constants.

bool is ``i1`` in registers and ``i8`` in memory (a NumPy bool is one byte);
float16 is ``half`` in memory and registers, and computed in ``float``
(NumPy's float16 arithmetic: each operation in float32, rounded to half);
complex64 is ``{float, float}`` (real, imaginary) in memory and registers,
complex128 ``{double, double}``.
"""
from __future__ import annotations

import struct
import warnings

import numpy as np
from llvmlite import ir

from ...ir import dtype as dt

__all__ = ["reg_type", "mem_type", "compute_dtype", "constant", "int_constant", "signed", "I1", "I8", "I32",
           "I64", "PTR", "itemsize", "alignment"]

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()

_FLOAT32 = struct.Struct("<f")
_FLOATS = {"float16": ir.HalfType(), "float32": ir.FloatType(), "float64": ir.DoubleType()}


def reg_type(dtype: str) -> ir.Type:
    """The LLVM type of a value of ``dtype`` in a register."""
    if dtype in _FLOATS:
        return _FLOATS[dtype]
    if dt.is_complex(dtype):
        part = _FLOATS[dt.component(dtype)]
        return ir.LiteralStructType([part, part])
    return ir.IntType(dt.bits(dtype))


def mem_type(dtype: str) -> ir.Type:
    """The LLVM type of one element of a ``dtype`` buffer in memory."""
    return I8 if dtype == "bool" else reg_type(dtype)


def itemsize(dtype: str) -> int:
    return np.dtype(dtype).itemsize


def alignment(dtype: str) -> int:
    """The alignment NumPy guarantees for a ``dtype`` element (a complex one: its part's)."""
    return np.dtype(dtype).alignment


def compute_dtype(dtype: str) -> str:
    """The dtype arithmetic on ``dtype`` is carried out in (float16 -> float32)."""
    return "float32" if dtype == "float16" else dtype


def constant(dtype: str, value) -> ir.Constant:
    """An LLVM constant equal to NumPy's ``np.asarray(value).astype(dtype)``."""
    if dt.is_complex(dtype):
        value = complex(value)
        part = dt.component(dtype)
        return ir.Constant(reg_type(dtype), [constant(part, value.real), constant(part, value.imag)])
    if dt.is_float(dtype):
        return ir.Constant(reg_type(dtype), _rounded(dtype, value))
    if dtype == "bool":
        return ir.Constant(I1, int(bool(value)))
    bits = dt.bits(dtype)
    return ir.Constant(ir.IntType(bits), signed(int(value), bits))  # LLVM prints them signed


def _rounded(dtype: str, value) -> float:
    """``value`` rounded to the float ``dtype`` as NumPy rounds it (through float64), as a
    Python float: ``_rounded("float32", 0.1) == 0.10000000149011612``.

    float64 and an in-range float32 are converted by Python itself (``struct`` rounds a
    double to a float as a C cast does); the rest, float16 and a float32 out of range (which
    NumPy makes an infinity), by NumPy."""
    if dtype == "float64":
        return float(value)
    if dtype == "float32":
        try:
            return _FLOAT32.unpack(_FLOAT32.pack(float(value)))[0]
        except OverflowError:
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # out-of-range -> inf, as NumPy does
        return float(np.array(value, dtype="float64").astype(dtype))


def signed(value: int, width: int) -> int:
    """``value`` wrapped to a ``width``-bit two's complement integer, read as signed."""
    half = 1 << (width - 1)
    return (value + half) % (2 * half) - half


def int_constant(v: ir.Value, is_signed: bool = True) -> int | None:
    """The integer constant ``v`` holds, read as a signed (or unsigned) integer of its width;
    None for anything else (an instruction, a float or vector constant)."""
    if not (isinstance(v, ir.Constant) and isinstance(v.type, ir.IntType) and isinstance(v.constant, int)):
        return None
    width = v.type.width
    return signed(v.constant, width) if is_signed else v.constant & ((1 << width) - 1)
