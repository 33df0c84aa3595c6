"""From a traced graph to one callable: graph passes, one ``mlc.build`` (which schedules), main.

The graph passes end with the graph's ``main`` (:mod:`mlc.passes.graph.emit_main`);
all kernels and ``main`` are built together in a single ``mlc.build`` call, and
a call of the jitted function is one call of ``main`` through a
:class:`~mlc.runtime.entry.MainEntry` (constants bound once, outputs allocated
per call), its outputs put back into the function's output pytree.
"""
from __future__ import annotations

import builtins

from typing import NamedTuple

import numpy as np

from ..driver import build, main_entry, pausing_between
from .. import errors
from ..errors import BoundsError, DTypeError, ShapeError
from ..ir.arith import eval_int
from ..ir.expr import max as expr_max
from ..ir.graph import Graph
from ..ops.library.reduce import EMPTY_REDUCTION
from ..ir.tir import IRModule
from ..passes.graph import GRAPH_PIPELINE, run_graph_passes
from ..passes.graph.emit_main import main_outputs
from ..runtime.entry import MainEntry
from ..runtime.meanwhile import meanwhile
from ..runtime import host_pool
from ..runtime.ndarray import module_device, pooled_sizes
from ..runtime.sizes import EmptyTake
from ..target import Target
from .numpy_random import draw_key
from .operands import numpy_on_overflow
from .pytree import unflatten
from .source import describe_location, user_location
from .trace import BELOW, BOUNDS, EXPONENT, INDEX, RAISES, STATUS
from .writeback import AliasMismatch, alias_pattern, run_in_place, write_back

__all__ = ["lower_graph", "build_lowered", "CompiledFunction", "RangeCheck", "nonempty_axes"]


class RangeCheck(NamedTuple):
    """A traced Python int the run must find within ``dtype``'s range; ``op`` converts it
    (``TraceContext.check_range``); ``dtype`` :data:`~.trace.BOUNDS`: the int counts traced
    indices out of bounds, and ``op`` is the line of the item assignment; :data:`~.trace.EXPONENT`:
    the int is the exponent of an integer power, which must not be negative; :data:`~.trace.BELOW`:
    an index, which must be in [0, ``limit``); :data:`~.trace.INDEX`: a traced index into an axis
    of ``limit`` elements, ``op`` (what is indexed, the axis, the user's line); :data:`~.trace.STATUS`:
    the ``[site, value]`` of a compiled loop or conditional, ``op`` the ``(dtype, op, limit)`` of
    the checks of its body that ``site`` numbers from 1 (:mod:`.checks`). The error names the
    user's line of the call, or of the access."""
    dtype: str
    op: object
    limit: int = 0

    @property
    def sized(self) -> bool:
        """Whether the check's limit (or that of a check in its status table) is a size
        expression of the dynamic axes, which a call evaluates from its arguments' shapes."""
        if self.dtype == STATUS:
            return any(RangeCheck(*entry).sized for entry in self.op)
        return not isinstance(self.limit, int)

    def verify(self, value: np.ndarray, sizes: dict | None = None) -> None:
        """Raise where ``value`` fails the check. ``sizes``: the call's dynamic sizes
        (shape variable id -> int), for a limit that is a size expression of them."""
        if not isinstance(self.limit, int):
            self._replace(limit=eval_int(self.limit, sizes)).verify(value)
            return
        if self.dtype == STATUS:
            site, v = int(value[0]), int(value[1])  # (a NumPy or a CuPy array)
            if site:
                RangeCheck(*self.op[site - 1]).verify(np.int64(v), sizes)
            return
        v = int(value)
        if self.dtype == INDEX:
            if not -self.limit <= v < self.limit:
                what, axis, where = self.op
                raise BoundsError(f"{what}: index {v} is out of bounds for axis {axis} with size {self.limit} "
                                  f"(NumPy raises IndexError); no argument was written{where}")
            return
        if self.dtype == BOUNDS:
            if v:
                raise BoundsError(f"item assignment: {v} traced index(es) out of bounds when the function ran "
                                  f"(NumPy raises IndexError); no argument was written{self.op}")
            return
        if self.dtype == RAISES:  # the user's own raise, under a condition known at run time
            if v:
                name, _, message = self.op.partition("\x00")
                cls = getattr(builtins, name, None) or getattr(errors, name, None)  # (a branch's: if_stmt)
                raise (cls if isinstance(cls, type) and issubclass(cls, Exception) else RuntimeError)(message)
            return
        if self.dtype == BELOW:
            if not 0 <= v < self.limit:
                raise ShapeError(f"{self.op}: the value {v} is {'negative' if v < 0 else 'not below'} "
                                 f"{'' if v < 0 else f'the static length {self.limit} '}the compiled "
                                 f"function was traced for; "
                                 f"{'NumPy refuses negative values' if v < 0 else 'NumPy would return a longer array'}"
                                 f". Pass a length that holds every value{describe_location(user_location())}")
            return
        if self.dtype == EXPONENT:
            if v < 0:
                raise ShapeError(f"{self.op}: integers to negative integer powers are not allowed, as in "
                                 f"NumPy (ValueError), and the exponent is {v}; use a float base "
                                 f"(x.astype(float) ** n){describe_location(user_location())}")
            return
        info = np.iinfo(self.dtype)
        if not info.min <= v <= info.max:
            raise DTypeError(
                f"{self.op}: Python integer {v} (a Python scalar argument, or computed from one) is "
                f"out of bounds for {self.dtype}, in [{info.min}, {info.max}]; {numpy_on_overflow(self.op)}. "
                "Cast the array to a wider dtype, or pass a value in range"
                + describe_location(user_location()))


