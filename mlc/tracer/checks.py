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

from .trace import BELOW, BOUNDS, EXPONENT, INDEX, RAISES, STATUS, TraceContext
from .tracer import Tracer

__all__ = ["body_status", "carried_status", "check_outputs", "zero_status"]


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
