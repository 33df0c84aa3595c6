"""The llvm backend's stages: lowered IRModule -> LLVM modules -> one MCJIT engine -> Module.

:data:`LLVM_TIR_PASSES` is the TIR pipeline the driver runs before codegen;
:func:`codegen_llvm` generates the functions into as many LLVM modules as the
build has threads (:func:`generate_units`: each kernel, and each parallel loop body,
into the smallest so far, a few a module rather than one each, since every module
costs a pipeline of its own, some 2 ms) and :func:`load_llvm` optimises them side by
side and loads them into one engine. Each function is then called through a
precomputed ctypes prototype with the arrays' data pointers. A graph's ``main``
(:mod:`mlc.ir.calls`) is one of them: one native entry point that allocates the
workspace and calls the kernels.

:func:`compile_sources` runs the same steps up to the optimised IR and the
assembly, in one LLVM module, and loads nothing: it describes the code for any CPU
LLVM knows (``Target("llvm", "skylake-avx512")``) on any machine.
"""
from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from llvmlite import ir

from ...config import config
from ...errors import CompileError, IRError, MLCError
from ...ir.calls import CallPacked, is_graph_main
from ...ir.expr import IntImm
from ...ir.shape_vars import shape_vars
from ...ir.tir import IRModule, PrimFunc
from ...passes.tir import LOWER_PIPELINE, run_passes, verify_lowered
from ...passes.tir.vectorize import vectorize_loops
from ...runtime.callbacks import CallbackTable
from ...runtime.module import Function, Module, param_specs, written_params
from ...runtime.packed import get_func
from ...runtime.pointers import ARRAY_DATA_OFFSET, ARRAY_LAYOUT, data_pointer
from ...runtime.threads import get_num_threads
from ...target import Target
from ..llvm_cpus import host_cpu, vector_bits
from .bounds import BoundsRecord, SiteTable, raise_violation
from . import parallel
from .codegen import CALLBACK_TABLE_SYMBOL, FunctionCalls, emit_function, launch_only
from .entries import emit_checked_entry, expected_objects, required_flags, table_symbol
from .streaming import streaming_threshold
from .jit import CompiledModule, UnitBuild, compile_ir, emit_assembly, optimise, target_layout
from .memory import free_kept_blocks
from .parallel import PREFIX as PARALLEL_PREFIX, set_num_threads
from .symbols import PARALLEL_HOMES_SYMBOL, PARALLEL_STATE_SYMBOL, PLACEMENT_KEY_SYMBOL, RUNTIME_SYMBOLS
from .types import PTR
from .vecmath import VECTOR_FORMS
from .targeting import set_module_target

__all__ = ["LLVM_TIR_PASSES", "vectorize_loops_for_llvm", "codegen_llvm", "load_llvm", "compile_sources", "lower_for_llvm", "LLVMModule",
           "LLVMSource", "LLVMBuild", "generate_ir", "generate_units", "symbol_names", "emit_object_entry"]

def verify_lowered_when_debugging(func: PrimFunc) -> PrimFunc:
    """``func`` unchanged; with ``MLC_DEBUG``, first checked to hold only loops and flat
    buffers (:func:`~mlc.passes.tir.verify_lowered`), what the codegen accepts."""
    if config().debug:
        try:
            verify_lowered(func)
        except IRError as err:
            raise IRError(f"invalid IR after lowering: {err}") from None
    return func


def vectorize_loops_for_llvm(func: PrimFunc) -> PrimFunc:
    """:func:`~mlc.passes.tir.vectorize_loops` as the llvm backend runs it: calls of the
    math ops this backend emits as vector code (:data:`.vecmath.VECTOR_FORMS`: sin, cos and
    tan, and the lanewise routines such as exp, log and tanh, of float32 and float64) are
    vectorized with the rest of their loop; loops calling other math ops (atan, asin, acos,
    atan2, pow) stay loops, for LLVM's loop vectorizer to widen with the scalar routines
    inlined."""
    return vectorize_loops(func, math_calls=VECTOR_FORMS)


