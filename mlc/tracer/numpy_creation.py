"""NumPy's creation functions called by a traced function make traced arrays.

``np.zeros(n)`` inside ``@mlc.jit`` has no traced operand, so NumPy's
``__array_function__`` protocol never reaches mlc: it would build a NumPy
array, a constant into which a traced value cannot be written
(``y = np.zeros(n); y[0] = x[0]``). While a jitted function is traced,
:func:`numpy_creation` rebinds, in the globals of the function's module, the
names bound to NumPy (``np``) to a stand-in module whose functions of
:data:`NAMES` are ``mlc.numpy``'s inside a trace of this thread (which return
traced arrays) and NumPy's otherwise; every other attribute is NumPy's own.
Names bound to those functions themselves (``from numpy import zeros``) are
rebound the same way. Code of other modules, and NumPy's own code, keep NumPy.
``mlc.numpy`` hands the functions over when it loads (:func:`register`).

>>> import numpy as np, mlc
>>> @mlc.jit
... def f(x):
...     y = np.zeros(3)
...     y[1] = x.sum()
...     return y
>>> f(np.ones(2))
array([0., 2., 0.])
>>> import sys
>>> np is sys.modules["numpy"]  # put back after the trace
True
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import os
import types

import numpy as np

from ..shared_change import SharedChange
from .trace import is_tracing

__all__ = ["NAMES", "register", "numpy_creation"]

#: NumPy's functions that make a new array, which a traced function gets as traced arrays; NumPy's
#: plain functions (no ``__array_function__``) whose own code cannot take a traced array; and
#: ``lexsort``, whose protocol sees no traced array in a list of keys (only in a tuple).
NAMES = ("zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "arange",
         "eye", "copy", "linspace", "array", "asarray",
         "asanyarray", "asarray_chkfinite", "ascontiguousarray", "asfortranarray", "require", "isfortran",
         "isscalar", "iterable", "lexsort")

_wrappers: dict = {}   # NumPy's function -> the wrapper choosing mlc.numpy's inside a trace
_proxy: types.ModuleType | None = None


class _TracedNumpy(types.ModuleType):
    """NumPy with the creation functions of :data:`NAMES` traced inside a trace."""

    def __getattr__(self, name):
        return getattr(np, name)

    def __dir__(self):
        return dir(np)


def register(functions: dict) -> None:
    """Take ``mlc.numpy``'s function for each of :data:`NAMES` from ``functions``."""
    global _proxy
    proxy = _TracedNumpy(np.__name__, np.__doc__)
    for name in NAMES:
        original = getattr(np, name)
        wrapper = _wrapper(original, functions[name])
        _wrappers[original] = wrapper
        setattr(proxy, name, wrapper)
    proxy.ndarray = _traced_ndarray(functions["empty"])
    _proxy = proxy


def _traced_ndarray(empty):
    """``np.ndarray`` whose call ``np.ndarray(shape, dtype)`` (no buffer) makes a traced array
    inside a trace, as ``np.empty`` does; ``isinstance(x, np.ndarray)`` and every other use are
    NumPy's."""

    class _Meta(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, np.ndarray)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, np.ndarray)

        def __call__(cls, shape, dtype=float, buffer=None, offset=0, strides=None, order=None):
            if is_tracing() and buffer is None and strides is None:
                return empty(shape, dtype)
            return np.ndarray(shape, dtype, buffer, offset, strides, order)

        def __getattr__(cls, name):
            return getattr(np.ndarray, name)

    return _Meta("ndarray", (), {"__doc__": np.ndarray.__doc__})


def _wrapper(original, traced):
    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        return traced(*args, **kwargs) if is_tracing() else original(*args, **kwargs)
    return wrapper


def _replacement(value):
    """What a global bound to ``value`` is rebound to while tracing, or None."""
    if value is np:
        return _proxy
    try:
        return _wrappers.get(value)
    except TypeError:  # an unhashable value
        return None


#: mlc's package folder: functions defined in its files are mlc's own
_MLC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _is_mlc(fn) -> bool:
    code = getattr(fn, "__code__", None)
    return code is not None and os.path.abspath(code.co_filename).startswith(_MLC_DIR)


def _patch(scope: dict) -> dict:
    """Rebind the globals of ``scope`` that :func:`_replacement` replaces; the originals."""
    swaps = {}
    for name, value in list(scope.items()):
        new = _replacement(value)
        if new is not None:
            swaps[name] = value
            scope[name] = new
    return swaps


def _unpatch(scope: dict, swaps: dict) -> None:
    for name, value in swaps.items():
        if scope.get(name) is _replacement(value):  # unless the function rebound it
            scope[name] = value


#: The globals of the modules whose functions are being traced, patched while any trace of
#: one of their functions runs (keyed by the dict's id).
_PATCHED = SharedChange(_patch, _unpatch)


@contextlib.contextmanager
def numpy_creation(fn):
    """NumPy's creation functions made traced for the module of ``fn`` while the block runs."""
    fn = inspect.unwrap(fn.func if isinstance(fn, functools.partial) else fn)
    scope = getattr(fn, "__globals__", None)
    if _proxy is None or not isinstance(scope, dict) or _is_mlc(fn):
        yield  # (mlc's own functions, jitted by mlc.numpy's eager calls, mean NumPy when they say np)
        return
    with _PATCHED.held(id(scope), scope):
        yield
