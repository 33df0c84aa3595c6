"""The Python Array API's data-type names, functions, constants and inspection namespace.

``mlc.numpy`` speaks the Array API standard (version ``__array_api_version__``):
its dtype objects are NumPy's (``mlc.numpy.float32 is numpy.float32``), since
eager results are NumPy arrays; type promotion is the op library's one rule
(:func:`mlc.ops.library.result_type`, NumPy 2's), so what ``result_type``
answers is what the ops compute in.

>>> import mlc.numpy as mnp
>>> mnp.result_type(mnp.int8, mnp.uint8), mnp.can_cast(mnp.int64, mnp.float64)
(dtype('int16'), True)
>>> mnp.isdtype(mnp.float32, ("integral", "real floating"))
True
>>> mnp.__array_namespace_info__().default_dtypes()["real floating"]
dtype('float64')
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import DTypeError
from ..ops.library import result_type as _promote
from ..tracer.tracer import Tracer
from .devices import devices, normalize

__all__ = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32",
    "float64", "complex64", "complex128", "e", "inf", "nan", "pi", "newaxis", "finfo", "iinfo",
    "can_cast", "isdtype", "result_type", "__array_api_version__", "__array_namespace_info__",
]

#: The version of the standard this namespace follows.
__array_api_version__ = "2024.12"

# The 13 dtype names.
bool = np.bool  # noqa: A001 - the standard's name
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, uint16, uint32, uint64 = np.uint8, np.uint16, np.uint32, np.uint64
float32, float64 = np.float32, np.float64
complex64, complex128 = np.complex64, np.complex128

e, inf, nan, pi = math.e, math.inf, math.nan, math.pi
newaxis = None

_SIGNED = ("int8", "int16", "int32", "int64")
_UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
_REAL_FLOATING = ("float16", "float32", "float64")
_COMPLEX = ("complex64", "complex128")

#: ``isdtype`` kinds -> the dtype names in each.
KINDS = {
    "bool": ("bool",),
    "signed integer": _SIGNED,
    "unsigned integer": _UNSIGNED,
    "integral": _SIGNED + _UNSIGNED,
    "real floating": _REAL_FLOATING,
    "complex floating": _COMPLEX,
    "numeric": _SIGNED + _UNSIGNED + _REAL_FLOATING + _COMPLEX,
}


def _dtype_name(value, function: str, argument: str) -> str:
    """The NumPy name of a dtype object (``mlc.numpy.float32``, ``np.dtype``, a name), or DTypeError."""
    if isinstance(value, (Tracer, np.ndarray)) or value is None:
        raise DTypeError(f"{function}: {argument} must be a dtype (e.g. mlc.numpy.float32), got "
                         f"{type(value).__name__}; pass x.dtype for an array x")
    try:
        return np.dtype(value).name
    except TypeError:
        raise DTypeError(f"{function}: {argument} must be a dtype (e.g. mlc.numpy.float32), got "
                         f"{value!r}") from None


def _array_or_dtype_name(value, function: str) -> str:
    if isinstance(value, (Tracer, np.ndarray, np.generic)):
        return np.dtype(value.dtype).name
    return _dtype_name(value, function, "each argument")


def isdtype(dtype, kind) -> bool:
    """Whether ``dtype`` is of ``kind``: a dtype, a kind name (``"integral"``, ``"real floating"``,
    ...) or a tuple of them (any matches)."""
    name = _dtype_name(dtype, "isdtype", "dtype")
    if isinstance(kind, tuple):
        return any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        if kind not in KINDS:
            raise DTypeError(f"isdtype: unknown kind {kind!r}; expected a dtype, one of "
                             f"{', '.join(map(repr, KINDS))}, or a tuple of them")
        return name in KINDS[kind]
    return name == _dtype_name(kind, "isdtype", "kind")


def result_type(*arrays_and_dtypes):
    """The dtype NumPy 2's promotion gives ``arrays_and_dtypes``; Python scalars are weak (NEP 50)."""
    typed = [a for a in arrays_and_dtypes if not isinstance(a, (int, float, complex))]
    scalars = [a for a in arrays_and_dtypes if isinstance(a, (int, float, complex))]
    if not typed:
        raise DTypeError("result_type: needs at least one array or dtype; Python scalars alone "
                         "have no dtype in the Array API")
    names = [_array_or_dtype_name(a, "result_type") for a in typed]
    out = _promote(*names, op="result_type")
    if scalars:
        out = np.result_type(np.dtype(out), *scalars).name
    return np.dtype(out)