#: The TIR passes, in order, that turn a scheduled PrimFunc into what :func:`codegen_llvm` takes.
LLVM_TIR_PASSES = (*(vectorize_loops_for_llvm if p is vectorize_loops else p for p in LOWER_PIPELINE),
                   verify_lowered_when_debugging)

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
    ``fast_math``: the cheaper math routines (:mod:`.vecmath.fast`); the IR differs, so
    the object cache (keyed by the IR text) keeps both builds apart."""
    emit = _Emitter(target, symbols or symbol_names(funcs), sites, fast_math,
                    library if library is not None else [], objects, checked,
                    called=not any(is_graph_main(func) for func in funcs.values()))
    modules = [emit.module("mlc" if n == 0 else f"mlc.{n}") for n in range(max(1, units))]
    place_body = _BodyPlacement(modules) if len(modules) > 1 else None
    for name, func in funcs.items():  # the kernels first: a main calls them
        if not is_graph_main(func):
            module = _smallest(modules)
            emit.kernel(module, name, func, place_body)
    for name, func in funcs.items():
        if is_graph_main(func):
            emit.main(_smallest(modules), name, func)
    used = [m for m in modules if _instructions(m)] or modules[:1]
    return tuple(str(m) for m in used)


class _Emitter:
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
        self.streaming_bytes = streaming_threshold(self.triple, target.caches)
        self.vector_bytes = target.vector_bits // 8

    def module(self, name: str) -> ir.Module:
        """A new, empty LLVM module for the target."""
        module = ir.Module(name=name)
        module.triple, module.data_layout = self.triple, self.data_layout
        set_module_target(module, self.target)
        return module

    def kernel(self, module: ir.Module, name: str, func: PrimFunc, place_body) -> None:
        """Kernel ``name`` into ``module`` (its parallel loops' functions where ``place_body``
        says), and, in a build without a main, its object and checked entries beside it."""
        fn = self.kernels[name] = emit_function(
            module, func, self.symbols[name], name, self.sites, self.fast_math,
            streaming_bytes=self.streaming_bytes, place_body=place_body, vector_bytes=self.vector_bytes)
        if self.called and self.sites is None and self.objects is not None and _takes_arrays_only(fn):
            self.objects[name] = emit_object_entry(module, fn, ARRAY_DATA_OFFSET).name
            if self.checked is not None and ARRAY_LAYOUT is not None and _static_shapes(func):
                self.checked[name] = emit_checked_entry(module, fn, ARRAY_LAYOUT, bool(func.attr("tir.noalias", True)),
                                                        written_params(func)).name

    def main(self, module: ir.Module, name: str, func: PrimFunc) -> None:
        """A graph's main ``name`` into ``module``, after every kernel it calls."""
        calls = FunctionCalls({k: fn if fn.module is module else _declaration(module, fn)
                               for k, fn in self.kernels.items()}, self.library)
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


#: An instruction of a function LLVM does not optimise (``optnone``: a kernel's launch code, a
#: parallel loop's task) counts this share of one it does, in the measure of a module's work.
UNOPTIMISED_SHARE = 0.25


def _instructions(module: ir.Module) -> float:
    """How many instructions ``module``'s functions hold, those of ``optnone`` functions
    weighted by UNOPTIMISED_SHARE (a rough measure of LLVM's work)."""
    return sum(len(block.instructions) * (UNOPTIMISED_SHARE if "optnone" in fn.attributes else 1)
               for fn in module.functions for block in fn.blocks)


def _smallest(modules: list[ir.Module]) -> ir.Module:
    """The module of ``modules`` with the fewest instructions (the first of those)."""
    return min(modules, key=_instructions)


class _BodyPlacement:
    """The ``place_body`` of :func:`~.codegen.emit_function` for a build of several modules: each
    parallel loop body into the module with the fewest instructions so far, on a tie another
    than its kernel's (``home``), under a name no module of the build uses (an external
    symbol of the shared engine where it is not in its kernel's module); its task, glue that
    runs unoptimised, into the smallest module but the body's. The body of a kernel of one
    parallel loop is then alone in its module, which LLVM optimises while the kernel and
    the task compile beside it on another thread (first calls on two AVX-512 cores, medians
    of 8 processes: softmax 63 ms against 67 with the task beside its body, layer_norm 55
    against 59, mm_relu 44 against 47)."""

    def __init__(self, modules: list[ir.Module], tasks: ir.Module | None = None):
        self.modules = modules
        self.tasks = tasks  # where every task goes, if not beside the bodies (LLVMBuild's glue)

    def body(self, owner: str, home: ir.Module) -> tuple[ir.Module, str]:
        base = name = f"{PARALLEL_PREFIX}.{owner}"
        n = 0
        while any(m.scope.is_used(name) for m in (*self.modules, self.tasks) if m is not None):  # (nor its task's)
            n += 1
            name = f"{base}.{n}"
        return min(self.modules, key=lambda m: (_instructions(m), m is home)), name

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


