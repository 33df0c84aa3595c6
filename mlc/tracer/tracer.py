"""Tracer: an abstract array (shape and dtype only) that records what is done to it.

Inside ``@mlc.jit`` every array argument is a Tracer. Python operators,
NumPy-style methods and NumPy's own functions (through ``__array_ufunc__``
and ``__array_function__``) record ops in the active trace; each is the
matching :mod:`mlc.numpy` function, so there is one implementation of each.
This module knows nothing of them: :mod:`mlc.numpy.methods` attaches them to
:class:`Tracer` when ``mlc.numpy`` loads (as ``mlc.jit`` does).

Asking a Tracer for a concrete value (``bool``, ``float``, ``int``,
``np.asarray``) raises :class:`mlc.TraceError` naming the user's source line.

>>> import mlc.numpy  # the array methods
>>> from mlc.ir.types import TensorType
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


def _concrete_error(what: str, tracer: Tracer) -> TraceError:
    loc = user_location(3)
    return TraceError(
        f"{what} of a traced value is not known while tracing: {tracer!r} has a shape and dtype "
        f"but no data until the compiled function runs{describe_location(loc)}\n"
        "bool()/float()/int() of a traced value cannot be traced (an if/while/for on one compiles "
        "inside the jitted function itself, but not in the functions it calls: there use "
        "mlc.cond / mlc.while_loop / mlc.fori_loop). "
        "Use mlc.numpy.where(cond, a, b) to choose values elementwise, or mark the argument "
        "static with @mlc.jit(static_argnums=...) / static_argnames=... so its value is known "
        "when tracing (each new value compiles again).")


def _mask_values_error(tracer: Tracer) -> TraceError:
    """NumPy asked for a traced boolean array's values: most often ``np_array[mask]``, a NumPy
    array (not traced) indexed by a traced mask, whose length is the mask's count."""
    return TraceError(
        f"np_array[mask] (or np.asarray(mask)): {tracer!r} is a traced boolean mask, and NumPy asked for "
        f"its values, which exist only when the compiled function runs{describe_location(user_location(3))}\n"
        "A NumPy array (not a traced one: made by a NumPy function that mlc does not trace, such as "
        "np.mgrid, or captured from outside the function) indexed by a traced mask would hold as many "
        "elements as the mask has True values: a shape known only when the function runs, and mlc compiles "
        "shapes known while tracing. Make the array traced (an argument, or made inside the function with mlc.numpy's "
        "functions) and use x[mask] where it is reduced (x[mask].sum()) or written under the same mask "
        "(x[mask] = v). A loop that compacts its arrays to the points still active (z = z[mask], "
        "xs = xs[mask]) compiles as a loop over the whole arrays with a mask of the active points: "
        "z = np.where(active, z * z + c, z); active &= np.abs(z) <= 2.")


def _immutable_error(what: str, instead: str) -> TraceError:
    return TraceError(
        f"{what} changes an array in place, but traced arrays are immutable{describe_location(user_location(3))}\n"
        f"Build a new array instead: {instead}.")


#: In-place ndarray methods -> what to write instead.
_IN_PLACE = {
    "sort": "x = np.sort(x, axis)",
    "fill": "x = np.full_like(x, value)",
    "put": "x = np.where(mask, values, x) with a mask of the positions",
    "resize": "x = np.resize(...) or np.reshape / np.pad to the new shape",
    "partition": "x = np.sort(x, axis)",
}


def _in_place(name: str):
    def method(self, *args, **kwargs):
        raise _immutable_error(f"x.{name}()", _IN_PLACE[name])
    method.__name__, method.__qualname__ = name, f"Tracer.{name}"
    method.__doc__ = f"Refused: ``ndarray.{name}`` works in place (TraceError)."
    return method


