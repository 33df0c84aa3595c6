"""Kinds of device memory other than the host's, as backends register them.

The runtime knows no GPU by name. A backend package that runs on a device
registers two things here:

- a :class:`MemoryKind` when mlc loads (cheap data: how an array in that
  memory shows itself — an array-interface attribute, DLPack device types,
  the module of its device objects — and which module implements it), so
  that arguments are recognised without importing the device's array library;
- a :class:`DeviceMemory` (the implementation: allocate, copy in and out,
  the array type) when that module is first imported, which :func:`memory`
  does on first use.

>>> kind = MemoryKind("toy", "__toy_array_interface__", (99,), ("toylib",), "toy.memory")
>>> register_memory_kind(kind)
>>> class Holder:
...     __toy_array_interface__ = {}
>>> memory_kind_of(Holder()), memory_kind_of([1.0])
('toy', None)
>>> unregister_memory_kind("toy")
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

import numpy as np

from ..errors import DeviceError, MLCError

__all__ = ["MemoryKind", "DeviceMemory", "register_memory_kind", "unregister_memory_kind",
           "register_memory", "memory", "memory_kinds", "memory_kind_of", "dlpack_memory_kind",
           "device_object_kind", "memory_target", "memory_requirement"]


@dataclass(frozen=True)
class MemoryKind:
    """How arrays in one kind of device memory are recognised, and where it is implemented.

    ``name`` is the :class:`~mlc.runtime.ndarray.Device` kind; ``array_interface`` the
    attribute every array in this memory has (and no host array); ``dlpack_device_types``
    the ``__dlpack_device__()`` types of this memory; ``device_modules`` the module
    prefixes of its libraries' device objects (an array's ``.device``); ``provider`` the
    module whose import registers the :class:`DeviceMemory`; ``target`` the target kind an
    eager ``mlc.numpy`` call on arrays in this memory is compiled for (default: ``name``);
    ``requirement`` what a machine needs to have such a device, for error messages."""
    name: str
    array_interface: str
    dlpack_device_types: tuple[int, ...]
    device_modules: tuple[str, ...]
    provider: str
    target: str = ""
    requirement: str = ""

    def __post_init__(self):
        if not self.name.isidentifier() or self.name == "cpu":
            raise MLCError(f"MemoryKind: name must be a word other than 'cpu', got {self.name!r}")
        if not self.target:
            object.__setattr__(self, "target", self.name)
        if not self.requirement:
            object.__setattr__(self, "requirement", f"a {self.name} device")


class DeviceMemory(ABC):
    """One kind of device memory's arrays: what ``mlc.nd`` and compiled functions need of it.

    Each method takes the :class:`~mlc.runtime.ndarray.Device` it acts on; a method that
    needs the device raises :class:`~mlc.errors.DeviceError` saying what is missing (the
    library, a driver, a device of that index) and what to do instead."""

    @abstractmethod
    def count(self) -> int:
        """How many devices of this kind the machine has (0 without the library or a driver)."""

    @abstractmethod
    def array_type(self, dev) -> type:
        """The array type compiled functions take and return on ``dev``."""

    @abstractmethod
    def allocator(self, dev) -> Callable:
        """``empty(shape, dtype)`` making arrays of :meth:`array_type` on ``dev``."""

    @abstractmethod
    def to_device(self, x, dev):
        """``x`` as a C-contiguous array of :meth:`array_type` on ``dev``: the array itself
        when it is one, else a view (other libraries' arrays in this memory) or a copy (host
        data)."""

    @abstractmethod
    def to_host(self, x) -> np.ndarray:
        """A NumPy copy of array ``x`` in this memory."""

    @abstractmethod
    def shape_dtype(self, x) -> tuple[tuple[int, ...], np.dtype]:
        """The shape and dtype of array ``x`` in this memory (any library's, read from its
        array interface without a copy)."""

    def synchronize(self, dev) -> None:
        """Wait until the work queued on ``dev`` (by this thread's stream) is done."""


_KINDS: dict[str, MemoryKind] = {}
_MEMORIES: dict[str, DeviceMemory] = {}
_LOCK = threading.Lock()


def register_memory_kind(kind: MemoryKind) -> None:
    """Make ``kind`` known (a backend's kind registration does this when mlc loads)."""
    with _LOCK:
        _KINDS[kind.name] = kind


def unregister_memory_kind(name: str) -> None:
    """Forget memory kind ``name`` and its implementation (tests that register their own)."""
    with _LOCK:
        _KINDS.pop(name, None)
        _MEMORIES.pop(name, None)


def register_memory(name: str, implementation: DeviceMemory) -> DeviceMemory:
    """Register the implementation of memory kind ``name`` (its provider module does this
    on import); returns it."""
    if name not in _KINDS:
        raise MLCError(f"register_memory: no memory kind {name!r} is known; register its MemoryKind first")
    if not isinstance(implementation, DeviceMemory):
        raise MLCError(f"register_memory: expected a DeviceMemory, got {type(implementation).__name__}")
    _MEMORIES[name] = implementation
    return implementation


def memory_kinds() -> tuple[str, ...]:
    """The names of the known device memory kinds."""
    return tuple(_KINDS)


def memory(name: str) -> DeviceMemory:
    """The implementation of memory kind ``name``, its provider imported on first use."""
    found = _MEMORIES.get(name)
    if found is not None:
        return found
    kind = _KINDS.get(name)
    if kind is None:
        raise DeviceError(f"no device memory kind {name!r}; known: cpu"
                          f"{''.join(', ' + k for k in _KINDS)}")
    import_module(kind.provider)
    found = _MEMORIES.get(name)
    if found is None:
        raise DeviceError(f"importing {kind.provider} registered no implementation of device memory {name!r}")
    return found


def memory_kind_of(x) -> str | None:
    """The device memory kind holding array ``x`` (by its array-interface attribute), or
    None for host data; imports nothing."""
    if isinstance(x, np.ndarray):
        return None
    for kind in _KINDS.values():
        if hasattr(x, kind.array_interface):
            return kind.name
    return None


def dlpack_memory_kind(x) -> str | None:
    """The device memory kind of DLPack object ``x`` (by ``__dlpack_device__()``), or None
    for host memory."""
    device_type = int(x.__dlpack_device__()[0]) if hasattr(x, "__dlpack_device__") else 1
    for kind in _KINDS.values():
        if device_type in kind.dlpack_device_types:
            return kind.name
    return None


def device_object_kind(obj) -> str | None:
    """The memory kind a library's device object (an array's ``.device``) belongs to, or None."""
    module = type(obj).__module__ or ""
    for kind in _KINDS.values():
        if any(module == m or module.startswith(m + ".") for m in kind.device_modules):
            return kind.name
    return None


def memory_requirement(name: str) -> str:
    """What a machine needs for devices of memory kind ``name`` ("a CUDA GPU with CuPy")."""
    kind = _KINDS.get(name)
    return kind.requirement if kind is not None else f"a {name} device"


def memory_target(name: str) -> str:
    """The target kind that computes on arrays in memory kind ``name`` (eager calls)."""
    return _KINDS[name].target
