"""Bits packed into bytes and back: ``packbits`` and ``unpackbits``, as shifts, masks and sums
along the packed axis (its length padded to a multiple of 8 with zeros, as NumPy's is).

>>> import numpy as np, mlc
>>> mlc.jit(lambda x: np.unpackbits(np.packbits(x > 0)))(np.array([1.0, -1.0, 2.0]))
array([1, 0, 1, 0, 0, 0, 0, 0], dtype=uint8)
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ._api import numpy_function
from .reductions import sum as _sum
from .shapes import moveaxis, pad, reshape

__all__ = ["packbits", "unpackbits"]


def _where() -> str:
    return describe_location(user_location())


def _weights(bitorder: str) -> np.ndarray:
    if bitorder not in ("big", "little"):
        raise TraceError(f"np.packbits: bitorder must be 'big' or 'little', got {bitorder!r}{_where()}")
    powers = 1 << np.arange(8, dtype=np.uint8)
    return powers[::-1].copy() if bitorder == "big" else powers


def _last(t, axis):
    """(``t`` with the packed axis last (flattened when ``axis`` is None), that axis)."""
    if axis is None:
        return reshape(t, (-1,)), None
    axis = normalize_axis("np.packbits", axis, t.ndim)
    return moveaxis(t, axis, -1), axis


@numpy_function("a")
def packbits(a, /, axis=None, bitorder="big"):
    """``np.packbits``: each 8 elements along ``axis`` (nonzero: a 1 bit) as one uint8."""
    t = as_tracer(a)
    if t.dtype.kind not in "biu":
        raise TraceError(f"np.packbits: expected an input array of integer or boolean data type, got "
                         f"{t.dtype}{_where()}")
    weights = _weights(bitorder)
    moved, axis = _last(t if t.ndim else reshape(t, (1,)), axis)
    n = moved.shape[-1]
    padded = -n % 8
    bits = (moved != 0).astype("uint8")
    if padded:
        bits = pad(bits, ((0, 0),) * (bits.ndim - 1) + ((0, padded),))
    groups = reshape(bits, tuple(bits.shape[:-1]) + ((n + padded) // 8, 8))
    packed = _sum(groups * weights, axis=-1, dtype="uint8")
    return packed if axis is None else moveaxis(packed, -1, axis)


@numpy_function("a")
def unpackbits(a, /, axis=None, count=None, bitorder="big"):
    """``np.unpackbits``: the 8 bits of each uint8 along ``axis`` as uint8 0s and 1s; ``count``
    keeps that many (negative: drops that many from the end; more than there are: zeros)."""
    t = as_tracer(a)
    if t.dtype != np.uint8:
        raise TraceError(f"np.unpackbits: expected an input array of unsigned byte data type, got "
                         f"{t.dtype}{_where()}")
    weights = _weights(bitorder)
    moved, axis = _last(t if t.ndim else reshape(t, (1,)), axis)
    bits = (reshape(moved, tuple(moved.shape) + (1,)) & weights) != 0
    bits = reshape(bits.astype("uint8"), tuple(moved.shape[:-1]) + (moved.shape[-1] * 8,))
    if count is not None:
        total = bits.shape[-1]
        keep = total + count if count < 0 else count
        if keep < 0:
            raise ShapeError(f"np.unpackbits: -count ({-count}) must not exceed the number of bits ({total})"
                             f"{_where()}")
        bits = bits[..., :keep] if keep <= total else pad(bits, ((0, 0),) * (bits.ndim - 1) + ((0, keep - total),))
    return bits if axis is None else moveaxis(bits, -1, axis)
