"""DLPack in and out: ``mlc.from_dlpack(x)`` and ``mlc.to_dlpack(a)``, and the host arrays
built functions take from any ``__dlpack__`` object.

``from_dlpack`` views a producer's memory without a copy: host memory as a NumPy
array, a device's memory as that memory's array type (:mod:`.memory`: CuPy's for
CUDA, with CuPy installed). ``to_dlpack`` gives an
object other libraries import the same way (``torch.from_dlpack``,
``np.from_dlpack``, ``mlc.from_dlpack``), sharing the array's memory:

>>> import numpy as np, mlc
>>> a = np.arange(4, dtype="float32")
>>> b = mlc.from_dlpack(mlc.to_dlpack(a))
>>> b[0] = 7; a[0]
np.float32(7.0)
"""
from __future__ import annotations

import array
import collections.abc

import numpy as np

from ..errors import DTypeError
from .memory import dlpack_memory_kind
from .ndarray import Device, DeviceArray, to_device

__all__ = ["from_dlpack", "to_dlpack", "host_array", "BUFFER_TYPES"]


def _is_buffer(x) -> bool:
    buffer = getattr(collections.abc, "Buffer", None)  # (Python 3.12+)
    return buffer is not None and not isinstance(x, np.ndarray) and isinstance(x, buffer) \
        and not isinstance(x, (bytes, str))


def from_dlpack(x):
    """``x`` (any object with ``__dlpack__``) as an array sharing its memory: NumPy for host
    memory, the device memory's array type for a device's (CuPy for CUDA memory)."""
    if not hasattr(x, "__dlpack__"):
        raise DTypeError(f"mlc.from_dlpack: expected an object with __dlpack__ (a NumPy, CuPy, "
                         f"PyTorch, JAX array...), got {type(x).__name__}")
    kind = dlpack_memory_kind(x)
    if kind is not None:
        return to_device(x, Device(kind, int(x.__dlpack_device__()[1])))
    return np.from_dlpack(x)


class _Exported:
    """An array offered through DLPack (``__dlpack__`` and ``__dlpack_device__``)."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, *args, **kwargs):
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    def __repr__(self) -> str:
        return f"<DLPack export of {type(self.array).__name__} {getattr(self.array, 'shape', '')}>"


def to_dlpack(a):
    """An object exporting ``a``'s memory through DLPack (``__dlpack__``), no copy: a NumPy
    or CuPy array, an ``mlc.nd`` array, or anything with ``__dlpack__``."""
    if isinstance(a, DeviceArray):
        a = a.data
    if not hasattr(a, "__dlpack__"):
        raise DTypeError(f"mlc.to_dlpack: expected an array (NumPy, CuPy, mlc.nd), got {type(a).__name__}")
    return _Exported(a)


#: Objects offering their memory through Python's buffer protocol that built functions take
#: as NumPy arrays of the same memory (``collections.abc.Buffer`` from Python 3.12).
BUFFER_TYPES = (memoryview, bytearray, array.array)


def host_array(x):
    """``x`` as a NumPy array when it is a host ``__dlpack__`` object or a buffer
    (:data:`BUFFER_TYPES`: ``memoryview``, ``array.array``...) that is not one (no copy);
    anything else as it is.

    >>> import array
    >>> host_array(array.array("f", [1, 2])).dtype
    dtype('float32')
    """
    if isinstance(x, BUFFER_TYPES) or _is_buffer(x):
        return np.asarray(x)
    if isinstance(x, np.ndarray) or not hasattr(x, "__dlpack__"):
        return x
    try:
        if dlpack_memory_kind(x) is not None:
            return x
        return np.from_dlpack(x)
    except (TypeError, ValueError, BufferError, RuntimeError):
        return x  # (the caller's own checks name what it expected)
