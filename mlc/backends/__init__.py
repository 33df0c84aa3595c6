"""Backends turn a scheduled IRModule into a runnable :class:`mlc.runtime.Module`.

Each backend is a package here that registers one :class:`~.registry.Backend`
(:func:`~.registry.register_backend`): ``llvm`` compiles native code for the
host CPU, ``reference`` interprets the IR with NumPy (the test oracle).
:mod:`mlc.driver` (``mlc.build``) asks the registry for the backend of a
target and runs its stages; nothing here schedules or imports the driver.

mlc's own backends register on first use, so that ``import mlc`` loads no
code generator: :data:`BUILTIN_BACKENDS` names the package that registers
each kind (imported when a target first names it), or says why the kind is
unavailable in this build.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from importlib import import_module

from ..runtime.bundle_loaders import register_bundle_loader
from ..runtime.memory import MemoryKind, register_memory_kind
from ..target import add_kind_source
from .registry import (Backend, BuildOptions, describe_targets, get_backend, register_backend,
                       registered_backends, unregister_backend)

__all__ = ["Backend", "BuildOptions", "register_backend", "get_backend", "registered_backends",
           "unregister_backend", "describe_targets", "BUILTIN_BACKENDS", "BUILTIN_MEMORIES", "cuda_device"]

#: Target kind -> the package whose import registers its backend (and target kind), or
#: why the kind is unavailable in this build of mlc.
BUILTIN_BACKENDS: dict[str, str] = {
    "llvm": "mlc.backends.llvm",
    "reference": "mlc.backends.reference",
    "cuda": "mlc.backends.cuda",
    "cuda-emulator": "mlc.backends.cuda",
}
UNAVAILABLE: dict[str, str] = {}

#: The device memories of mlc's own device backends: how their arrays are recognised
#: (no import of their libraries) and the module implementing each.
BUILTIN_MEMORIES = (
    MemoryKind("cuda", array_interface="__cuda_array_interface__", dlpack_device_types=(2, 13),
               device_modules=("cupy",), provider="mlc.backends.cuda.memory",
               requirement="a CUDA GPU with CuPy"),
)
for _memory in BUILTIN_MEMORIES:
    register_memory_kind(_memory)

#: The bundles mlc's own device backends export (``lib.export`` of a GPU module): kind ->
#: the module that loads them (:mod:`mlc.runtime.bundle`), imported when one is loaded.
BUILTIN_BUNDLE_LOADERS = {"cuda-bundle": "mlc.backends.cuda.bundle_loader"}
for _kind, _loader in BUILTIN_BUNDLE_LOADERS.items():
    register_bundle_loader(_kind, _loader)


def cuda_device(index: int = 0) -> Device:
    """CUDA GPU ``index`` (``mlc.cuda()``); arrays on it need CuPy."""
    from ..runtime.ndarray import Device  # deferred: keeps `import mlc` fast (no array code loaded)
    return Device("cuda", index)


class _Builtins:
    """The :class:`~mlc.target.KindSource` of mlc's own backends.

    A thread that asks for a kind while its package registers (the package's own import
    asking again) is not sent into the import a second time; another thread asking then
    imports too, which Python's import lock makes wait until the first import is done
    (so it finds the backend registered, where it used to be told that none was)."""

    def __init__(self):
        self._local = threading.local()  # .loading: the kinds this thread is importing

    def known(self) -> Mapping[str, str | None]:
        return {**UNAVAILABLE, **{kind: None for kind in BUILTIN_BACKENDS}}

    def load(self, kind: str) -> None:
        loading = self._local.__dict__.setdefault("loading", set())
        if kind in BUILTIN_BACKENDS and kind not in loading:  # not again while it registers
            loading.add(kind)
            try:
                import_module(BUILTIN_BACKENDS[kind])  # the package registers its backend on import
            finally:
                loading.discard(kind)


add_kind_source(_Builtins())
