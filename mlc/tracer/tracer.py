"""Tracer: an abstract array (shape and dtype only) that records what is done to it.

Inside ``@mlc.jit`` every array argument is a Tracer. Python operators,
NumPy-style methods and NumPy's own functions (through ``__array_ufunc__``
and ``__array_function__``) record ops in the active trace; each is the
matching :mod:`mlc.numpy` function, so there is one implementation of each.

Asking a Tracer for a concrete value (``bool``, ``float``, ``int``,
``np.asarray``) raises :class:`mlc.TraceError` naming the user's source line.

>>> from mlc.ops.registry import TensorType
>>> from mlc.tracer.trace import TraceContext
>>> with TraceContext() as ctx:
...     x = ctx.new_input(TensorType((2, 3), "float32"), "x")
...     y = (x * 2 + 1).sum(axis=1)
>>> y
Tracer<float32[2]>
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from .source import describe_location, user_location

__all__ = ["Tracer"]


def _mnp():
    from .. import numpy as mnp
    return mnp


def _concrete_error(what: str, tracer: Tracer) -> TraceError:
    loc = user_location(3)
    return TraceError(
        f"{what} of a traced value is not known while tracing: {tracer!r} has a shape and dtype "
        f"but no data until the compiled function runs{describe_location(loc)}\n"
        "Data-dependent Python control flow (if/while/bool()/float()/int()) cannot be traced. "
        "Use mlc.numpy.where(cond, a, b) to choose values elementwise, or mark the argument "
        "static with @mlc.jit(static_argnums=...) / static_argnames=... so its value is known "
        "when tracing (each new value compiles again).")


class Tracer:
    """A traced array: ``shape``, ``dtype`` and the graph value it stands for.

    ``weak`` marks a Python scalar argument of a jitted function, and the
    result of a Python operator between such values (``x * 2``, ``-x``,
    ``abs(x)``, ``x > 1``): it adopts the dtype of the arrays it meets
    (NEP 50), like the Python scalar would. NumPy's functions on them
    (``np.exp(x)``, ``np.add(x, 1)``) give typed, strong results, as NumPy's do.
    """

    __slots__ = ("_ctx", "_atom", "weak")
    __array_priority__ = 1000  # NumPy defers binary operators to us

    def __init__(self, ctx, atom, weak: bool = False):
        self._ctx, self._atom, self.weak = ctx, atom, weak

    def strong(self) -> Tracer:
        return self if not self.weak else Tracer(self._ctx, self._atom)

    def weak_copy(self) -> Tracer:
        """This value as a Python scalar's stand-in: it adopts the dtype of the arrays it meets."""
        return self if self.weak else Tracer(self._ctx, self._atom, weak=True)

    # ------------------------------------------------------------- metadata

    @property
    def shape(self) -> tuple[int, ...]:
        return self._atom.type.shape

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._atom.type.dtype)

    @property
    def ndim(self) -> int:
        return len(self._atom.type.shape)

    @property
    def size(self) -> int:
        return self._atom.type.size

    @property
    def T(self) -> Tracer:
        return _mnp().transpose(self)

    def __len__(self) -> int:
        if not self.shape:
            raise TraceError("len() of a 0-d traced value" + describe_location(user_location()))
        return self.shape[0]

    def __iter__(self):
        for n in range(len(self)):
            yield self[n]

    def __repr__(self) -> str:
        dims = ",".join(str(d) for d in self.shape)
        return f"Tracer<{self._atom.type.dtype}[{dims}]{', weak' if self.weak else ''}>"

    # ----------------------------------------------------- concrete values

    def __bool__(self):
        raise _concrete_error("the truth value (bool)", self)

    def __float__(self):
        raise _concrete_error("the float value", self)

    def __int__(self):
        raise _concrete_error("the int value", self)

    def __index__(self):
        raise _concrete_error("the integer index value", self)

    def __complex__(self):
        raise _concrete_error("the complex value", self)

    def __array__(self, dtype=None, copy=None):
        raise _concrete_error("the data (np.asarray / np.array)", self)

    def tolist(self):
        raise _concrete_error("the data (tolist)", self)

    item = tolist

    __hash__ = None  # == builds a traced comparison, so tracers are not hashable

    # -------------------------------------------------------- NumPy hooks

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from ..numpy.dispatch import ufunc_call
        return ufunc_call(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from ..numpy.dispatch import function_call
        return function_call(func, args, kwargs)

    # ------------------------------------------------------------ methods

    def __getitem__(self, key):
        return _mnp().getitem(self, key)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _mnp().reshape(self, shape, order=order)

    def astype(self, dtype, copy=True):
        return _mnp().astype(self, dtype)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)) or axes == (None,):
            axes = axes[0]
        return _mnp().transpose(self, axes or None)

    def flatten(self):
        return _mnp().reshape(self, (-1,))

    ravel = flatten

    def squeeze(self, axis=None):
        return _mnp().squeeze(self, axis)

    def clip(self, min=None, max=None):  # noqa: A002 - NumPy's names
        return _mnp().clip(self, min, max)

    def sum(self, axis=None, dtype=None, keepdims=False):
        return _mnp().sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False):
        return _mnp().prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, keepdims=False):
        return _mnp().mean(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _mnp().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _mnp().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _mnp().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _mnp().argmin(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return _mnp().var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis=None, keepdims=False, ddof=0):
        return _mnp().std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def dot(self, other):
        return _mnp().dot(self, other)


def _weak_operand(value) -> bool:
    """A Python scalar, or a traced one (a weak Tracer)."""
    return type(value) in (bool, int, float) or (isinstance(value, Tracer) and value.weak)


#: Python operators that turn bools into ints (``True + True == 2``, ``-True == -1``).
_BOOL_TO_INT = frozenset({"add", "subtract", "multiply", "floor_divide", "remainder", "power",
                          "left_shift", "right_shift", "negative", "positive", "absolute", "invert"})


def _python_operands(name: str, operands) -> list:
    """Operands of a Python operator between Python scalars, bools made ints where Python does."""
    if name in _BOOL_TO_INT and all(_is_bool(v) for v in operands):
        return [int(v) if type(v) is bool else _mnp().astype(v, "int64") for v in operands]
    return list(operands)


def _is_bool(value) -> bool:
    return type(value) is bool or (isinstance(value, Tracer) and value._atom.type.dtype == "bool")


def _binary(name: str, reflected: bool = False):
    """``self <op> other``: NumPy's function; between Python scalars (traced or not) the
    result is again a Python scalar, so it stays weak (NEP 50), as ``2.0 * 2`` is."""
    def method(self, other):
        fn = getattr(_mnp(), name)
        operands = (other, self) if reflected else (self, other)
        if self.weak and _weak_operand(other):
            return fn(*_python_operands(name, operands)).weak_copy()
        return fn(*operands)
    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


def _unary(name: str):
    def method(self):
        fn = getattr(_mnp(), name)
        if self.weak:  # -x, +x, abs(x), ~x of a Python scalar is a Python scalar
            return fn(*_python_operands(name, [self])).weak_copy()
        return fn(self)
    method.__name__ = f"__{name}__"
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

for _dunder, _fn in _OPERATORS.items():
    setattr(Tracer, f"__{_dunder}__", _binary(_fn))
    setattr(Tracer, f"__r{_dunder}__", _binary(_fn, reflected=True))
for _dunder, _fn in _COMPARISONS.items():
    setattr(Tracer, f"__{_dunder}__", _binary(_fn))
for _dunder, _fn in _UNARY.items():
    setattr(Tracer, f"__{_dunder}__", _unary(_fn))
