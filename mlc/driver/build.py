"""``mlc.build``: the compile pipeline, stage by stage, in one place.

::

    GraphModule ──graph passes──▶ IRModule of PrimFuncs          (mlc.graph.build)
    IRModule ──schedule_stage──▶ scheduled PrimFuncs              user schedule | database | default rules
             ──verify_stage────▶ (accesses proven out of bounds refused, every target)
             ──tir_stage───────▶ lowered PrimFuncs                Backend.tir_passes
             ──codegen_stage───▶ artefact (LLVM IR, source)       Backend.codegen
             ──load_stage──────▶ runtime Module                    Backend.load

The backend comes from the registry (:func:`mlc.backends.registry.get_backend`)
by the target's kind, the default rules by its keys; nothing here names one. The target
is parsed once, here (for a first tier, in the background build), and every stage gets
the :class:`~mlc.target.Target`. A backend that can compile a module
part by part (``Backend.begin``, the llvm backend) gets the stages one kernel at
a time instead (:func:`_build_by_parts`): it compiles each kernel while the next
is scheduled and lowered, and the result is the same.
"""
from __future__ import annotations

from ..backends.registry import Backend, BuildOptions, get_backend
from ..config import config
from ..errors import MLCError
from ..ir.calls import is_graph_main, verify_calls
from ..ir.tir import IRModule, PrimFunc
from ..passes.tir import run_passes, verify_bounds
from ..target import Target, kind_of
from .background import pause_for_foreground
from .collector import collector_paused
from .first_tier import first_tier
from .schedule import default_rules, schedule_stage
from .tiers import calls_per_run, quick_enough

__all__ = ["build", "register_module_builder", "schedule_module", "verify_stage", "tir_stage", "codegen_stage", "load_stage", "STAGES"]

#: The stages :func:`build` runs on an IRModule, in order.
STAGES = ("schedule", "verify_bounds", "tir_passes", "codegen", "load")


def _flag(fast_math) -> bool:
    if not isinstance(fast_math, bool):
        raise MLCError(f"build: fast_math must be True or False, got {fast_math!r} "
                       f"({type(fast_math).__name__}); pass fast_math=True for the cheaper math")
    return fast_math


def schedule_module(mod: IRModule, target=None, schedule=None, database=None) -> IRModule:
    """``mod`` as :func:`build` schedules it for ``target`` (a Target or target string;
    None: ``MLC_TARGET``): ``schedule``, else ``database``'s traces, else the default rules
    of the target (:mod:`.schedule`)."""
    target = Target.from_str(target)
    return schedule_stage(mod, target, default_rules(target, get_backend(target.kind)), schedule, database)


def verify_stage(mod: IRModule) -> IRModule:
    """``mod`` unchanged, once every call of a graph's ``main`` fits its callee
    (:func:`~mlc.ir.calls.verify_calls`, an IRError otherwise) and no access is proven out
    of bounds (a CompileError otherwise)."""
    verify_calls(mod)
    for func in mod.values():
        verify_bounds(func)
    return mod


def tir_stage(mod: IRModule, backend: Backend, target: Target, options: BuildOptions) -> IRModule:
    """Every function through the backend's TIR passes, in order (verified between passes
    with ``MLC_DEBUG``). A graph's ``main`` has only calls: backends take it as it is."""
    passes = tuple(pausing_between(p) for p in backend.tir_passes(target, options))
    if not passes:
        return mod
    return IRModule({name: func if is_graph_main(func) else run_passes(func, passes)
                     for name, func in mod.items()})


def pausing_between(step):
    """``step`` (a pass), first pausing a background build while a first tier runs in the
    foreground (:func:`~.background.pause_for_foreground`; nothing on any other thread)."""
    def paused_first(value):
        pause_for_foreground()
        return step(value)
    paused_first.__name__ = getattr(step, "__name__", type(step).__name__)
    paused_first.__qualname__ = getattr(step, "__qualname__", paused_first.__name__)
    paused_first.__wrapped__ = step
    return paused_first


def codegen_stage(lowered: IRModule, backend: Backend, target: Target, options: BuildOptions):
    """The backend's artefact for the lowered module."""
    return backend.codegen(lowered, target, options)


def load_stage(artifact, mod: IRModule, backend: Backend, target: Target, options: BuildOptions):
    """The runtime Module of ``artifact``; ``mod`` (as scheduled) gives each function's parameters."""
    return backend.load(artifact, mod, target, options)


