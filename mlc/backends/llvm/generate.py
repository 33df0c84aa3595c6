"""LLVM IR generation for a build: lowered PrimFuncs -> the text of one or more LLVM modules.

:data:`LLVM_TIR_PASSES` is the TIR pipeline the driver runs before codegen
(:func:`lower_for_llvm` runs it outside the driver); :func:`generate_units` emits
the functions into as many LLVM modules as the build has threads (each kernel, and
each parallel loop body, into the smallest so far), :func:`symbol_names` gives each
function its LLVM symbol. The JIT (:mod:`.module`) and the exporter
(:mod:`.export`) both generate their code here, so that they generate the same.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from llvmlite import ir

from ...errors import CompileError
from ...ir.calls import checks_aliasing, is_graph_main
from ...ir.expr import IntImm
from ...ir.shape_vars import size_params, size_sources
from ...ir.tir import IRModule, PrimFunc
from ...passes.tir.pipeline import cpu_pipeline, run_passes
from ...passes.tir.vectorize import vectorize_loops
from ...runtime.arguments import written_params
from ...runtime.pointers import ARRAY_DATA_OFFSET, ARRAY_LAYOUT
from ...target import Target
from ..intrinsics import has_intrinsic_lowering
from .bounds import SiteTable
from .intrinsics import BACKEND
from .codegen import FunctionCalls, emit_function
from .entries import emit_checked_entry
from .streaming import streaming_threshold
from .jit import target_layout
from .parallel import PREFIX as PARALLEL_PREFIX
from .symbols import PARALLEL_HOMES_SYMBOL, PARALLEL_STATE_SYMBOL, PLACEMENT_KEY_SYMBOL, RUNTIME_SYMBOLS
from .types import PTR
from .targeting import set_module_target

__all__ = ["LLVM_TIR_PASSES", "LLVM_TIR_PASSES_FAST_MATH", "LARGE_LANE_CALLS", "vectorize_loops_for_llvm",
           "lower_for_llvm", "generate_ir", "generate_units", "symbol_names", "emit_object_entry", "Emitter",
           "BodyPlacement", "instructions"]

#: Ops whose llvm lowering, libm's scalar function of double, serves only the rare large
#: lanes of lower_math's routines (:mod:`mlc.passes.tir.math.trig`): every call of them is
#: written out as the routine, and the routine's own call of double's function, under its
#: select, is computed lane by lane where a lane needs it (:mod:`.selects`).
LARGE_LANE_CALLS = {"sin": ("float64",), "cos": ("float64",), "tan": ("float64",)}


def vectorize_loops_for_llvm(func: PrimFunc) -> PrimFunc:
    """:func:`~mlc.passes.tir.vectorize_loops` as the llvm backend runs it: the routines
    lower_math wrote out before (sin, exp, log, tanh, atan...) are vectorized with the rest
    of their loop, their local scalars vector ``Let``s, their fma, abs, casts... vector
    instructions, and so are the calls of libm's sin, cos and tan of double the trig
    routines make on their rare large lanes (:data:`LARGE_LANE_CALLS`, emitted lane by
    lane); loops calling other math ops stay loops, for LLVM's loop vectorizer to widen."""
    return vectorize_loops(func, math_calls=LARGE_LANE_CALLS, vector_lets=True)


def _native(op: str, dtype: str) -> bool:
    return op not in LARGE_LANE_CALLS and has_intrinsic_lowering(BACKEND, op, dtype)


#: The TIR passes, in order, that turn a scheduled PrimFunc into what :func:`codegen_llvm`
#: takes: the CPU pipeline (:func:`~mlc.passes.tir.pipeline.cpu_pipeline`) for llvm's native
#: math (:mod:`.intrinsics`; libm's complex functions, :mod:`.complex`).
LLVM_TIR_PASSES = cpu_pipeline(_native, vectorize_loops_for_llvm)
#: :data:`LLVM_TIR_PASSES` of a ``fast_math`` build.
LLVM_TIR_PASSES_FAST_MATH = cpu_pipeline(_native, vectorize_loops_for_llvm, fast_math=True)

_RESERVED = (frozenset(n for names in RUNTIME_SYMBOLS.values() for n in names)
             | {PARALLEL_STATE_SYMBOL, PARALLEL_HOMES_SYMBOL, PLACEMENT_KEY_SYMBOL})


def symbol_names(names) -> dict[str, str]:
    """LLVM symbol of each function: its name, unless that would shadow a runtime symbol."""
    taken = set(_RESERVED)
    out = {}
    for name in names:
        internal = name.startswith(("llvm", "__mlc"))  # LLVM's and mlc's own (.parallel) names
        symbol = name if name not in taken and not internal else f"mlc_{name}"
        n = 0
        while symbol in taken:
            n += 1
            symbol = f"mlc_{name}_{n}"
        taken.add(symbol)
        out[name] = symbol
    return out


