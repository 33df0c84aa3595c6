"""The stages of ``@mlc.jit``, the way JAX shows them: trace -> lower -> compile.

>>> import numpy as np, mlc
>>> f = mlc.jit(lambda x: x * 2 + 1)
>>> x = np.arange(4, dtype="float32")
>>> traced = f.trace(x)                  # the graph as traced
>>> lowered = traced.lower()             # graph passes: fused kernels in an IRModule
>>> compiled = lowered.compile()         # scheduled, lowered, generated, loaded
>>> compiled(x)
array([1., 3., 5., 7.], dtype=float32)
>>> "define" in compiled.as_text()       # the generated LLVM IR
True

``f(x)`` runs exactly these stages on its first call per signature and caches
the :class:`Compiled`; ``f.lower(x)`` is ``f.trace(x).lower()``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..driver import schedule_module
from ..errors import MLCError, TraceError
from ..ir.calls import is_graph_main
from ..ir.graph import Graph
from ..ir.tir import IRModule
from ..passes.graph import GRAPH_PIPELINE, cpu_graph_pipeline
from ..passes.graph.emit_main import main_name
from ..passes.graph.temporal_blocking import resident_l3_bytes
from ..runtime.entry import MainEntry
from ..runtime.exported import CallSpec, graph_entry
from ..runtime.ndarray import module_device
from ..target import Target
from .arguments import WideInt, fast_key, fast_leaves, keyed_arguments
from .numpy_random import ENTROPY, GLOBAL, describe_source
from .compile import CompiledFunction, RangeCheck, build_lowered, lower_graph, merged_outputs

__all__ = ["Traced", "Lowered", "Compiled"]

_SCALAR_NAMES = {int: "int", float: "float", bool: "bool", complex: "complex"}


def _leaf_kinds(key) -> tuple:
    """The dynamic leaves' parts of a jit's call key (``("general", tree, leaves, statics)``):
    ``(shape, dtype)`` of an array, the type of a Python number."""
    if isinstance(key, tuple) and len(key) >= 3 and key[0] == "general" and isinstance(key[2], tuple):
        return key[2]
    return ()


@dataclass(frozen=True)
class _Origin:
    """What the later stages need from the jitted function and the call that was traced."""
    jit: Any                      # the JitFunction (for the argument signature of a call)
    key: Any                      # the cache key of the traced call's signature
    out_tree: Any                 # the pytree structure of the outputs
    checks: tuple[RangeCheck, ...]
    fast_math: bool
    database: Any = None          # a tuning database (mlc.build's database=), or None
    nonempty: tuple = ()          # dynamic sizes that must not be 0 (tracer.compile.nonempty_axes)
    key_sources: tuple = ()       # where each call draws the hidden random keys from (numpy_random)
    writes: tuple = ()            # the arguments (leaf positions) written back after each call (writeback)
    aliases: tuple | None = None  # the memory the arguments traced share (writeback.alias_pattern)


@dataclass(frozen=True)
class Traced:
    """A jitted function traced for one signature (``f.trace(*args)``): ``graph`` is the
    graph as traced, before any pass."""
    graph: Graph
    target: object = None
    schedule: object = None
    _origin: _Origin | None = field(default=None, repr=False, compare=False)

    def lower(self, *, in_place: bool = True) -> Lowered:
        """Run the graph passes (fusion, memory planning): the kernels as one IRModule.

        ``in_place``: the arguments the function writes receive their new values in their own
        memory, the caller's arrays (``Graph.written``), where the program takes host arrays
        and has static shapes; otherwise ``main`` returns the new values last, and the call
        copies them back (:mod:`.writeback`)."""
        graph = self.graph
        target = Target.from_str(self.target)  # (once: the passes and the build take the Target)
        if in_place and self._origin is not None and self._origin.writes and self._writes_in_place(target):
            writes = self._origin.writes
            first = len(graph.outputs) - len(writes)
            graph = replace(graph, written=tuple((first + n, k) for n, k in enumerate(writes)))
        lowered = lower_graph(graph, self._pipeline(target))
        return Lowered(self.graph, lowered, lowered.module, target, self.schedule, self._origin)

    def _pipeline(self, target: Target):
        """The graph passes for this target: a CPU's (the reference interpreter's too; for the
        L3 cache of the target where its cores read it fast), unless the target is a GPU (the emulator's
        included) or a user schedule takes charge of the whole module (it would meet kernels it
        did not expect)."""
        if self.schedule is None and "gpu" not in target.keys:
            l3 = target.caches[2] if "caches" in target.kind_info.properties else 0
            return cpu_graph_pipeline(resident_l3_bytes(target.cpu, l3))
        return GRAPH_PIPELINE

    def _writes_in_place(self, target: Target) -> bool:
        """Whether ``main`` may write the written arguments in place: a program on host arrays
        (a GPU's takes device copies of NumPy arguments), with static shapes (a graph with
        dynamic axes has no ``main``)."""
        static = all(isinstance(d, int) for v in self.graph.inputs for d in v.shape)
        return static and module_device(target).kind == "cpu"

    def as_text(self) -> str:
        """The traced graph, Relax-like."""
        return self.graph.script()

    def __str__(self) -> str:
        return self.as_text()


@dataclass(frozen=True)
class Lowered:
    """What a jitted function compiles for one signature (``f.lower(*args)``).

    ``traced`` is the graph as traced; ``graph`` the graph after the pipeline
    (one ``call_tir`` per fused kernel, memory planned); ``mod`` the IRModule
    of fused PrimFuncs that ``mlc.build`` compiles, before scheduling;
    :meth:`scheduled` is that module as the build schedules it.
    """
    traced: Graph
    graph: Graph
    mod: object
    target: object = None
    schedule: object = None
    _origin: _Origin | None = field(default=None, repr=False, compare=False)

    def scheduled(self):
        """``mod`` after the jit's schedule (or the target's default rules)."""
        database = self._origin.database if self._origin is not None else None
        return schedule_module(self.mod, self.target, self.schedule, database)

    def compile(self, *, quick: bool = False) -> Compiled:
        """Schedule, lower, generate and load the kernels (one ``mlc.build``): a callable.
        ``quick``: a first tier (``mlc.build(quick=True)``: short kernels unoptimised), which
        ``mlc.tracer.tiering.upgrade`` replaces by the optimised program later."""
        origin = self._origin
        if origin is None:
            raise MLCError("Lowered.compile: this Lowered was not made by a jitted function's "
                           "f.lower(*args) or f.trace(*args).lower()")
        function = build_lowered(self.graph, origin.out_tree, self.target, self.schedule, origin.checks,
                                 origin.fast_math, origin.database, origin.nonempty,
                                 merged_outputs(self.traced, self.graph), origin.key_sources, origin.writes,
                                 origin.aliases, quick)
        compiled = Compiled(function, origin)
        if function.graph.written:  # a library returns the new values (its C signature): built apart
            traced = Traced(self.traced, self.target, self.schedule, origin)
            compiled._returning_writes = lambda: traced.lower(in_place=False).compile().function
        return compiled

    def as_text(self) -> str:
        """The graph (Relax-like) followed by the kernels (TVMScript-like). The graph's
        ``main`` PrimFunc, named like the graph, is the graph itself as calls: it is left
        out, so the text parses back (``mlc.parse``); ``mod[name].script()`` shows it."""
        kernels = IRModule({n: f for n, f in self.mod.items() if not is_graph_main(f)})
        return self.graph.script() + "\n\n" + kernels.script()

    def __str__(self) -> str:
        return self.as_text()


class Compiled:
    """A jitted function compiled for one signature: call it with arguments of that
    signature; :meth:`as_text` shows the generated code."""

    __slots__ = ("function", "run", "_origin", "_matching", "_returning_writes")

    #: The most calls a Compiled remembers as its own signature (more than one where the
    #: signature has dynamic axes, or for each spelling of a call: keywords, their order).
    MAX_MATCHING = 64

    def __init__(self, function: CompiledFunction, origin: _Origin):
        self.function = function
        self.run = function.run  # leaves -> outputs: what the jit's cache calls
        self._origin = origin
        #: calls found to be this signature, as the jit finds them again: a fast key -> None,
        #: a call key -> where its leaves are (ArgumentSpec.remembered)
        self._matching: dict[tuple, tuple | None] = {}
        #: where ``function`` writes arguments in place (``Graph.written``): the same program
        #: built to return their new values instead, made on demand (what :meth:`export` writes)
        self._returning_writes = None

    @property
    def lib(self):
        """The runtime Module of the kernels."""
        return self.function.lib

    @property
    def graph(self) -> Graph:
        return self.function.graph

    @property
    def entry(self) -> MainEntry:
        """The runtime's :class:`~mlc.runtime.entry.MainEntry` calling the graph's ``main``."""
        return self.function.entry

    def __call__(self, *args, **kwargs):
        jit = self._origin.jit
        key = fast_key(args) if not kwargs and jit._fast else jit._spec.call_key(args, kwargs)
        if key in self._matching:  # the jit's own hit paths
            where = self._matching[key]
            leaves = fast_leaves(args if where is None else keyed_arguments(args, kwargs, where))
            if leaves is not None:
                return self.run(leaves)
        key, leaves, _ = jit._signature(args, kwargs)
        if key != self._origin.key:
            raise TraceError(f"this Compiled {jit.__name__} was compiled for other argument shapes, "
                             "dtypes or static arguments than these; call the jitted function itself, "
                             "which compiles each signature, or compile again with f.lower(*args).compile()")
        found = jit._spec.remembered(args, kwargs, leaves)
        if found is not None and len(self._matching) < self.MAX_MATCHING:
            self._matching[found[0]] = found[1]
        if any(type(a) is WideInt for a in leaves):  # traced as constants, not passed
            leaves = [a for a in leaves if type(a) is not WideInt]
        return self.run(leaves)

    def as_text(self, fmt: str | None = None) -> str:
        """The generated code: ``fmt`` names a source of the module (``"ll"``, ``"asm"``, ...);
        None gives the backend's own ("ll" for llvm; the TIR it runs for reference)."""
        lib = self.lib
        if fmt is not None:
            return lib.get_source(fmt)
        try:
            return lib.get_source()
        except MLCError:
            return ""  # a signature with no kernels generates no code

    def export(self, path, *, cc=None, format: str = "so", archs=None):
        """Write this compiled signature as a shared library that runs without mlc's compiler
        (``mlc.runtime.load(path)(x)``, or from C through the header ``name.h`` written
        beside it): its ``main`` with the constants and parameters the trace captured,
        as one C function ``mlc_<name>_main(inputs..., outputs...)``. ``cc``: the C
        compiler/linker (default: cc, gcc or clang on PATH). With dynamic axes
        (``mlc.jit(dynamic=...)``) the library's main takes each dynamic size after the
        arrays and allocates what the kernels pass each other at the call's sizes. The loaded library takes
        the array arguments in the order the function's array leaves are traced, and
        returns one array or a tuple. As a jitted call, the loaded entry takes Python numbers
        where the trace had them, verifies traced Python ints, draws random keys from NumPy's
        global generator (or fresh entropy) and writes back into the arguments the function
        writes (:class:`~mlc.runtime.exported.CallSpec`). ``format="mlc"``: the portable form
        of the kernels (``lib.export``). Compiled for ``cuda``, it writes a CUDA bundle
        instead (cubins for ``archs``, a launcher's metadata: ``CudaModule.export``), which
        ``mlc.runtime.load`` loads with NumPy and CuPy only. Returns ``path``."""
        function = self.function
        if self._returning_writes is not None:  # the library's entry copies the new values back
            function = self._returning_writes()
        calls = self._call_spec()
        graph = function.graph
        if module_device(self.lib.target).kind != "cpu":  # a device's module: its backend's bundle
            return self._export_bundle(path, format, calls, archs)
        single = type(function.out_tree) is str
        symbol, sizes = main_name(graph), function.entry.sizes
        entry = graph_entry("main", symbol, function.lib[symbol].func, function.entry.n_inputs,
                            function.entry.constants, function.order, single, calls,
                            nonempty=sizes.nonempty if sizes is not None else ())
        return function.lib.export(path, cc=cc, format=format, entries=[entry])

    def _export_bundle(self, path, format, calls: CallSpec, archs):
        function = self.function
        if function.entry.sizes is not None:
            raise MLCError("export: a program with dynamic axes runs its kernels from Python on cuda; export it "
                           "for 'llvm', or jit it without dynamic= for cuda")
        symbol = main_name(function.graph)
        entry = {"name": "main", "function": symbol, "kind": "graph", "n_inputs": function.entry.n_inputs,
                 "outputs": list(function.order), "single": type(function.out_tree) is str}
        if calls.needed():
            entry["call"] = calls.metadata()
        return self.lib.export(path, format="bundle" if format == "so" else format, entries=[entry],
                               constants=[function.entry.constants], archs=archs)

    def _call_spec(self) -> CallSpec:
        """What the loaded library must do around its C main, as :attr:`run` does around
        ``main``: Python numbers among the arguments, random keys drawn per call, checks
        of traced Python ints, write-back into the arguments."""
        function, name = self.function, self._origin.jit.__name__
        keys = []
        for source in function.key_sources:
            if source is not GLOBAL and source != ENTROPY:
                raise MLCError(f"export: {name} draws random numbers from {describe_source(source)}, an object "
                               "of this process that a library cannot take along; draw from NumPy's global "
                               "generator (np.random, which the loading process seeds and advances as a "
                               "jitted call does), or pass a key array argument (mlc.random)")
            keys.append("global" if source is GLOBAL else "entropy")
        if any(type(leaf) is WideInt for leaf in _leaf_kinds(self._origin.key)):
            raise MLCError(f"export: {name} was traced with a Python int that int64 cannot hold (a constant of "
                           "the trace); pass it as an array, or a value int64 holds")
        if any(c.sized for c in function.checks):
            raise MLCError(f"export: {name} indexes a dynamic axis with a traced index, which a call checks "
                           "against the axis's size at that call; an exported library does not check it yet. "
                           "Export with mlc.jit(..., bounds_check=False), or with that axis static")
        scalars = tuple(_SCALAR_NAMES.get(kind) if isinstance(kind, type) else None
                        for kind in _leaf_kinds(self._origin.key))
        return CallSpec(scalars, tuple(keys), tuple((c.dtype, c.op, c.limit) for c in function.checks),
                        tuple(function.writes), function.aliases)

    def __repr__(self) -> str:
        return f"<mlc Compiled {self._origin.jit.__name__} for {self.lib.target}>"
