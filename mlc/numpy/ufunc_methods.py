"""The methods of NumPy's ufuncs on traced arrays: ``outer``, ``reduce``, ``accumulate``,
``reduceat`` and ``at``.

``np.add.reduce`` is ``sum`` (``axis=0`` by default, as the method's),
``multiply`` ``prod``, ``maximum``/``minimum`` ``max``/``min``,
``logical_and``/``logical_or`` ``all``/``any``; ``add.accumulate`` and
``multiply.accumulate`` are ``cumsum``/``cumprod``. Any other binary ufunc
folds along the axis, one call per element, in NumPy's order (at most
:data:`MAX_FOLD` elements). ``reduceat`` reduces constant segments. ``at``
writes into its array as NumPy's does (repeated indices accumulate), by a
one-hot comparison of the written positions with all positions or, for many
(:data:`ONE_HOT_LIMIT`), a compiled loop of single-element updates, and
replaces the array's traced value as ``x += ...`` does.

>>> import numpy as np, mlc
>>> mlc.jit(lambda x: np.add.outer(x, x))(np.array([1, 2]))
array([[2, 3],
       [3, 4]])
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ..ops.library import normalize_axis
from ..tracer.control_flow import fori_loop
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from .creation import arange
from .cumulative import cumprod, cumsum
from .elementwise import clip, where
from .writes import rebind, writable
from .reductions import all as _all, any as _any, max as _max, min as _min, prod, sum as _sum
from .shapes import broadcast_to, getitem, reshape, stack

__all__ = ["ufunc_method", "MAX_FOLD"]

#: The most elements a reduction or accumulation folds one ufunc call at a time (a ufunc with
#: no reduction op of its own); a longer axis is refused.
MAX_FOLD = 64

#: ufunc name -> the reduction op of ``ufunc.reduce``.
_REDUCTIONS = {"add": _sum, "multiply": prod, "maximum": _max, "minimum": _min, "logical_and": _all,
               "logical_or": _any}

#: ``ufunc.at`` of more writes times positions than this is a compiled loop of single-element
#: updates (the ufuncs of :data:`_SCATTERED`), not a one-hot comparison of each write with every position
ONE_HOT_LIMIT = 1 << 16

#: ufunc name -> the ``x.at[i]`` method :func:`_at` updates one element with
_SCATTERED = {"add": "add", "subtract": "subtract", "multiply": "multiply", "maximum": "max", "minimum": "min"}

#: ufunc name -> the scan op of ``ufunc.accumulate``.
_SCANS = {"add": cumsum, "multiply": cumprod}


def _where() -> str:
    return describe_location(user_location())


def _refuse(what: str, instead: str) -> TraceError:
    return TraceError(f"{what} is not supported inside @mlc.jit; {instead}{_where()}")


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(normalize_axis("reduce", int(a), ndim) for a in axes))


def _fold(call, t, axis: int, keep_steps: bool):
    """``call`` applied left to right along ``axis`` (NumPy's order): the last result, or every
    intermediate one stacked along ``axis`` when ``keep_steps``."""
    n = t.shape[axis]
    if n > MAX_FOLD:
        raise _refuse(f"a reduction of {n} elements by a ufunc without a reduction op",
                      f"the fold takes one call per element, at most {MAX_FOLD}; reduce in steps, or use "
                      f"np.sum / np.prod / np.max / np.min where they compute the same")
    parts = [getitem(t, (slice(None),) * axis + (k,)) for k in range(n)]
    acc, steps = parts[0], [parts[0]]
    for part in parts[1:]:
        acc = call(acc, part)
        steps.append(acc)
    if keep_steps:
        dtype = steps[-1].dtype
        return stack([s if s.dtype == dtype else s.astype(dtype) for s in steps], axis=axis)
    return acc


def _reduce(name: str, call, array, axis=0, dtype=None, out=None, keepdims=False, initial=None, where=True):
    t = as_tracer(array)
    if out is not None:
        raise _refuse(f"np.{name}.reduce(out=...)", "use the returned value")
    if where is not True:
        raise _refuse(f"np.{name}.reduce(where=...)", "reduce np.where(mask, x, identity) instead")
    axes = _axes(axis, t.ndim)
    if name in _REDUCTIONS:
        kw = {"dtype": dtype} if name in ("add", "multiply") and dtype is not None else {}
        result = _REDUCTIONS[name](t, axis=axes, keepdims=keepdims, **kw)
        if dtype is not None and result.dtype != np.dtype(dtype):
            result = result.astype(dtype)
    else:
        if dtype is not None:
            t = t.astype(dtype)
        result = t
        for a in reversed(axes):
            result = _fold(call, result, a, keep_steps=False)
        if keepdims:
            result = reshape(result, tuple(1 if d in axes else n for d, n in enumerate(t.shape)))
    if initial is not None:
        result = call(result, initial)
    return result


def _accumulate(name: str, call, array, axis=0, dtype=None, out=None):
    t = as_tracer(array)
    if out is not None:
        raise _refuse(f"np.{name}.accumulate(out=...)", "use the returned value")
    if t.ndim == 0:
        raise TraceError(f"np.{name}.accumulate: cannot accumulate on a scalar{_where()}")
    axis = normalize_axis("accumulate", axis, t.ndim)
    if name in _SCANS:
        return _SCANS[name](t, axis=axis, dtype=dtype)
    if dtype is not None:
        t = t.astype(dtype)
    return _fold(call, t, axis, keep_steps=True)


def _reduceat(name: str, call, array, indices, axis=0, dtype=None, out=None):
    t = as_tracer(array)
    if out is not None:
        raise _refuse(f"np.{name}.reduceat(out=...)", "use the returned value")
    if isinstance(indices, Tracer):
        raise _refuse(f"np.{name}.reduceat with traced indices",
                      "the segments must be known while tracing: pass the indices as a NumPy array or list")
    idx = [int(i) for i in np.asarray(indices).reshape(-1)]
    axis = normalize_axis("reduceat", axis, t.ndim)
    n = t.shape[axis]
    lead = (slice(None),) * axis
    parts = []
    for k, start in enumerate(idx):
        if not 0 <= start < n:
            raise TraceError(f"np.{name}.reduceat: index {start} out-of-bounds in [0, {n}){_where()}")
        stop = idx[k + 1] if k + 1 < len(idx) else n
        if stop <= start:
            part = getitem(t, lead + (start,))
            part = part if dtype is None else part.astype(dtype)
        else:
            part = _reduce(name, call, getitem(t, lead + (slice(start, stop),)), axis=axis, dtype=dtype)
        parts.append(part)
    result_dtype = np.result_type(*[p.dtype for p in parts])
    parts = [p if p.dtype == result_dtype else p.astype(result_dtype) for p in parts]
    return stack(parts, axis=axis)


def _positions(t, indices):
    """The flat positions ``t[indices]`` selects, as an int64 array (constant where ``indices``
    is), in the shape of the selection."""
    grid = np.arange(t.size, dtype=np.int64).reshape(t.shape)
    if not _holds_tracer(indices):
        return as_tracer(grid[indices], t._ctx)
    return getitem(as_tracer(grid, t._ctx), indices)


def _holds_tracer(value) -> bool:
    if isinstance(value, Tracer):
        return True
    return isinstance(value, (tuple, list)) and any(_holds_tracer(v) for v in value)


def _at(name: str, call, a, indices, b=None):
    target = writable(f"np.{name}.at", a)
    t = target.fresh()  # the value read; views of it must not mark the array written
    positions = _positions(t, indices)
    flat = reshape(t, (-1,))
    sel = reshape(positions, (-1,))
    k = sel.shape[0]
    if k == 0:
        return
    if b is None:
        if isinstance(positions, Tracer) and _holds_tracer(indices):
            raise _refuse(f"np.{name}.at with traced indices and no operand",
                          "apply the ufunc with np.where(mask, ufunc(x), x)")
        counts = np.bincount(np.asarray(np.arange(t.size).reshape(t.shape)[indices]).reshape(-1), minlength=t.size)
        new = flat
        for r in range(int(counts.max())):
            new = where(counts > r, call(new), new)
        rebind(f"np.{name}.at", target, reshape(new, t.shape))
        return
    values = reshape(broadcast_to(as_tracer(b, t._ctx), tuple(positions.shape)), (-1, 1))
    if name in _SCATTERED and k * t.size > ONE_HOT_LIMIT and values.dtype == t.dtype:
        method = _SCATTERED[name]  # a compiled loop of k single-element updates

        def update(j, acc):  # (the positions were checked above: clipped, no check inside the loop)
            return getattr(acc.at[clip(sel[j], 0, t.size - 1)], method)(values[j, 0])
        rebind(f"np.{name}.at", target, reshape(fori_loop(0, k, update, flat), t.shape))
        return
    hit = reshape(sel, (-1, 1)) == reshape(arange(t.size, dtype="int64"), (1, -1))  # (k, size): which write lands where
    if name in ("add", "subtract"):
        delta = _sum(where(hit, values, values.dtype.type(0)), axis=0)
        new = call(flat, delta)
    elif name in ("multiply", "maximum", "minimum", "logical_and", "logical_or"):
        identity = {"multiply": 1, "maximum": -np.inf, "minimum": np.inf, "logical_and": True,
                    "logical_or": False}[name]
        if name in ("maximum", "minimum") and values.dtype.kind in "biu":
            info = np.iinfo(values.dtype) if values.dtype.kind != "b" else None
            identity = (False if name == "maximum" else True) if info is None else (
                info.min if name == "maximum" else info.max)
        combined = _REDUCTIONS[name](where(hit, values, values.dtype.type(identity)), axis=0)
        written = _any(hit, axis=0)
        new = where(written, call(flat, combined), flat)
    else:
        if k > MAX_FOLD:
            raise _refuse(f"np.{name}.at with {k} writes", f"a ufunc without a reduction op takes one call per "
                                                         f"write, at most {MAX_FOLD}")
        new = flat
        for j in range(k):
            new = where(getitem(hit, j), call(new, getitem(values, (j, 0))), new)
    rebind(f"np.{name}.at", target, reshape(new, t.shape))


def _outer(name: str, call, a, b, **kwargs):
    x, y = as_tracer(a), as_tracer(b)
    return call(reshape(x, tuple(x.shape) + (1,) * y.ndim), y, **kwargs)


def ufunc_method(ufunc, method: str, inputs, kwargs, call):
    """NumPy's ``ufunc.<method>(*inputs, **kwargs)`` with ``call`` the ufunc's traced function."""
    name = ufunc.__name__
    binary = ufunc.nin == 2 and ufunc.nout == 1
    if method == "at":
        return _at(name, call, *inputs, **kwargs)
    if not binary:
        raise _refuse(f"np.{name}.{method}", f"{method} needs a binary ufunc with one output")
    if method == "outer":
        return _outer(name, call, *inputs, **kwargs)
    if method == "reduce":
        return _reduce(name, call, *inputs, **kwargs)
    if method == "accumulate":
        return _accumulate(name, call, *inputs, **kwargs)
    if method == "reduceat":
        return _reduceat(name, call, *inputs, **kwargs)
    raise _refuse(f"np.{name}.{method}", "use the ufunc itself")
