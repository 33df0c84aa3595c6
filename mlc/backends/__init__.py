"""Backends turn an IRModule into a runnable :class:`mlc.runtime.Module`.

``build(mod, target, schedule)`` is the one entry point: "llvm" compiles native
code for the host CPU, "reference" interprets the IR with NumPy (the test oracle).
``schedule`` is a function ``f(sch)`` applied to ``mlc.Schedule(mod)`` first;
without one, the target's default schedule rules handle every function nobody
scheduled (:mod:`mlc.schedules.default`). A :class:`mlc.graph.GraphModule` (graph
functions beside PrimFuncs) is built by :func:`mlc.graph.build.build`: its graph
functions come back callable, ``lib["main"](x)`` returning arrays.
"""
from __future__ import annotations

from ..config import config
from ..errors import MLCError
from ..ir.tir import IRModule, PrimFunc
from ..passes.tir import verify_bounds
from .target import Target

__all__ = ["build", "Target"]


def _flag(fast_math) -> bool:
    if not isinstance(fast_math, bool):
        raise MLCError(f"build: fast_math must be True or False, got {fast_math!r} "
                       f"({type(fast_math).__name__}); pass fast_math=True for the cheaper math")
    return fast_math


def build(mod, target="llvm", schedule=None, *, check_bounds=None, fast_math=False):
    """Schedule ``mod`` with ``schedule`` (default rules when None), then compile every
    function for ``target``; returns a runtime Module.

    A buffer access the compiler proves out of bounds is a CompileError, for every
    target (:func:`~mlc.passes.tir.verify_bounds`). ``check_bounds`` (default: the
    ``MLC_DEBUG`` setting) makes the llvm backend check every access when it runs:
    an index outside its buffer raises :class:`~mlc.errors.BoundsError` from the
    call instead of touching memory (the reference backend always checks).

    ``fast_math=True`` lets the llvm backend use cheaper exp, expm1, tanh, sigmoid
    and erf: within 1e-6 relative for float32 and 1e-13 for float64 wherever the
    result is a normal number, with NaN, infinities, overflow to inf and underflow
    to 0 as by default (:mod:`mlc.backends.llvm.vecmath.fast`). By default the math
    stays within the ulp bounds of :mod:`mlc.backends.llvm.vecmath`. The reference
    target ignores it.

    >>> import numpy as np
    >>> from mlc import te
    >>> A = te.placeholder((4,), "float32", "A")
    >>> B = te.compute((4,), lambda i: A[i] * 2, "B")
    >>> lib = build(IRModule({"double": te.create_prim_func([A, B])}), "llvm")
    >>> b = np.empty(4, "float32"); lib["double"](np.arange(4, dtype="float32"), b); b
    array([0., 2., 4., 6.], dtype=float32)
    """
    if isinstance(mod, PrimFunc):
        mod = IRModule({mod.attr("global_symbol", "main"): mod})
    if not isinstance(mod, IRModule):
        from ..graph.module import GraphModule
        if isinstance(mod, GraphModule):  # graph functions too: lowered, planned, run by executors
            from ..graph.build import build as build_graph_module
            return build_graph_module(mod, target, schedule, fast_math=fast_math)
        raise MLCError(f"build takes an IRModule, PrimFunc or GraphModule (mlc.graph.BlockBuilder), "
                       f"got {type(mod).__name__}")
    target = Target.from_str(target)
    from ..schedules.apply import apply_schedule
    mod = apply_schedule(mod, target, schedule)
    for func in mod.values():
        verify_bounds(func)
    if check_bounds is None:
        check_bounds = config().debug
    if target.kind == "llvm":
        from .llvm import build_llvm
        return build_llvm(mod, target, check_bounds=bool(check_bounds),
                          fast_math=_flag(fast_math))
    if target.kind == "reference":
        from .reference import build_reference
        return build_reference(mod, target)
    raise MLCError(f"target {target.kind!r} is not available in this build of mlc")
