"""What a target's default rules are: a function scheduling one function of a Schedule, and
optionally a rewrite of the functions ops wrote by hand.

The driver picks a target's rules by its kind's keys (:func:`mlc.driver.schedule.default_rules`): either a plain
``f(sch, func_name, target)`` (:data:`Rules`), applied to every function nobody
scheduled, or a :class:`TargetRules` that also says what becomes of a hand-written
function (:func:`mlc.ops.hand_written.is_hand_written`) on the target. Without that
rewrite a hand-written function is built as written (the CPU's case: it is written
for the CPU).

>>> rules = TargetRules(lambda sch, name, target: None)
>>> rules.hand_written is None
True
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...ir.tir import PrimFunc
from ...target import Target
from ..schedule import Schedule

__all__ = ["Rules", "HandWrittenRule", "TargetRules"]

#: ``f(sch, func_name, target)``: schedule one function of ``sch`` in place.
Rules = Callable[[Schedule, str, Target], None]
#: ``f(func, target) -> PrimFunc``: a hand-written function made ready for the target.
HandWrittenRule = Callable[[PrimFunc, Target], PrimFunc]


@dataclass(frozen=True)
class TargetRules:
    """A target's default rules: ``schedule`` for the functions nobody scheduled (calling the
    object calls it), ``hand_written`` for the functions ops wrote by hand (None: as written)."""
    schedule: Rules
    hand_written: HandWrittenRule | None = None

    def __call__(self, sch: Schedule, func_name: str, target: Target) -> None:
        self.schedule(sch, func_name, target)
