"""Random numbers: Threefry-2x32-20 of a key at each element's index (``mlc.random``'s ops).

A key is a uint32 array of shape (2,). Element ``i`` (row-major) of a draw of
``shape`` is computed from the Threefry block of the key at the counter
``(i, stream)`` alone: the array is a pure function of the key and the index,
so any schedule, tiling, thread or backend computes the same numbers, and a
fused kernel computes them where they are used (no array of bits in memory).
``stream`` separates the uses of one key (:data:`DRAW_STREAM`,
:data:`SPLIT_STREAM`, ...).

- ``random.bits(key; shape, dtype, stream)``: the block's first word (uint32) or both
  (uint64, ``x0 << 32 | x1``);
- ``random.unit(key; shape, dtype, stream, interval)``: uniform floats in [0, 1), (0, 1)
  or (-1, 1) from the block's top bits, exactly (:mod:`._random_math`);
- ``random.gamma(key, a; stream)``: Gamma(a, 1) numbers shaped like ``a`` (Marsaglia and
  Tsang's method: a hand-written PrimFunc whose attempts stop at the first accepted one);
- ``random.threefry2x32(key, counters)``: the bare block of each counter pair (the last
  axis, of length 2): what keys are split and folded with, and what Random123's known
  answers test.

The formulas are written once for te and NumPy (:mod:`._random_math`): the lowering
and the reference take the same steps.

>>> import numpy as np
>>> from mlc.ops import get_op
>>> key = np.array([0x13198A2E, 0x03707344], "uint32")
>>> [hex(v) for v in get_op("random.threefry2x32").reference(key, np.array([0x243F6A88, 0x85A308D3], "uint32"))]
['0xc4923a9c', '0x483df7a0']
>>> get_op("random.bits").reference(np.zeros(2, "uint32"), shape=(3,))
array([1797259609, 1351547692, 1688610540], dtype=uint32)
"""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import expr as _e
from ...ir import te
from ...ir.buffer import decl_buffer
from ...ir.tir import BufferStore, seq
from ...ir.threefry import threefry2x32, threefry2x32_packed
from ..registry import TensorType, register_op
from ._common import canonical_dtype, check_int_attr, hand_written_func, shape_size
from ._kernel import Scalar, batched, loop, when
from ._random_math import (INTERVALS, NUMPY, SIGNIFICAND, TE, gamma_attempt, gamma_boost, gamma_setup,
                           standard_gamma, standard_normal, unit)

__all__ = ["BITS_DTYPES", "MAX_STREAM", "DRAW_STREAM", "SPLIT_STREAM", "FOLD_STREAM", "GAMMA_STREAM",
           "GAMMA_ATTEMPTS"]

#: The dtypes of random.bits: the block's first word, or both.
BITS_DTYPES = ("uint32", "uint64")
#: Streams are the counter's second word.
MAX_STREAM = 2**32 - 1
#: The streams of one key: its draws, its split keys, its folded keys, and gamma's attempts
#: (``2 * GAMMA_ATTEMPTS + 1`` streams from ``GAMMA_STREAM`` on). No two uses share a counter.
DRAW_STREAM, SPLIT_STREAM, FOLD_STREAM, GAMMA_STREAM = 0, 1, 2, 3
#: Marsaglia-Tsang attempts per gamma number, side by side (each accepts with probability at
#: least 0.95: all fail with probability below 0.049^10 < 1e-13, and the last candidate is kept).
GAMMA_ATTEMPTS = 10


def _check_key(op: str, key: TensorType) -> None:
    if key.dtype != "uint32" or tuple(key.shape) != (2,):
        raise (DTypeError if key.dtype != "uint32" else ShapeError)(
            f"{op}: the key must be a uint32 array of shape (2,), got {key.dtype}{list(key.shape)}; "
            "make one with mlc.random.key(seed)")


def _check_shape(op: str, shape) -> tuple[int, ...]:
    if not isinstance(shape, tuple):
        raise ShapeError(f"{op}: shape must be a tuple of ints, got {shape!r}")
    return tuple(check_int_attr(op, "shape", d, minimum=0) for d in shape)


def _check_stream(op: str, stream, span: int = 1) -> int:
    stream = check_int_attr(op, "stream", stream, minimum=0)
    if stream + span - 1 > MAX_STREAM:
        raise ShapeError(f"{op}: stream must fit 32 bits, got {stream}")
    return stream


def _flat_index(shape, idx) -> _e.PrimExpr:
    """The row-major index of element ``idx`` of ``shape``, as uint32."""
    flat = _e.const(0, "int32")
    for extent, i in zip(shape, idx):
        flat = flat * extent + i
    return _e.cast(flat, "uint32")


