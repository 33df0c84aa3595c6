"""Where an array's data lies: its first element's address and the byte range it spans.

``data_pointer`` reads the ``data`` field of NumPy's PyArrayObject directly
(what ``PyArray_DATA`` reads), about 10x faster than ``array.ctypes.data``;
it is checked against ``ctypes.data`` once at import and falls back to it.

>>> import numpy as np
>>> a = np.arange(6, dtype="int32")
>>> data_pointer(a[2:]) - data_pointer(a)
8
>>> overlapping_pair([a[:3], a[3:], a[2:4]])
(0, 2)
"""
from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["data_pointer", "overlapping_pair", "ARRAY_DATA_OFFSET", "ArrayLayout", "ARRAY_LAYOUT"]

_DATA_OFFSET = object.__basicsize__  # PyObject_HEAD: the data pointer follows it
_read_pointer = ctypes.c_void_p.from_address


def _array_struct_pointer(array: np.ndarray) -> int:
    """The data pointer of ``array`` read from its PyArrayObject."""
    return _read_pointer(id(array) + _DATA_OFFSET).value or 0


def _check_struct_pointer() -> bool:
    probes = [np.arange(5, dtype="float32"), np.zeros((3, 2), "int8")[1:], np.empty(0)]
    return all(_array_struct_pointer(a) == a.ctypes.data for a in probes)


_READS_STRUCT = _check_struct_pointer()

#: ``data_pointer(array)``: the address of an array's first element.
data_pointer = _array_struct_pointer if _READS_STRUCT else (lambda a: a.ctypes.data)

#: Where an ndarray's data pointer lies in its object (``id(array)``): native code given
#: ``id(array)`` reads it there (:func:`mlc.backends.llvm.module.emit_object_entry`); None
#: when this interpreter's layout was not the one expected, and ``ctypes.data`` is used.
ARRAY_DATA_OFFSET = _DATA_OFFSET if _READS_STRUCT else None


@dataclass(frozen=True)
class ArrayLayout:
    """Byte offsets of an ndarray object's fields (NumPy's ``PyArrayObject_fields``, read at
    ``id(array)``): its type, data pointer, ``nd`` (int32), ``dimensions`` (a pointer to
    ``nd`` int64 extents), ``base`` (an object pointer, 0 for None), ``descr`` (the dtype
    object) and ``flags`` (int32). Native code given ``id(array)`` checks an argument with
    them (:func:`mlc.backends.llvm.entries.emit_checked_entry`)."""
    type: int
    data: int
    nd: int
    dimensions: int
    base: int
    descr: int
    flags: int


def _read_int32(address: int) -> int:
    return ctypes.c_int32.from_address(address).value


def _layout_reads(layout: ArrayLayout, array: np.ndarray) -> bool:
    """Whether ``layout`` reads ``array``'s type, data, shape, base, dtype and flags right."""
    at = id(array)
    nd = _read_int32(at + layout.nd)
    if nd != array.ndim or _read_pointer(at + layout.type).value != id(type(array)):
        return False
    dims = _read_pointer(at + layout.dimensions).value or 0
    shape = tuple(ctypes.c_int64.from_address(dims + 8 * n).value for n in range(nd))
    base = _read_pointer(at + layout.base).value or 0
    return (shape == array.shape and (_read_pointer(at + layout.data).value or 0) == array.ctypes.data
            and base == (0 if array.base is None else id(array.base))
            and _read_pointer(at + layout.descr).value == id(array.dtype)
            and _read_int32(at + layout.flags) == array.flags.num)


def _probe_layout() -> ArrayLayout | None:
    """The layout of this interpreter's ndarrays (PyObject_HEAD, then data, nd, dimensions,
    strides, base, descr, flags, each pointer-aligned), if it reads every probe right."""
    if ctypes.sizeof(ctypes.c_void_p) != 8 or not _READS_STRUCT:
        return None
    d = _DATA_OFFSET
    layout = ArrayLayout(type=d - 8, data=d, nd=d + 8, dimensions=d + 16, base=d + 32, descr=d + 40,
                         flags=d + 48)
    owner = np.arange(12, dtype="float32").reshape(3, 4)
    probes = [owner, owner[1:, ::2], np.zeros((), "int16"), np.empty((0, 5), ">f8"), owner.T,
              np.ones(3, "uint8").view("bool")]
    probes[1].flags.writeable = False
    try:
        return layout if all(_layout_reads(layout, a) for a in probes) else None
    except (ValueError, OSError):
        return None


#: Where an ndarray object holds the fields a native argument check reads; None where this
#: interpreter's objects are not laid out as expected (the checks then run in Python).
ARRAY_LAYOUT = _probe_layout()


def overlapping_pair(arrays: Sequence[np.ndarray], among: Sequence[int] | None = None,
                     pointers: Sequence[int] | None = None):
    """The first pair of positions ``(m, n)`` whose C-contiguous arrays share bytes, or None.

    Only pairs with at least one member in ``among`` (default: every position)
    are compared. The test is on byte ranges ``[data, data + nbytes)``: exact
    for C-contiguous arrays, and a constant-time-per-pair stand-in for
    ``np.shares_memory``. Empty arrays overlap nothing. ``pointers`` are the
    arrays' data pointers where the caller has them already.
    """
    if pointers is None:
        pointers = [data_pointer(a) for a in arrays]
    ranges = [(start, start + a.nbytes) for start, a in zip(pointers, arrays)]
    for m in range(len(ranges)) if among is None else among:
        lo, hi = ranges[m]
        if lo == hi:
            continue
        for n, (lo2, hi2) in enumerate(ranges):
            if n != m and lo2 != hi2 and lo2 < hi and lo < hi2:
                return (m, n) if m < n else (n, m)
    return None
