"""CUDA device memory through CuPy: what ``mlc.nd`` and CUDA modules' callers need of it.

Importing this module registers :class:`CuPyMemory` for device kind ``"cuda"``
(:mod:`mlc.runtime.memory`; the kind itself is registered with mlc's target kinds,
:mod:`mlc.backends`). CuPy is imported on first use, not here.

>>> from mlc.runtime.memory import memory
>>> type(memory("cuda")).__name__
'CuPyMemory'
"""
from __future__ import annotations

import numpy as np

from ...errors import DeviceError
from ...runtime.memory import DeviceMemory, dlpack_memory_kind, register_memory

__all__ = ["CuPyMemory"]


def _cupy(dev):
    """CuPy, once it is known to see CUDA device ``dev``; DeviceError saying what is missing."""
    try:
        import cupy
    except ImportError:
        raise DeviceError(f"arrays on {dev} need CuPy, which is not installed; install the cupy package "
                          "matching your CUDA (e.g. cupy-cuda12x), or use mlc.cpu() (for GPU programs, "
                          "target='cuda-emulator' runs them on the CPU)") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # noqa: BLE001 - no driver: CuPy raises its own runtime error types
        raise DeviceError(f"arrays on {dev} need a CUDA device, and none was found ({type(err).__name__}: "
                          f"{err}); use mlc.cpu(), or target='cuda-emulator' for GPU programs") from None
    if dev.index >= count:
        raise DeviceError(f"arrays on {dev}: this machine has {count} CUDA device(s), numbered from 0")
    return cupy


class CuPyMemory(DeviceMemory):
    """CUDA device memory, its arrays CuPy arrays."""

    def count(self) -> int:
        try:
            import cupy  # deferred: keeps the backend's import fast (and CuPy optional)
            return int(cupy.cuda.runtime.getDeviceCount())
        except Exception:  # noqa: BLE001 - no CuPy, no driver: ImportError or CuPy's runtime errors
            return 0

    def array_type(self, dev) -> type:
        return _cupy(dev).ndarray

    def allocator(self, dev):
        """``cupy.empty`` on ``dev`` (plain CuPy arrays, from CuPy's memory pool)."""
        cupy = _cupy(dev)
        new, current, index = cupy.empty, cupy.cuda.runtime.getDevice, dev.index

        def empty(shape, dtype):
            if current() == index:  # (entering the device costs four times this test)
                return new(shape, dtype)
            with cupy.cuda.Device(index):
                return new(tuple(shape), dtype)
        return empty

    def to_device(self, x, dev):
        """A CuPy array as it is (a contiguous copy when it is not contiguous), any object
        with ``__cuda_array_interface__`` or a CUDA ``__dlpack__`` without a copy, and host
        data (NumPy arrays, CPU DLPack objects) copied to the device."""
        cupy = _cupy(dev)
        if not isinstance(x, cupy.ndarray):
            if hasattr(x, "__cuda_array_interface__"):
                x = cupy.asarray(x)
            elif not isinstance(x, np.ndarray) and hasattr(x, "__dlpack__"):
                x = cupy.from_dlpack(x) if dlpack_memory_kind(x) == "cuda" else cupy.asarray(np.from_dlpack(x))
            else:
                with cupy.cuda.Device(dev.index):
                    return cupy.ascontiguousarray(cupy.asarray(np.asarray(x)))
        if x.device.id != dev.index:
            raise DeviceError(f"a CuPy array on GPU {x.device.id} was passed to a function built for {dev}; "
                              f"move it with cupy.asarray(x) under 'with cupy.cuda.Device({dev.index}):'")
        return x if x.flags.c_contiguous else cupy.ascontiguousarray(x)

    def to_host(self, x) -> np.ndarray:
        if hasattr(x, "get"):
            return x.get()
        import cupy
        return cupy.asarray(x).get()

    def shape_dtype(self, x):
        interface = x.__cuda_array_interface__  # CuPy's, Numba's, PyTorch's CUDA arrays alike
        return tuple(interface["shape"]), np.dtype(interface["typestr"])

    def synchronize(self, dev) -> None:
        _cupy(dev).cuda.get_current_stream().synchronize()


register_memory("cuda", CuPyMemory())