def _te_block(key, shape, idx, stream: int) -> _e.PrimExpr:
    """The packed Threefry block of element ``idx`` of ``shape`` on ``stream``."""
    return _e.threefry2x32(key[0], key[1], _flat_index(shape, idx), _e.const(stream, "uint32"))


def _np_blocks(key, shape, stream: int) -> np.ndarray:
    """The packed Threefry blocks of every element of ``shape`` on ``stream`` (NumPy)."""
    key = np.asarray(key, "uint32")
    counters = np.arange(shape_size(shape), dtype="uint32").reshape(shape)
    return np.asarray(threefry2x32_packed(key[0], key[1], counters, np.uint32(stream)), "uint64").reshape(shape)


# ------------------------------------------------------------------ random.bits

def _bits_attrs(shape, dtype, stream) -> tuple[tuple[int, ...], str, int]:
    shape = _check_shape("random.bits", shape)
    dtype = canonical_dtype("random.bits", dtype)
    if dtype not in BITS_DTYPES:
        raise DTypeError(f"random.bits: dtype must be one of {', '.join(BITS_DTYPES)}, got {dtype}; "
                         "take fewer bits from these with >> and astype")
    return shape, dtype, _check_stream("random.bits", stream)


def _bits_infer(key: TensorType, *, shape, dtype="uint32", stream=DRAW_STREAM) -> TensorType:
    _check_key("random.bits", key)
    shape, dtype, _ = _bits_attrs(shape, dtype, stream)
    return TensorType(shape, dtype)


def _bits_lower(key, *, shape, dtype="uint32", stream=DRAW_STREAM):
    shape, dtype, stream = _bits_attrs(shape, dtype, stream)

    def element(*idx):
        block = _te_block(key, shape, idx, stream)
        return block if dtype == "uint64" else _e.cast(block >> _e.const(32, "uint64"), "uint32")

    return te.compute(shape, element, name="T_random_bits")


def _bits_reference(key, *, shape, dtype="uint32", stream=DRAW_STREAM):
    shape, dtype, stream = _bits_attrs(shape, dtype, stream)
    block = _np_blocks(key, shape, stream)
    return block if dtype == "uint64" else (block >> np.uint64(32)).astype("uint32")


register_op("random.bits", pattern="broadcast", infer=_bits_infer, lower=_bits_lower,
            reference=_bits_reference,
            doc="Random bits of ``shape``: Threefry-2x32-20 of ``key`` at counter (element index, "
                "``stream``); uint32 is the block's first word, uint64 both.")


# ------------------------------------------------------------------ random.unit

def _unit_attrs(shape, dtype, stream, interval) -> tuple[tuple[int, ...], str, int, str]:
    shape = _check_shape("random.unit", shape)
    dtype = canonical_dtype("random.unit", dtype)
    if dtype not in SIGNIFICAND:
        raise DTypeError(f"random.unit: dtype must be float32 or float64, got {dtype} (float16 numbers "
                         "are float32 ones rounded)")
    if interval not in INTERVALS:
        raise ShapeError(f"random.unit: interval must be one of {', '.join(map(repr, INTERVALS))}, got {interval!r}")
    return shape, dtype, _check_stream("random.unit", stream), interval


def _unit_infer(key: TensorType, *, shape, dtype="float32", stream=DRAW_STREAM, interval="[0, 1)") -> TensorType:
    _check_key("random.unit", key)
    shape, dtype, _, _ = _unit_attrs(shape, dtype, stream, interval)
    return TensorType(shape, dtype)


def _unit_lower(key, *, shape, dtype="float32", stream=DRAW_STREAM, interval="[0, 1)"):
    shape, dtype, stream, interval = _unit_attrs(shape, dtype, stream, interval)
    return te.compute(shape, lambda *idx: unit(TE, _te_block(key, shape, idx, stream), dtype, interval),
                      name="T_random_unit")


def _unit_reference(key, *, shape, dtype="float32", stream=DRAW_STREAM, interval="[0, 1)"):
    shape, dtype, stream, interval = _unit_attrs(shape, dtype, stream, interval)
    return np.asarray(unit(NUMPY, _np_blocks(key, shape, stream), dtype, interval), dtype)


register_op("random.unit", pattern="broadcast", infer=_unit_infer, lower=_unit_lower, reference=_unit_reference,
            doc="Uniform floats of ``shape`` in ``interval`` ('[0, 1)', '(0, 1)' or '(-1, 1)'), each "
                "exact, from the top bits of random.bits' block.")


# ------------------------------------------------------------------ random.gamma

