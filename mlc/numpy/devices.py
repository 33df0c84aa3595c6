"""Where ``mlc.numpy``'s arrays live: ``"cpu"`` (NumPy arrays) and each device whose
memory a backend registers (:mod:`mlc.runtime.memory`; ``"cuda"``: CuPy arrays).

The Array API's ``device=`` keywords take a device name (``"cpu"``, ``"cuda"``),
an :class:`mlc.Device` (``mlc.cuda(0)``), or the ``.device`` of an array (a
NumPy array's is ``"cpu"``, a CuPy array's a ``cupy.cuda.Device``). A device
kind is one of :func:`devices` where this machine has such a device.
Computation follows the data: an eager call whose arrays include a device's
array runs the function built for that device's target (:func:`on_device`
tells which), and its results stay there.

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
from ..runtime.memory import device_object_kind, memory_kind_of, memory_requirement

__all__ = ["devices", "normalize", "place", "on_device", "device_of"]


def devices() -> list[str]:
    """The devices arrays can be created on: ``"cpu"``, and each registered device kind
    this machine has a device of (``"cuda"`` with a GPU and CuPy)."""
    return [kind for kind in nd.device_kinds() if nd.device_count(kind) > 0]


def normalize(function: str, device, default: str = "cpu") -> str:
    """``device`` (a name, an :class:`mlc.Device`, an array's ``.device``, or None for
    ``default``) as a device kind (``"cpu"``, ``"cuda"``); DeviceError naming ``function``
    when this machine has no such device."""
    if device is None:
        return default
    kind = _kind(device)
    if kind is None:
        raise DeviceError(f"{function}: unknown device {device!r}; mlc.numpy's devices are "
                          f"{', '.join(map(repr, devices()))} (names, mlc.cpu()/mlc.device(kind), or an array's .device)")
    if kind not in devices():
        raise DeviceError(f"{function}: device={device!r} needs {memory_requirement(kind)}, "
                          f"and this machine has none; use device='cpu' (mlc.numpy's devices here: "
                          f"{', '.join(map(repr, devices()))})")
    return kind


def _kind(device) -> str | None:
    if isinstance(device, str):
        name = device.split(":")[0]
        return name if name in nd.device_kinds() else None
    if isinstance(device, nd.Device):
        return device.kind
    return device_object_kind(device)  # a library's device object: cupy.cuda.Device, a CuPy array's .device


def device_of(x) -> str:
    """The device kind whose memory holds array ``x`` (``"cuda"`` for a CuPy array), else
    ``"cpu"``."""
    return memory_kind_of(x) or "cpu"


def on_device(args, kwargs=None) -> str | None:
    """The device kind of the first array among ``args`` (and lists or tuples of them, one
    level down) and ``kwargs``' values that lives in a device's memory, or None."""
    for a in (*args, *(kwargs or {}).values()):
        if type(a) is np.ndarray:
            continue
        kind = memory_kind_of(a)
        if kind is not None:
            return kind
        if isinstance(a, (list, tuple)):
            for b in a:
                if (kind := memory_kind_of(b)) is not None:
                    return kind
    return None


def place(x, device: str):
    """``x`` on ``device`` (a device kind, :func:`normalize`): the array itself when it is
    there already, else a copy (a host array becomes a CuPy array on ``"cuda"``; a device's
    array a NumPy one on ``"cpu"``)."""
    if device_of(x) == device:
        return x
    if device == "cpu":
        return nd.to_device(x, nd.cpu())
    return nd.to_device(np.asarray(x), nd.device(device))
