"""The C text of mlc's dtypes and constants in CUDA C: each dtype's C type, integer and
float literals that mean the value exactly (the most negative ints, NaN and infinities by
their bits), and float-to-int conversions with NumPy's results.

>>> int_literal(-(1 << 31), "int32"), float_literal(float("inf"), "float32")
('(-2147483647 - 1)', '__int_as_float(0x7f800000)')
"""
from __future__ import annotations

import math
import struct

import numpy as np

from ...errors import CompileError
from ...ir import dtype as dt
from . import complex as complex_c

__all__ = ["C_TYPES", "ctype", "int_literal", "float_literal", "float_to_int"]

C_TYPES = {
    "bool": "bool", "int8": "signed char", "uint8": "unsigned char", "int16": "short",
    "uint16": "unsigned short", "int32": "int", "uint32": "unsigned int", "int64": "long long",
    "uint64": "unsigned long long", "float16": "half", "float32": "float", "float64": "double",
    **complex_c.C_TYPES,
}


def ctype(dtype: str) -> str:
    t = C_TYPES.get(dtype)
    if t is None:
        raise CompileError(f"cuda codegen: dtype {dtype} has no CUDA C type here")
    return t


def int_literal(value: int, dtype: str) -> str:
    if dtype == "bool":
        return "true" if value else "false"
    if dtype in ("int64",):
        return f"{value}ll" if value != -(1 << 63) else "(-9223372036854775807ll - 1)"
    if dtype == "uint64":
        return f"{value}ull"
    if dtype.startswith("uint"):
        return f"{value}u"
    if dtype == "int32" and value == -(1 << 31):
        return "(-2147483647 - 1)"
    if dtype in ("int8", "int16", "uint8", "uint16"):
        return f"(({ctype(dtype)}){value})"
    return str(value)


def float_literal(value: float, dtype: str) -> str:
    if dtype == "float64":
        if math.isfinite(value):
            return repr(float(value))
        bits = struct.unpack("<q", struct.pack("<d", value))[0]
        return f"__longlong_as_double({bits}ll)"
    v32 = float(np.float32(value))
    if math.isfinite(v32):
        text = f"{v32!r}f" if "e" in repr(v32) or "." in repr(v32) else f"{v32!r}.0f"
    else:
        bits = struct.unpack("<I", struct.pack("<f", v32))[0]
        text = f"__int_as_float({bits:#x})"
    return f"((half)({text}))" if dtype == "float16" else text


def float_to_int(value: str, src: str, dst: str) -> str:
    """C for float ``value`` converted to the int type ``dst`` as NumPy converts on x86, also
    where it does not fit (the GPU's own conversions saturate instead: -1.0 as uint8 would be
    0, NumPy's is 255): signed types and uint8/uint16 through a 32-bit truncation (int64 and
    float16 to uint32: 64-bit) whose low bits are kept, NaN and out-of-range values giving the
    lowest int of that width; uint32 and uint64 shifted down by half their range from there on.
    The same rules as the LLVM backend's, so every backend gives NumPy's bits."""
    if src == "float16":
        value = f"__half2float({value})"
    bits = dt.bits(dst)
    if dt.is_signed(dst) or bits < 32 or (src == "float16" and dst == "uint32"):
        through64 = bits == 64 or dst == "uint32"
        return f"mlc_trunc{64 if through64 else 32}({value})"
    return f"mlc_f2u{bits}({value})"