def nonempty_axes(traced: Graph) -> tuple[tuple[object, str], ...]:
    """(size, message) for each symbolic axis (``@mlc.jit(dynamic=...)``) that a reduction
    without an identity reduces in ``traced``, or a ``take`` takes elements from: a call
    where it is 0 raises ShapeError (BoundsError for a ``take``, an :class:`EmptyTake`
    message: NumPy's IndexError), as the same op over a static empty axis does when
    traced."""
    out = []
    for b in traced.bindings:
        if b.op == "take" and len(b.args) == 2:  # no element to take from an empty axis
            shape = b.args[0].shape
            axis = b.attr("axis") % len(shape)
            taken = b.args[1].shape[0]
            if (isinstance(shape[axis], int) and isinstance(taken, int)) or (isinstance(taken, int) and taken == 0):
                continue
            # 0 exactly where the axis is empty and an element is taken (their number may be dynamic too)
            size = shape[axis] if isinstance(taken, int) else shape[axis] + expr_max(1 - taken, 0)
            out.append((size, EmptyTake(f"take: index out of bounds: elements taken from an empty axis "
                                        f"(axis {axis} of {getattr(b.args[0], 'name', 'its argument')}, of "
                                        f"dynamic size {shape[axis]}, is 0 on this call; NumPy raises "
                                        f"IndexError)" + describe_location(b.loc))))
            continue
        if b.op not in EMPTY_REDUCTION or not b.args or b.attr("initial") is not None:
            continue  # (a start value is the result of an empty slice)
        shape = b.args[0].shape
        axis = b.attr("axis")
        axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        for a in axes:
            size = shape[a % len(shape)] if shape else 1
            if not isinstance(size, int):
                where = getattr(b.args[0], "name", "its argument")
                out.append((size, f"{b.op}: {EMPTY_REDUCTION[b.op]} (axis {a % len(shape)} of {where}, "
                                  f"of dynamic size {size}, is 0 on this call); reduce over "
                                  f"non-empty axes, or test the size first" + describe_location(b.loc)))
    return tuple(out)


def lower_graph(traced: Graph, passes=GRAPH_PIPELINE) -> Graph:
    """The graph pipeline (``passes``: :data:`~mlc.passes.graph.GRAPH_PIPELINE`, or
    :data:`~mlc.passes.graph.CPU_GRAPH_PIPELINE` for a CPU target): a memory-planned graph of
    call_tir bindings with its IRModule (the kernels and the graph's ``main``); on the
    background thread, each pass first pauses while a first tier runs (:func:`~mlc.driver.pausing_between`)."""
    graph = run_graph_passes(traced, tuple(pausing_between(p) for p in passes))
    if graph.module is None:
        graph = graph.with_bindings(graph.bindings, module=IRModule({}))
    return graph


def merged_outputs(traced: Graph, graph: Graph) -> tuple[int, ...]:
    """The output positions that ``graph`` (``traced`` after the pipeline) computes as an
    earlier output, where ``traced`` computed them apart (``return x * 2, x * 2``: common
    subexpression elimination merged them): NumPy returns two arrays there, so these
    positions get a copy of the earlier one's."""
    out = []
    for k, (lowered, value) in enumerate(zip(graph.outputs, traced.outputs)):
        same = [j for j in range(k) if graph.outputs[j] is lowered]
        if same and all(traced.outputs[j] is not value for j in same):
            out.append(k)
    return tuple(out)


