"""The scheduling stage: who schedules each function of a module.

In order of precedence:

1. a user ``schedule`` (a function ``f(sch)`` or a Trace) takes charge of the
   whole module (:func:`mlc.schedules.apply.apply_user_schedule`);
2. otherwise each function nobody scheduled yet (te's canonical form, see
   :func:`mlc.schedules.default.is_unscheduled`) gets the trace a tuning
   ``database`` answers for it (:class:`Database`);
3. the functions left get the default rules of the target (:func:`default_rules`: by the
   keys of its kind, ``"cpu"`` or ``"gpu"``; a kind with neither is built as written).

The functions ops wrote by hand (:mod:`mlc.ops.hand_written`: a sort, a scan,
a factorization) have no blocks to schedule; whoever scheduled the rest, the
backend's rules make them ready for the target where they say how (a GPU's
give them their GPU kernels: :class:`~mlc.schedules.default.TargetRules`).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..errors import MLCError
from ..ir.calls import is_graph_main
from ..ir.tir import IRModule, PrimFunc
from ..schedules.apply import apply_user_schedule, replay_trace
from ..schedules.default import CPU_RULES, apply_rules, is_unscheduled
from ..schedules.gpu.default import GPU_RULES
from ..schedules.trace import Trace
from ..target import Target

__all__ = ["Database", "schedule_stage", "default_rules", "DEFAULT_RULES", "WORKLOAD_NAME"]

#: Target key -> the default rules of the targets whose kind has it (:attr:`mlc.target.TargetKind.keys`).
DEFAULT_RULES = {"cpu": CPU_RULES, "gpu": GPU_RULES}


def default_rules(target: Target, backend=None):
    """The rules that schedule what nobody scheduled for ``target``: those of the first key of
    its kind in :data:`DEFAULT_RULES` (None: built as written). A backend outside mlc may give
    its own with a method ``schedule_rules(target)``; mlc's backends import no schedules.

    >>> default_rules(Target.from_str("llvm")) is CPU_RULES, default_rules(Target.from_str("reference"))
    (True, None)
    """
    own = getattr(backend, "schedule_rules", None)
    if own is not None:
        return own(target)
    return next((DEFAULT_RULES[key] for key in target.keys if key in DEFAULT_RULES), None)

#: The name a function has when a database is asked about it (see :class:`Database`).
WORKLOAD_NAME = "main"


@runtime_checkable
class Database(Protocol):
    """What ``mlc.build(..., database=db)`` asks of a tuning database.

    ``best_trace(func, target)`` is called once per function of the module that
    nobody scheduled (no user schedule, and still in te's canonical form), with
    that function as a one-function workload, whatever its name in the module:
    the PrimFunc with its ``global_symbol`` attribute set to ``"main"``
    (``IRModule({"main": f})["main"]`` is such a function), and the build's
    :class:`~mlc.target.Target`. It returns None (no record: the default rules
    apply) or a :class:`~mlc.schedules.Trace`, which is replayed on
    ``Schedule(IRModule({key: func}))``: a module holding only that function,
    under the name ``key`` its ``get_block(..., func_name=key)`` calls use, or
    ``"main"`` when they name none. So a trace recorded on a one-function module,
    under any name, replays on any structurally equal function. The result
    replaces the function under its own name, marked ``"mlc.scheduled"``
    (``"trace"``); a trace that does not fit raises ScheduleError naming it.
    """

    def best_trace(self, func: PrimFunc, target: Target) -> Trace | None:
        ...


def schedule_stage(mod: IRModule, target: Target, rules=None, schedule=None, database=None) -> IRModule:
    """``mod`` scheduled for ``target``: by ``schedule`` when given, else function by function
    by ``database``'s traces and then the default ``rules`` (``f(sch, name, target)``; None:
    as written). See the module docstring for the precedence. A graph's ``main``
    (:func:`~mlc.ir.calls.is_graph_main`) calls the kernels and has no loops: it is set
    aside, and schedules see only the kernels."""
    mains = {name: func for name, func in mod.items() if is_graph_main(func)}
    if mains:
        kernels = IRModule({name: func for name, func in mod.items() if name not in mains})
        return IRModule({**schedule_stage(kernels, target, rules, schedule, database), **mains})
    if schedule is not None:  # then only the functions ops wrote by hand meet the rules
        mod = apply_user_schedule(mod, schedule)
        return mod if rules is None else apply_rules(mod, target, rules).mod
    if database is not None:
        if not isinstance(database, Database):
            raise MLCError(f"build: database must have a method best_trace(func, target) -> Trace | None, "
                           f"got {type(database).__name__}")
        funcs = dict(mod.items())
        for name, func in mod.items():
            if not is_unscheduled(func):
                continue
            trace = database.best_trace(func.with_attr("global_symbol", WORKLOAD_NAME), target)
            if trace is None:
                continue
            if not isinstance(trace, Trace):
                raise MLCError(f"build: database.best_trace returned {type(trace).__name__} for function "
                               f"{name!r}; expected an mlc.Trace or None")
            funcs[name] = replay_trace(func.with_attr("global_symbol", WORKLOAD_NAME), trace, name)
        mod = IRModule(funcs)
    return mod if rules is None else apply_rules(mod, target, rules).mod
