"""Default schedules: what ``mlc.build`` applies to every function nobody scheduled.

The driver picks a target's rules by the keys of its kind (``"cpu"``: :func:`cpu_rules`,
``"gpu"``: :mod:`mlc.schedules.gpu`; :func:`mlc.driver.schedule.default_rules`) and
applies them with :func:`apply_rules` (:mod:`.rules` says what they are:
a GPU's also rewrite the functions ops wrote by hand). The CPU rules live here
(:mod:`.cpu`: inline, register-tiled matmul, vectorize, parallelize;
:func:`cpu_rules`), and :func:`default_schedule` applies them (for the llvm
kind's ``"cpu"`` key; the reference interpreter runs functions as written). A
function is scheduled only when it is still in te's canonical form
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
from ...ops.hand_written import is_hand_written
from ...target import Target
from ..schedule import Schedule
from .canonical import SCHEDULED_ATTR, is_unscheduled
from .cpu import BLOCK_RULES, FUNCTION_RULES, schedule_cpu
from .hand_written_cpu import hand_written_for_cpu
from .rules import HandWrittenRule, Rules, TargetRules
from .steps import CpuInfo

__all__ = ["default_schedule", "apply_rules", "cpu_rules", "CPU_RULES", "is_unscheduled", "SCHEDULED_ATTR", "CpuInfo",
           "FUNCTION_RULES", "BLOCK_RULES", "Rules", "TargetRules", "HandWrittenRule"]


def cpu_rules(sch: Schedule, func_name: str, target: Target) -> None:
    """The CPU rules (:func:`.cpu.schedule_cpu`) for ``target``'s vector width, registers,
    caches and the configured threads."""
    schedule_cpu(sch, func_name, CpuInfo.from_target(target))


#: The CPU rules with the CPU's rewrite of hand-written functions (:mod:`.hand_written_cpu`).
CPU_RULES = TargetRules(cpu_rules, hand_written=hand_written_for_cpu)


def apply_rules(mod: IRModule, target: Target, rules: Rules | TargetRules | None) -> Schedule:
    """A Schedule of ``mod`` with ``rules`` applied to every unscheduled function (None:
    none is changed), and, when ``rules`` is a :class:`TargetRules` with a ``hand_written``
    rewrite, that rewrite to every function an op wrote by hand; ``sch.mod`` is the result
    and ``sch.trace`` says what the schedules did. ``target`` is a parsed
    :class:`~mlc.target.Target` (the driver parses it once, at the entrance)."""
    sch = Schedule(mod)
    hand_written = rules.hand_written if isinstance(rules, TargetRules) else None
    for name in list(mod):
        if rules is not None and is_unscheduled(mod[name]):
            rules(sch, name, target)
            sch._commit(name, sch.mod[name].with_attr(SCHEDULED_ATTR, "default"))
        elif hand_written is not None and is_hand_written(mod[name]):
            sch._commit(name, hand_written(mod[name], target))
    return sch


def default_schedule(mod: IRModule, target="llvm") -> Schedule:
    """A Schedule of ``mod`` with the CPU rules for ``target`` (a CPU target such as
    ``"llvm"`` or ``Target("llvm", "haswell")``) applied to every unscheduled function.
    ``mlc.build`` asks the target's backend for its rules instead
    (:func:`mlc.driver.schedule_stage`)."""
    return apply_rules(mod, Target.from_str(target), CPU_RULES)
