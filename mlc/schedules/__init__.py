"""Schedules: TensorIR primitives, their trace, and (later) default rules and tuning."""
from .base import BlockRV, ExprRV, LoopRV
from .schedule import Schedule
from .tensor_intrin import TensorIntrin
from .trace import Instruction, Trace

__all__ = ["Schedule", "BlockRV", "LoopRV", "ExprRV", "Trace", "Instruction", "TensorIntrin"]
