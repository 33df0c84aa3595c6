"""Default schedules: what ``mlc.build`` applies to every function nobody scheduled.

Rules depend on the target: ``llvm`` gets the CPU rules of :mod:`.cpu`
(inline, register-tiled matmul, vectorize, parallelize); ``reference``, the
NumPy interpreter that serves as ground truth, runs functions as written.
A function is scheduled only when it is still in te's canonical form
(:func:`is_unscheduled`); the result carries the ``"mlc.scheduled"``
attribute, so it is never scheduled twice.

>>> import mlc
>>> from mlc import te
>>> A = te.placeholder((64, 64), "float32", "A")
>>> B = te.compute((64, 64), lambda i, j: A[i, j] * 2, "B")
>>> sch = default_schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}), "llvm")
>>> [inst.kind for inst in sch.trace if inst.kind in ("split", "vectorize")]
['split', 'vectorize']
"""
from __future__ import annotations

from ...ir.tir import IRModule
from ..schedule import Schedule
from .canonical import SCHEDULED_ATTR, is_unscheduled
from .cpu import BLOCK_RULES, FUNCTION_RULES, schedule_cpu
from .steps import CpuInfo

__all__ = ["default_schedule", "is_unscheduled", "SCHEDULED_ATTR", "SCHEDULERS", "CpuInfo",
           "FUNCTION_RULES", "BLOCK_RULES"]


def _cpu(sch: Schedule, func_name: str, target) -> None:
    schedule_cpu(sch, func_name, CpuInfo.from_target(target))


#: Target kind -> ``f(sch, func_name, target)`` scheduling one function in place.
SCHEDULERS = {"llvm": _cpu}


def default_schedule(mod: IRModule, target="llvm") -> Schedule:
    """A Schedule of ``mod`` with the default rules of ``target`` applied to every
    unscheduled function; ``sch.mod`` is the result and ``sch.trace`` says what was done."""
    from ...backends.target import Target
    target = Target.from_str(target)
    sch = Schedule(mod)
    scheduler = SCHEDULERS.get(target.kind)
    for name in list(mod):
        if scheduler is not None and is_unscheduled(mod[name]):
            scheduler(sch, name, target)
            sch._commit(name, sch.mod[name].with_attr(SCHEDULED_ATTR, "default"))
    return sch
