"""Slices whose bounds are traced values (``L[i, :i]``, ``A[k + 1:, k]``): full-size windows with a mask.

Inside a compiled loop the index ``i`` is traced, so ``x[:i]`` has a length
known only when the function runs. Such a slice is a :class:`Window`: the
whole axis (its static size ``n``) with the bounds ``lo <= j < hi`` of the
elements NumPy's slice holds, each element at its own position (``x[2:i]``'s
first element is the full array's element 2). NumPy's meaning is kept exactly
by what may be done with one:

- elementwise arithmetic and NumPy's ufuncs with numbers, arrays of size 1
  along the window's axes, and windows of the same bounds (compared
  symbolically: ``A[:i + 1, k]`` and ``C[i, :i + 1]`` have the same); what lies
  outside the bounds is computed too, and never read;
- ``@``, ``np.dot``, ``np.matmul``, ``sum`` and ``np.sum``: the elements
  outside the bounds are made zeros first (an empty window sums to 0) — except
  where a 1-D window's elements are reads (``L[i, :i]``, ``x[cols]`` for a window
  ``cols``, ``np.flip`` of one, elementwise arithmetic of such windows and
  scalars): its sum or dot is then a loop ``for j in range(lo, hi)`` over those
  reads (``fori_loop``; element code, so one element-loop kernel), doing the
  window's work, not the axis's. The rule: the loop wherever the recipe exists
  (it replaces a mask, the masking and the reduction over the whole axis, three
  kernels or more, with one kernel of ``hi - lo`` iterations, so no axis is small
  enough for the masked form to win); the masked form for 2-D windows, windows
  contracted with a 2-D operand and windows of values not read element by element —
  except a vector times a matrix windowed along its columns (``data[:, i] @ data[:, i + 1:]``,
  one float dtype): ``window_matmul``, whose kernel runs over the window's columns only
  (:mod:`mlc.ops.library.window`), so that a loop of them does the triangle's work, not the
  square's;
- ``np.flip``: the elements reversed within the bounds (one gather);
- assignment ``x[lo:hi] = value`` and ``x[lo:hi] += value``: for a 1-D window
  whose value is a scalar or has an element recipe, a loop storing the window's
  elements (:mod:`.window_stores`: ``C[i, :i + 1] *= beta`` is element code, so
  the loops around it can be one element-loop kernel); otherwise ``where(mask,
  value, x[:])`` written back with the static index's machinery: a write of
  the window's static bound at the traced ints beside it (row ``i`` only, in
  place: :mod:`.updates`).

Anything else (its length, indexing into it, a window next to an array whose
size along that axis is not 1) is a :class:`~mlc.errors.TraceError`; the loop
around it is then traced once per iteration, with Python ints for bounds.

>>> import numpy as np, mlc
>>> @mlc.jit
... def forward(L, b):
...     x = np.zeros_like(b)
...     for i in range(b.shape[0]):
...         x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
...     return x
>>> L = np.tril(np.ones((12, 12))) + np.eye(12)
>>> bool(np.allclose(L @ forward(L, np.ones(12)), 1.0))
True
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..errors import DTypeError, TraceError
from ..ir.graph import Constant
from ..ops.library.window import window_dtypes
from ..tracer.source import describe_location, user_location
from ..tracer.control_flow import fori_loop
from ..tracer.intervals import atom_interval, outermost as _outermost, producer as _producer
from ..tracer.trace import current_trace
from ..tracer.tracer import Tracer
from .elementwise import astype, clip, logical_and, maximum, minimum, where
from ._api import emit
from .generated import GENERATED
from .bounds import access_text, check_indices, use_interval
from .indexing import take, unchecked_take
from .window_stores import read_source, scalar_recipe, store_loop

__all__ = ["Window", "has_traced_slice", "use_indexing", "window_getitem", "window_setitem", "window_take"]

_USES = ("elementwise arithmetic and ufuncs, @ / np.dot / np.matmul, sum, np.flip, and assignment into a "
         "slice of the same bounds")


def _refusal(what: str) -> TraceError:
    return TraceError(f"{what}: a slice whose start or stop is a traced value (a loop index, a value read "
                      f"from an array) has a length known only when the function runs; such a slice "
                      f"supports {_USES}{describe_location(user_location())}")


class _Functions:
    """mlc.numpy's functions a window computes with, by NumPy's names: the generated ones,
    and the indexing of :mod:`.shapes` and :mod:`.updates` (which import this module, and
    hand theirs over with :func:`use_indexing`)."""

    astype, where, clip, logical_and = (staticmethod(f) for f in (astype, where, clip, logical_and))
    maximum, minimum, take = (staticmethod(f) for f in (maximum, minimum, take))

    def __getattr__(self, name: str):
        try:
            return GENERATED[name]
        except KeyError:  # (doctest's and inspect's probes, __wrapped__ among them, are no functions)
            raise AttributeError(name) from None


_F = _Functions()


def use_indexing(**functions) -> None:
    """Give windows the indexing functions of the modules that import this one (``getitem``,
    ``setitem``, ``cast``)."""
    for name, fn in functions.items():
        setattr(_Functions, name, staticmethod(fn))


def _np():
    return _F


# ------------------------------------------------------------------ bounds

def _traced(value) -> bool:
    return isinstance(value, Tracer)


def has_traced_slice(items) -> bool:
    """Whether an index (a tuple of its entries) has a slice with a traced start, stop or step."""
    return any(isinstance(k, slice) and any(_traced(p) for p in (k.start, k.stop, k.step)) for k in items)


class _Bound:
    """The elements ``lo <= j < hi`` of an axis of static size ``n``; ``lo``/``hi`` Python ints or
    0-d int64 Tracers, NumPy's slice bounds normalized (negative counted from the end, clamped
    into ``[0, n]``). ``key`` compares two bounds symbolically (equal keys: equal bounds)."""

    __slots__ = ("lo", "hi", "n", "key")

    def __init__(self, lo, hi, n: int, key):
        self.lo, self.hi, self.n, self.key = lo, hi, n, key

    def mask(self, ndim: int, axis: int, ctx) -> Tracer:
        """A bool array of ``ndim`` axes, ``n`` long at ``axis`` and 1 elsewhere: True within."""
        shape = [1] * ndim
        shape[axis] = self.n
        j = ctx.array(np.arange(self.n, dtype=np.int64).reshape(shape))
        return _np().logical_and(j >= self.lo, j < self.hi)


def _normalized(value, n: int, default: int):
    """A slice bound as NumPy reads it for an axis of ``n`` elements (step 1)."""
    if value is None:
        return default
    if not _traced(value):
        v = operator.index(value)
        return min(max(v + n if v < 0 else v, 0), n)
    if value.ndim != 0 or value.dtype.kind not in "iu":
        raise TraceError(f"slice indices must be integers or None, got a traced {value.dtype}"
                         f"{list(value.shape)} array{describe_location(user_location())}")
    mnp = _np()
    v = mnp.astype(value.strong(), "int64")
    v = mnp.where(v < 0, v + n, v)
    return mnp.minimum(mnp.maximum(v, np.int64(0)), np.int64(n))


def _affine(value, depth: int = 12):
    """``value`` (a Python int or a traced int) as an affine form ``(terms, constant)``, terms a
    frozenset of (leaf atom id, coefficient): ``i + 1`` and ``1 + i`` have equal forms. A value
    the form cannot follow is a leaf of its own."""
    if not _traced(value):
        return frozenset(), operator.index(value)
    return _atom_affine(value._ctx, value._atom, depth)


def _atom_affine(ctx, atom, depth: int):
    ctx, atom = _outermost(ctx, atom)
    if isinstance(atom, Constant) and atom.data.ndim == 0 and atom.data.dtype.kind in "iu":
        return frozenset(), int(atom.data)
    binding = _producer(ctx, atom) if depth > 0 else None
    if binding is not None:
        args = binding.args
        if binding.op in ("add", "subtract") and len(args) == 2:
            (ta, ca), (tb, cb) = (_atom_affine(ctx, a, depth - 1) for a in args)
            sign = 1 if binding.op == "add" else -1
            return _combine(ta, tb, sign), ca + sign * cb
        if binding.op == "negative":
            ta, ca = _atom_affine(ctx, args[0], depth - 1)
            return _combine(frozenset(), ta, -1), -ca
        if binding.op == "astype" and np.dtype(binding.attr("dtype")).kind in "iu" \
                and np.dtype(args[0].type.dtype).kind in "iu":
            return _atom_affine(ctx, args[0], depth - 1)
        if binding.op == "multiply" and len(args) == 2:
            (ta, ca), (tb, cb) = (_atom_affine(ctx, a, depth - 1) for a in args)
            if not tb:
                return _combine(frozenset(), ta, cb), ca * cb
            if not ta:
                return _combine(frozenset(), tb, ca), ca * cb
    return frozenset({(_structure(ctx, atom, depth), 1)}), 0


def _structure(ctx, atom, depth: int):
    """A key equal for two values computed alike (the same op of the same operands):
    ``indptr[i]`` read twice is one leaf."""
    ctx, atom = _outermost(ctx, atom)
    if isinstance(atom, Constant):
        return "constant", atom.data.dtype.str, atom.data.shape, atom.data.tobytes()
    binding = _producer(ctx, atom) if depth > 0 else None
    if binding is None or len(binding.outputs) != 1:
        return "value", id(atom)
    return (binding.op, repr(binding.attrs)) + tuple(_structure(ctx, a, depth - 1) for a in binding.args)


def _combine(a: frozenset, b: frozenset, sign: int) -> frozenset:
    terms = dict(a)
    for leaf, coef in b:
        terms[leaf] = terms.get(leaf, 0) + sign * coef
    return frozenset((leaf, c) for leaf, c in terms.items() if c)


def _interval(value, depth: int = 12):
    """``(lowest, highest)`` of an int (a Python one, or traced: :mod:`mlc.tracer.intervals`),
    else None."""
    if not _traced(value):
        v = operator.index(value)
        return v, v
    span = atom_interval(value._ctx, value._atom, depth)
    return None if span is None or not all(math.isfinite(v) for v in span) else span


def _fixed_length(k: slice, n: int):
    """The length ``c`` of ``x[k]`` when it is ``x[s:s + c]`` with ``s`` known to lie in
    ``[0, n - c]`` (a loop index's range), so that it always holds ``c`` elements; else None."""
    if k.start is None or k.stop is None or k.step not in (None, 1) or _traced(k.step):
        return None
    (ts, cs), (tp, cp) = _affine(k.start), _affine(k.stop)
    if ts != tp or not ts or cp < cs:
        return None
    span = _interval(k.start)
    if span is None or span[0] < 0 or span[1] + (cp - cs) > n:
        return None
    return cp - cs


def _bound(k: slice, n: int) -> _Bound:
    """The bound of ``x[k]`` along an axis of ``n`` elements (``k`` has a traced start or stop)."""
    if k.step is not None and (_traced(k.step) or operator.index(k.step) != 1):
        raise TraceError(f"a slice with a traced start or stop and a step other than 1 is not compiled"
                         f"{describe_location(user_location())}")
    start = 0 if k.start is None else k.start
    stop = n if k.stop is None else k.stop
    key = (n, _key(start, n), _key(stop, n))
    return _Bound(_normalized(k.start, n, 0), _normalized(k.stop, n, n), n, key)


def _key(value, n: int):
    terms, const = _affine(value)
    if not terms:  # a Python int: NumPy's bound is known
        return frozenset(), min(max(const + n if const < 0 else const, 0), n)
    return terms, const


# ------------------------------------------------------------------ the array

class Window(Tracer):
    """A slice with traced bounds: ``full`` (the whole axes) and per axis None or its
    :class:`_Bound`. See the module."""

    __slots__ = ("_full", "_bounds", "_source", "_written", "_elem", "_pending")

    def __init__(self, full: Tracer, bounds: tuple, source=None, elem=None, pending=()):
        Tracer.__init__(self, full._ctx, full._value)
        self._full, self._bounds, self._source, self._written = full, tuple(bounds), source, None
        #: the run-time checks of the indices the whole-axis data gathered through, made when
        #: that data is used (a loop over the elements checks each read index itself)
        self._pending = tuple(pending)
        #: for a 1-D window, ``elem(j)``: its element at position ``j`` of the whole axis as a
        #: 0-d value read from the arrays it was computed from (None: not known)
        self._elem = elem if self.ndim == 1 and self._bounds[0] is not None else None

    # what a plain array would answer: refused (see the module)
    @property
    def _atom(self):
        raise _refusal("this use of the slice")

    @_atom.setter
    def _atom(self, atom):
        raise _refusal("writing into the slice")

    @property
    def shape(self):
        raise _refusal("the shape of the slice")

    @property
    def size(self):
        raise _refusal("the size of the slice")

    @property
    def dtype(self):
        return self._full.dtype

    @property
    def ndim(self):
        return self._full.ndim

    def __len__(self):
        raise _refusal("len() of the slice")

    def __iter__(self):
        raise _refusal("iterating over the slice")

    def __repr__(self):
        dims = ",".join("?" if b is not None else str(d) for b, d in zip(self._bounds, self._full.shape))
        return f"Window<{self._full.dtype}[{dims}]>"

    def __getitem__(self, key):
        raise _refusal("indexing into the slice (index the array itself instead)")

    def __setitem__(self, key, value):
        raise _refusal("writing into part of the slice (write into the array itself)")

    def unchanged(self) -> None:
        """Refuse the slice where the array it was read from was written since (a NumPy view
        would see that write)."""
        if self._source is not None:
            target, _, atom = self._source
            if target._atom is not atom:
                raise _refusal("a slice read before its array was written, used after the write")

    def data(self) -> Tracer:
        """The whole axes (the elements outside the bounds too), checking that the array this
        slice was read from was not written since, and its gathered indices."""
        self.unchanged()
        for check in self._pending:
            check()
        self._pending = ()
        return self._full

    def masked(self, axes=None) -> Tracer:
        """The data with the elements outside the bounds of ``axes`` (all: None) made zeros."""
        full = self.data()
        mask = None
        for a, b in enumerate(self._bounds):
            if b is not None and (axes is None or a in axes):
                m = b.mask(full.ndim, a, full._ctx)
                mask = m if mask is None else _np().logical_and(mask, m)
        return full if mask is None else _np().where(mask, full, full.dtype.type(0))

    # -------------------------------------------------------------- arithmetic

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or ufunc.nout != 1 or kwargs.get("out") is not None or \
                set(kwargs) - {"dtype", "casting", "out"}:
            raise _refusal(f"np.{ufunc.__name__}.{method}" if method != "__call__" else f"np.{ufunc.__name__}"
                           " with these arguments")
        kwargs.pop("out", None)
        if ufunc is np.matmul:
            return matmul(*inputs)
        return elementwise(lambda *xs: ufunc(*xs, **kwargs), inputs, ufunc.__name__)

    def __array_function__(self, func, types, args, kwargs):
        impl = _FUNCTIONS.get(func)
        if impl is None and func in _REDUCTIONS and self._static_length():
            return func(*[_data(a) for a in args], **kwargs)
        if impl is None:
            raise _refusal(f"np.{func.__name__}")
        return impl(*args, **kwargs)

    def _static_length(self) -> bool:
        """Whether every axis holds a number of elements known when tracing (``x[2 * i:2 * i +
        2]``: a gather of 2 elements from a traced start), so that its data is NumPy's slice."""
        return all(b is None for b in self._bounds)

    def sum(self, axis=None, dtype=None, keepdims=False):
        return sum_(self, axis, dtype, keepdims=keepdims)

    def dot(self, other):
        return dot(self, other)

    def copy(self):
        self.unchanged()
        return Window(self._full, self._bounds, elem=self._elem, pending=self._pending)

    def astype(self, dtype, **kwargs):
        return elementwise(lambda x: x.astype(dtype, **kwargs), (self,), "astype")

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __neg__(self):
        return elementwise(operator.neg, (self,), "-")

    def __pos__(self):
        return elementwise(operator.pos, (self,), "+")

    def __abs__(self):
        return elementwise(operator.abs, (self,), "abs")


def _binary(fn, symbol: str):
    def method(self, other):
        return elementwise(fn, (self, other), symbol)

    def reflected(self, other):
        return elementwise(fn, (other, self), symbol)

    def in_place(self, other):
        """``w <op>= other``: the new values; a window read from an array is written into it
        (NumPy's view), and the assignment Python makes next (``x[k] op= v``) then finds
        them written."""
        new = elementwise(fn, (self, other), symbol)
        result = new.dtype if isinstance(new, Tracer) else np.result_type(new)
        if not np.can_cast(result, self.dtype, "same_kind"):
            raise DTypeError(f"x {symbol}= ...: cannot cast the result from {result} to {self.dtype} with "
                             f"casting rule 'same_kind' (as NumPy){describe_location(user_location())}")
        if self._source is None:
            return new if new.dtype == self.dtype else new.astype(self.dtype)
        target, key, _ = self._source
        window_setitem(target, key, new)
        new._written = (target, key, target._atom)
        return new
    return method, reflected, in_place


for _name, _fn, _symbol in (("add", operator.add, "+"), ("sub", operator.sub, "-"), ("mul", operator.mul, "*"),
                            ("truediv", operator.truediv, "/"), ("floordiv", operator.floordiv, "//"),
                            ("mod", operator.mod, "%"), ("pow", operator.pow, "**")):
    _m, _r, _i = _binary(_fn, _symbol)
    setattr(Window, f"__{_name}__", _m)
    setattr(Window, f"__r{_name}__", _r)
    setattr(Window, f"__i{_name}__", _i)
for _name in ("lt", "le", "gt", "ge", "eq", "ne", "and", "or", "xor", "invert", "lshift", "rshift"):
    def _refused(self, *args, _name=_name):
        raise _refusal(f"the operator __{_name}__")
    setattr(Window, f"__{_name}__", _refused)
Window.__imatmul__ = Window.__matmul__


#: NumPy's reductions, which return new arrays (never a view of their operand): on a slice
#: of traced start and static length they reduce its data.
_REDUCTIONS = frozenset({np.max, np.amax, np.min, np.amin, np.mean, np.prod, np.any, np.all, np.argmax,
                         np.argmin, np.std, np.var, np.ptp, np.median, np.nanmax, np.nanmin, np.nansum,
                         np.nanmean, np.count_nonzero, np.average})


def _reduction_method(func):
    def method(self, *args, **kwargs):
        if not self._static_length():
            raise _refusal(f"the method .{func.__name__}()")
        return func(self.data(), *args, **kwargs)
    method.__name__ = func.__name__
    return method


for _func in (np.max, np.min, np.mean, np.prod, np.any, np.all, np.argmax, np.argmin, np.std, np.var):
    setattr(Window, _func.__name__, _reduction_method(_func))


def _data(x):
    return x.data() if isinstance(x, Window) else x


def _ndim(x) -> int:
    return x.ndim if isinstance(x, (Tracer, np.ndarray, np.generic)) else np.ndim(x)


def _result_bounds(operands, what: str) -> list:
    """The bounds of the result of an elementwise operation on ``operands`` (broadcast from the
    right), each window's bounds where it has them; refused where two windows' bounds are not
    known equal, or a plain array is longer than 1 along a window's axis."""
    ndim = max(_ndim(x) for x in operands)
    bounds: list = [None] * ndim
    for x in operands:
        if isinstance(x, Window):
            offset = ndim - x.ndim
            for a, b in enumerate(x._bounds):
                if b is None:
                    continue
                known = bounds[a + offset]
                if known is not None and known.key != b.key:
                    raise _refusal(f"{what} of two slices whose bounds are not known to be equal")
                bounds[a + offset] = b
    for x in operands:
        offset = ndim - _ndim(x)
        for a, b in enumerate(bounds):
            if b is None or a < offset:
                continue
            own = x._bounds[a - offset] if isinstance(x, Window) else None
            size = (x._full.shape if isinstance(x, Window) else x.shape if isinstance(x, Tracer)
                    else np.shape(x))[a - offset]
            if own is None and size != 1:
                raise _refusal(f"{what} of a slice and an array of {size} elements along its axis")
    return bounds


def _wrap(result: Tracer, bounds) -> Tracer:
    bounds = tuple(bounds)
    return Window(result, bounds) if any(b is not None for b in bounds) else result


def elementwise(fn, operands, what: str):
    """``fn(*operands)`` computed on the windows' whole axes, the result a window of their bounds
    (with an element recipe where every window operand has one and the others are scalars)."""
    bounds = _result_bounds(operands, what)
    recipe = len(bounds) == 1 and any(b is not None for b in bounds) and all(
        x._elem is not None if isinstance(x, Window) else _ndim(x) == 0 for x in operands)
    if not recipe:
        return _wrap(fn(*[_data(x) for x in operands]), bounds)
    for x in operands:
        if isinstance(x, Window):
            x.unchanged()
    result = fn(*[x._full if isinstance(x, Window) else x for x in operands])
    frozen = [x if isinstance(x, Window) else x.fresh() if _traced(x) else x for x in operands]
    elem = lambda j: fn(*[x._elem(j) if isinstance(x, Window) else x for x in frozen])  # noqa: E731
    pending = tuple(c for x in operands if isinstance(x, Window) for c in x._pending)
    return Window(result, tuple(bounds), elem=elem, pending=pending)


# ------------------------------------------------------------------ contractions, reductions

def _bound_at(x, axis: int):
    return x._bounds[axis] if isinstance(x, Window) else None


def matmul(a, b):
    """``a @ b`` of 1-D and 2-D operands, windows among them: a window along the contracted
    axis needs the other operand's to have the same bounds; both are zeros outside them."""
    da, db = _ndim(a), _ndim(b)
    if da == 0 or db == 0 or da > 2 or db > 2:
        raise _refusal("@ of a slice with more than 2 or no dimensions")
    ka, kb = da - 1, 0 if db == 1 else db - 2
    ba, bb = _bound_at(a, ka), _bound_at(b, kb)
    if (ba is None) != (bb is None) or (ba is not None and ba.key != bb.key):
        raise _refusal("@ of a slice and an array whose lengths are not known to be equal")
    if da == 1 and db == 1 and ba is not None:
        looped = _loop_dot(a, b)
        if looped is not None:
            return looped
    if da == 1 and db == 2 and ba is None and not isinstance(a, Window) and _bound_at(b, 1) is not None:
        windowed = _window_columns(a, b)
        if windowed is not None:
            return windowed
    fa = a.masked({ka}) if ba is not None else _data(a)
    fb = b.masked({kb}) if bb is not None else _data(b)
    out = _np().matmul(fa, fb)
    bounds = ([_bound_at(a, 0)] if da == 2 else []) + ([_bound_at(b, db - 1)] if db == 2 else [])
    return _wrap(out, bounds)


def _window_columns(a, b: Window):
    """``a @ b`` of a vector and a matrix windowed along its columns (``data[:, i] @ data[:, i +
    1:]``) as ``window_matmul``: a product over the window's columns only (zeros at the others,
    which are never read), its elements read one by one where it is stored into a slice (a
    loop over the window's elements); None where the operands are not one float dtype (the
    masked form then)."""
    if not isinstance(a, Tracer) or not window_dtypes(str(a.dtype), str(b.dtype)):
        return None
    bound = b._bounds[1]
    ctx = current_trace()
    lo, hi = (v if _traced(v) else ctx.scalar(v, "int64") for v in (bound.lo, bound.hi))
    out = emit("window_matmul", [a, b.data(), lo, hi])
    source = out.fresh()
    return Window(out, (bound,), elem=lambda j: emit("element_get", [read_source(source, [j]), j]))


def _loop_sum(bound: _Bound, term, dtype: np.dtype) -> Tracer:
    """``sum(term(j) for j in range(bound.lo, bound.hi))`` as ``dtype``: one loop over the
    window's elements (an element loop, one kernel), not over its whole axis."""
    ctx = current_trace()
    init = ctx.scalar(0, dtype.str)
    return fori_loop(bound.lo, bound.hi, lambda j, acc: acc + term(j), init, _what="a sum over a slice")


def _loop_dot(a, b):
    """``a @ b`` of two 1-D windows with element recipes (see :func:`_loop_sum`); None where
    they have none or their dtypes are not ints or floats (the masked form then)."""
    if not (isinstance(a, Window) and isinstance(b, Window) and a._elem is not None and b._elem is not None):
        return None
    want = np.result_type(a.dtype, b.dtype)
    if want.kind not in "iuf":
        return None
    a.unchanged(), b.unchanged()  # (each element read is checked in the loop)
    mnp = _np()
    return _loop_sum(a._bounds[0], lambda j: mnp.astype(a._elem(j), want) * mnp.astype(b._elem(j), want), want)


def dot(a, b, out=None):
    """``np.dot``: ``@`` for 1-D and 2-D operands, ``*`` when one is a scalar."""
    if out is not None:
        raise _refusal("np.dot(..., out=...)")
    if _ndim(a) == 0 or _ndim(b) == 0:
        return elementwise(operator.mul, (a, b), "np.dot")
    return matmul(a, b)


def sum_(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    """``np.sum`` of a window: zeros outside its bounds, then NumPy's sum."""
    if out is not None or kwargs:
        raise _refusal("np.sum with out=, initial= or where=")
    if not isinstance(a, Window):
        return _np().sum(a, axis=axis, dtype=dtype, keepdims=keepdims)
    ndim = a.ndim
    axes = tuple(range(ndim)) if axis is None else tuple(
        operator.index(x) % ndim for x in (axis if isinstance(axis, tuple) else (axis,)))
    if axes == (0,) and not keepdims and a._elem is not None:
        want = np.dtype(dtype) if dtype is not None else np.add.reduce(np.zeros(0, a.dtype)).dtype
        if want.kind in "iuf":
            a.unchanged()  # (each element read is checked in the loop)
            return _loop_sum(a._bounds[0], lambda j: _np().astype(a._elem(j), want), want)
    out = _np().sum(a.masked(set(axes)), axis=axis, dtype=dtype, keepdims=keepdims)
    bounds = [None if n in axes else b for n, b in enumerate(a._bounds)] if keepdims else \
        [b for n, b in enumerate(a._bounds) if n not in axes]
    return _wrap(out, bounds)


def flip(m, axis=None):
    """``np.flip``: along a windowed axis the elements reversed within its bounds (element
    ``j`` is ``lo + hi - 1 - j``, one gather)."""
    if not isinstance(m, Window):
        return _np().flip(m, axis)
    mnp = _np()
    axes = range(m.ndim) if axis is None else [
        operator.index(x) % m.ndim for x in (axis if isinstance(axis, tuple) else (axis,))]
    elem, pending = None, ()
    if m._elem is not None:
        m.unchanged()
        full, pending = m._full, m._pending
        b, inner = m._bounds[0], m._elem
        elem = lambda j: inner(b.lo + b.hi - 1 - j)  # noqa: E731
    else:
        full = m.data()
    for a in axes:
        b = m._bounds[a]
        if b is None:
            full = mnp.flip(full, a)
            continue
        j = full._ctx.array(np.arange(b.n, dtype=np.int64))
        source = mnp.clip(b.lo + b.hi - 1 - j, np.int64(0), np.int64(max(b.n - 1, 0)))
        full = unchecked_take(full, source, axis=a)  # (clipped into the axis)
    return Window(full, m._bounds, elem=elem, pending=pending)


def _copy(a, *args, **kwargs):
    if not isinstance(a, Window) or args or kwargs:
        raise _refusal("np.copy with these arguments")
    return a.copy()


_FUNCTIONS = {np.dot: dot, np.sum: sum_, np.flip: flip, np.copy: _copy, np.inner: dot, np.vdot: dot,
              np.matmul: matmul, np.multiply: lambda a, b: elementwise(operator.mul, (a, b), "np.multiply"),
              np.add: lambda a, b: elementwise(operator.add, (a, b), "np.add"),
              np.subtract: lambda a, b: elementwise(operator.sub, (a, b), "np.subtract")}


# ------------------------------------------------------------------ indexing

class _Plan:
    """How ``t[items]`` reads ``t``: ``base`` the index with each traced slice made ``:`` (a
    static read), and the bounds of the result's axes (None where plain)."""

    def __init__(self, t: Tracer, items: tuple):
        consumed = sum(1 for k in items if k is not None and k is not Ellipsis)
        base, bounds, axis = [], [], 0
        #: (result axis, start, length) of each slice known to hold a static number of elements
        self.fixed: list = []
        for k in items:
            if k is Ellipsis:
                span = t.ndim - consumed
                bounds += [None] * span
                axis += span
                base.append(k)
            elif k is None:
                bounds.append(None)
                base.append(k)
            elif isinstance(k, slice):
                if axis >= t.ndim:
                    raise TraceError(f"too many indices for an array of {t.ndim} dimensions"
                                     f"{describe_location(user_location())}")
                traced = any(_traced(p) for p in (k.start, k.stop, k.step))
                length = _fixed_length(k, t.shape[axis]) if traced else None
                if length is not None:  # x[i:i + c]: c elements from i, a gather
                    self.fixed.append((len(bounds), k.start, length))
                bounds.append(_bound(k, t.shape[axis]) if traced and length is None else None)
                base.append(slice(None) if traced else k)
                axis += 1
            elif isinstance(k, (int, np.integer)) and not isinstance(k, bool) or \
                    (_traced(k) and not isinstance(k, Window) and k.ndim == 0 and k.dtype.kind in "iu"):
                base.append(k)
                axis += 1
            else:
                raise _refusal("an index array or mask beside the slice")
        self.base = tuple(base)
        self.bounds = bounds + [None] * (t.ndim - axis)


def window_getitem(t: Tracer, items: tuple) -> Tracer:
    """``t[items]``, ``items`` holding a slice with a traced start or stop: a :class:`Window`."""
    if isinstance(t, Window):
        return t[items]  # refused
    plan = _Plan(t, items)
    full = _F.indexed(t, plan.base, stand_in=False)
    for axis, start, length in plan.fixed:
        at = _np().astype(start.strong(), "int64") + full._ctx.array(np.arange(length, dtype=np.int64))
        full = unchecked_take(full, at, axis=axis)
    return Window(full.fresh(), plan.bounds, source=(t, items, t._atom), elem=_element_read(t, items, plan))


def _element_read(t: Tracer, items: tuple, plan: _Plan):
    """``elem(j)`` of ``t[items]`` when it is a 1-D window (``L[i, :i]``, ``A[k + 1:, k]``): the
    element ``t[..., j, ...]``, read from ``t`` as it is now; else None."""
    slices = [n for n, k in enumerate(items) if isinstance(k, slice)]
    if plan.fixed or len(slices) != 1 or len(items) != t.ndim or any(k is None or k is Ellipsis for k in items):
        return None
    at, frozen = slices[0], [k.fresh() if _traced(k) else k for k in items]
    source = t.fresh()

    def elem(j):  # (unchecked: j lies in the axis, and the other indices were checked by the read)
        ctx = current_trace()
        spec = [j if n == at else k if _traced(k) else operator.index(k) % n_ for n, (k, n_) in
                enumerate(zip(frozen, t.shape))]
        key = [k if _traced(k) else ctx.scalar(k, "int64") for k in spec]
        return emit("element_get", [read_source(source, spec), *key])
    return elem


def _same_key(a: tuple, b: tuple) -> bool:
    """Whether two index tuples are one: the same objects, slices by their parts (Python 3.12
    builds ``x[lo:hi] += v``'s slice anew for the store: BINARY_SLICE, STORE_SLICE)."""
    return len(a) == len(b) and all(x is y or type(x) is slice and type(y) is slice and x.start is y.start
                                    and x.stop is y.stop and x.step is y.step for x, y in zip(a, b))


def window_take(t: Tracer, items: tuple) -> Tracer:
    """``t[w]``, ``w`` a window of integer indices (``x[indices[lo:hi]]``): a gather of every
    index of ``w``'s whole axes (those outside its bounds clipped into ``t``), a window of
    ``w``'s bounds."""
    if isinstance(t, Window) or len(items) != 1 or items[0].dtype.kind not in "iu":
        raise _refusal("an index holding a slice with traced bounds beside other indices")
    w = items[0]
    full = w.data()
    flat = full if full.ndim == 1 else emit("reshape", [full], newshape=(-1,))
    text = access_text(items)
    out = unchecked_take(t, flat, axis=0)
    shape = tuple(full.shape) + tuple(t.shape[1:])
    if tuple(out.shape) != shape:
        out = emit("reshape", [out], newshape=shape)
    elem = None
    if t.ndim == 1 and w._elem is not None:  # x[cols]: element j is x[cols[j]]
        source, inner = t.fresh(), w._elem
        elem = lambda j: _F.getitem(read_source(source, None), (inner(j),))  # noqa: E731

    indices = Window(full, w._bounds)  # (as read now: the check may run after w's array is written)

    def check():  # the indices inside its bounds only
        check_indices(indices.masked(), t.shape[0], text, 0)
    if elem is None:
        check()
    return Window(out, tuple(w._bounds) + (None,) * (t.ndim - 1), elem=elem, pending=() if elem is None else (check,))


def window_setitem(target: Tracer, items: tuple, value) -> None:
    """``target[items] = value``, ``items`` holding a slice with a traced start or stop."""
    if isinstance(value, Window) and value._written is not None:
        t, key, atom = value._written
        if t is target and _same_key(key, items) and target._atom is atom:
            return  # ``x[k] += v``: the in-place operator wrote it already
    plan = _Plan(target, items)
    if plan.fixed:
        raise _refusal("assigning into a slice x[i:i + c] of a traced start")
    if _loop_store(target, items, plan, value):
        return
    region = _F.getitem(target, plan.base).fresh()
    if isinstance(value, Window):
        v_bounds = _result_bounds([Window(region, plan.bounds), value], "assignment")
        if len(v_bounds) != region.ndim or any(
                (b is None) != (p is None) or (b is not None and b.key != p.key)
                for b, p in zip(v_bounds, plan.bounds)):
            raise _refusal("assigning a slice to a slice whose bounds are not known to be equal")
    else:
        _result_bounds([Window(region, plan.bounds), value], "assignment")
    v = _F.cast(region, _data(value))
    mask = None
    for a, b in enumerate(plan.bounds):
        if b is not None:
            m = b.mask(region.ndim, a, region._ctx)
            mask = m if mask is None else _np().logical_and(mask, m)
    new = _np().where(mask, v, region)
    if tuple(new.shape) != tuple(region.shape):
        raise _refusal("assigning a value of more dimensions than the slice")
    _F.setitem(target, plan.base, new)


def _loop_store(target: Tracer, items: tuple, plan: _Plan, value) -> bool:
    """``target[items] = value`` as a loop over a 1-D window's elements where the value has an
    element recipe or is a scalar (:mod:`.window_stores`); False where it is stored masked."""
    slices = [n for n, k in enumerate(items) if isinstance(k, slice)]
    if len(slices) != 1 or len(items) != target.ndim or any(k is None or k is Ellipsis for k in items):
        return False
    bounds = [b for b in plan.bounds if b is not None]
    if len(bounds) != 1:
        return False
    bound = bounds[0]
    if isinstance(value, Window):
        if value.ndim != 1 or value._elem is None or value._bounds[0].key != bound.key:
            return False
        value.unchanged()  # (each element read is checked in the loop)
        elem = value._elem
    else:
        elem = scalar_recipe(value)
        if elem is None:
            return False
    return store_loop(target, items, slices[0], bound.lo, bound.hi, elem, _F.cast, _F.replace)


use_interval(_interval, _affine)
