"""Schedules: TensorIR primitives, their trace, default rules per target, and (later) tuning."""
from .apply import apply_user_schedule, as_written, replay_trace
from .base import BlockRV, ExprRV, LoopRV
from .default import default_schedule
from .index_map import IndexMap
from .schedule import Schedule
from .tensor_intrin import TensorIntrin
from . import intrinsics  # noqa: F401  (registers the shipped tensor intrinsics)
from .trace import Instruction, Trace

__all__ = ["Schedule", "BlockRV", "LoopRV", "ExprRV", "Trace", "Instruction", "TensorIntrin",
           "IndexMap", "apply_user_schedule", "replay_trace", "as_written", "default_schedule"]