def generate_ir(funcs: dict[str, PrimFunc], target: Target, symbols: dict[str, str] | None = None,
                sites: SiteTable | None = None, fast_math: bool = False,
                library: list | None = None, objects: dict[str, str] | None = None) -> str:
    """LLVM IR text of the lowered functions ``funcs`` (name -> PrimFunc), all in one LLVM
    module: :func:`generate_units` with one unit."""
    return generate_units(funcs, target, symbols, sites, fast_math, library, objects, units=1)[0]


def generate_units(funcs: dict[str, PrimFunc], target: Target, symbols: dict[str, str] | None = None,
                   sites: SiteTable | None = None, fast_math: bool = False,
                   library: list | None = None, objects: dict[str, str] | None = None,
                   units: int = 1, checked: dict[str, str] | None = None) -> tuple[str, ...]:
    """LLVM IR text of the lowered functions ``funcs`` (name -> PrimFunc), spread over up to
    ``units`` LLVM modules that the JIT optimises side by side (:func:`~.jit.compile_ir`).

    Each kernel goes, in order, into the module with the fewest instructions so far, so
    that the modules take LLVM about as long each, and so does the body of each of its
    parallel loops (with the loop's task, :mod:`.parallel`): a kernel of many loops (a
    sort's passes, a convolution's padding, packing and product) is optimised on several
    threads. A graph's ``main`` (:mod:`mlc.ir.calls`) goes into the smallest too,
    declaring the kernels it calls from the others. A module left empty is dropped.

    A main's library calls are appended to ``library`` in the order of their callback
    index, and the symbol of its object entry (:func:`emit_object_entry`), if it has one,
    goes into ``objects`` under its name; so does each function's in a build without a
    main (``mlc.build`` of tensor programs, whose functions Python calls), and into
    ``checked`` the symbol of its checked entry where it has static shapes and NumPy's
    object layout is known (:mod:`.entries`). With ``sites``,
    every access is bounds-checked at run time and listed there (:mod:`.bounds`).
    ``fast_math``: the cheaper math routines (:mod:`mlc.passes.tir.math.fast`); the IR differs, so
    the object cache (keyed by the IR text) keeps both builds apart."""
    emit = Emitter(target, symbols or symbol_names(funcs), sites, fast_math,
                    library if library is not None else [], objects, checked,
                    called=not any(is_graph_main(func) for func in funcs.values()))
    modules = [emit.module("mlc" if n == 0 else f"mlc.{n}") for n in range(max(1, units))]
    place_body = BodyPlacement(modules) if len(modules) > 1 else None
    for name, func in funcs.items():  # the kernels first: a main calls them
        if not is_graph_main(func):
            module = _smallest(modules)
            emit.kernel(module, name, func, place_body)
    for name, func in funcs.items():
        if is_graph_main(func):
            emit.main(_smallest(modules), name, func)
    used = [m for m in modules if instructions(m)] or modules[:1]
    return tuple(str(m) for m in used)


