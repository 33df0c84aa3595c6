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

import numpy as np

__all__ = ["data_pointer", "overlapping_pair", "ARRAY_DATA_OFFSET"]

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