class CompiledFunction:
    """One signature of a jitted function: ``compiled.run(leaves)`` -> the output pytree."""

    __slots__ = ("graph", "lib", "entry", "run", "checks", "order", "out_tree", "key_sources", "writes",
                 "aliases", "copies", "nonempty", "replaced", "can_fast")

    def __init__(self, graph: Graph, lib, entry: MainEntry, order: tuple[int, ...], out_tree=None,
                 checks: tuple[RangeCheck, ...] = (), copies: tuple[int, ...] = (), key_sources: tuple = (),
                 writes: tuple[int, ...] = (), aliases: tuple[int, ...] | None = None):
        self.graph, self.lib, self.entry, self.checks = graph, lib, entry, checks
        # (what an export needs to call main as run does: copies are outputs returned twice, which
        # ``order`` shows as one index twice)
        self.order, self.out_tree, self.key_sources = order, out_tree, key_sources
        #: the arguments (leaf positions) the function writes, whose last versions are main's
        #: last outputs; the memory sharing among the arguments it was traced for (.writeback)
        self.writes, self.aliases = writes, aliases
        self.copies, self.nonempty = copies, ()
        #: the function this one replaced (a first tier, :mod:`.tiering`): its code stays loaded
        #: while this one lives, since a call that began before the swap may still run it
        self.replaced = None
        in_place = {k: graph.inputs[k].dtype for _, k in graph.written}
        # checks of indices into dynamic axes: their limits evaluated at the call's sizes
        sizes = (entry.sizes.bind if entry.sizes is not None
                 and any(c.sized for c in checks) else None)
        self.run = self._runner(_with_keys(entry.run, key_sources), order, out_tree, checks, copies, writes,
                                aliases, in_place, sizes)
        #: whether :meth:`make_fast` may give a fast entry: ``run`` is the entry's own (one
        #: array out, nothing verified, written back or drawn) and main has one
        self.can_fast = self.run is entry.run and getattr(entry, "fast_maker", None) is not None

    def make_fast(self, scalars=(), keywords=()):
        """(builtin, declined): ``builtin(*leaves)`` is the output where it ran, ``declined``
        where it did not (:mod:`mlc.runtime.fast_calls`); None where there is none.
        ``scalars`` and ``keywords``: the Python numbers it takes by value and the names
        the last leaves may come by (:meth:`~mlc.runtime.entry.MainEntry.make_fast`)."""
        return self.entry.make_fast(scalars, keywords) if self.can_fast else None

    def with_lib(self, lib) -> CompiledFunction:
        """This function calling the kernels of ``lib`` instead (the same module built
        otherwise: the optimised build of a first tier, :mod:`.tiering`)."""
        return _function_of(self.graph, lib, self.out_tree, self.checks, self.nonempty, self.copies,
                            self.key_sources, self.writes, self.aliases)

    @staticmethod
    def _runner(run, order, out_tree, checks, copies=(), writes=(), aliases=None, in_place=None, sizes=None):
        """``run`` (main's outputs) made to return the output pytree. Main's last outputs are the
        ``len(checks)`` values to verify, then the ``len(writes)`` last versions of the arguments
        at ``writes``; both are dropped once used (the checks verified before any argument is
        written). The outputs at ``copies`` (:func:`merged_outputs`) are copies. ``in_place``
        (argument position -> dtype): main writes those arguments' new values into their own
        memory (``Graph.written``) and returns none of them (:func:`.writeback.run_in_place`).
        ``sizes(leaves)``: the call's dynamic sizes, for checks whose limits are size expressions."""
        copies = tuple(k for k in copies if k < len(order))  # (outputs main writes in place: none)
        if order != tuple(range(len(order))) or copies:  # a value returned twice, one array each time
            main_run = run

            def run(leaves):
                outs = main_run(leaves)
                outs = [outs[k] for k in order]
                for k in copies:
                    outs[k] = outs[k].copy()
                return outs
        if writes and in_place:  # main writes the arguments: the caller's arrays where it may
            written, verified = run, checks

            def run(leaves):
                pattern = alias_pattern(leaves, writes)
                if pattern != aliases:
                    raise AliasMismatch(pattern)
                return run_in_place(written, leaves, in_place, verified)
            checks = ()  # verified by run_in_place
        elif writes:  # the arguments written: checked for memory they share, then written back
            written, verified = run, checks

            def run(leaves):
                pattern = alias_pattern(leaves, writes)
                if pattern != aliases:
                    raise AliasMismatch(pattern)
                outs = written(leaves)
                n = len(outs) - len(writes)
                m = n - len(verified)
                bound = sizes(leaves) if sizes is not None else None
                for check, value in zip(verified, outs[m:n]):  # before the caller's arrays change
                    check.verify(value, bound)
                for k, value in zip(writes, outs[n:]):
                    write_back(leaves[k], value)
                return outs[:m]
            checks = ()  # verified above
        if checks:
            n = -len(checks)
            inner = run

            def checked(leaves):
                outputs = inner(leaves)
                bound = sizes(leaves) if sizes is not None else None
                for check, value in zip(checks, outputs[n:]):
                    check.verify(value, bound)
                return unflatten(out_tree, outputs[:n])
            return checked
        if type(out_tree) is str:  # a single array
            if order == (0,) and not writes:
                return run  # the entry returns it (single=True)
            single = run
            return lambda leaves: single(leaves)[0]
        tail = run
        return lambda leaves: unflatten(out_tree, tail(leaves))


