"""The array methods of :class:`~mlc.tracer.Tracer`, attached when ``mlc.numpy`` loads.

The tracer knows shapes, dtypes and the trace, nothing of NumPy's API: the
operators (``x + 1``, ``x @ w``, ``x > 0``), the methods (``x.sum(axis)``,
``x.reshape(...)``, ``x.T``), indexing and NumPy's protocols
(``__array_ufunc__``, ``__array_function__``) are the :mod:`mlc.numpy`
functions, set on the class here, so each has one implementation.

Python operators between Python scalars keep NEP 50's weak typing: a traced
Python scalar (a weak Tracer) times 2 is again weak, as ``2.0 * 2`` is a Python
float; NumPy's functions on weak values (``np.add(x, 1)``) give strong results.

>>> import mlc.numpy  # calls attach
>>> from mlc.ir.types import TensorType
>>> from mlc.tracer.trace import TraceContext
>>> with TraceContext() as ctx:
...     x = ctx.new_input(TensorType((2, 3), "float32"), "x")
...     y = (x.T @ x).sum(axis=0) > 1
>>> y
Tracer<bool[3]>
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError, TraceError
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from ..tracer.autograph_scalars import item
from . import dispatch
from .contractions import dot
from .elementwise import astype
from .index_updates import IndexUpdates
from .loops import CASTINGS, is_object_operand, object_comparison, refuse_out
from .diagonals import diagonal, trace
from .shapes import getitem, reshape, transpose
from .updates import assign, put, setitem

__all__ = ["attach"]


def _T(self) -> Tracer:
    return transpose(self)


def _getitem(self, key):
    return getitem(self, key)


def _setitem(self, key, value):
    """``x[key] = value``: a new version of ``x`` (see :mod:`.updates`)."""
    setitem(self, key, value)


def _fill(self, value):
    """``x.fill(value)``: every element set to ``value`` (a new version of ``x``)."""
    setitem(self, Ellipsis, value)


def _put(self, indices, values, mode="raise"):
    """``x.put(indices, values)`` (:func:`mlc.numpy.put`)."""
    put(self, indices, values, mode)


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return reshape(self, shape, order=order)


def _astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
    """``x.astype(dtype, casting=...)``: a cast ``casting`` forbids is NumPy's TypeError (a DTypeError)."""
    if casting not in CASTINGS:
        raise DTypeError(f"x.astype: casting must be one of {', '.join(repr(c) for c in CASTINGS)}, got "
                         f"{casting!r}{describe_location(user_location())}")
    if casting != "unsafe" and not np.can_cast(self.dtype, np.dtype(dtype), casting):
        raise DTypeError(f"x.astype: cannot cast array data from {self.dtype} to {np.dtype(dtype)} according to "
                         f"the rule {casting!r}, as in NumPy; pass casting='unsafe' (the default) to cast "
                         f"anyway{describe_location(user_location())}")
    return astype(self, dtype, copy=copy)


def _transpose(self, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)) or axes == (None,):
        axes = axes[0]
    return transpose(self, axes or None)


def _flatten(self):
    return reshape(self, (-1,))


def _method(fn, name: str):
    """``x.name(*args, **kwargs)`` as NumPy's ``np.name(x, *args, **kwargs)``: the ndarray method
    takes the function's parameters after the array, in the same order."""
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)
    method.__doc__ = f"``np.{name}(x, ...)`` (see :func:`mlc.numpy.{name}`)."
    return method


def _copy(self, order="C"):
    """The same value as a new array object (an in-place operator on it leaves ``self`` alone)."""
    return self.fresh()


class _Flat:
    """``x.flat``: NumPy's flat iterator, indexed as the array raveled in C order. Reading
    ``x.flat[k]`` reads ``x.reshape(-1)[k]``; writing ``x.flat[k] = v`` writes through into ``x``
    (a new version of it), as NumPy's does."""

    __slots__ = ("base",)

    def __init__(self, base):
        self.base = base

    def __getitem__(self, key):
        return getitem(reshape(self.base, (-1,)), key)

    def __setitem__(self, key, value):
        setitem(reshape(self.base, (-1,)), key, value)

    def __len__(self) -> int:
        return self.base.size

    def __iter__(self):
        flat = reshape(self.base, (-1,))
        return (flat[k] for k in range(flat.shape[0]))


def _diagonal(self, offset=0, axis1=0, axis2=1):
    return diagonal(self, offset, axis1, axis2)


def _trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return trace(self, offset, axis1, axis2, dtype, out)


def _dot(self, other):
    return dot(self, other)


#: method name -> its implementation (``ravel`` is ``flatten``).
_METHODS = {
    "__getitem__": _getitem, "__setitem__": _setitem, "fill": _fill, "put": _put, "reshape": _reshape, "astype": _astype, "transpose": _transpose,
    "flatten": _flatten, "ravel": _flatten, "copy": _copy, "diagonal": _diagonal, "trace": _trace,
    "dot": _dot,
}

