"""dtypes are NumPy names: "float32", "int64", "bool", "float16", ...

This module is the one place that knows what a dtype name means: its kind,
its width, and how two dtypes promote (NumPy 2 rules, NEP 50 for Python
scalars, which adapt to the typed operand).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import DTypeError

__all__ = [
    "SUPPORTED", "FLOATS", "INTS", "canonical", "is_float", "is_int", "is_signed",
    "is_unsigned", "is_bool", "bits", "promote", "scalar_dtype", "INDEX",
    "vector", "lanes", "element", "is_vector", "COMPLEX", "is_complex", "is_inexact", "component",
    "complex_of",
]

FLOATS = ("float16", "float32", "float64")
SIGNED = ("int8", "int16", "int32", "int64")
UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
INTS = SIGNED + UNSIGNED
#: Complex dtypes: two floats (real, imaginary), interleaved in memory as NumPy stores them.
COMPLEX = ("complex64", "complex128")
SUPPORTED = ("bool",) + INTS + FLOATS + COMPLEX
_SUPPORTED_SET = frozenset(SUPPORTED)

#: dtype of loop and block iteration variables.
INDEX = "int32"


def canonical(dtype) -> str:
    """Return the NumPy name of ``dtype`` (a string, NumPy dtype or type).

    >>> canonical(np.float32), canonical("float")
    ('float32', 'float64')
    """
    if type(dtype) is str and dtype in _SUPPORTED_SET:  # the common case, already canonical
        return dtype
    try:
        name = np.dtype(dtype).name
    except TypeError as err:
        raise DTypeError(f"{dtype!r} is not a dtype; expected one of {', '.join(SUPPORTED)}") from err
    if name not in SUPPORTED:
        raise DTypeError(f"dtype {name!r} is not supported; expected one of {', '.join(SUPPORTED)}")
    return name


def vector(dtype: str, lanes: int) -> str:
    """The dtype of ``lanes`` values of scalar ``dtype``, as TVM spells it: ``"float32x16"``
    (``dtype`` itself for one lane).

    >>> vector("float32", 16), lanes("float32x16"), element("float32x16"), lanes("int32")
    ('float32x16', 16, 'float32', 1)
    >>> lanes("complex64"), element("complex64x4")
    (1, 'complex64')
    """
    return dtype if lanes == 1 else f"{element(dtype)}x{lanes}"


@lru_cache(maxsize=1024)
def lanes(dtype: str) -> int:
    """How many lanes a value of ``dtype`` has (1 for a scalar dtype); each dtype's worked out
    once, as every index of an interpreted or emulated access asks."""
    head, sep, count = dtype.rpartition("x")
    return int(count) if sep and count.isdigit() and head in _SUPPORTED_SET else 1


def element(dtype: str) -> str:
    """The scalar dtype of one lane of ``dtype`` (``dtype`` itself when it is scalar)."""
    head, sep, count = dtype.rpartition("x")
    return head if sep and count.isdigit() and head in _SUPPORTED_SET else dtype


def is_vector(dtype: str) -> bool:
    return lanes(dtype) > 1


def is_float(dtype: str) -> bool:
    return dtype in FLOATS


def is_complex(dtype: str) -> bool:
    return dtype in COMPLEX


def is_inexact(dtype: str) -> bool:
    """A float or complex dtype (NumPy's ``np.inexact``: true division's results)."""
    return dtype in FLOATS or dtype in COMPLEX


_COMPONENT = {"complex64": "float32", "complex128": "float64"}
_COMPLEX_OF = {"float16": "complex64", "float32": "complex64", "float64": "complex128"}


def component(dtype: str) -> str:
    """The float dtype of each part of a complex ``dtype`` (``dtype`` itself otherwise).

    >>> component("complex64"), component("complex128"), component("int8")
    ('float32', 'float64', 'int8')
    """
    return _COMPONENT.get(dtype, dtype)


def complex_of(dtype: str) -> str:
    """The complex dtype whose parts are float ``dtype`` (NumPy's promotion of the float
    with a complex: float16 and float32 -> complex64).

    >>> complex_of("float64"), complex_of("complex64")
    ('complex128', 'complex64')
    """
    if dtype in COMPLEX:
        return dtype
    if dtype not in _COMPLEX_OF:
        raise DTypeError(f"{dtype} has no complex counterpart; expected a float dtype")
    return _COMPLEX_OF[dtype]


def is_int(dtype: str) -> bool:
    return dtype in INTS


def is_signed(dtype: str) -> bool:
    return dtype in SIGNED


def is_unsigned(dtype: str) -> bool:
    return dtype in UNSIGNED


def is_bool(dtype: str) -> bool:
    return dtype == "bool"


def bits(dtype: str) -> int:
    return 1 if dtype == "bool" else np.dtype(dtype).itemsize * 8


def promote(a: str, b: str) -> str:
    """NumPy's result dtype for two typed operands."""
    return canonical(np.promote_types(a, b))


def scalar_dtype(value, other: str | None = None) -> str:
    """The dtype a Python scalar takes next to an operand of dtype ``other``.

    NEP 50: a Python int adopts an integer or float partner's dtype, a Python
    float adopts a float partner's dtype and is float64 next to integers.
    """
    if isinstance(value, (bool, np.bool_)):
        return "bool" if other is None or other == "bool" else other
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.integer):
        if other is None or other == "bool":
            return "int64" if not -(2**31) <= value < 2**31 else INDEX
        return other
    if isinstance(value, float):
        return other if other is not None and is_inexact(other) else "float64"
    if isinstance(value, complex):
        return complex_of(other) if other is not None and is_inexact(other) else "complex128"
    if isinstance(value, (np.generic,)):
        return canonical(value.dtype)
    raise DTypeError(f"{value!r} of type {type(value).__name__} is not a scalar")
