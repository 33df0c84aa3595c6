"""NumPy's creation functions called by a traced function make traced arrays.

``np.zeros(n)`` inside ``@mlc.jit`` has no traced operand, so NumPy's
``__array_function__`` protocol never reaches mlc: it would build a NumPy
array, a constant into which a traced value cannot be written
(``y = np.zeros(n); y[0] = x[0]``). While a jitted function is traced,
:func:`numpy_creation` puts wrappers in NumPy's module for the functions of
:data:`NAMES`: called from the user's code (not from NumPy's or mlc's own
modules) inside a trace of this thread, they are ``mlc.numpy``'s, which return
traced arrays; every other call is NumPy's. ``mlc.numpy`` hands the functions
over when it loads (:func:`register`). A name imported from NumPy before the
trace (``from numpy import zeros``) keeps NumPy's function.

>>> import numpy as np, mlc
>>> @mlc.jit
... def f(x):
...     y = np.zeros(3)
...     y[1] = x.sum()
...     return y
>>> f(np.ones(2))
array([0., 2., 0.])
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading

import numpy as np

from .trace import is_tracing

__all__ = ["NAMES", "register", "numpy_creation"]

#: NumPy's functions that make a new array, which a traced function gets as traced arrays.
NAMES = ("zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "arange",
         "eye", "copy")

_traced: dict = {}  # name -> mlc.numpy's function
_lock = threading.Lock()
_installed = 0  # how many traces have the wrappers in place (several threads may trace)
_originals: dict = {}


def register(functions: dict) -> None:
    """Take ``mlc.numpy``'s function for each of :data:`NAMES` from ``functions``."""
    _traced.update((name, functions[name]) for name in NAMES)


#: Where NumPy's and mlc's own code lives: calls from there keep NumPy's functions.
_LIBRARIES = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                   for m in (np, sys.modules[__name__.split(".")[0]]))


def _from_user(depth: int = 2) -> bool:
    """Whether the caller ``depth`` frames up is the user's code (not NumPy's or mlc's)."""
    return not sys._getframe(depth).f_code.co_filename.startswith(_LIBRARIES)


def _wrapper(name: str, original):
    traced = _traced[name]

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if is_tracing() and _from_user():
            return traced(*args, **kwargs)
        return original(*args, **kwargs)
    wrapper.__mlc_original__ = original
    return wrapper


@contextlib.contextmanager
def numpy_creation():
    """NumPy's creation functions made traced for the user's code while the block runs."""
    global _installed
    if not _traced:
        yield
        return
    with _lock:
        if _installed == 0:
            for name in NAMES:
                original = getattr(np, name)
                _originals[name] = original
                setattr(np, name, _wrapper(name, original))
        _installed += 1
    try:
        yield
    finally:
        with _lock:
            _installed -= 1
            if _installed == 0:
                for name, original in _originals.items():
                    setattr(np, name, original)
                _originals.clear()
