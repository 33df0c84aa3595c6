"""Parallel loops in the llvm codegen (mixed into it as :class:`ParallelCodegen`): a parallel
loop that is not inside another is outlined into a body function run on the thread pool
(:mod:`.parallel`: the function, its task and the launch); inside it, nested parallel loops
run serially.
"""
from __future__ import annotations

from llvmlite import ir

from ...ir.calls import aliased_params
from ...ir.tir import For
from . import parallel
from .types import I64, PTR, alignment, reg_type

__all__ = ["ParallelCodegen", "pointer_attributes"]


class ParallelCodegen:
    """The parallel-loop part of the function codegen (mixed into it): ``builder``, ``entry``,
    ``module``, ``fn``, ``func``, ``buffers``, ``vars``, ``extents``, ``checks``, ``place_body``,
    ``in_parallel``, ``_loop_range``, ``_var``, ``_serial_loop`` and ``_counted_loop`` are the
    codegen's; a body is emitted by a codegen of the same class."""

    def _parallel_loop(self, s: For) -> None:
        """Outline the loop into a body function and run it on the thread pool (:mod:`.parallel`).

        The body function receives every buffer and variable in scope (LLVM
        drops the unused ones where the body is internal, its one caller the task in the
        same module); inside it, nested parallel loops run serially.
        """
        if self.in_parallel:
            self._serial_loop(s)
            return
        if not parallel.openmp_available():
            parallel.warn_serial()
            self._serial_loop(s)
            return
        b = self.builder
        begin, extent = self._loop_range(s)
        buffers, variables = list(self.buffers.items()), [(var, self._var(var)) for var in self.vars]
        index_type = reg_type(s.loop_var.dtype)
        checks = [self.checks.record] if self.checks is not None else []
        # the checks in the body need the element counts of dynamic Allocates around the loop
        extents = [(buf, v) for buf, v in self.extents.items() if checks and not isinstance(v, ir.Constant)]
        module, name = self.place_body.body(self.fn.name, self.module) if self.place_body else (self.module, None)
        body_fn = parallel.body_function(
            module, self.fn.name,
            [PTR] * len(buffers) + [v.type for _, v in variables] + [I64] * len(extents)
            + [PTR] * len(checks) + [index_type, index_type], name)
        aliased = aliased_params(self.func)
        child = type(self)(module, self.func, body_fn, in_parallel=True)
        for kept in ("fast_math", "streaming", "streamed", "stream_loaded", "vector_bytes", "loop_depth", "_has_load"):
            setattr(child, kept, getattr(self, kept))  # the body is emitted as the kernel's loop would be
        args = iter(body_fn.args)
        for buf, _ in buffers:
            arg = next(args)
            arg.name = buf.name
            pointer_attributes(arg, buf.dtype, not self.func.may_overlap(buf) and id(buf) not in aliased, 0)
            child.buffers[buf] = arg
        for var, _ in variables:
            arg = next(args)
            arg.name = var.name
            child.vars[var] = arg
        for buf, _ in extents:
            child.extents[buf] = next(args)
        if checks:  # every thread records into the caller's record (see .bounds)
            child.checks = self.checks.with_record(next(args))
        lo, count = next(args), next(args)
        child._counted_loop(s, lo, count)
        child.finish()
        task_module = self.place_body.task(module) if self.place_body else None
        parallel.emit_launch(b, ir.IRBuilder(self.entry), body_fn,
                             [v for _, v in buffers] + [v for _, v in variables]
                             + [v for _, v in extents] + checks, begin, extent, task_module)
        self.launches += 1


def pointer_attributes(arg: ir.Argument, dtype: str, noalias: bool, nbytes: int) -> None:
    """The attributes of a pointer parameter: ``noalias`` where the function's buffers do not
    overlap, ``captures(none)``, its dtype's alignment, ``dereferenceable`` where its size
    (``nbytes``) is known."""
    if noalias:
        arg.add_attribute("noalias")
    arg.add_attribute("captures(none)")
    arg.attributes.align = alignment(dtype)
    if nbytes:
        arg.attributes.dereferenceable = nbytes
