"""``x[mask]`` for a traced boolean mask, kept lazy until a reduction or a masked write uses it.

The elements a traced mask selects are known only when the compiled function runs, so
``x[mask]`` has no shape while tracing. Most programs use it where the shape does not
matter: reduced (``x[mask].sum()``, ``np.mean(x[m])``) or written back under the same mask
(``a[mask] = b[mask] * 2``, ``x[x > 0] = x[x > 0] ** -1.5``). A :class:`Selection` is that
read kept as the whole array and the mask; arithmetic on selections under one mask (and on
scalars) is arithmetic on the whole arrays, a reduction is a masked reduction
(``where(mask, x, 0).sum()``; the mean divides by ``count_nonzero(mask)``), and a write of a
selection under an equal mask is ``where(mask, values, a)`` — NumPy's results exactly (where
NumPy raises on an empty selection, ``max``/``min`` give -inf/+inf and ``mean`` NaN). Any
other use (its length, returning it, indexing it) is a TraceError that says what to write.

The mask may select the leading axes only (``X[labels == j]`` of a ``(n, d)`` array, a
``(n,)`` mask: the selected rows): the selection is then its rows, arithmetic broadcasts over
their trailing axes, ``X[labels == j].mean(axis=0)`` is the mean of the selected rows and
``C[m] = S[m] / n[m, None]`` writes them.

Two masks are equal when they are the same traced value or computed by the same op from the
same operands (``x[x > 0] = x[x > 0] ** -1.5`` computes ``x > 0`` twice).
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ..ir.graph import Constant
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer

__all__ = ["Selection", "NonzeroIndex", "nonzero_key", "same_mask", "selection_refusal"]

#: What to write instead of the uses of ``x[mask]`` that need its shape.
INSTEAD = ("keep the shape and mask the values: np.where(mask, x, 0).sum() for x[mask].sum(), "
           "np.count_nonzero(mask) for its length, np.where(mask, x, np.nan) with np.nanmean / "
           "np.nanmax for the others")


def selection_refusal(what: str, loc=None) -> TraceError:
    return TraceError(f"{what}: a traced boolean mask selects a number of elements known only when the "
                      "function runs, so the result's shape is unknown while tracing; x[mask] is compiled "
                      "where a reduction (x[mask].sum(), np.mean(x[mask]), .max(), ...) or a write under "
                      f"the same mask (a[mask] = b[mask] * 2) uses it; {INSTEAD}"
                      + describe_location(loc if loc is not None else user_location()))


def _binding_of(ctx, atom):
    for b in reversed(ctx.bindings):
        if any(o is atom for o in b.outputs):
            return b
    return None


def _same_atom(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, Constant) and isinstance(b, Constant):
        return a.type == b.type and a.data.tobytes() == b.data.tobytes()
    return False


def same_mask(m1: Tracer, m2: Tracer) -> bool:
    """Whether masks ``m1`` and ``m2`` are one value: the same, or one op of the same operands."""
    a, b = m1._atom, m2._atom
    if a is b:
        return True
    if m1._ctx is not m2._ctx or tuple(m1.shape) != tuple(m2.shape):
        return False
    da, db = _binding_of(m1._ctx, a), _binding_of(m2._ctx, b)
    return (da is not None and db is not None and da.op == db.op and da.attrs == db.attrs
            and len(da.args) == len(db.args) and all(_same_atom(x, y) for x, y in zip(da.args, db.args)))


def _reduce_attrs(what: str, axis=None, out=None, keepdims=False, **rest):
    if axis not in (None, 0) or out is not None or keepdims or any(v is not None for v in rest.values()):
        raise selection_refusal(f"{what} of x[mask] with an axis other than 0, out, keepdims or dtype")


class Selection:
    """``values[mask]`` kept as the whole array ``values`` (the mask's shape) and ``mask``."""

    __array_priority__ = 2000  # NumPy defers binary operators to us, before a Tracer's

    def __init__(self, values: Tracer, mask: Tracer, loc=None):
        self.values, self.mask = values, mask
        #: where the selection was read (the user's line a refusal names)
        self.loc = loc if loc is not None else user_location()

    # ------------------------------------------------------------ arithmetic

    @property
    def _trailing(self) -> int:
        """How many axes of the values the mask leaves (0: it selects elements, 1: rows, ...)."""
        return self.values.ndim - self.mask.ndim

    def _operand(self, other, what: str):
        if isinstance(other, Selection):
            if not same_mask(self.mask, other.mask):
                raise selection_refusal(f"{what} of two boolean-mask selections under different masks")
            if other.values.ndim != self.values.ndim:
                raise selection_refusal(f"{what} of two boolean-mask selections of different dimensions")
            return other.values
        if isinstance(other, (bool, int, float, complex, np.generic)) or (
                isinstance(other, (Tracer, np.ndarray)) and np.ndim(other) <= self._trailing):
            return other  # broadcast over the selected elements, along their trailing axes as NumPy does
        raise selection_refusal(f"{what} of x[mask] and an array")

    def _apply(self, fn, other, what):
        return Selection(fn(self.values, self._operand(other, what)), self.mask, self.loc)

    def _rapply(self, fn, other, what):
        return Selection(fn(self._operand(other, what), self.values), self.mask, self.loc)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs.get("out") is not None or ufunc.nout != 1:
            raise selection_refusal(f"np.{ufunc.__name__}.{method} on x[mask]")
        args = [x.values if x is self else self._operand(x, f"np.{ufunc.__name__}") for x in inputs]
        return Selection(ufunc(*args, **kwargs), self.mask, self.loc)

    def __array_function__(self, func, types, args, kwargs):
        method = _FUNCTIONS.get(func)
        if method is None or args[0] is not self:
            raise selection_refusal(f"np.{func.__name__} of x[mask]")
        return getattr(self, method)(*args[1:], **kwargs)

    # ------------------------------------------------------------ reductions

    def _full_mask(self):
        """The mask with an axis of 1 for each trailing axis of the values (it broadcasts)."""
        m = self.mask
        return m if not self._trailing else m.reshape(tuple(m.shape) + (1,) * self._trailing)

    def _masked(self, fill):
        return np.where(self._full_mask(), self.values, fill)

    def _axes(self, what: str, axis):
        """The axes a reduction of the selection reduces: all (axis None), or the selected
        elements' axis (axis 0: the mask's axes, for a mask over rows as much as over elements)."""
        if axis is None:
            return None
        if self.mask.ndim != 1 and self._trailing:
            raise selection_refusal(f"{what}(axis=0) of x[mask] with a mask of several axes over some of x's")
        return tuple(range(self.mask.ndim))

    def _count(self, axis):
        """How many elements a reduction over ``axis`` of the selection takes."""
        selected = np.count_nonzero(self.mask)
        if axis is None and self._trailing:
            return selected * int(np.prod(self.values.shape[self.mask.ndim:]))
        return selected

    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        _reduce_attrs("sum", axis, out, keepdims)
        return np.sum(self._masked(0), axis=self._axes("sum", axis), dtype=dtype)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False):
        _reduce_attrs("prod", axis, out, keepdims)
        return np.prod(self._masked(1), axis=self._axes("prod", axis), dtype=dtype)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        _reduce_attrs("mean", axis, out, keepdims)
        kind = np.dtype(self.values.dtype).kind
        want = np.dtype(dtype) if dtype is not None else np.dtype("float64" if kind in "biu" else self.values.dtype)
        total = np.sum(self._masked(0).astype(want), axis=self._axes("mean", axis))
        count = self._count(axis).astype(want if want.kind in "fc" else np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (total / count).astype(want)

    def max(self, axis=None, out=None, keepdims=False):
        _reduce_attrs("max", axis, out, keepdims)
        return np.max(self._masked(_extreme(self.values.dtype, low=True)), axis=self._axes("max", axis))

    def min(self, axis=None, out=None, keepdims=False):
        _reduce_attrs("min", axis, out, keepdims)
        return np.min(self._masked(_extreme(self.values.dtype, low=False)), axis=self._axes("min", axis))

    def any(self, axis=None, out=None, keepdims=False):
        _reduce_attrs("any", axis, out, keepdims)
        return np.any(np.logical_and(self._full_mask(), self.values != 0), axis=self._axes("any", axis))

    def all(self, axis=None, out=None, keepdims=False):
        _reduce_attrs("all", axis, out, keepdims)
        return np.all(np.logical_or(np.logical_not(self._full_mask()), self.values != 0),
                      axis=self._axes("all", axis))

    def count_nonzero(self, axis=None, keepdims=False):
        _reduce_attrs("count_nonzero", axis, None, keepdims)
        return np.count_nonzero(np.logical_and(self._full_mask(), self.values != 0), axis=self._axes("count_nonzero", axis))

    def astype(self, dtype, **kwargs):
        return Selection(self.values.astype(dtype, **kwargs), self.mask, self.loc)

    def copy(self):
        return self

    # ------------------------------------------------------------ what has no meaning without a shape

    def mlc_refusal(self) -> TraceError:
        return selection_refusal("x[mask] used where its shape is needed (returned, stored, indexed or measured)",
                                 self.loc)

    def _refuse(self, *args, **kwargs):
        raise self.mlc_refusal()

    __len__ = __iter__ = __getitem__ = __setitem__ = __bool__ = __index__ = __float__ = __int__ = _refuse
    __array__ = _refuse

    @property
    def shape(self):
        self._refuse()

    size = ndim = T = shape

    def __repr__(self) -> str:
        return f"Selection({self.values!r}[{self.mask!r}])"


class NonzeroIndex:
    """One of the index arrays ``np.nonzero(mask)`` / ``np.where(mask)`` returns for a traced
    ``mask`` (the ``axis``-th): its length is known only when the function runs, so it is kept
    lazy. Indexing with all of them (``x[np.where(m)]``, ``x[np.nonzero(m)] = 0``, or the one of a
    1-D mask, ``x[np.where(m)[0]]``) is indexing with the mask (:func:`nonzero_key`); ``.size``
    is ``np.count_nonzero(mask)``; any other use is a TraceError that says what to write."""

    __array_priority__ = 2000

    def __init__(self, mask: Tracer, axis: int, loc=None):
        self.mask, self.axis = mask, axis
        self.loc = loc if loc is not None else user_location()

    @property
    def size(self):
        return np.count_nonzero(self.mask)

    def mlc_refusal(self) -> TraceError:
        return TraceError(
            "np.nonzero(mask) / np.where(mask) of a traced mask: its index arrays have a length known only "
            "when the function runs; they are compiled where they index an array with all their axes "
            "(x[np.where(mask)], x[np.nonzero(mask)] = v, x[np.where(mask)[0]] for a 1-D mask) or give "
            f"their count (.size); use the mask itself otherwise: {INSTEAD}" + describe_location(self.loc))

    def _refuse(self, *args, **kwargs):
        raise self.mlc_refusal()

    __len__ = __iter__ = __getitem__ = __setitem__ = __bool__ = __index__ = __float__ = __int__ = _refuse
    __array__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _refuse
    __hash__ = None

    @property
    def shape(self):
        self._refuse()

    ndim = T = shape

    def __array_ufunc__(self, *args, **kwargs):
        self._refuse()

    def __array_function__(self, *args, **kwargs):
        self._refuse()


def nonzero_key(key):
    """``key`` with a full set of :class:`NonzeroIndex` arrays (``(i0, i1, ...)`` of one mask,
    in order) replaced by that mask; unchanged when it has none; a TraceError for a partial set."""
    items = key if isinstance(key, tuple) else (key,)
    found = [k for k in items if isinstance(k, NonzeroIndex)]
    if not found:
        return key
    mask = found[0].mask
    if len(found) != mask.ndim or any(k.mask is not mask or k.axis != n for n, k in enumerate(found)) \
            or any(not isinstance(k, NonzeroIndex) for k in items[:len(found)]):
        raise found[0].mlc_refusal()
    rest = items[len(found):]
    return (mask, *rest) if rest or isinstance(key, tuple) else mask


def _extreme(dtype, low: bool):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return -np.inf if low else np.inf
    if dtype.kind == "b":
        return not low
    info = np.iinfo(dtype)
    return dtype.type(info.min if low else info.max)


def _binary(name: str, fn):
    def forward(self, other):
        return self._apply(fn, other, name)

    def backward(self, other):
        return self._rapply(fn, other, name)
    return forward, backward


for _name, _fn in (("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
                   ("truediv", lambda a, b: a / b), ("floordiv", lambda a, b: a // b),
                   ("mod", lambda a, b: a % b), ("pow", lambda a, b: a ** b), ("and", lambda a, b: a & b),
                   ("or", lambda a, b: a | b), ("xor", lambda a, b: a ^ b)):
    _f, _b = _binary(_name, _fn)
    setattr(Selection, f"__{_name}__", _f)
    setattr(Selection, f"__r{_name}__", _b)
    setattr(Selection, f"__i{_name}__", _f)
for _name, _fn in (("lt", lambda a, b: a < b), ("le", lambda a, b: a <= b), ("gt", lambda a, b: a > b),
                   ("ge", lambda a, b: a >= b), ("eq", lambda a, b: a == b), ("ne", lambda a, b: a != b)):
    setattr(Selection, f"__{_name}__", _binary(_name, _fn)[0])
Selection.__neg__ = lambda self: Selection(-self.values, self.mask, self.loc)
Selection.__pos__ = lambda self: self
Selection.__abs__ = lambda self: Selection(abs(self.values), self.mask, self.loc)
Selection.__invert__ = lambda self: Selection(~self.values, self.mask, self.loc)
Selection.__hash__ = None

_FUNCTIONS = {np.sum: "sum", np.prod: "prod", np.mean: "mean", np.max: "max", np.min: "min", np.amax: "max",
              np.amin: "min", np.any: "any", np.all: "all", np.count_nonzero: "count_nonzero"}
