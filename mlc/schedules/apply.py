"""Applying a schedule someone wrote: a function ``f(sch)``, or a recorded Trace.

The driver's scheduling stage (:func:`mlc.driver.schedule_stage`) decides what
schedules each function (the user's schedule, a tuning database's trace, or the
target's default rules); the helpers here apply the first two to IR and know
nothing of targets or backends.
"""
from __future__ import annotations

from ..errors import MLCError, ScheduleError
from ..ir.tir import IRModule, PrimFunc
from ..ops.hand_written import is_hand_written
from .default import SCHEDULED_ATTR
from .schedule import Schedule
from .trace import Trace

__all__ = ["as_written", "apply_user_schedule", "replay_trace", "trace_func_name"]


def as_written(sch: Schedule) -> None:
    """The schedule that changes nothing: ``mlc.build(mod, schedule=as_written)``
    compiles every function exactly as written, without the default rules."""


def apply_user_schedule(mod: IRModule, schedule) -> IRModule:
    """``mod`` edited by ``schedule``: a function ``f(sch)`` editing ``Schedule(mod)``
    (returning None, or a Schedule/IRModule to use instead), or a :class:`Trace` to
    replay. Every function of the result is marked ``"mlc.scheduled"``: the user took
    charge of the module (a function an op wrote by hand that the schedule left as it was
    keeps its ``"hand-written"`` mark, for the target's rules to make ready)."""
    sch = Schedule(mod)
    if isinstance(schedule, Trace):
        schedule.apply(sch)
        result = None
    elif callable(schedule):
        result = schedule(sch)
    else:
        raise MLCError(f"schedule must be a function f(sch) editing an mlc.Schedule, or a Trace; "
                       f"got {type(schedule).__name__}")
    if result is None or isinstance(result, Schedule):
        out = (result or sch).mod
    elif isinstance(result, IRModule):
        out = result
    else:
        raise MLCError(f"a schedule function edits the Schedule it is given and returns None (or a "
                       f"Schedule or IRModule); {getattr(schedule, '__name__', schedule)!r} returned "
                       f"{type(result).__name__}")
    return IRModule({name: func if func is mod.get(name) and is_hand_written(func) else
                     func.with_attr(SCHEDULED_ATTR, "user") for name, func in out.items()})


def trace_func_name(trace: Trace) -> str | None:
    """The one function name ``trace`` addresses (the ``func_name`` of its ``get_block``
    calls), or None when it names none; a trace naming two functions is an MLCError."""
    names = {inst.inputs.get("func_name") for inst in trace if inst.kind == "get_block"} - {None}
    if len(names) > 1:
        raise MLCError(f"a trace replayed on one function names several: {sorted(names)}")
    return names.pop() if names else None


def replay_trace(func: PrimFunc, trace: Trace, name: str = "main") -> PrimFunc:
    """``func`` scheduled by replaying ``trace`` on ``Schedule(IRModule({key: func}))``, where
    ``key`` is the function name the trace uses (:func:`trace_func_name`), else
    ``func``'s ``global_symbol`` (or "main"); the result is marked ``"mlc.scheduled"``.
    A trace that does not fit ``func`` raises ScheduleError naming ``name``."""
    if not isinstance(trace, Trace):
        raise MLCError(f"a schedule to replay must be an mlc.Trace, got {type(trace).__name__}")
    key = trace_func_name(trace) or func.attr("global_symbol", "main")
    sch = Schedule(IRModule({key: func}))
    try:
        trace.apply(sch)
    except ScheduleError as err:
        raise ScheduleError(f"replaying a recorded trace on function {name!r} failed: {err}") from None
    return sch.mod[key].with_attr(SCHEDULED_ATTR, "trace")