#: Module type -> its builder ``f(mod, target, schedule, *, fast_math)``: the kinds of module
#: above the IR that ``build`` accepts besides IRModules (:func:`register_module_builder`).
_MODULE_BUILDERS: dict[type, object] = {}


def register_module_builder(kind: type, builder) -> None:
    """Let :func:`build` take modules of type ``kind``, handing them to ``builder(mod, target,
    schedule, *, fast_math)``. ``mlc.graph`` registers :class:`~mlc.graph.GraphModule` this
    way (graph modules are lowered by the graph passes, then built here), so the driver
    imports nothing above it."""
    _MODULE_BUILDERS[kind] = builder


def build(mod, target="llvm", schedule=None, *, database=None, check_bounds=None, fast_math=False, quick=False,
          tiered=None):
    """Schedule ``mod`` (an IRModule, a PrimFunc, or a :class:`mlc.graph.GraphModule`), then
    compile every function for ``target``; returns a runtime Module.

    Scheduling: ``schedule`` is a function ``f(sch)`` editing ``mlc.Schedule(mod)``
    (returning None, or a Schedule/IRModule to use instead) or a Trace to replay; it takes
    charge of every function. Without one, each function nobody scheduled gets the trace
    ``database.best_trace(func, target)`` answers (see :class:`mlc.driver.Database` for
    the exact contract), and the rest the default rules of the target (by its kind's keys).

    A buffer access the compiler proves out of bounds is a CompileError, for every
    target (:func:`~mlc.passes.tir.verify_bounds`). ``check_bounds`` (default: the
    ``MLC_DEBUG`` setting) makes the llvm backend check every access when it runs:
    an index outside its buffer raises :class:`~mlc.errors.BoundsError` from the
    call instead of touching memory (the reference backend always checks).

    ``fast_math=True`` lets the llvm backend use cheaper exp, expm1, tanh, sigmoid
    and erf (and for float32 log, log1p, log2, log10, atan, asin, acos, atan2, sin, cos, tan, cbrt, pow): within 1e-6 relative for float32 and 1e-13 for float64 wherever the
    result is a normal number, with NaN, infinities, overflow to inf and underflow
    to 0 as by default (:mod:`mlc.passes.tir.math.fast`). By default the math
    stays within the ulp bounds of :mod:`mlc.passes.tir.math`. The reference
    target ignores it.

    A module may hold a graph's ``main`` (:mod:`mlc.ir.calls`, what ``@mlc.jit`` and
    graph builds lower a graph to): a function calling the others, which no schedule
    touches and every backend compiles as one entry point.

    ``quick=True``: a first tier, ready sooner. Where the backend builds by parts and can
    (llvm), each kernel whose run is short (:func:`~mlc.driver.tiers.quick_enough`) is
    emitted unoptimised, and the Module's ``optimized()`` builds them at O3 later
    (``is_quick`` says whether it must); ``@mlc.jit``'s first calls use it
    (:mod:`mlc.tracer.tiering`). Elsewhere it builds as usual.

    ``tiered`` (default: ``MLC_TIERED``, on): a module of te functions as written whose blocks
    NumPy runs (large contractions, a te matrix product with its epilogue, large element-wise
    blocks: :func:`~mlc.driver.numpy_steps.numpy_steps`) built for llvm runs through NumPy at
    once, decided on the target's kind alone, while this build (the target's parsing
    included) runs in the background and its code replaces NumPy's when ready
    (:mod:`mlc.driver.first_tier`: an error of the build, an illegal schedule or a target
    LLVM refuses, is raised by a later call then). ``tiered=False`` builds before returning.

    A GraphModule's graph functions go through the graph passes first
    (:func:`mlc.graph.build.build`) and come back callable: ``lib["main"](x)``.

    >>> import numpy as np
    >>> from mlc import te
    >>> A = te.placeholder((4,), "float32", "A")
    >>> B = te.compute((4,), lambda i: A[i] * 2, "B")
    >>> lib = build(IRModule({"double": te.create_prim_func([A, B])}), "llvm")
    >>> b = np.empty(4, "float32"); lib["double"](np.arange(4, dtype="float32"), b); b
    array([0., 2., 4., 6.], dtype=float32)
    """
    with collector_paused():
        if (config().tiered if tiered is None else tiered) and kind_of(target) == "llvm":
            # NumPy first, the build in the background (.first_tier), decided on the target's kind
            # alone: the build parses the target there (for llvm, LLVM starts then)
            lib = _lone(mod, lambda module: first_tier(module, target, lambda: build(
                mod, target, schedule, database=database, check_bounds=check_bounds, fast_math=fast_math,
                tiered=False)))
            if lib is not None:
                return lib
        return _lone(mod, lambda module: _build(module, Target.from_str(target), schedule, database, check_bounds,
                                                fast_math, quick))


