"""Where ``mlc.numpy``'s arrays live: ``"cpu"`` (NumPy arrays) and ``"cuda"`` (CuPy arrays).

The Array API's ``device=`` keywords take a device name (``"cpu"``, ``"cuda"``),
an :class:`mlc.Device` (``mlc.cuda(0)``), or the ``.device`` of an array (a
NumPy array's is ``"cpu"``, a CuPy array's a ``cupy.cuda.Device``). ``"cuda"`` is
one of :func:`devices` where CuPy sees a CUDA device. Computation follows the
data: an eager call whose arrays include a GPU array runs the function built
for ``target="cuda"`` (:func:`on_gpu` tells), and its results stay on the GPU.

>>> devices()[0], normalize("zeros", None), normalize("zeros", "cpu")
('cpu', 'cpu', 'cpu')
>>> import numpy as np
>>> place(np.zeros(2), "cpu")
array([0., 0.])
"""
from __future__ import annotations

import numpy as np

from ..errors import DeviceError
from ..runtime import ndarray as nd

__all__ = ["devices", "normalize", "place", "on_gpu", "device_of"]


def devices() -> list[str]:
    """The devices arrays can be created on: ``"cpu"``, and ``"cuda"`` when a GPU is usable."""
    return ["cpu", "cuda"] if nd.cuda_device_count() > 0 else ["cpu"]


def normalize(function: str, device, default: str = "cpu") -> str:
    """``device`` (a name, an :class:`mlc.Device`, an array's ``.device``, or None for
    ``default``) as ``"cpu"`` or ``"cuda"``; DeviceError naming ``function`` when this
    machine has no such device."""
    if device is None:
        return default
    kind = _kind(device)
    if kind is None:
        raise DeviceError(f"{function}: unknown device {device!r}; mlc.numpy's devices are "
                          f"{', '.join(map(repr, devices()))} (names, mlc.cpu()/mlc.cuda(), or an array's .device)")
    if kind == "cuda" and "cuda" not in devices():
        raise DeviceError(f"{function}: device={device!r} needs a CUDA GPU with CuPy, and this machine has "
                          "none; use device='cpu' (mlc.numpy's devices here: 'cpu')")
    return kind


def _kind(device) -> str | None:
    if isinstance(device, str):
        name = device.split(":")[0]
        return name if name in nd.DEVICE_KINDS else None
    if isinstance(device, nd.Device):
        return device.kind
    module = type(device).__module__ or ""
    if module.startswith("cupy") and hasattr(device, "id"):  # cupy.cuda.Device, a CuPy array's .device
        return "cuda"
    return None


def device_of(x) -> str:
    """``"cuda"`` for an array in GPU memory (``__cuda_array_interface__``), else ``"cpu"``."""
    return "cuda" if nd.in_gpu_memory(x) else "cpu"


def on_gpu(args, kwargs=None) -> bool:
    """Whether any array among ``args`` (and lists or tuples of them, one level down) and
    ``kwargs``' values is in GPU memory."""
    for a in (*args, *(kwargs or {}).values()):
        if type(a) is np.ndarray:
            continue
        if device_of(a) == "cuda":
            return True
        if isinstance(a, (list, tuple)) and any(device_of(b) == "cuda" for b in a):
            return True
    return False


def place(x, device: str):
    """``x`` on ``device`` (``"cpu"`` or ``"cuda"``): the array itself when it is there already,
    else a copy (a host array becomes a CuPy array; a GPU array a NumPy one)."""
    if device_of(x) == device:
        return x
    if device == "cpu":
        return x.get() if hasattr(x, "get") else np.asarray(x)
    return nd.to_device(np.asarray(x), nd.cuda())
