"""The compile driver: ``mlc.build`` and its stages, in the order they run.

graph passes (for a GraphModule, :mod:`mlc.graph.build`; for ``@mlc.jit``,
:mod:`mlc.tracer`) -> lowering to PrimFuncs -> :func:`schedule_stage` (user
schedule, Trace, tuning :class:`Database`, or the backend's default rules) ->
:func:`verify_stage` -> :func:`tir_stage` (the backend's TIR passes) ->
:func:`codegen_stage` -> :func:`load_stage`. Backends come from
:mod:`mlc.backends.registry`; schedules never import this package, and
backends never do either.
"""
from .build import (STAGES, build, codegen_stage, load_stage, pausing_between, register_module_builder,
                    schedule_module, tir_stage, verify_stage)
from .collector import collector_paused
from .entry import main_entry
from .schedule import Database, schedule_stage

__all__ = ["build", "collector_paused", "register_module_builder", "main_entry", "schedule_module", "Database", "STAGES", "schedule_stage", "verify_stage", "tir_stage",
           "codegen_stage", "load_stage", "pausing_between"]
