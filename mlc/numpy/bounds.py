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
>>> float(f(np.arange(5.0), -5))
0.0
>>> f(np.arange(5.0), 5)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mlc.errors.BoundsError: x[i]: index 5 is out of bounds for axis 0 with size 5...
"""
from __future__ import annotations

import numpy as np

from ..errors import BoundsError, TraceError
from ..ir.expr import PrimExpr
from ..ops.library.shape import index_text
from ..tracer.source import describe_location, user_location
from ..tracer.checks import (checking_trace, outer_value, transformed, transformed_body,
                             unchecked_in_transformation)
from ..tracer.trace import INDEX, STATUS, active_traces, current_trace
from ..tracer.tracer import Tracer
from ._api import emit

__all__ = ["access_text", "check_index", "check_indices", "use_interval"]

#: ``(lowest, highest)`` of a traced int, or None; its affine form ``(terms, constant)``
#: (:mod:`.windows` hands its analyses over)
_INTERVAL = [lambda value: None]
_AFFINE = [lambda value: (frozenset({("value", id(value))}), 0)]


def use_interval(interval, affine) -> None:
    """Take ``interval(value) -> (lowest, highest) | None`` as the range of a traced int (the
    loop indices' ranges and affine functions of them) and ``affine(value) -> (terms,
    constant)`` as its affine form (:mod:`.windows`, which imports this module)."""
    _INTERVAL[0], _AFFINE[0] = interval, affine


def _loop_offset(ctx, index: Tracer):
    """``c`` where ``index`` is ``i + c``, ``i`` the index of the for loop whose body ``ctx``
    traces (its check is then made once around the loop), else None."""
    if ctx.loop_index is None or index._ctx is not ctx:
        return None
    try:
        terms, offset = _AFFINE[0](index)
    except TypeError:
        return None
    return offset if terms == frozenset({(("value", id(ctx.loop_index)), 1)}) else None


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


def _note_loop_ranges() -> None:
    """Note the range of each active for loop's index whose bounds are traced but within
    ranges known while tracing (``range(i + 1, n)`` in a loop over ``i``): from the lowest
    start to the highest stop."""
    for ctx in active_traces():
        atom = ctx.loop_index
        if atom is None or ctx.loop_bounds is None or ctx.value_range(atom) is not None:
            continue
        try:
            lower, upper = (_INTERVAL[0](b) for b in ctx.loop_bounds)
        except TypeError:
            continue
        if lower is not None and upper is not None and upper[1] - 1 >= lower[0]:
            ctx.note_range(ctx._tracer(atom), lower[0], upper[1] - 1)


def _known_inside(index, n: int) -> bool:
    _note_loop_ranges()
    try:
        bounds = _INTERVAL[0](index)
    except TypeError:
        return False
    return bounds is not None and -n <= bounds[0] and bounds[1] < n


def _int64(t: Tracer) -> Tracer:
    """``t`` (a traced int) as int64, a uint64 beyond 2^62 saturated (still out of bounds;
    NumPy raises OverflowError for such a scalar index)."""
    t = t.strong()
    if t.dtype == np.uint64:
        t = emit("minimum", [t, t._ctx.scalar(2 ** 62, "uint64")])
    return t if t.dtype == np.int64 else emit("astype", [t], dtype="int64")


def check_index(index, n: int, what: str, axis: int, ctx=None) -> None:
    """Check the traced 0-d int ``index`` into axis ``axis`` of ``n`` elements when the
    function runs (``what``: the access, as ``a[i]``); nothing for a Python int or an index
    known to be in range."""
    if not isinstance(index, Tracer):
        return
    ctx = ctx or _trace_of(index)
    if transformed(ctx) or transformed_body(ctx):  # in mlc.grad, vmap...: checked around, or refused
        if isinstance(n, (int, np.integer)) and _known_inside(index, int(n)):
            return
        if not transformed(ctx):
            _check_in_transformed_body(ctx, index, n, (what, axis, describe_location(user_location())))
            return
        outer = outer_value(ctx, index)
        if outer is not None:
            _check_outer(outer, n, what, axis)
        elif checking_trace(ctx) is not None:
            raise unchecked_in_transformation((what, axis, describe_location(user_location())))
        return
    if not isinstance(n, (int, np.integer)):  # a dynamic axis: its size is known when the function runs
        if isinstance(n, PrimExpr) and ctx.bounds_checks:
            _check_dynamic(ctx, index, n, (what, axis, describe_location(user_location())))
        return
    if not ctx.bounds_checks or _known_inside(index, int(n)):
        return
    op = (what, axis, describe_location(user_location()))
    offset = _loop_offset(ctx, index)
    if offset is not None:  # a[i + c] at every iteration: checked at the loop's ends
        if not any(h[0] == offset and h[1] == int(n) for h in ctx.hoisted):
            ctx.hoisted.append((offset, int(n), op))
        return
    value = _int64(index)
    if ctx.loop_index is not None and value._ctx is not ctx:  # the same at every iteration
        if not any(v._atom is value._atom and m == int(n) for v, m, _ in ctx.invariant):
            ctx.invariant.append((value, int(n), op))
        return
    ctx.check_index(value, int(n), op)


def _loop_shift(ctx, index: Tracer):
    """``(k, sign, c)`` where ``index`` is ``(i + c) + k`` or ``(i + c) - k`` (``sign`` -1), ``i``
    the index of the for loop whose body ``ctx`` traces and ``k`` a 0-d int computed around the
    loop (a Tracer of the trace around), else None."""
    if index._ctx is not ctx:
        return None
    made = next((b for b in reversed(ctx.bindings) if any(v is index._atom for v in b.outputs)), None)
    if made is None or made.op not in ("add", "subtract") or len(made.args) != 2:
        return None
    a, b = made.args
    orders = ((a, b, 1), (b, a, 1)) if made.op == "add" else ((a, b, -1),)
    for own, around, sign in orders:
        offset = _loop_offset(ctx, ctx._tracer(own))
        outer = next((o for o, var in ctx.captured if var is around), None)
        if offset is not None and outer is not None and outer.ndim == 0 and outer.dtype.kind in "iu":
            return outer, sign, offset
    return None


def _check_in_transformed_body(ctx, index: Tracer, n, op: tuple) -> None:
    """Check ``index``, used in a compiled loop's body or a conditional's branch inside a
    transformed function, whose status that function cannot return: ``i + c`` or ``i + k`` of a
    for loop's index ``i`` (``k`` computed around the loop), or an index computed around the
    loop, is checked once around the loop by the trace around the transformation, where the
    loop's bounds come from (:func:`mlc.tracer.checks.checked_around`); any other index is a
    TraceError (it was clipped silently)."""
    if checking_trace(ctx) is None:  # nothing checks around (bounds_check=False): clipped, as JAX does
        return
    if isinstance(n, (int, np.integer)) and ctx.loop_index is not None:
        offset = _loop_offset(ctx, index)
        if offset is not None:
            if not any(h[0] == offset and h[1] == int(n) for h in ctx.hoisted if isinstance(h[0], int)):
                ctx.hoisted.append((offset, int(n), op))
            return
        shift = _loop_shift(ctx, index)
        if shift is not None:  # i + k, k computed around the loop
            ctx.hoisted.append((shift, int(n), op))
            return
        if index._ctx is not ctx:  # the same at every iteration
            if not any(v._atom is index._atom and m == int(n) for v, m, _ in ctx.invariant):
                ctx.invariant.append((index, int(n), op))
            return
    raise unchecked_in_transformation(op, body=True)


def _check_outer(outer, n, what: str, axis: int) -> None:
    """Check what a transformed function's index stands for (:func:`_outer_value`): a value of
    the trace around, there; an array, now."""
    if isinstance(outer, np.ndarray):
        if isinstance(n, (int, np.integer)) and outer.size and not (-n <= outer.min() and outer.max() < n):
            bad = outer[(outer < -n) | (outer >= n)].flat[0]
            raise BoundsError(f"{what}: index {bad} is out of bounds for axis {axis} with size {n}"
                              f"{describe_location(user_location())}")
        return
    with outer._ctx:  # (the check's ops recorded there)
        if outer.ndim:  # every index of an argument vmap batches
            check_indices(outer, n, what, axis, outer._ctx)
        else:
            check_index(outer, n, what, axis, outer._ctx)


def _check_dynamic(ctx, index: Tracer, n: PrimExpr, op: tuple) -> None:
    """Check ``index`` into a dynamic axis of ``n`` elements (a size expression of the
    function's dynamic axes), which the call evaluates from its arguments' shapes. Only a
    jitted function's own trace returns such a check: a compiled loop or conditional checks its
    body's indices against sizes known when it is traced, and there are none here."""
    if ctx.captures:
        raise _dynamic_in_body(op)
    ctx.check_index(_int64(index), n, op)


def _constant_inside(ctx, indices: Tracer, n) -> bool:
    """Whether ``indices`` are constants, each in ``[-n, n)``."""
    values = outer_value(ctx, indices)
    return (isinstance(values, np.ndarray) and isinstance(n, (int, np.integer))
            and bool(np.all((-n <= values) & (values < n))))


def _dynamic_in_body(op: tuple) -> TraceError:
    return TraceError(f"{op[0]}: a traced index into axis {op[1]}, a dynamic axis, inside a compiled loop or "
                      "conditional: its bounds would not be checked. Index with a Python int, make the axis "
                      f"static (no dynamic= for it), or pass bounds_check=False to mlc.jit{op[2]}")


def check_indices(indices, n: int, what: str, axis: int, ctx=None) -> None:
    """Check every element of the traced int array ``indices`` into axis ``axis`` of ``n``
    elements when the function runs, with one reduction of the indices: the largest of
    ``2 * j`` for each ``j >= 0`` and ``2 * ~j + 1`` for each ``j < 0`` (every index's
    distance past the axis, its sign in the low bit; beyond 2^61 saturated), decoded into the
    index the error names. An array whose length is dynamic may be empty at a call: its
    reduction starts at -1 (no index), and the check is a status (:mod:`mlc.tracer.checks`)
    that fails only where the array holds an index out of bounds."""
    if not isinstance(indices, Tracer) or not isinstance(n, (int, np.integer, PrimExpr)):
        return
    if indices.ndim == 0:
        check_index(indices, n, what, axis, ctx)
        return
    if isinstance(n, (int, np.integer)) and _known_inside(indices, int(n)):
        return  # (positions argsort, argmax or argmin made along an axis no longer than this one)
    ctx = ctx or _trace_of(indices)
    if transformed(ctx):
        outer = outer_value(ctx, indices)
        if outer is not None:
            _check_outer(outer, n, what, axis)
        elif checking_trace(ctx) is not None and indices.size:
            raise unchecked_in_transformation((what, axis, describe_location(user_location())))
        return
    if transformed_body(ctx):  # in a loop or branch of a transformed function: refused unless known
        if checking_trace(ctx) is not None and indices.size != 0 and not _constant_inside(ctx, indices, n):
            raise unchecked_in_transformation((what, axis, describe_location(user_location())), body=True)
        return
    if not ctx.bounds_checks or (isinstance(indices.size, int) and indices.size == 0):
        return
    sized = isinstance(indices.size, int)  # (else its size is dynamic: it may be empty at a call)
    t = indices.strong()  # (a uint64 index array wraps into int64, as NumPy's indexing converts it)
    if t.dtype != np.int64:
        t = emit("astype", [t], dtype="int64")

    def c(v):
        return ctx.scalar(int(v), "int64")
    top = c(2 ** 61)
    up = emit("multiply", [emit("minimum", [t, top]), c(2)])
    down = emit("add", [emit("multiply", [emit("minimum", [emit("invert", [t]), top]), c(2)]), c(1)])
    encoded = emit("where", [emit("less", [t, c(0)]), down, up])
    worst = emit("max", [encoded]) if sized else emit("max", [encoded], initial=-1)  # (-1: no index)
    half = emit("right_shift", [worst, c(1)])
    odd = emit("bitwise_and", [worst, c(1)])
    index = emit("where", [emit("not_equal", [odd, c(0)]), emit("invert", [half]), half]).strong()
    op = (what, axis, describe_location(user_location()))
    if not sized:  # checked where the call's array holds an index: a status (mlc.tracer.checks)
        if isinstance(n, PrimExpr) and ctx.captures:
            raise _dynamic_in_body(op)
        holds = emit("astype", [emit("greater_equal", [worst, c(0)])], dtype="int64").strong()
        ctx.check_range((holds, index), STATUS, ((INDEX, op, n if isinstance(n, PrimExpr) else int(n)),))
    elif isinstance(n, PrimExpr):
        _check_dynamic(ctx, index, n, op)
    else:
        ctx.check_index(index, int(n), op)
