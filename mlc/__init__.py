"""mlc: a machine-learning compiler for NumPy-like Python.

Write tensor programs with :mod:`mlc.te`, schedule them, and build them for
the host CPU (LLVM) or run them on the NumPy reference interpreter.
"""
from . import ir
from .backends import build
from .backends.target import Target
from .errors import (CompileError, DTypeError, IRError, MLCError, ScheduleError, ShapeError,
                     TraceError)
from .ir import te, tir
from .ir.structural import assert_structural_equal, structural_equal, structural_hash
from .ir.tir import IRModule, PrimFunc
from .schedules import BlockRV, ExprRV, LoopRV, Schedule, TensorIntrin, Trace
from .tracer import jit
from . import nn, numpy  # noqa: E402  (after jit: they trace through it)
from .custom_op import op

__version__ = "0.1.0"

__all__ = [
    "ir", "te", "tir", "build", "Target", "IRModule", "PrimFunc", "MLCError", "TraceError",
    "ShapeError", "DTypeError", "ScheduleError", "CompileError", "IRError", "structural_equal",
    "structural_hash", "assert_structural_equal", "Schedule", "Trace", "BlockRV", "LoopRV",
    "ExprRV", "TensorIntrin", "jit", "numpy", "nn", "op",
]