@dataclass(frozen=True)
class LLVMSource:
    """What the llvm codegen hands to :func:`load_llvm`: the LLVM IR text of its modules
    (:func:`generate_units`), each function's symbol, the library calls of the graph mains
    (in the order of their callback index), for a bounds-checked build the table of checked
    access sites, and the symbol of each graph main's object entry (by the main's name)."""
    units: tuple[str, ...]
    symbols: dict[str, str]
    library: tuple[CallPacked, ...] = ()
    sites: SiteTable | None = None
    objects: dict[str, str] = field(default_factory=dict)
    checked: dict[str, str] = field(default_factory=dict)

    @property
    def ir_text(self) -> str:
        """The IR of every module, one after another (to read, not to parse)."""
        return "\n".join(self.units)


def codegen_llvm(lowered: IRModule, target: Target, *, check_bounds: bool = False,
                 fast_math: bool = False, units: int | None = None) -> LLVMSource:
    """LLVM IR of every function of ``lowered`` (already through the TIR pipeline,
    :data:`LLVM_TIR_PASSES`); a graph's ``main`` becomes one native entry calling the
    kernels (and, through :mod:`mlc.runtime.callbacks`, the library functions it names).

    ``check_bounds``: every buffer access is checked when it runs (:mod:`.bounds`).
    ``fast_math``: see :func:`mlc.build`. ``units``: how many LLVM modules to spread the
    kernels over (:func:`generate_units`); by default one per thread ``mlc.get_num_threads()``
    allows, so that loading optimises them side by side."""
    sites = SiteTable() if check_bounds else None
    symbols = symbol_names(lowered)
    library: list[CallPacked] = []
    objects: dict[str, str] = {}
    checked: dict[str, str] = {}
    with _generating():
        texts = generate_units(dict(lowered.items()), target, symbols, sites, fast_math, library, objects,
                               units=get_num_threads() if units is None else units, checked=checked)
    return LLVMSource(texts, symbols, tuple(library), sites, objects, checked)


@contextmanager
def _generating() -> Iterator[None]:
    """An error generating LLVM IR that is not mlc's own (an llvmlite builder's: a bug
    here, not the user's) as a CompileError."""
    try:
        yield
    except MLCError:
        raise
    except Exception as err:
        raise CompileError(f"LLVM IR generation failed: {type(err).__name__}: {err}") from err