#: ndarray methods that are ``np.<name>(x, ...)`` with the same parameters after the array.
_FUNCTION_METHODS = ("all", "any", "argmax", "argmin", "argsort", "clip", "cumprod", "cumsum", "max",
                     "mean", "min", "nonzero", "prod", "repeat", "round", "searchsorted", "squeeze",
                     "std", "sum", "swapaxes", "take", "var")


def _weak_operand(value) -> bool:
    """A Python scalar, or a traced one (a weak Tracer)."""
    return type(value) in (bool, int, float) or (isinstance(value, Tracer) and value.weak)


#: Python operators that turn bools into ints (``True + True == 2``, ``-True == -1``).
_BOOL_TO_INT = frozenset({"add", "subtract", "multiply", "floor_divide", "remainder", "power",
                          "left_shift", "right_shift", "negative", "positive", "absolute", "invert"})


def _python_operands(name: str, operands) -> list:
    """Operands of a Python operator between Python scalars, bools made ints where Python does."""
    if name in _BOOL_TO_INT and all(_is_bool(v) for v in operands):
        return [int(v) if type(v) is bool else astype(v, "int64") for v in operands]
    return list(operands)


def _is_bool(value) -> bool:
    return type(value) is bool or (isinstance(value, Tracer) and value._atom.type.dtype == "bool")


def _binary(dunder: str, name: str, fn, reflected: bool = False):
    """``self <op> other``: NumPy's function ``name`` (``fn``); between Python scalars (traced or
    not) the result is again a Python scalar, so it stays weak (NEP 50), as ``2.0 * 2`` is."""
    def method(self, other):
        operands = (other, self) if reflected else (self, other)
        if name in ("equal", "not_equal") and is_object_operand(other):
            return object_comparison(name, self)  # ``x == None``: NumPy's object comparison
        if self.weak and _weak_operand(other):
            return fn(*_python_operands(name, operands)).weak_copy()
        return fn(*operands)
    method.__name__ = f"__{'r' if reflected else ''}{dunder}__"
    method.__qualname__ = f"Tracer.{method.__name__}"
    return method


def _in_place(dunder: str, name: str, binary):
    """``self <op>= other`` as NumPy's ndarray does it: the result computed as ``self <op> other``
    (``binary``), cast back to ``self``'s dtype under ``casting="same_kind"`` and stored in
    ``self``, whose shape it must keep: a new version of the array, which every name bound to it,
    every view of it, the array it is a view of and (for an argument) the caller's array see
    (:mod:`.updates`). A Python or NumPy scalar (:attr:`Tracer.is_scalar`: ``a[0]``,
    ``a.sum()``) is rebound, as Python rebinds ``s += 1``: another name bound to it keeps
    the old value."""
    def method(self, other):
        if self.is_scalar:
            return binary(self, other)
        where = describe_location(user_location())
        result = binary(self, other)
        if result.shape != self.shape:
            raise ShapeError(f"x {_SYMBOLS[dunder]}= ...: non-broadcastable output operand with shape "
                             f"{tuple(self.shape)} doesn't match the broadcast shape {tuple(result.shape)}{where}")
        if result.dtype != self.dtype:
            if not np.can_cast(result.dtype, self.dtype, "same_kind"):
                raise DTypeError(f"x {_SYMBOLS[dunder]}= ...: cannot cast ufunc {name!r} output from "
                                 f"{result.dtype} to {self.dtype} with casting rule 'same_kind' (as "
                                 f"NumPy); write x = (x {_SYMBOLS[dunder]} ...).astype(...){where}")
            result = astype(result, self.dtype)
        return assign(self, result, f"x {_SYMBOLS[dunder]}= ...")
    method.__name__ = f"__i{dunder}__"
    method.__qualname__ = f"Tracer.{method.__name__}"
    return method


_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**",
            "matmul": "@", "and": "&", "or": "|", "xor": "^", "lshift": "<<", "rshift": ">>"}


#: (type, value) of a Python exponent -> the ufunc ndarray's ``**`` calls instead of power on a
#: float or complex array (NumPy's fast path; exactly int or float, not bool or NumPy scalars).
_FAST_POWERS = {(int, -1): "reciprocal", (int, 2): "square", (float, 0.5): "sqrt"}


def _fast_power(power, ufuncs: dict):
    """``self ** other`` as NumPy's ndarray computes it: ``reciprocal``, ``square`` or ``sqrt``
    for the Python exponents -1, 2 and 0.5 on a float or complex array, ``power`` (the operator
    method ``power``) otherwise. They differ beyond rounding: ``(-0.0) ** 0.5`` is -0 and
    ``(-inf) ** 0.5`` NaN (sqrt), where ``np.power`` gives +0 and +inf."""
    def __pow__(self, other):
        dtype = self._atom.type.dtype
        if type(other) in (int, float) and not self.weak and dtype.startswith(("float", "complex")):
            name = _FAST_POWERS.get((type(other), other))
            if name is not None:
                return ufuncs[name](self)
        return power(self, other)
    __pow__.__qualname__ = "Tracer.__pow__"
    return __pow__


