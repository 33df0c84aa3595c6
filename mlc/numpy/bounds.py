"""Traced indices checked when the function runs: NumPy's IndexError as :class:`mlc.BoundsError`.

An index that is a traced value (an argument, a loop's index, a value read from an
array) is known only when the compiled function runs. Every read or write at one
(``a[i]``, ``a[i, j] = v``, ``a[idx]``, ``np.take``, ``np.take_along_axis``)
records a check with :meth:`~mlc.tracer.trace.TraceContext.check_index`: the
compiled function returns the index (of an index array: its most out-of-bounds
element) and the jit raises BoundsError after the call when it lies outside
``[-n, n)``, naming the access, the index, the axis' size and the user's line.
Inside a compiled loop or conditional the check travels as the body's status
(:mod:`mlc.tracer.checks`). The kernels themselves still clip such an index into
the axis (they never read or write outside an array).

No check is recorded where the index is known to be in range while tracing: a
constant, or an affine function of loop indices over static ranges (``a[i]``,
``a[i - 1]`` in ``for i in range(1, a.shape[0])``), nor where the function was
jitted with ``bounds_check=False`` (JAX's semantics: indices clipped, writes out of
bounds dropped).

>>> import numpy as np, mlc
>>> f = mlc.jit(lambda a, i: a[i])
>>> f(np.arange(5.0), -5)
0.0
>>> f(np.arange(5.0), 5)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mlc.errors.BoundsError: a[i]: index 5 is out of bounds for axis 0 with size 5...
"""
from __future__ import annotations

import numpy as np

from ..ops.library.shape import index_text
from ..tracer.source import describe_location, user_location
from ..tracer.trace import current_trace
from ..tracer.tracer import Tracer
from ._api import emit

__all__ = ["access_text", "check_index", "check_indices", "use_interval"]

#: ``(lowest, highest)`` of a traced int, or None (:mod:`.windows` hands its analysis over)
_INTERVAL = [lambda value: None]


def use_interval(fn) -> None:
    """Take ``fn(value) -> (lowest, highest) | None`` as the range of a traced int (the loop
    indices' ranges and affine functions of them: :mod:`.windows`, which imports this module)."""
    _INTERVAL[0] = fn


def access_text(key, write: bool = False) -> str:
    """An access as the error names it: ``x[i, 2:]``, ``x[idx] = ...`` (a traced int is ``i``,
    a traced or constant index array ``idx``)."""
    items = key if isinstance(key, tuple) else (key,)
    parts = []
    for k in items:
        if isinstance(k, Tracer):
            parts.append("i" if k.ndim == 0 else "idx")
        elif isinstance(k, (np.ndarray, list)):
            parts.append("idx")
        else:
            parts.append(index_text(k))
    return f"x[{', '.join(parts)}]" + (" = ..." if write else "")


def _trace_of(index: Tracer):
    ctx = current_trace()
    return ctx if ctx is not None and ctx.accepts(index) else index._ctx


def _known_inside(index, n: int) -> bool:
    try:
        bounds = _INTERVAL[0](index)
    except TypeError:
        return False
    return bounds is not None and -n <= bounds[0] and bounds[1] < n


def check_index(index, n: int, what: str, axis: int) -> None:
    """Check the traced 0-d int ``index`` into axis ``axis`` of ``n`` elements when the
    function runs (``what``: the access, as ``a[i]``); nothing for a Python int or an index
    known to be in range."""
    if not isinstance(index, Tracer) or not isinstance(n, (int, np.integer)):
        return
    ctx = _trace_of(index)
    if not ctx.bounds_checks or _known_inside(index, int(n)):
        return
    ctx.check_index(index.strong(), int(n), (what, axis, describe_location(user_location())))


def check_indices(indices, n: int, what: str, axis: int) -> None:
    """Check every element of the traced int array ``indices`` into axis ``axis`` of ``n``
    elements when the function runs: the check sees the largest index where one is ``>= n``,
    else the smallest (two reductions of the indices)."""
    if not isinstance(indices, Tracer) or not isinstance(n, (int, np.integer)):
        return
    if indices.ndim == 0:
        check_index(indices, n, what, axis)
        return
    ctx = _trace_of(indices)
    if not ctx.bounds_checks or indices.size == 0:
        return
    t = indices.strong()
    if t.dtype != np.int64:
        t = emit("astype", [t], dtype="int64")
    high, low = emit("max", [t]), emit("min", [t])
    worst = emit("where", [emit("greater_equal", [high, ctx.scalar(int(n), "int64")]), high, low])
    ctx.check_index(worst.strong(), int(n), (what, axis, describe_location(user_location())))