class LLVMBuild:
    """A build whose LLVM work overlaps the driver's (:meth:`.backend.LLVMBackend.begin`):
    :meth:`add` generates the LLVM IR of a part of the module (a kernel, through the TIR
    pipeline) and hands it to a :class:`~.jit.UnitBuild`, which optimises and emits it on
    a background thread while the driver schedules and lowers the next kernel;
    :meth:`finish` builds what is left and loads everything, as :func:`codegen_llvm` and
    :func:`load_llvm` do for a whole module.

    Each kernel's optimised code (the kernel, or the bodies of its parallel loops) goes
    into modules of its own, two where threads are allowed, balanced as in
    :func:`generate_units`, compiled as soon as the kernel is generated; what runs
    unoptimised (a kernel that only launches its parallel loop, with its object and
    checked entries; the loops' tasks; a graph's main) goes into one glue module,
    compiled when the build finishes. A jitted transformer block of 11 kernels, on two
    Zen 5 cores, spends ~220 ms in the driver's Python and ~250 ms in LLVM: its first
    call took 353 ms (median of 7) with the stages one after the other and LLVM's
    modules side by side at the end, 302 ms by parts; softmax 62.6 -> 59.1 ms, sgemm
    1024^3 60.1 -> 57.7 (the glue's IR is generated while the kernel compiles). The
    build cannot end before the last kernel's LLVM work, which starts once the driver's
    Python is done; while the Python runs, LLVM's work is one thread's.
    """

    def __init__(self, mod: IRModule, target: Target, *, check_bounds: bool = False, fast_math: bool = False):
        _check_runnable(target)
        self.target = target
        self.emit = _Emitter(target, symbol_names(mod), SiteTable() if check_bounds else None, fast_math,
                             [], {}, {}, called=not any(is_graph_main(func) for func in mod.values()))
        self.glue = self.emit.module("mlc")
        self.parts = 0
        self.texts: list[str] = []
        self.units = UnitBuild(target)

    def add(self, lowered: IRModule) -> None:
        """Generate the IR of ``lowered`` (functions of the module the build was begun with,
        through the TIR pipeline; a main after the kernels it calls) and start compiling it."""
        for text in self._generate(lowered):
            self._submit(text)

    def _generate(self, lowered: IRModule) -> list[str]:
        """The IR text of the units of ``lowered``'s kernels (its main goes into the glue)."""
        texts = []
        with _generating():
            for name, func in lowered.items():
                if is_graph_main(func):
                    self.emit.main(self.glue, name, func)
                    continue
                parts = [self.emit.module(f"mlc.{self.parts + n + 1}")
                         for n in range(2 if get_num_threads() > 1 else 1)]
                self.parts += len(parts)
                launcher = launch_only(func.body) and parallel.openmp_available()
                self.emit.kernel(self.glue if launcher else parts[0], name, func,
                                 _BodyPlacement(parts, tasks=self.glue))
                texts += [str(m) for m in parts if _instructions(m)]
        return texts

    def finish(self, mod: IRModule) -> LLVMModule:
        """The runtime Module of every part added; ``mod`` is the module as scheduled."""
        if _instructions(self.glue) or not self.texts:
            with _generating():
                glue = str(self.glue)
            self._submit(glue)
        emit = self.emit
        source = LLVMSource(tuple(self.texts), emit.symbols, tuple(emit.library), emit.sites,
                            emit.objects, emit.checked)
        return _loaded(source, mod, self.target, self.units.finish(_entry_points(source)))

    def abandon(self) -> None:
        """Stop compiling: the driver failed before :meth:`finish`."""
        self.units.abandon()

    def _submit(self, text: str) -> None:
        self.texts.append(text)
        self.units.submit(text)


def load_llvm(source: LLVMSource, mod: IRModule, target: Target) -> LLVMModule:
    """Optimise, emit and load ``source`` for this machine: a runtime Module calling each
    function of ``mod`` (the module as scheduled, whose parameters callers pass). A
    bounds-checked build has no unchecked C entries (``Function.native`` is None), nor
    has a main that calls library functions."""
    _check_runnable(target)
    return _loaded(source, mod, target, compile_ir(source.units, target, _entry_points(source)))


def _entry_points(source: LLVMSource) -> list[str]:
    """The symbols the loaded code must define: every function's, and each object entry's."""
    return [*source.symbols.values(), *source.objects.values()]


def _loaded(source: LLVMSource, mod: IRModule, target: Target, compiled: CompiledModule) -> LLVMModule:
    """The runtime Module of ``source``, whose units ``compiled`` holds loaded."""
    symbols, sites = source.symbols, source.sites
    objects = source.objects
    table = _callback_table(compiled, source.library)
    set_num_threads(config().num_threads)  # for callers of the C entry points (see .parallel)
    functions = {}
    for name, func in mod.items():
        entry = _entry(compiled, objects[name], len(func.params)) if name in objects else None
        kernel, native, pointer_kernel = _kernel(compiled, symbols[name], func, sites,
                                                 table if is_graph_main(func) else None)
        checked_kernel = None
        if entry is not None and not is_graph_main(func):  # lib[name](...): the object entry
            kernel = _object_kernel(entry, compiled)
            if name in source.checked:
                checked_kernel = _checked_kernel(compiled, source.checked[name], func)
        functions[name] = Function(name, func, kernel, native, pointer_kernel, object_entry=entry,
                                   checked_kernel=checked_kernel)
    sources = {"ll": compiled.optimized_ir}
    if config().debug:  # MLC_DEBUG keeps what the optimiser started from
        sources["ll-unoptimized"] = source.ir_text
    free_kept_blocks(compiled)
    return LLVMModule(target, functions, sources, keepalive=(compiled, table), units=compiled.optimized_units)


