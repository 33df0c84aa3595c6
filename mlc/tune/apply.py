"""Applying a tuning database to a module: each unscheduled PrimFunc gets its best trace.

``mlc.build(mod, target, database=db)`` does this inside the compile driver
for IRModules and PrimFuncs; :func:`apply_database` does it before the build,
for any module (an IRModule, or a graph module with ``call_tir`` kernels):

    mlc.build(apply_database(mod, db, "llvm"), "llvm")

Functions without a record are left as they are, for the target's default
rules to schedule.
"""
from __future__ import annotations

from ..ir.tir import IRModule, PrimFunc
from ..schedules import Schedule

__all__ = ["apply_database", "TUNED"]

#: the ``"mlc.scheduled"`` attribute of a function scheduled from a database record
TUNED = "tuned"


def apply_database(mod, database, target="llvm"):
    """``mod`` with every unscheduled PrimFunc that ``database`` has a record for scheduled by
    its best trace (and marked ``"mlc.scheduled": "tuned"``)."""
    out = mod
    for name, func in mod.items():
        if not isinstance(func, PrimFunc) or func.attr("mlc.scheduled"):
            continue
        trace = database.best_trace(func, target)
        if trace is None:
            continue
        sch = Schedule(IRModule({name: func}))
        trace.apply(sch)
        out = out.with_function(name, sch.mod[name].with_attr("mlc.scheduled", TUNED))
    return out