def _lone(mod, build_module):
    """``build_module(mod)``, where ``mod`` is a lone PrimFunc a module of it under its name,
    and ``"main"`` too."""
    if not isinstance(mod, PrimFunc):
        return build_module(mod)
    name = mod.attr("global_symbol", "main")
    lib = build_module(IRModule({name: mod}))
    if lib is not None and name != "main":
        lib.add_alias("main", name)
    return lib


def _build(mod, target, schedule, database, check_bounds, fast_math, quick=False):
    if not isinstance(mod, IRModule):
        for kind, builder in _MODULE_BUILDERS.items():
            if isinstance(mod, kind):
                if database is not None:
                    raise MLCError(f"build: database= applies to IRModules and PrimFuncs; a "
                                   f"{kind.__name__}'s PrimFuncs take a schedule= (or the default rules)")
                return builder(mod, target, schedule, fast_math=fast_math)
        raise MLCError(f"build takes an IRModule, PrimFunc or GraphModule (mlc.graph.BlockBuilder), "
                       f"got {type(mod).__name__}")
    backend = get_backend(target.kind)
    if check_bounds is None:
        check_bounds = config().debug
    options = BuildOptions(check_bounds=bool(check_bounds), fast_math=_flag(fast_math))
    rules = default_rules(target, backend)
    if schedule is not None:  # a user schedule takes charge of the whole module, first
        mod = schedule_stage(mod, target, rules, schedule, database)
        database = rules = None  # (nothing is left to schedule)
    begin = getattr(backend, "begin", None)
    parts = begin(mod, target, options) if begin is not None else None
    if parts is not None:
        return _build_by_parts(mod, parts, backend, target, options, rules, database,
                               quick and getattr(parts, "takes_quick", False))
    pause_for_foreground()  # (between stages too: a background build leaves the interpreter to a first tier)
    mod = schedule_stage(mod, target, rules, None, database)
    pause_for_foreground()
    mod = verify_stage(mod)
    lowered = tir_stage(mod, backend, target, options)
    artifact = codegen_stage(lowered, backend, target, options)
    return load_stage(artifact, mod, backend, target, options)


def _calls_per_run(mod: IRModule) -> dict[str, int]:
    """How many times one call of the module's graph mains runs each kernel (the most over
    its mains; a kernel that no main calls runs once a call of its own)."""
    runs: dict[str, int] = {}
    for func in mod.values():
        if is_graph_main(func):
            for name, n in calls_per_run(func).items():
                runs[name] = max(n, runs.get(name, 0))
    return runs


def _build_by_parts(mod: IRModule, build, backend: Backend, target: Target, options: BuildOptions,
                    rules, database, quick: bool = False):
    """The stages of :func:`build`, one kernel at a time, handing each to ``build`` (what
    the backend's ``begin`` returned: :class:`~mlc.backends.registry.IncrementalBuild`),
    which compiles it while the next is prepared: each kernel is scheduled (by
    ``database`` and ``rules``), its accesses checked and its TIR lowered; a graph's main
    comes last, once every call in it is verified against its kernel. If any stage
    fails, the build is abandoned. ``quick``: each kernel whose run is short is handed over
    to be emitted unoptimised (``build.add(part, quick=True)``)."""
    try:
        scheduled = {}
        runs = _calls_per_run(mod) if quick else {}
        for name, func in mod.items():
            if is_graph_main(func):
                continue
            pause_for_foreground()  # (a background build leaves the interpreter to a first tier)
            part = schedule_stage(IRModule({name: func}), target, rules, None, database)
            pause_for_foreground()
            lowered = tir_stage(verify_stage(part), backend, target, options)
            if quick and all(quick_enough(f, runs=runs.get(name, 1)) for f in lowered.values()):
                build.add(lowered, quick=True)
            else:
                build.add(lowered)
            scheduled.update(part.items())
        mod = IRModule({name: scheduled.get(name, func) for name, func in mod.items()})
        verify_calls(mod)
        mains = {name: func for name, func in mod.items() if is_graph_main(func)}
        if mains:
            build.add(tir_stage(IRModule(mains), backend, target, options))
        return build.finish(mod)
    except BaseException:
        build.abandon()
        raise
