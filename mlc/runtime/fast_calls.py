"""Native code made a Python builtin: what a jitted call's cache hit calls, without ctypes.

A ctypes call costs some 300 ns (its arguments converted, the GIL released and
taken again), a third of a jitted call of ``a + b`` on small arrays. The llvm backend
emits, beside a graph's ``main``, an entry in CPython's ``METH_FASTCALL`` convention
(:func:`mlc.backends.llvm.entries.emit_fast_entry`) that checks its array arguments
natively and runs ``main``; :func:`python_function` makes it a builtin function
object, which Python calls as it calls ``len``::

    fast = python_function(address, "main")
    out = np.empty(...)
    if fast(x, y, out) is out:   # ran: x and y were what main was compiled for
        return out
    # else it ran nothing (and returned its own marker object): take the checks in Python

A builtin runs holding the GIL, so callers keep it for small arrays
(:data:`MAX_BYTES`), where a kernel runs in microseconds. It is made only where
CPython's objects are laid out as expected (a reference count first, no free
threading), checked once on each function made (:func:`python_function` returns None
otherwise).

>>> python_function(0, "f") is None   # (no code at address 0)
True
"""
from __future__ import annotations

import ctypes
import sys
import sysconfig

__all__ = ["python_function", "MAX_BYTES"]

#: The most bytes a call's arrays may hold, together, for the fast entry to be used: a
#: kernel on more may run long enough that holding the GIL through it matters.
MAX_BYTES = 1 << 18

_METH_FASTCALL = 0x0080


class _MethodDef(ctypes.Structure):  # CPython's PyMethodDef
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p), ("ml_flags", ctypes.c_int),
                ("ml_doc", ctypes.c_char_p)]


def _supported() -> bool:
    """Whether this interpreter's objects begin with a plain reference count that native
    code may increment holding the GIL (not a free-threaded build)."""
    return (sys.implementation.name == "cpython" and (3, 9) <= sys.version_info[:2] < (3, 15)
            and not sysconfig.get_config_var("Py_GIL_DISABLED") and ctypes.sizeof(ctypes.c_void_p) == 8)


_SUPPORTED = _supported()
if _SUPPORTED:
    _new_function = ctypes.pythonapi.PyCFunction_NewEx
    _new_function.restype = ctypes.py_object
    _new_function.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.c_void_p]


class _Builtin:
    """The builtin's ``self``, which it keeps alive: its method table (CPython keeps a pointer
    to it), and what a declined call returns."""
    __slots__ = ("definition", "name")

    def __init__(self, address: int, name: str):
        self.name = name.encode()
        self.definition = _MethodDef(self.name, address, _METH_FASTCALL, None)


def python_function(address: int, name: str):
    """The builtin calling the fast entry at ``address`` (``fn(*arrays, out)`` returns ``out``
    where it ran, another object where it declined), or None where this interpreter does
    not allow it or the entry does not behave (a declined call must hand its ``self`` back
    with its reference counted once). The caller keeps the machine code loaded while the
    builtin lives."""
    if not _SUPPORTED or not address:
        return None
    marker = _Builtin(address, name)
    fn = _new_function(ctypes.addressof(marker.definition), marker, None)
    before = sys.getrefcount(marker)
    got = fn()  # no arguments: declined, ``marker`` returned
    if got is not marker:
        return None
    del got
    return fn if sys.getrefcount(marker) == before else None
