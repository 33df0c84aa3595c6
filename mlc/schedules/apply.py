"""Scheduling a module for ``mlc.build``: the user's schedule, or the default rules.

``schedule`` is any callable ``f(sch)`` that edits ``mlc.Schedule(mod)``
(returning None, or a Schedule/IRModule to use instead), or a
:class:`~mlc.schedules.Trace` to replay. Every function of the result is
marked ``"mlc.scheduled"``: the user took charge of the module. With no
schedule the target's default rules (:mod:`.default`) schedule the functions
no one has.
"""
from __future__ import annotations

from ..errors import MLCError
from ..ir.calls import is_graph_main
from ..ir.tir import IRModule
from .default import SCHEDULED_ATTR, default_schedule
from .schedule import Schedule
from .trace import Trace

__all__ = ["apply_schedule", "as_written"]


def as_written(sch: Schedule) -> None:
    """The schedule that changes nothing: ``mlc.build(mod, schedule=as_written)``
    compiles every function exactly as written, without the default rules."""


def apply_schedule(mod: IRModule, target, schedule=None) -> IRModule:
    """``mod`` scheduled for ``target`` by ``schedule`` (None: the default rules).

    A graph's ``main`` (:func:`~mlc.ir.calls.is_graph_main`) calls the kernels and
    has no loops: it is set aside, and the schedule sees only the kernels."""
    mains = {name: func for name, func in mod.items() if is_graph_main(func)}
    if mains:
        kernels = _schedule(IRModule({n: f for n, f in mod.items() if n not in mains}), target, schedule)
        return IRModule({**kernels, **mains})
    return _schedule(mod, target, schedule)


def _schedule(mod: IRModule, target, schedule) -> IRModule:
    if schedule is None:
        return default_schedule(mod, target).mod
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
    return IRModule({name: func.with_attr(SCHEDULED_ATTR, "user") for name, func in out.items()})
