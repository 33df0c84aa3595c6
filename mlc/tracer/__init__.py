"""Tracing: ``@mlc.jit`` turns NumPy-like Python into a graph, compiles it and runs it.

- :mod:`.tracer`    Tracer arrays (shape and dtype only) and NumPy's protocols
- :mod:`.operands`  operands to Tracers, NumPy 2 / NEP 50 scalar promotion
- :mod:`.trace`     the trace being recorded (graph builder, errors with source lines)
- :mod:`.pytree`    nested tuples/lists/dicts of arrays, flattened for cache keys
- :mod:`.arguments` static vs dynamic arguments, cache keys
- :mod:`.compile`   graph passes, schedule, one build, the executor
- :mod:`.jit`       ``jit`` and ``JitFunction.lower``
"""
from .jit import JitFunction, Lowered, jit
from .trace import TraceContext, current_trace, is_tracing
from .tracer import Tracer

__all__ = ["jit", "JitFunction", "Lowered", "Tracer", "TraceContext", "current_trace", "is_tracing"]
