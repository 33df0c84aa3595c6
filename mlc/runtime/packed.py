"""Library functions a compiled graph calls by name: ``call_dps_packed("env.linear", ...)``.

A library function is any Python callable written in destination-passing
style: it receives the call's input arrays, then one preallocated array per
result, and writes the results into those (its return value is ignored).
NumPy, SciPy, CuPy (through DLPack) or a hand-written C routine behind
ctypes all fit:

>>> import numpy as np
>>> @register_func("doc.scale")
... def scale(x, out):
...     np.multiply(x, 2, out=out)
>>> out = np.empty(2, "float32"); get_func("doc.scale")(np.ones(2, "float32"), out); out
array([2., 2.], dtype=float32)
>>> _ = remove_func("doc.scale")

The graph executor looks the name up when a graph is built, so a function
must be registered before ``mlc.build``.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from ..errors import MLCError

__all__ = ["register_func", "get_func", "remove_func", "list_funcs"]

_FUNCS: dict[str, Callable] = {}
_LOCK = threading.Lock()


def register_func(name: str, fn: Callable | None = None, *, override: bool = False):
    """Register ``fn`` as library function ``name``; usable as ``@register_func(name)``.

    Registering a taken name raises MLCError unless ``override`` is True.
    """
    if not isinstance(name, str) or not name:
        raise MLCError(f"register_func: the name must be a non-empty string, got {name!r}")

    def register(f: Callable) -> Callable:
        if not callable(f):
            raise MLCError(f"register_func({name!r}): expected a callable, got {type(f).__name__}")
        with _LOCK:
            if name in _FUNCS and not override and _FUNCS[name] is not f:
                raise MLCError(f"register_func: {name!r} is already registered; pass override=True "
                               "to replace it")
            _FUNCS[name] = f
        return f

    return register if fn is None else register(fn)


def get_func(name: str) -> Callable:
    """The function registered as ``name``; MLCError listing the registered names if none."""
    try:
        return _FUNCS[name]
    except KeyError:
        raise MLCError(f"no library function is registered as {name!r}; registered: "
                       f"{sorted(_FUNCS)}. Register it with mlc.register_func({name!r}, fn)") from None


def remove_func(name: str) -> Callable | None:
    """Unregister ``name``; returns the function it named (None if none)."""
    with _LOCK:
        return _FUNCS.pop(name, None)


def list_funcs() -> list[str]:
    return sorted(_FUNCS)