class Emitter:
    """What the functions of one build share while their LLVM IR is generated, into
    whichever LLVM modules the caller gives (:func:`generate_units`, :class:`LLVMBuild`):
    the symbols, the bounds-check sites, the math, the main's library calls, the object
    and checked entries made so far, and every kernel emitted (a main declares those it
    calls from other modules). ``called``: the build has no main, so Python calls each
    function (``lib["name"](...)``), through an object entry where it can have one."""

    def __init__(self, target: Target, symbols: dict[str, str], sites: SiteTable | None, fast_math: bool,
                 library: list, objects: dict[str, str] | None, checked: dict[str, str] | None, called: bool):
        self.target = target
        self.triple, self.data_layout = target_layout(target)
        self.symbols, self.sites, self.fast_math = symbols, sites, fast_math
        self.library, self.objects, self.checked, self.called = library, objects, checked, called
        self.kernels: dict[str, ir.Function] = {}
        self.sizes: dict[str, tuple[tuple[int, int], ...]] = {}  # the size sources of each kernel
        self.streaming_bytes = streaming_threshold(self.triple, target.caches)
        self.vector_bytes = target.vector_bits // 8
        self._entry_signatures: list[_EntrySignature] = []  # for entry_unit

    def module(self, name: str) -> ir.Module:
        """A new, empty LLVM module for the target."""
        module = ir.Module(name=name)
        module.triple, module.data_layout = self.triple, self.data_layout
        set_module_target(module, self.target)
        return module

    def kernel(self, module: ir.Module, name: str, func: PrimFunc, place_body, entries: bool = True) -> None:
        """Kernel ``name`` into ``module`` (its parallel loops' functions where ``place_body``
        says), and, in a build without a main, its object and checked entries beside it; not
        ``entries``: they go into the unit of :meth:`entry_unit` instead."""
        if size_params(func):
            self.sizes[name] = size_sources(func)
        fn = self.kernels[name] = emit_function(
            module, func, self.symbols[name], name, self.sites, self.fast_math,
            streaming_bytes=self.streaming_bytes, place_body=place_body, vector_bytes=self.vector_bytes)
        if self.called and self.sites is None and self.objects is not None and _takes_arrays_only(fn):
            checked = self.checked is not None and ARRAY_LAYOUT is not None and _static_shapes(func)
            signature = _EntrySignature(fn.name, fn.function_type, tuple(arg.name for arg in fn.args), checked,
                                        checked and checks_aliasing(func),
                                        frozenset(written_params(func)) if checked else frozenset())
            if entries:
                self.objects[name], checked_name = _emit_entries(module, fn, signature)
            else:
                self._entry_signatures.append(signature)
                self.objects[name], checked_name = _entry_names(signature)
            if checked_name is not None:
                self.checked[name] = checked_name

    def entry_unit(self) -> str | None:
        """The IR text of a unit of its own holding the object and checked entries of the
        kernels :meth:`kernel` emitted without them (None where none has any), each calling its
        kernel in another unit. Glue, which the JIT takes at LLVM's O0 with its quick code
        generator (beside a kernel they went through the O3 pipeline and the full code
        generator, longer than a small kernel's own code took), made once per process for
        each set of signatures (kernels of one signature share its object cache entry too)."""
        signatures, self._entry_signatures = tuple(self._entry_signatures), []
        return _entry_unit_text(self.triple, self.data_layout, signatures) if signatures else None

    def main(self, module: ir.Module, name: str, func: PrimFunc) -> None:
        """A graph's main ``name`` into ``module``, after every kernel it calls."""
        calls = FunctionCalls({k: fn if fn.module is module else _declaration(module, fn)
                               for k, fn in self.kernels.items()}, self.library, self.sizes)
        n_library = len(self.library)
        main = emit_function(module, func, self.symbols[name], name, self.sites, self.fast_math, calls,
                             vector_bytes=self.vector_bytes)
        # no object entry where every access is checked (no unchecked entry at all), where
        # main calls library functions (a check follows each call), for sizes passed by
        # value, or where ndarrays' data pointers were not where expected
        if self.sites is None and len(self.library) == n_library and _takes_arrays_only(main):
            entry = emit_object_entry(module, main, ARRAY_DATA_OFFSET)
            if self.objects is not None:
                self.objects[name] = entry.name


def _static_shapes(func: PrimFunc) -> bool:
    """Whether every parameter of ``func`` has a static shape."""
    return all(isinstance(e, IntImm) for p in func.params for e in p.shape)


def _takes_arrays_only(fn: ir.Function) -> bool:
    """Whether ``fn`` can have an object entry: every parameter an array (no size passed by
    value), and ndarrays' data pointers where expected (:data:`ARRAY_DATA_OFFSET`)."""
    return ARRAY_DATA_OFFSET is not None and all(arg.type == PTR for arg in fn.args)


class _EntrySignature(NamedTuple):
    """What a kernel's object and checked entries depend on: its symbol, function type and
    parameters' names; whether it has a checked entry, whether that checks that written
    arguments do not share memory, and which parameters it writes."""
    symbol: str
    function_type: ir.FunctionType
    params: tuple[str, ...]
    checked: bool
    noalias: bool
    written: frozenset[int]


def _entry_names(signature: _EntrySignature) -> tuple[str, str | None]:
    """(the object entry's symbol, the checked entry's or None) of ``signature``."""
    return f"{signature.symbol}__objects", f"{signature.symbol}__checked" if signature.checked else None


def _emit_entries(module: ir.Module, fn: ir.Function, signature: _EntrySignature) -> tuple[str, str | None]:
    """The object entry of ``fn`` (and its checked entry where ``signature`` has one) into
    ``module``; their symbols."""
    objects = emit_object_entry(module, fn, ARRAY_DATA_OFFSET).name
    checked = None
    if signature.checked:
        checked = emit_checked_entry(module, fn, ARRAY_LAYOUT, signature.noalias, signature.written).name
    return objects, checked


@lru_cache(maxsize=256)
def _entry_unit_text(triple: str, data_layout: str, signatures: tuple[_EntrySignature, ...]) -> str:
    """The IR text of a unit holding the entries of kernels of ``signatures``, each declared."""
    module = ir.Module(name="mlc.entries")
    module.triple, module.data_layout = triple, data_layout
    for signature in signatures:
        fn = ir.Function(module, signature.function_type, name=signature.symbol)
        for arg, name in zip(fn.args, signature.params):
            arg.name = name
        _emit_entries(module, fn, signature)
    return str(module)


