"""dtypes are NumPy names: "float32", "int64", "bool", "float16", ...

This module is the one place that knows what a dtype name means: its kind,
its width, and how two dtypes promote (NumPy 2 rules, NEP 50 for Python
scalars, which adapt to the typed operand).
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError

__all__ = [
    "SUPPORTED", "FLOATS", "INTS", "canonical", "is_float", "is_int", "is_signed",
    "is_unsigned", "is_bool", "bits", "promote", "scalar_dtype", "INDEX",
    "vector", "lanes", "element", "is_vector",
]

FLOATS = ("float16", "float32", "float64")
SIGNED = ("int8", "int16", "int32", "int64")
UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
INTS = SIGNED + UNSIGNED
SUPPORTED = ("bool",) + INTS + FLOATS
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
    """
    return dtype if lanes == 1 else f"{element(dtype)}x{lanes}"


def lanes(dtype: str) -> int:
    """How many lanes a value of ``dtype`` has (1 for a scalar dtype)."""
    _, sep, count = dtype.rpartition("x")
    return int(count) if sep and count.isdigit() else 1


def element(dtype: str) -> str:
    """The scalar dtype of one lane of ``dtype`` (``dtype`` itself when it is scalar)."""
    head, sep, count = dtype.rpartition("x")
    return head if sep and count.isdigit() else dtype


def is_vector(dtype: str) -> bool:
    return lanes(dtype) > 1


def is_float(dtype: str) -> bool:
    return dtype in FLOATS


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
        return other if other is not None and is_float(other) else "float64"
    if isinstance(value, (np.generic,)):
        return canonical(value.dtype)
    raise DTypeError(f"{value!r} of type {type(value).__name__} is not a scalar")