def _unary(dunder: str, name: str, fn):
    def method(self):
        if self.weak:  # -x, +x, abs(x), ~x of a Python scalar is a Python scalar
            return fn(*_python_operands(name, [self])).weak_copy()
        return fn(self)
    method.__name__ = f"__{dunder}__"
    method.__qualname__ = f"Tracer.{method.__name__}"
    return method


_OPERATORS = {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
    "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
    "lshift": "left_shift", "rshift": "right_shift",
}
_COMPARISONS = {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
                "eq": "equal", "ne": "not_equal"}
_UNARY = {"neg": "negative", "pos": "positive", "abs": "absolute", "invert": "invert"}


def attach(ufuncs: dict, functions: dict, table: dict, refused: dict) -> None:
    """Set the operators, methods and NumPy protocol hooks on :class:`Tracer`; NumPy's ufuncs
    on Tracers become the ones in ``ufuncs`` (by name), NumPy's functions ``table[func]`` (by
    the function object; ``refused[func]`` says why one does not trace), and the methods the
    ones in ``functions`` (by name)."""
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return dispatch.ufunc_call(ufunc, method, inputs, kwargs, ufuncs, functions)

    def __array_function__(self, func, types, args, kwargs):
        return dispatch.function_call(func, args, kwargs, table, refused)

    def function(name: str):  # matmul is a ufunc in NumPy, a function here
        return ufuncs.get(name) or functions[name]

    for hook in (__array_ufunc__, __array_function__):
        hook.__qualname__ = f"Tracer.{hook.__name__}"
        setattr(Tracer, hook.__name__, hook)
    Tracer.T = property(_T)
    # complex parts and the conjugate as NumPy's ndarray has them (``z.real``, ``z.conj()``)
    Tracer.real = property(lambda self: functions["real"](self), doc="The real part (a real array).")
    Tracer.imag = property(lambda self: functions["imag"](self), doc="The imaginary part (a real array).")
    Tracer.mT = property(lambda self: functions["matrix_transpose"](self),
                         doc="The last two axes swapped (the Array API's ``x.mT``).")

    def conj(self) -> Tracer:  # (the ufunc for complex values; NumPy's method returns a real array itself)
        return ufuncs["conjugate"](self) if self.dtype.kind == "c" else self
    conj.__qualname__ = "Tracer.conj"
    Tracer.conj = Tracer.conjugate = conj
    Tracer.nbytes = property(lambda self: self.size * self.dtype.itemsize,
                             doc="The bytes the array's elements take (``size * itemsize``).")
    Tracer.flat = property(_Flat, doc="NumPy's flat iterator: ``x.flat[k]`` reads and writes x in C order.")
    Tracer.at = property(IndexUpdates, doc="JAX's functional updates: ``x.at[idx].set(v)``, ``.add(v)``, ... "
                                           "(:mod:`mlc.numpy.index_updates`).")
    Tracer.itemsize = property(lambda self: self.dtype.itemsize, doc="The bytes of one element.")
    methods = dict(_METHODS, **{n: _method(functions[n], n) for n in _FUNCTION_METHODS})

    def sort(self, axis=-1, kind=None, order=None):
        """``x.sort(axis)``: ``x`` sorted in place (a new version of ``x``)."""
        if order is not None:
            raise TraceError("x.sort(order=...) sorts structured arrays, which do not trace"
                             + describe_location(user_location()))
        assign(self, functions["sort"](self, axis=axis), "x.sort()")
    methods["sort"] = sort
    methods["item"] = item
    for name, method in methods.items():
        if name != "ravel":  # ravel is flatten, named so
            method.__name__, method.__qualname__ = name, f"Tracer.{name}"
        setattr(Tracer, name, method)
    for dunder, fn in _OPERATORS.items():
        setattr(Tracer, f"__{dunder}__", _binary(dunder, fn, function(fn)))
        setattr(Tracer, f"__r{dunder}__", _binary(dunder, fn, function(fn), reflected=True))
    Tracer.__pow__ = _fast_power(Tracer.__pow__, ufuncs)
    for dunder, fn in _OPERATORS.items():
        setattr(Tracer, f"__i{dunder}__", _in_place(dunder, fn, getattr(Tracer, f"__{dunder}__")))
    for dunder, fn in _COMPARISONS.items():
        setattr(Tracer, f"__{dunder}__", _binary(dunder, fn, function(fn)))
    for dunder, fn in _UNARY.items():
        setattr(Tracer, f"__{dunder}__", _unary(dunder, fn, function(fn)))
