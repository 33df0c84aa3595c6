"""Scalar semantics of the IR on NumPy values (docs/ir-semantics.md, "Scalars").

Every function here takes NumPy scalars or arrays whose dtype is the node's
dtype and returns values of the result dtype, so float32 math rounds like
float32 and integers wrap around. Callers run inside ``np.errstate(all="ignore")``.

>>> import numpy as np
>>> cast(np.array([1.5 + 2j]), "float32"), poison("int8"), identity(np.minimum, "float32")
(array([1.5], dtype=float32), 127, np.float32(inf))
"""
from __future__ import annotations

import numpy as np

from ...errors import MLCError
from ...ir.expr import REINTERPRET
from ...ir.ops import BINARY_OPS, MATH_CALLS

__all__ = ["call", "cast", "poison", "REDUCTIONS", "identity"]


def call(op: str, args: list, dtype: str):
    """The math intrinsic ``op(*args)`` (:data:`mlc.ir.ops.MATH_CALLS`); ``dtype`` is the
    Call node's result dtype."""
    if op == REINTERPRET:
        return np.asarray(args[0]).view(dtype)[()] if np.ndim(args[0]) == 0 else args[0].view(dtype)
    spec = MATH_CALLS.get(op)
    if spec is None:
        raise MLCError(f"reference interpreter: unknown math op {op!r}")
    return spec.numpy(*args)


def cast(value, dtype: str):
    """``value.astype(dtype)`` for NumPy scalars and arrays alike. A complex value cast to a
    real dtype keeps its real part, as ``astype`` does, without NumPy's ComplexWarning (the
    IR defines the cast; to bool it is ``x != 0``, either part)."""
    if value.dtype == dtype:
        return value
    if value.dtype.kind == "c" and np.dtype(dtype).kind not in "cb":
        value = value.real
    return value.astype(dtype)


def poison(dtype: str):
    """The value fresh allocations are filled with, so reads before writes show up."""
    dt = np.dtype(dtype)
    if dt.kind in "fc":
        return dt.type(complex(np.nan, np.nan) if dt.kind == "c" else np.nan)
    if dt.kind == "b":
        return np.True_
    return np.iinfo(dt).max


#: Binary ops a reduction update may combine with: op -> ufunc.
REDUCTIONS = {name: BINARY_OPS[name].numpy for name in ("add", "mul", "min", "max")}


def identity(ufunc, dtype: str):
    """The neutral element of ``ufunc`` (one of REDUCTIONS) in ``dtype``."""
    dt = np.dtype(dtype)
    if ufunc is np.add:
        return dt.type(0)
    if ufunc is np.multiply:
        return dt.type(1)
    if dt.kind == "f":
        return dt.type(np.inf if ufunc is np.minimum else -np.inf)
    if dt.kind == "b":
        return np.bool_(ufunc is np.minimum)
    info = np.iinfo(dt)
    return dt.type(info.max if ufunc is np.minimum else info.min)