def _gamma_infer(key: TensorType, a: TensorType, *, stream=GAMMA_STREAM) -> TensorType:
    _check_key("random.gamma", key)
    if a.dtype not in SIGNIFICAND:
        raise DTypeError(f"random.gamma: the shape parameter a must be float32 or float64, got {a.dtype}")
    _check_stream("random.gamma", stream, 2 * GAMMA_ATTEMPTS + 1)
    return TensorType(a.shape, a.dtype)


def _gamma_func(key: TensorType, a: TensorType, *, stream=GAMMA_STREAM):
    """The PrimFunc ``(key, a, out)``: per element, the attempts one after another until one
    is accepted (on average about one), then the boost for ``a < 1``."""
    stream = _check_stream("random.gamma", stream, 2 * GAMMA_ATTEMPTS + 1)
    f, shape = a.dtype, tuple(a.shape)
    KEY, A, OUT = decl_buffer((2,), "uint32", "key"), decl_buffer(shape, f, "a"), decl_buffer(shape, f, "out")
    d, c, x, done = Scalar("d", f), Scalar("c", f), Scalar("x", f), Scalar("done", "bool")

    def block(idx, s):
        flat = _flat_index(shape, idx)
        return _e.threefry2x32(KEY[0], KEY[1], flat, _e.cast(s, "uint32") + _e.const(stream, "uint32"))

    def element(idx):
        boost, d0, c0 = gamma_setup(TE, A[idx], f)

        def attempt(k):
            accept, candidate = gamma_attempt(TE, x.get(), unit(TE, block(idx, 2 * k + 1), f, "[0, 1)"),
                                              d.get(), c.get(), f)
            return when(_e.logical_not(done.get()), seq(
                x.set(standard_normal(TE, block(idx, 2 * k), f)), BufferStore(OUT, candidate, idx),
                when(accept, done.set(True))))
        w = unit(TE, block(idx, 2 * GAMMA_ATTEMPTS), f, "[0, 1)")
        return seq(d.set(d0), c.set(c0), done.set(False), loop("k", 0, GAMMA_ATTEMPTS, attempt),
                   BufferStore(OUT, gamma_boost(TE, OUT[idx], w, boost, A[idx]), idx))

    return hand_written_func((KEY, A, OUT), batched(shape, element), (d.buffer, c.buffer, x.buffer, done.buffer))


def _gamma_reference(key, a, *, stream=GAMMA_STREAM):
    stream = _check_stream("random.gamma", stream, 2 * GAMMA_ATTEMPTS + 1)
    a = np.asarray(a)
    with np.errstate(all="ignore"):
        out = standard_gamma(NUMPY, a, lambda s: _np_blocks(key, a.shape, stream + s), a.dtype.name, GAMMA_ATTEMPTS)
    return np.asarray(out, a.dtype)


register_op("random.gamma", pattern="opaque", infer=_gamma_infer, lower=None, prim_func=_gamma_func,
            reference=_gamma_reference,
            doc="Gamma(a, 1) numbers shaped like ``a`` (Marsaglia and Tsang, GAMMA_ATTEMPTS attempts side by "
                "side on streams from ``stream`` on; a < 1 boosted).")


# ------------------------------------------------------------------ random.threefry2x32

def _threefry_infer(key: TensorType, counters: TensorType) -> TensorType:
    _check_key("random.threefry2x32", key)
    if counters.dtype != "uint32" or not counters.shape or counters.shape[-1] != 2:
        raise (DTypeError if counters.dtype != "uint32" else ShapeError)(
            f"random.threefry2x32: counters must be uint32 pairs (a last axis of 2), got "
            f"{counters.dtype}{list(counters.shape)}")
    return TensorType(counters.shape, "uint32")


def _threefry_lower(key, counters):
    def element(*idx):
        *lead, word = idx
        block = _e.threefry2x32(key[0], key[1], counters[(*lead, 0)], counters[(*lead, 1)])
        shift = _e.cast(_e.const(1, "int32") - word, "uint64") * _e.const(32, "uint64")
        return _e.cast(block >> shift, "uint32")

    return te.compute(counters.shape, element, name="T_threefry2x32")


def _threefry_reference(key, counters):
    key, counters = np.asarray(key, "uint32"), np.asarray(counters, "uint32")
    x0, x1 = threefry2x32(key[0], key[1], counters[..., 0], counters[..., 1])
    return np.stack([x0, x1], axis=-1)


register_op("random.threefry2x32", pattern="injective", infer=_threefry_infer, lower=_threefry_lower,
            reference=_threefry_reference,
            doc="The Threefry-2x32-20 block of ``key`` at each counter pair (the last axis): "
                "Random123's bijection, what keys are split and folded with.")
