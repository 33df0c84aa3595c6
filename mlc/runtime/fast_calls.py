"""Native code made a Python builtin: what a jitted call's cache hit calls, without ctypes.

A ctypes call costs some 300 ns (its arguments converted, the GIL released and
taken again), a third of a jitted call of ``a + b`` on small arrays. The llvm backend
builds, once per process, a function in CPython's ``METH_FASTCALL`` convention that
checks a call's arrays against a *descriptor* and runs a graph's ``main``
(:mod:`mlc.backends.llvm.fast_entry`); :func:`python_function` makes it a builtin
function object whose ``self`` is that descriptor (a bytes object), which Python calls
as it calls ``len``::

    fast = python_function(address, descriptor)
    out = fast(x, y)
    if out is not descriptor:   # ran: x and y were what main was compiled for
        return out
    # else it ran nothing (and returned its descriptor): take the checks in Python

The builtin allocates the output itself, through NumPy's C API (:func:`_array_new`:
``PyArray_New``, what ``np.empty`` calls after parsing its arguments) or through a
Python function of no arguments where the output must be aligned further.

Python numbers pass by value: where a parameter is a Python ``float``, ``int``, ``bool`` or
``complex`` (a weak scalar of the signature), the builtin checks the argument's type and
reads its value in place (:data:`FLOAT_VALUE`, :data:`LONG_AS_INT64`), so a call with a
scalar builds no 0-d array. A call with keywords passes its positional tuple and its
keyword dict as they are (``fast((x,), {"y": y})``): the builtin reads the tuple's items and
finds the dict's by name (:data:`DICT_GET_ITEM`).

A builtin runs holding the GIL, so callers keep it for small arrays
(:data:`MAX_BYTES`), where a kernel runs in microseconds. It is made only where
CPython's objects are laid out as expected (a reference count first, no free
threading, a bytes object's data where :data:`BYTES_OFFSET` says), checked once on
each function made (:func:`python_function` returns None otherwise).

>>> python_function(0, b"") is None   # (no code at address 0)
True
"""
from __future__ import annotations

import ctypes
import sys
import sysconfig

import numpy as np

__all__ = ["python_function", "MAX_BYTES", "BYTES_OFFSET", "ARRAY_NEW", "CALL_NO_ARGS", "FLOAT_VALUE",
           "LONG_AS_INT64", "DICT_GET_ITEM", "DICT_SIZE"]

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


def _bytes_offset() -> int | None:
    """Where a bytes object's data lies in it (``PyBytesObject.ob_sval``), if found."""
    probe = b"mlc fast call probe"
    offset = sys.getsizeof(b"") - 1  # the header, then the terminating NUL of an empty one
    try:
        return offset if ctypes.string_at(id(probe) + offset, len(probe)) == probe else None
    except (ValueError, OSError):  # pragma: no cover
        return None


#: Where a bytes object's data lies in it: native code given the object reads it there.
BYTES_OFFSET = _bytes_offset() if _SUPPORTED else None

def _float_value() -> int | None:
    """Where a float's value lies in it (``PyFloatObject.ob_fval``), if a complex's two parts
    lie there too (``PyComplexObject.cval``) and a tuple's length there, its items' pointers
    after it (``PyTupleObject``): what reading a Python number, and a call's positional
    arguments, in place needs."""
    x, z, t = 1.25, complex(-0.5, 3.75), ("mlc", "fast", "call")
    offset = object.__basicsize__
    try:
        read = ctypes.c_double.from_address
        got = read(id(x) + offset).value, read(id(z) + offset).value, read(id(z) + offset + 8).value
        length = ctypes.c_ssize_t.from_address(id(t) + offset).value
        first = ctypes.c_void_p.from_address(id(t) + offset + 8).value
    except (ValueError, OSError):  # pragma: no cover
        return None
    return offset if got == (x, z.real, z.imag) and (length, first) == (len(t), id(t[0])) else None


