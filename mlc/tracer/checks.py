"""Run-time checks inside compiled loops and conditionals: a body's checks as a status pair.

A jitted function records the traced values it must check when it runs (an index
against its axis, a Python int against the dtype it is converted to:
``TraceContext.check_range``); the function returns them as extra outputs and the
jit verifies them after the call (:class:`~mlc.tracer.compile.RangeCheck`). A value
computed inside a compiled loop's body or a conditional's branch is no output of
the function, so the body's checks become one **status**: two 0-d int64 values,
the 1-based number of the first of its checks that failed (0: none did) and that
check's value (the index out of bounds). A loop carries its status (an iteration
keeps the first failure), a conditional returns its branch's, and the enclosing
trace records the status as one check of kind :data:`~.trace.STATUS` whose ``op``
is the table of the body's checks, so that the error names the failing access and
the user's line as it would outside the loop. Nested loops flatten their tables
into the enclosing one.

>>> import numpy as np, mlc
>>> total = mlc.jit(lambda a, n: mlc.fori_loop(0, n, lambda i, s: s + a[i], 0.0))
>>> float(total(np.arange(5.0), 5))
10.0
>>> total(np.arange(5.0), 7)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mlc.errors.BoundsError: x[i]: index 5 is out of bounds for axis 0 with size 5...
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ..ir.graph import Constant
from .trace import BELOW, BOUNDS, EXPONENT, INDEX, RAISES, STATUS, TraceContext, active_traces
from .tracer import Tracer

__all__ = ["body_status", "carried_status", "check_outputs", "zero_status", "transformed", "transformed_body",
           "checking_trace", "outer_value", "checked_around", "unchecked_in_transformation"]


def _int64(ctx: TraceContext, value: Tracer) -> Tracer:
    return value if value.dtype == np.int64 else ctx.emit("astype", [value.strong()], {"dtype": "int64"})


def _cmp(ctx: TraceContext, op: str, value: Tracer, bound: int) -> Tracer:
    return ctx.emit(op, [value.strong(), ctx.scalar(int(bound), str(value.dtype))])


def _or(ctx: TraceContext, a: Tracer | None, b: Tracer | None) -> Tracer | None:
    if a is None or b is None:
        return a if b is None else b
    return ctx.emit("logical_or", [a, b])


def _failed(ctx: TraceContext, value, kind: str, limit: int) -> tuple[Tracer | None, Tracer]:
    """(a traced bool: the check of ``kind`` fails on ``value``, or None when it never can;
    the int64 value to report)."""
    if kind == STATUS:
        site, v = value
        return _cmp(ctx, "not_equal", site, 0), v
    if kind in (INDEX, BOUNDS, BELOW, EXPONENT, RAISES):
        v = _int64(ctx, value)
        if kind == INDEX:
            return _or(ctx, _cmp(ctx, "less", v, -limit), _cmp(ctx, "greater_equal", v, limit)), v
        if kind in (BOUNDS, RAISES):  # (RAISES: the user's raise under a traced condition)
            return _cmp(ctx, "not_equal", v, 0), v
        if kind == BELOW:
            return _or(ctx, _cmp(ctx, "less", v, 0), _cmp(ctx, "greater_equal", v, limit)), v
        return _cmp(ctx, "less", v, 0), v
    have, want = np.iinfo(value.dtype), np.iinfo(kind)   # a Python int converted to dtype ``kind``
    low = _cmp(ctx, "less", value, want.min) if want.min > have.min else None
    high = _cmp(ctx, "greater", value, want.max) if want.max < have.max else None
    return _or(ctx, low, high), _int64(ctx, value)


def body_status(ctx: TraceContext, offset: int = 0):
    """``ctx``'s checks (a loop body's or a branch's, still recording) as a status: (site,
    value, table), ``table`` the ``(kind, op, limit)`` of each check the site numbers (from
    ``offset + 1``: a conditional's branches number theirs one after the other), or None when
    the body checks nothing."""
    entries = []  # (fails, code, value) in order; the first failing one wins
    table: list[tuple] = []
    for value, kind, op, limit in ctx.range_checks:
        fails, v = _failed(ctx, value, kind, limit)
        if fails is None:
            continue
        if kind == STATUS:  # a nested loop's: its sites follow the ones before it
            shift = offset + len(table)
            code = value[0] if not shift else ctx.emit("add", [value[0], ctx.scalar(shift, "int64")])
            table.extend(op)
        else:
            table.append((kind, op, limit))
            code = ctx.scalar(offset + len(table), "int64")
        entries.append((fails, code, v))
    if not entries:
        return None
    site, value = ctx.scalar(0, "int64"), ctx.scalar(0, "int64")
    for fails, code, v in reversed(entries):
        site = ctx.emit("where", [fails, code, site])
        value = ctx.emit("where", [fails, v, value])
    return site.strong(), value.strong(), tuple(table)


def carried_status(ctx: TraceContext, before: tuple[Tracer, Tracer], now) -> tuple[Tracer, Tracer]:
    """A loop's status after an iteration: ``before`` (the status carried in) when an
    earlier iteration failed, else ``now`` (this iteration's :func:`body_status` pair)."""
    held = _cmp(ctx, "not_equal", before[0], 0)
    return (ctx.emit("where", [held, before[0], now[0]]).strong(),
            ctx.emit("where", [held, before[1], now[1]]).strong())


def zero_status(ctx: TraceContext) -> tuple[Tracer, Tracer]:
    """The status of a body that checks nothing (or of a loop before its first iteration)."""
    return ctx.scalar(0, "int64").strong(), ctx.scalar(0, "int64").strong()


def check_outputs(ctx: TraceContext) -> list[Tracer]:
    """One Tracer per check of ``ctx`` for the jitted function's outputs: the value checked,
    a status as its int64 pair ``[site, value]``."""
    out = []
    for value, kind, _, _ in ctx.range_checks:
        if kind == STATUS:
            value = ctx.emit("stack", list(value), {"axis": 0})
        out.append(value)
    return out


# ------------------------------------------------- indices inside mlc.grad, vmap, jvp...


def transformed(ctx: TraceContext) -> bool:
    """Whether ``ctx`` is a transformation's trace (``mlc.grad``, ``vmap``...), which returns no
    checks: its function's values only, which the transformation rewrites."""
    return ctx.transformation and not ctx.bounds_checks


def transformed_body(ctx: TraceContext) -> bool:
    """Whether ``ctx`` is the body of a compiled loop or a branch of a conditional inside a
    transformed function (possibly within other bodies there): it returns no checks either."""
    if not ctx.captures or ctx.transformation or ctx.bounds_checks:
        return False
    stack = active_traces()
    inner = next((n for n, t in enumerate(stack) if t is ctx), None)
    for t in reversed(stack[:inner] if inner is not None else ()):
        if t.transformation:
            return True
        if not t.captures:
            return False
    return False


def checking_trace(ctx: TraceContext) -> TraceContext | None:
    """The nearest trace around ``ctx`` that checks its indices (a jitted function's, or a body
    of its compiled loops), past the transformations and their bodies; None where there is
    none (``mlc.jit(bounds_check=False)``, or a transformation called on arrays)."""
    stack = active_traces()
    inner = next((n for n, t in enumerate(stack) if t is ctx), len(stack))
    for t in reversed(stack[:inner]):
        if t.bounds_checks:
            return t
        if not t.captures:
            return None
    return None


#: Ops whose result holds the values of their first operand, each once: an index made by one
#: (``y[:, None]``) is in bounds where that operand is.
_SAME_VALUES = frozenset({"reshape", "expand_dims", "squeeze", "transpose", "moveaxis", "swapaxes"})


def _source(ctx: TraceContext, index: Tracer) -> Tracer:
    """``index``, or the value of ``ctx`` it is a reshaping of (:data:`_SAME_VALUES`)."""
    while index._ctx is ctx:
        made = next((b for b in reversed(ctx.bindings) if any(v is index._atom for v in b.outputs)), None)
        if made is None or made.op not in _SAME_VALUES or not made.args:
            return index
        index = ctx._tracer(made.args[0], index.weak)
    return index


def outer_value(ctx: TraceContext, index: Tracer):
    """What ``index`` stands for around ``ctx`` (a transformation's trace or a body in one): a
    value of the traces around (an index computed outside the transformed function, or every
    value of an argument it batches, which the trace around checks), an array (an argument
    known when tracing, a constant), or None where the transformed function computes it."""
    while True:
        index = _source(ctx, index)
        if isinstance(index._atom, Constant):
            return np.asarray(index._atom.data)
        if index._ctx is not ctx:
            if not index._ctx.is_active():
                return None
            ctx = index._ctx
        else:
            outer = next((o for o, var in ctx.captured if var is index._atom), None)
            if outer is None:
                outer = ctx.arguments.get(id(index._atom))
            if outer is None or isinstance(outer, np.ndarray):
                return outer
            if not isinstance(outer, Tracer):
                return None
            index, ctx = outer, outer._ctx
        if not transformed(ctx) and not transformed_body(ctx):  # the trace around checks it
            return index if ctx.bounds_checks else None


#: what to write instead of an index that cannot be checked where it is used
_OUTSIDE = "compute the index outside the transformed function and pass it in (it is checked then)"
_IN_BODY = ("index outside the loop or branch (v = x[j] before it) or index with the for loop's own index "
            "(x[i + 1] in a loop over range(lo, hi) is checked once around the loop)")


def unchecked_in_transformation(op: tuple, body: bool = False) -> TraceError:
    """The error for an index used in a transformed function (``body``: in one of its compiled
    loops or conditionals) whose bounds cannot be checked there; ``op``: (what is indexed, the
    axis, the user's line)."""
    what, axis, where = op
    place = ("a traced index used in a loop or a branch of a transformed function (mlc.grad, mlc.vmap, "
             "mlc.jvp...), which returns no checks," if body else
             "an index computed inside a transformed function (mlc.grad, mlc.vmap, mlc.jvp...)")
    instead = _IN_BODY if body else _OUTSIDE
    return TraceError(f"{what}: {place} into axis {axis}: its bounds cannot be checked there, "
                      f"and NumPy raises IndexError where it is out of bounds. Either {instead}, "
                      "keep it in range yourself (np.clip(i, 0, n - 1), i % n), or pass bounds_check=False to "
                      f"mlc.jit to clip every index as JAX does{where}")


def checked_around(ctx: TraceContext, bounds, hoisted, invariant):
    """For a for loop of a transformed function (recorded in ``ctx``, a transformation's trace
    or a body in one), whose checks its trace cannot return: ``(trace, bounds, hoisted,
    invariant)``, the trace around that checks instead (:func:`checking_trace`), with the loop's
    ``bounds``, the values ``k`` of its ``hoisted`` checks of ``i + k`` and its ``invariant``
    indices as values of that trace; None where no trace around checks. A bound or
    index the transformed function computes is a TraceError (naming the first access)."""
    target = checking_trace(ctx)
    if target is None:
        return None

    def around(value: Tracer, op: tuple) -> Tracer:
        v = outer_value(ctx, value)
        if v is None or np.ndim(v) != 0:  # (computed inside, or every value of a batched argument)
            raise unchecked_in_transformation(op, body=True)
        if isinstance(v, Tracer):
            return v if v._ctx is target else target.capture(v)
        return target.scalar(int(v), "int64")
    with target:
        outer_bounds = [around(b, (hoisted or invariant)[0][-1]) for b in bounds]
        outer_hoisted = [((around(o[0], op), *o[1:]) if isinstance(o, tuple) else o, size, op)
                         for o, size, op in hoisted]
        outer_invariant = [(around(index, op), size, op) for index, size, op in invariant]
    return target, outer_bounds, outer_hoisted, outer_invariant