def _with_keys(run, key_sources: tuple):
    """``run``, given after the call's arguments one random key drawn from each of
    ``key_sources`` (:func:`~.numpy_random.draw_key`): the hidden inputs a trace asked for
    with ``TraceContext.random_key``, drawn anew at every call."""
    if not key_sources:
        return run
    if len(key_sources) == 1:
        (source,) = key_sources
        return lambda leaves: run([*leaves, draw_key(source)])
    return lambda leaves: run([*leaves, *(draw_key(s) for s in key_sources)])


def build_lowered(graph: Graph, out_tree, target, schedule, checks: tuple[RangeCheck, ...] = (),
                  fast_math: bool = False, database=None, nonempty=(), copies: tuple[int, ...] = (),
                  key_sources: tuple = (), writes: tuple[int, ...] = (),
                  aliases: tuple[int, ...] | None = None, quick: bool = False) -> CompiledFunction:
    """Build ``graph.module`` (kernels and main) in one ``mlc.build`` call, which applies
    ``schedule``, or ``database``'s traces and the target's default rules when it is None. The
    graph's last ``len(checks)`` outputs are the traced ints the :class:`RangeCheck` s verify
    after each run. A graph with symbolic input shapes (``@mlc.jit(dynamic=...)``) has a
    ``main`` whose entry binds the sizes at each call and first checks that the sizes
    ``nonempty`` lists (:func:`nonempty_axes`) are not 0. The outputs at ``copies``
    are returned as copies (:func:`merged_outputs`). A call draws one random key from each of
    ``key_sources`` for the graph's last inputs (:func:`_with_keys`). The graph's last
    ``len(writes)`` outputs are written into the arguments at ``writes`` after each run
    (:mod:`.writeback`), for calls whose arguments share memory as ``aliases`` says.
    ``quick``: a first tier (``mlc.build(quick=True)``), whose ``lib.optimized()`` comes later.
    On the host, while the build waits for its compiler threads, the pages of the outputs'
    memory are mapped for the first run (:mod:`mlc.runtime.meanwhile`)."""
    target = Target.from_str(target)
    with meanwhile(_map_outputs(graph) if module_device(target).kind == "cpu" else None):
        lib = build(graph.module, target, schedule, database=database, fast_math=fast_math,
                    quick=quick, tiered=False)  # (the jit tiers its calls itself: .tiering)
    return _function_of(graph, lib, out_tree, checks, nonempty, copies, key_sources, writes, aliases)


def _map_outputs(graph: Graph):
    """The work that maps the pages of the memory of ``graph``'s main's outputs ahead of
    its first run (:func:`~mlc.runtime.host_pool.map_ahead`), or None where no output is
    large enough to take it from the pool (:func:`~mlc.runtime.ndarray.pooled_sizes`)."""
    sizes = pooled_sizes([(v.shape, v.dtype) for v in main_outputs(graph)[0]])
    return (lambda: host_pool.map_ahead(sizes)) if sizes else None


def _function_of(graph: Graph, lib, out_tree, checks, nonempty, copies, key_sources, writes,
                 aliases) -> CompiledFunction:
    """The CompiledFunction calling ``graph``'s main in ``lib``."""
    entry, order = main_entry(graph, lib, single=type(out_tree) is str and not checks and not writes,
                              nonempty=nonempty)
    function = CompiledFunction(graph, lib, entry, order, out_tree, checks, copies, key_sources, writes, aliases)
    function.nonempty = nonempty
    return function