def _address(name: str) -> int | None:
    """The address of CPython's C API function ``name``, where this interpreter is supported."""
    return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value if _SUPPORTED else None


#: Where a Python float's value, a complex's two parts and a tuple's length lie in it (a
#: tuple's items' pointers just after); None where not so.
FLOAT_VALUE = _float_value() if _SUPPORTED else None
#: ``PyLong_AsLongLongAndOverflow``, through which the native entry reads a Python int (its
#: overflow flag set: the call is declined).
LONG_AS_INT64 = _address("PyLong_AsLongLongAndOverflow")
#: ``PyDict_GetItem`` and ``PyDict_Size``, through which it finds the keyword arguments.
DICT_GET_ITEM, DICT_SIZE = _address("PyDict_GetItem"), _address("PyDict_Size")

#: ``PyArray_New``'s index in NumPy's C API table (the same in NumPy 1 and 2).
_ARRAY_NEW_INDEX = 93


def _array_new() -> int | None:
    """The address of NumPy's ``PyArray_New(subtype, nd, dims, type_num, strides, data,
    itemsize, flags, obj)``, read from its C API table, if a call through it makes the
    arrays ``np.empty`` makes."""
    try:
        core = getattr(np, "_core", None) or np.core
        table = _capsule_pointer(core._multiarray_umath._ARRAY_API, None)
        address = ctypes.c_void_p.from_address(table + 8 * _ARRAY_NEW_INDEX).value
    except (AttributeError, ValueError, OSError, TypeError):  # pragma: no cover
        return None
    new = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                            ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                            ctypes.c_void_p)(address)
    for shape, dtype in (((3, 5), "float32"), ((), "int64"), ((0, 2), "bool"), ((7,), "float16")):
        dims = (ctypes.c_int64 * max(len(shape), 1))(*shape)
        got = new(id(np.ndarray), len(shape), dims, np.dtype(dtype).num, None, None, 0, 0, None)
        if (type(got) is not np.ndarray or got.shape != shape or got.dtype != np.dtype(dtype)
                or not (got.flags.c_contiguous and got.flags.writeable and got.flags.owndata)):
            return None  # pragma: no cover
    return address


if _SUPPORTED:
    _capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    _capsule_pointer.restype = ctypes.c_void_p
    _capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

#: Where NumPy's ``PyArray_New`` is: the native entry allocates a call's output with it
#: (:func:`_array_new`); None where it was not found as expected.
ARRAY_NEW = _array_new() if _SUPPORTED else None

#: The address of CPython's ``PyObject_CallNoArgs``, through which the native entry makes an
#: output by a Python function; None where this interpreter is not supported.
CALL_NO_ARGS = ctypes.cast(ctypes.pythonapi.PyObject_CallNoArgs, ctypes.c_void_p).value if _SUPPORTED else None

_NAME = b"mlc_fast_call"
_DEFINITIONS: dict[int, _MethodDef] = {}  # address -> its method table (CPython keeps a pointer)


def python_function(address: int, descriptor: bytes):
    """The builtin calling the native function at ``address`` (``fn(*arguments)``, in
    CPython's ``METH_FASTCALL`` convention, returns a new
    output where it ran, ``descriptor`` where it declined) with ``descriptor`` as its
    ``self``; or None where this interpreter does not allow it or the function does not
    behave (a declined call must hand ``descriptor`` back with its reference counted once).
    The caller keeps the machine code loaded while the builtin lives."""
    if not _SUPPORTED or not address or type(descriptor) is not bytes:
        return None
    definition = _DEFINITIONS.get(address)
    if definition is None:
        definition = _DEFINITIONS.setdefault(address, _MethodDef(_NAME, address, _METH_FASTCALL, None))
    fn = _new_function(ctypes.addressof(definition), descriptor, None)
    before = sys.getrefcount(descriptor)
    got = fn(None)  # not an array: declined, ``descriptor`` returned
    if got is not descriptor:
        return None
    del got
    return fn if sys.getrefcount(descriptor) == before else None
