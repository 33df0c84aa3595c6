"""``compile_tir``: the best measured schedule of a function, as the course's
``ms.tir_integration.compile_tir(database, mod, target)`` gives it.

After ``db = mlc.tune.tune(mod, "llvm", space=my_space)``, ``compile_tir(db, mod,
space=my_space)`` is an :class:`mlc.Schedule` with the fastest point of
``my_space`` replayed (``space=None``: the fastest record of any space, which may
be the default schedule the tuner measures as well); ``sch.mod`` builds with
``mlc.build`` and ``sch.trace`` shows the decisions.
"""
from __future__ import annotations

from ..errors import MLCError
from ..ir.tir import IRModule, PrimFunc
from ..schedules import Schedule

__all__ = ["compile_tir"]


def compile_tir(database, mod, target="llvm", space=None) -> Schedule | None:
    """A Schedule of ``mod`` (a PrimFunc, or an IRModule of one) with the best record of
    ``database`` for it on ``target`` replayed (of design ``space`` only, when given);
    None when the database has no timed record of it."""
    if isinstance(mod, PrimFunc):
        name, func = mod.attr("global_symbol", "main"), mod
    elif isinstance(mod, IRModule) and len(list(mod)) == 1:
        name = next(iter(mod))
        func = mod[name]
    else:
        raise MLCError(f"compile_tir: expected a PrimFunc or an IRModule of one PrimFunc, got "
                       f"{type(mod).__name__}; call it per function")
    trace = database.best_trace(func, target, space)
    if trace is None:
        return None
    sch = Schedule(IRModule({name: func}))
    trace.apply(sch)
    return sch