def can_cast(from_, to) -> bool:
    """Whether promotion keeps values of ``from_`` (a dtype or an array) in ``to``: ``to`` is
    ``result_type(from_, to)``."""
    source = _array_or_dtype_name(from_, "can_cast")
    target = _dtype_name(to, "can_cast", "to")
    return _promote(source, target, op="can_cast") == target


@dataclasses.dataclass(frozen=True)
class finfo_object:  # noqa: N801 - the standard's name
    """Limits of a floating dtype, as Python numbers (what ``finfo`` returns)."""
    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: np.dtype


@dataclasses.dataclass(frozen=True)
class iinfo_object:  # noqa: N801 - the standard's name
    """Limits of an integer dtype, as Python ints (what ``iinfo`` returns)."""
    bits: int
    max: int
    min: int
    dtype: np.dtype


def finfo(type, /):  # noqa: A002 - the standard's name
    """Machine limits of a floating dtype or array (``bits``, ``eps``, ``max``, ``min``,
    ``smallest_normal`` as Python numbers; ``dtype``: the real dtype of the same precision)."""
    name = _array_or_dtype_name(type, "finfo")
    if name not in _REAL_FLOATING + _COMPLEX:
        raise DTypeError(f"finfo: needs a floating dtype, got {name}; use iinfo for integers")
    info = np.finfo(name)
    return finfo_object(int(info.bits), float(info.eps), float(info.max), float(info.min),
                        float(info.smallest_normal), np.dtype(info.dtype))


def iinfo(type, /):  # noqa: A002 - the standard's name
    """Machine limits of an integer dtype or array (``bits``, ``max``, ``min`` as Python ints)."""
    name = _array_or_dtype_name(type, "iinfo")
    if name not in _SIGNED + _UNSIGNED:
        raise DTypeError(f"iinfo: needs an integer dtype, got {name}; use finfo for floats")
    info = np.iinfo(name)
    return iinfo_object(int(info.bits), int(info.max), int(info.min), np.dtype(name))


class ArrayNamespaceInfo:
    """What ``mlc.numpy`` supports, as the standard's inspection API reports it."""

    __module__ = "mlc.numpy"

    def capabilities(self) -> dict:
        # Output shapes that depend on values (nonzero, unique_*) are eager-only; boolean-mask
        # indexing is not supported; max_dimensions is unbounded.
        return {"boolean indexing": False, "data-dependent shapes": False, "max dimensions": None}

    def default_device(self) -> str:
        return "cpu"

    def devices(self) -> list[str]:
        return devices()

    def _check_device(self, device) -> None:
        normalize("__array_namespace_info__()", device)

    def default_dtypes(self, *, device=None) -> dict:
        self._check_device(device)
        return {"real floating": np.dtype("float64"), "complex floating": np.dtype("complex128"),
                "integral": np.dtype("int64"), "indexing": np.dtype("int64")}

    def dtypes(self, *, device=None, kind=None) -> dict:
        self._check_device(device)
        names = ("bool",) + _SIGNED + _UNSIGNED + ("float32", "float64") + _COMPLEX
        if kind is not None:
            names = tuple(n for n in names if isdtype(np.dtype(n), kind))
        return {n: np.dtype(n) for n in names}


def __array_namespace_info__() -> ArrayNamespaceInfo:
    """The inspection namespace: capabilities, default device and dtypes, devices."""
    return ArrayNamespaceInfo()