def _callback_table(compiled: CompiledModule, library) -> CallbackTable | None:
    """The library functions the module's mains call back, looked up now (a function must be
    registered before the build); its token goes into the module's table global."""
    if not library:
        return None
    table = CallbackTable(compiled, [(get_func(call.name), [(b.static_shape(), b.dtype) for b in call.args])
                                     for call in library])
    ctypes.c_void_p.from_address(compiled.global_address(CALLBACK_TABLE_SYMBOL)).value = table.token
    return table


def lower_for_llvm(mod: IRModule) -> IRModule:
    """``mod`` through :data:`LLVM_TIR_PASSES` (what the driver's TIR stage does for llvm);
    a graph's ``main`` only calls functions and stays as it is."""
    return IRModule({name: func if is_graph_main(func) else run_passes(func, LLVM_TIR_PASSES)
                     for name, func in mod.items()})


def compile_sources(mod: IRModule, target: Target, *, fast_math: bool = False) -> dict[str, str]:
    """The code ``mlc.build`` would generate for ``mod`` (already scheduled; lowered here by
    the llvm TIR pipeline), without loading or running it: ``{"ll-unoptimized", "ll", "asm"}``.
    ``target`` may be any CPU LLVM knows, this machine's or not (golden IR and assembly
    tests pin theirs)."""
    ir_text = codegen_llvm(lower_for_llvm(mod), target, fast_math=fast_math, units=1).ir_text
    optimized = optimise(ir_text, target)
    return {"ll-unoptimized": ir_text, "ll": optimized, "asm": emit_assembly(optimized, target)}


def _check_runnable(target: Target) -> None:
    """Refuse a target whose CPU features this machine lacks: its code would crash here.

    Features the target names are compared with the host's; features its CPU implies
    are not listed by LLVM, but the vector registers they give are (512-bit code for a
    256-bit machine is refused)."""
    cpu, features = host_cpu()
    host = {f[1:] for f in features.split(",") if f.startswith("+")}
    missing = sorted(f[1:] for f in target.features.split(",") if f.startswith("+") and f[1:] not in host)
    if missing:
        raise CompileError(f"target {target} enables CPU features this machine lacks "
                           f"({', '.join(missing)}); the JIT runs code here, so build for the host "
                           "(target='llvm') or drop those -mattr features")
    if target.vector_bits > vector_bits(cpu, features):
        raise CompileError(f"target {target} uses {target.vector_bits}-bit vector registers and this "
                           f"machine ({cpu}) has {vector_bits(cpu, features)}-bit ones; the JIT runs code "
                           "here, so build for the host (target='llvm'), or read the code for that CPU "
                           "without running it (mlc.backends.llvm.compile_sources)")


def _kernel(compiled: CompiledModule, symbol: str, func: PrimFunc, sites: SiteTable | None = None,
            table: CallbackTable | None = None):
    """(kernel, C entry, pointer kernel): the callable the runtime hands checked arrays to,
    which keeps the engine alive, the C function itself (one data pointer per parameter),
    and the kernel given the arrays' data pointers (see :class:`~mlc.runtime.module.Function`).
    The C entry and the pointer kernel are None for a bounds-checked kernel, whose C
    function also takes its :class:`~.bounds.BoundsRecord`, and for a function with
    symbolic shapes, whose C function also takes the value of each shape variable, read
    here from the arrays' shapes.

    Each call first stores ``config().num_threads`` for the kernel's parallel
    loops (:mod:`.parallel`); ctypes releases the GIL for the call itself. A function
    that calls library functions (``table``) raises, after the call, what one of them
    raised; its C entry and pointer kernel are not exposed (None), since that check must
    follow every call.
    """
    nparams = len(func.params)
    sizes = tuple((n, d) for _, n, d in shape_vars(func.params))
    size_types = [_SIZE_CTYPES[v.dtype] for v, _, _ in shape_vars(func.params)]
    if sites is not None:
        checked = _entry(compiled, symbol, nparams, [*size_types, ctypes.c_void_p])

        def checked_kernel(arrays, _cfunc=checked, _owner=compiled, _sites=sites.sites):
            set_num_threads(config().num_threads)
            record = BoundsRecord()
            _cfunc(*[data_pointer(a) for a in arrays], *[arrays[n].shape[d] for n, d in sizes],
                   ctypes.addressof(record))
            if table is not None:
                table.raise_pending()
            raise_violation(record, _sites)

        return checked_kernel, None, None
    cfunc = _entry(compiled, symbol, nparams, size_types)
    if table is not None:
        def calling_kernel(arrays, _cfunc=cfunc, _owner=compiled, _raise=table.raise_pending):
            set_num_threads(config().num_threads)
            _cfunc(*[data_pointer(a) for a in arrays])
            _raise()

        return calling_kernel, None, None
    if sizes:
        def sized_kernel(arrays, _cfunc=cfunc, _owner=compiled):
            set_num_threads(config().num_threads)
            _cfunc(*[data_pointer(a) for a in arrays], *[arrays[n].shape[d] for n, d in sizes])

        return sized_kernel, None, None

    def kernel(arrays, _cfunc=cfunc, _owner=compiled):
        set_num_threads(config().num_threads)
        _cfunc(*[data_pointer(a) for a in arrays])  # (a.ctypes.data: 1 us an array)

    def pointer_kernel(pointers, _cfunc=cfunc, _owner=compiled):
        set_num_threads(config().num_threads)
        _cfunc(*pointers)

    return kernel, cfunc, pointer_kernel