#: An instruction of a function LLVM does not optimise (``optnone``: a kernel's launch code, a
#: parallel loop's task) counts this share of one it does, in the measure of a module's work.
UNOPTIMISED_SHARE = 0.25


def instructions(module: ir.Module) -> float:
    """How many instructions ``module``'s functions hold, those of ``optnone`` functions
    weighted by UNOPTIMISED_SHARE (a rough measure of LLVM's work)."""
    return sum(len(block.instructions) * (UNOPTIMISED_SHARE if "optnone" in fn.attributes else 1)
               for fn in module.functions for block in fn.blocks)


def _smallest(modules: list[ir.Module]) -> ir.Module:
    """The module of ``modules`` with the fewest instructions (the first of those)."""
    return min(modules, key=instructions)


class BodyPlacement:
    """The ``place_body`` of :func:`~.codegen.emit_function` for a build of several modules: each
    parallel loop body into the module with the fewest instructions so far, on a tie another
    than its kernel's (``home``), under a name no module of the build uses (an external
    symbol of the shared engine where it is not in its kernel's module); its task, glue that
    runs unoptimised, into the smallest module but the body's. The body of a kernel of one
    parallel loop is then alone in its module, which LLVM optimises while the kernel and
    the task compile beside it on another thread (a few ms off a first call:
    benchmarks/results/decisions.md, "LLVM backend")."""

    def __init__(self, modules: list[ir.Module], tasks: ir.Module | None = None):
        self.modules = modules
        self.tasks = tasks  # where every task goes, if not beside the bodies (LLVMBuild's glue)

    def body(self, owner: str, home: ir.Module) -> tuple[ir.Module, str]:
        base = name = f"{PARALLEL_PREFIX}.{owner}"
        n = 0
        while any(m.scope.is_used(name) for m in (*self.modules, self.tasks) if m is not None):  # (nor its task's)
            n += 1
            name = f"{base}.{n}"
        return min(self.modules, key=lambda m: (instructions(m), m is home)), name

    def task(self, body: ir.Module) -> ir.Module:
        if self.tasks is not None:
            return self.tasks
        return _smallest([m for m in self.modules if m is not body])


def _declaration(module: ir.Module, fn: ir.Function) -> ir.Function:
    """``fn`` (defined in another module) declared in ``module``, once."""
    existing = module.globals.get(fn.name)
    return existing if existing is not None else ir.Function(module, fn.function_type, name=fn.name)


def emit_object_entry(module: ir.Module, fn: ir.Function, data_offset: int) -> ir.Function:
    """Add ``void @<fn>__objects(ptr, ...)``: ``fn`` called with the data pointer that lies
    ``data_offset`` bytes into each argument, an ndarray object (``id(array)``). A caller then
    hands ctypes ``id(array)`` rather than reading the pointer in Python, a few hundred
    nanoseconds an array (most of a small jitted function's call)::

        define void @main__objects(ptr %x_object, ptr %out_object) {
          %x_slot = getelementptr i8, ptr %x_object, i64 16
          %x = load ptr, ptr %x_slot
          ...
          call void @main(ptr %x, ptr %out) noinline
    """
    if any(arg.type != PTR for arg in fn.args):
        raise CompileError(f"{fn.name}: an object entry takes arrays only, not sizes")
    entry = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR] * len(fn.args)),
                        name=f"{fn.name}__objects")
    entry.attributes.add("noinline")  # a load an argument: nothing for LLVM to optimise
    entry.attributes.add("optnone")
    builder = ir.IRBuilder(entry.append_basic_block("entry"))
    pointers = []
    for obj, arg in zip(entry.args, fn.args):
        obj.name = f"{arg.name}_object"
        slot = builder.gep(obj, [ir.Constant(ir.IntType(64), data_offset)], name=f"{arg.name}_slot",
                           source_etype=ir.IntType(8))
        pointers.append(builder.load(slot, name=arg.name, typ=PTR))
    builder.call(fn, pointers, attrs=("noinline",))  # the body stays in fn, compiled once
    builder.ret_void()
    return entry


def lower_for_llvm(mod: IRModule, fast_math: bool = False) -> IRModule:
    """``mod`` through :data:`LLVM_TIR_PASSES` (``fast_math``: :data:`LLVM_TIR_PASSES_FAST_MATH`),
    what the driver's TIR stage does for llvm; a graph's ``main`` only calls functions and
    stays as it is."""
    passes = LLVM_TIR_PASSES_FAST_MATH if fast_math else LLVM_TIR_PASSES
    return IRModule({name: func if is_graph_main(func) else run_passes(func, passes)
                     for name, func in mod.items()})