class Tracer:
    """A traced array: ``shape``, ``dtype`` and the graph value it stands for.

    ``weak`` marks a Python scalar argument of a jitted function, and the
    result of a Python operator between such values (``x * 2``, ``-x``,
    ``abs(x)``, ``x > 1``): it adopts the dtype of the arrays it meets
    (NEP 50), like the Python scalar would. NumPy's functions on them
    (``np.exp(x)``, ``np.add(x, 1)``) give typed, strong results, as NumPy's do.
    """

    __slots__ = ("_ctx", "_value", "weak", "_ref", "array0d")
    __array_priority__ = 1000  # NumPy defers binary operators to us

    def __init__(self, ctx, atom, weak: bool = False):
        self._ctx, self._value, self.weak = ctx, atom, weak
        #: None, or the :class:`~.state.View` this array is of an array that may be written
        #: (an argument, or one a view was taken of): its value is read through it
        self._ref = None
        #: whether a 0-d value is an ndarray object (``np.zeros(())``, a 0-d argument, a view):
        #: ``x += 1`` writes it in place. Other 0-d values stand for NumPy scalars (``a[0]``,
        #: ``a.sum()``, a ufunc's result), which are immutable: ``s += 1`` rebinds ``s``
        self.array0d = False

    @property
    def _atom(self):
        """The graph value this array stands for now (a write makes a new one)."""
        ref = self._ref
        return self._value if ref is None else ref.read()

    @_atom.setter
    def _atom(self, atom):
        """A new value for an array nothing else shares (see :attr:`shares`); a shared one is
        written through its views with ``mlc.numpy.updates.assign``."""
        if self._ref is not None:
            raise TraceError(f"internal: {self!r} shares its memory ({self.shares}); write it with "
                             "mlc.numpy.updates.assign, which writes through to the arrays sharing it")
        self._value = atom

    @property
    def shares(self) -> str | None:
        """None, or why a write into this array changes another one too, as in NumPy: ``"input"``
        (it is an argument of the jitted function: the caller's array) or ``"view"`` (it is a
        view, or an array a view was taken of)."""
        ref = self._ref
        if ref is None:
            return None
        return "input" if not ref.path and ref.box.input is not None else "view"

    def fresh(self) -> Tracer:
        """The same value as a new array object (what NumPy's copies are): a write into it
        leaves ``self`` alone."""
        here = self._ctx.owner_of_copy(self)
        out = Tracer(here._ctx, here._atom, self.weak)
        out.array0d = self.array0d
        return out

    def new_array(self) -> Tracer:
        """The same value as a new ndarray object (``np.array(x)``, ``np.copy(x)``): 0-d, it
        is an array that ``+=`` writes in place, not a NumPy scalar."""
        here = self._ctx.owner_of_copy(self)
        out = Tracer(here._ctx, here._atom)
        out.array0d = True
        return out

    @property
    def is_scalar(self) -> bool:
        """Whether this stands for an immutable number (a Python or NumPy scalar), which an
        augmented assignment (``s += 1``) rebinds instead of writing in place."""
        return self.weak or (not self._atom.type.shape and not self.array0d)

    def strong(self) -> Tracer:
        return self if not self.weak else Tracer(self._ctx, self._atom)

    def weak_copy(self) -> Tracer:
        """This value as a Python scalar's stand-in: it adopts the dtype of the arrays it meets."""
        return self if self.weak else Tracer(self._ctx, self._atom, weak=True)

    # ------------------------------------------------------------- metadata

    @property
    def shape(self) -> tuple[int, ...]:
        return self._atom.type.shape

    @shape.setter
    def shape(self, new) -> None:
        """``x.shape = s``: NumPy's in-place reshape of this array object (its views keep their
        shape), for an array nothing else shares; otherwise a TraceError."""
        if self._ref is not None:
            raise TraceError("x.shape = ... reshapes in place an array that is an argument of the jitted "
                             "function or shares its memory with a view; write x = x.reshape(...)"
                             + describe_location(user_location(2)))
        newshape = (new,) if isinstance(new, (int, np.integer)) else tuple(new)
        out = self._ctx.emit("reshape", [self], {"newshape": tuple(int(d) for d in newshape)}, view=False)
        self._value = out._atom

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._atom.type.dtype)

    @property
    def ndim(self) -> int:
        return len(self._atom.type.shape)

    @property
    def size(self) -> int:
        return self._atom.type.size

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
        if self._atom.type.dtype == "bool" and self._atom.type.shape:  # most often np_array[mask]
            raise _mask_values_error(self)
        raise _concrete_error("the data (np.asarray / np.array, or a write into a NumPy array: pass that "
                              "array as an argument of the jitted function instead)", self)

    def tolist(self):
        raise _concrete_error("the data (tolist)", self)

    def item(self, *args):
        """A Python number: not known while tracing (``x.item(i)`` too: index ``x[i]`` instead)."""
        raise _concrete_error("the data (item; x.item(i) is x.flat[i]: index x instead)", self)

    __hash__ = None  # == builds a traced comparison, so tracers are not hashable

    # ------------------------------------------------------- in-place changes

    def __setitem__(self, key, value):
        raise _immutable_error("Item assignment (x[...] = value)",
                               "import mlc.numpy first, which gives traced arrays their item assignment")

    sort, fill, put, resize, partition = (_in_place(n) for n in ("sort", "fill", "put", "resize", "partition"))