def _object_kernel(entry, compiled: CompiledModule):
    """The kernel of a function with an object entry: it hands ``id(array)`` of each checked
    array (an ndarray, or a subclass: the same object layout) to ``entry``, which reads the
    data pointers itself: a few hundred nanoseconds an array cheaper than reading them here."""
    def kernel(arrays, _cfunc=entry, _owner=compiled):
        set_num_threads(config().num_threads)
        _cfunc(*map(id, arrays))
    return kernel


def _checked_kernel(compiled: CompiledModule, symbol: str, func: PrimFunc):
    """``kernel(arrays) -> bool``: the checked entry (:mod:`.entries`) run on the arrays'
    objects, True where it ran the function, False where it declined (nothing ran). Its
    table (the array types, each parameter's dtype object, rank, flags and extents, from
    ``func`` as scheduled) is filled here, for this process."""
    written = written_params(func)
    specs = [(dtype, shape, required_flags(n in written)) for n, (_, _, dtype, shape) in enumerate(param_specs(func))]
    table = expected_objects(specs)
    address = compiled.global_address(table_symbol(symbol))
    if not address:
        raise CompileError(f"the checked entry {symbol} has no table {table_symbol(symbol)}")
    (ctypes.c_int64 * len(table)).from_address(address)[:] = table
    cfunc = _entry(compiled, symbol, len(func.params), restype=ctypes.c_int32)

    # (_dtypes: the dtype objects whose addresses the table holds, kept alive with it)
    def kernel(arrays, _cfunc=cfunc, _owner=compiled, _dtypes=[spec[0] for spec in specs]):
        set_num_threads(config().num_threads)
        return not _cfunc(*map(id, arrays))
    return kernel


_SIZE_CTYPES = {"int32": ctypes.c_int32, "int64": ctypes.c_int64}


def _entry(compiled: CompiledModule, symbol: str, nparams: int, extra=(), restype=None):
    """The C function ``restype symbol(void *, ...)`` (void by default) with ``nparams``
    pointer parameters, then one of each ctypes type of ``extra``."""
    return ctypes.CFUNCTYPE(restype, *([ctypes.c_void_p] * nparams), *extra)(compiled.address(symbol))


class LLVMModule(Module):
    """A runtime Module whose ``get_source("asm")`` is generated on first request.

    Sources: "ll" (optimised LLVM IR), "asm" (host assembly) and, with
    MLC_DEBUG, "ll-unoptimized" (the IR as generated); where the build spread its
    kernels over several LLVM modules (:func:`generate_units`), each source holds
    every module's text, one after another.
    """

    def __init__(self, target, functions, sources=None, keepalive=None, units: tuple[str, ...] = ()):
        super().__init__(target, functions, sources, keepalive)
        self._units = units or (self._sources.get("ll", ""),)  # the optimised IR of each module

    def get_source(self, fmt: str = "ll") -> str:
        if fmt == "asm" and "asm" not in self._sources:
            self._sources["asm"] = emit_assembly(self._units, self.target)
        return super().get_source(fmt)
