"""Sort keys: each value as an unsigned integer whose integer order is the sort order.

The CPU radix sort (:mod:`.radix_sort`) sorts these keys digit by digit and the GPU
bitonic sort (:mod:`.sorting_gpu`) compares them whole; both get one order from
here. A value of ``b`` bits has a ``uint<b>`` key (bool: ``uint8``):

- unsigned ints and bool: the value itself;
- signed ints: the sign bit flipped (-128 -> 0x00, -1 -> 0x7f, 0 -> 0x80 for int8);
- floats: positives' sign bit set, negatives' every bit flipped, so that the key
  grows with the value; both zeros are one key (they tie, so a stable sort keeps
  their input order, as NumPy does) and every NaN the largest key (last, in input
  order);
- ``descending`` complements the key: the order reverses, NaN comes first, and
  ties still keep their input order under a stable sort.

>>> from mlc.ir.expr import const
>>> sort_key(const(-1, "int8"), False).dtype
'uint8'
"""
from __future__ import annotations

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir.expr import PrimExpr, cast, const, isnan, reinterpret
from ..registry import TensorType

__all__ = ["check_sortable", "key_dtype", "sort_key", "float_value", "int_value"]


def check_sortable(op: str, x: TensorType) -> None:
    """Raise unless ``op`` can sort ``x`` along its last axis (an array of bool, ints, float32
    or float64 with at least one dimension)."""
    if x.ndim == 0:
        raise ShapeError(f"{op}: needs an array of at least 1 dimension, got a 0-d array; "
                         "reshape it to (1,) first")
    if x.dtype not in ("bool", "float32", "float64") and not dt.is_int(x.dtype):
        raise DTypeError(f"{op}: sorts bool, integer, float32 and float64 arrays, got {x.dtype}; "
                         "cast it first (float16 to float32 is exact)")


def key_dtype(dtype: str) -> str:
    """The dtype of the keys of ``dtype`` values: the unsigned int of their width."""
    return "uint8" if dtype == "bool" else f"uint{dt.bits(dtype)}"


def sort_key(x: PrimExpr, descending: bool) -> PrimExpr:
    """The unsigned key of value ``x`` whose integer order is the sort order."""
    kdt = key_dtype(x.dtype)
    bits = dt.bits(kdt)
    top = const(1 << (bits - 1), kdt)
    if x.dtype == "bool" or dt.is_unsigned(x.dtype):
        key = cast(x, kdt)
    elif dt.is_int(x.dtype):
        key = cast(x, kdt) ^ top
    else:
        # branch-free (a select of loads becomes a branch): all-ones masks from comparisons
        zero = const(0, kdt)
        u = reinterpret(x, kdt)
        u = u & (zero - cast(u != top, kdt))                      # -0.0 is 0.0
        key = u ^ ((zero - (u >> const(bits - 1, kdt))) | top)    # negatives: every bit flipped
        key = key | (zero - cast(isnan(x), kdt))                  # NaN: the largest key
    return ~key if descending else key


def float_value(key: PrimExpr, dtype: str, descending: bool) -> PrimExpr:
    """The float whose :func:`sort_key` is ``key``: the value itself, except that the key of
    both zeros gives 0.0 and the key of every NaN one NaN."""
    kdt = key.dtype
    top, zero, one = const(1 << (dt.bits(kdt) - 1), kdt), const(0, kdt), const(1, kdt)
    key = ~key if descending else key
    return reinterpret(key ^ ((zero - ((key >> const(dt.bits(kdt) - 1, kdt)) ^ one)) | top), dtype)


def int_value(key: PrimExpr, dtype: str, descending: bool) -> PrimExpr:
    """The int or bool of ``dtype`` whose :func:`sort_key` is ``key`` (a bijection for them)."""
    key = ~key if descending else key
    if dtype == "bool":
        return key != const(0, key.dtype)
    if dt.is_signed(dtype):
        key = key ^ const(1 << (dt.bits(dtype) - 1), key.dtype)
    return reinterpret(key, dtype)
