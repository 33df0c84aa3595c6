"""The llvm backend's stages: lowered IRModule -> LLVM modules -> one MCJIT engine -> Module.

:data:`LLVM_TIR_PASSES` is the TIR pipeline the driver runs before codegen;
:func:`codegen_llvm` generates the functions into as many LLVM modules as the
build has threads (:func:`~.generate.generate_units`: each kernel, and each parallel loop body,
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


from ...config import config
from ...errors import CompileError, MLCError
from ...ir.calls import CallPacked, is_graph_main
from ...ir.expr import IntImm
from ...ir.shape_vars import shape_vars
from ...ir.tir import IRModule, PrimFunc
from ...runtime.callbacks import CallbackTable
from ...runtime.exported import function_entry
from ...runtime.arguments import param_specs, written_params
from ...runtime.module import Function, Module
from ...runtime.packed import get_func
from ...runtime.pointers import data_pointer
from ...runtime.portable import write_portable
from ...runtime.threads import get_num_threads
from ...target import Target
from .cpus import host_cpu, vector_bits
from .bounds import BoundsRecord, SiteTable, raise_violation
from . import parallel
from .codegen import CALLBACK_TABLE_SYMBOL, launch_only
from .entries import expected_objects, required_flags, table_symbol
from .export.library import export_library
from .fast_entry import fast_entry
from .generate import (LLVM_TIR_PASSES, BodyPlacement, Emitter, emit_object_entry, generate_ir, generate_units,
                       instructions, lower_for_llvm, symbol_names, vectorize_loops_for_llvm)
from .jit import CompiledModule, UnitBuild, compile_ir, emit_assembly, optimise, reoptimise
from .memory import free_kept_blocks
from .parallel import set_num_threads

__all__ = ["LLVM_TIR_PASSES", "vectorize_loops_for_llvm", "codegen_llvm", "load_llvm", "compile_sources", "lower_for_llvm", "LLVMModule",
           "LLVMSource", "LLVMBuild", "generate_ir", "generate_units", "symbol_names", "emit_object_entry"]

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
    compiled when the build finishes; the glue's IR is generated while the kernels compile
    (what a first call gains: benchmarks/results/decisions.md, "LLVM backend"). The
    build cannot end before the last kernel's LLVM work, which starts once the driver's
    Python is done; while the Python runs, LLVM's work is one thread's.
    """

    #: :meth:`add` takes ``quick`` (what ``mlc.build(..., quick=True)`` asks)
    takes_quick = True

    def __init__(self, mod: IRModule, target: Target, *, check_bounds: bool = False, fast_math: bool = False):
        _check_runnable(target)
        self.target = target
        self.emit = Emitter(target, symbol_names(mod), SiteTable() if check_bounds else None, fast_math,
                             [], {}, {}, called=not any(is_graph_main(func) for func in mod.values()))
        self.fast_math = fast_math
        self.glue = self.emit.module("mlc")
        self.parts = 0
        self.texts: list[str] = []
        self.units = UnitBuild(target)

    def add(self, lowered: IRModule, quick: bool = False) -> None:
        """Generate the IR of ``lowered`` (functions of the module the build was begun with,
        through the TIR pipeline; a main after the kernels it calls) and start compiling it;
        ``quick``: emit its kernels unoptimised (:meth:`~.jit.UnitBuild.submit`), for a
        module whose :meth:`LLVMModule.optimized` builds them at O3 later."""
        for text in self._generate(lowered):
            self._submit(text, quick)

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
                                 BodyPlacement(parts, tasks=self.glue), entries=False)
                texts += [str(m) for m in parts if instructions(m)]
            entries = self.emit.entry_unit()
            if entries is not None:
                texts.append(entries)
        return texts

    def finish(self, mod: IRModule) -> LLVMModule:
        """The runtime Module of every part added; ``mod`` is the module as scheduled."""
        if instructions(self.glue) or not self.texts:
            with _generating():
                glue = str(self.glue)
            self._submit(glue)
        emit = self.emit
        source = LLVMSource(tuple(self.texts), emit.symbols, tuple(emit.library), emit.sites,
                            emit.objects, emit.checked)
        return _loaded(source, mod, self.target, self.units.finish(_entry_points(source)), self.fast_math)

    def abandon(self) -> None:
        """Stop compiling: the driver failed before :meth:`finish`."""
        self.units.abandon()

    def _submit(self, text: str, quick: bool = False) -> None:
        self.texts.append(text)
        if quick:
            self.units.submit(text, quick=True)
        else:
            self.units.submit(text)


def load_llvm(source: LLVMSource, mod: IRModule, target: Target, fast_math: bool = False) -> LLVMModule:
    """Optimise, emit and load ``source`` for this machine: a runtime Module calling each
    function of ``mod`` (the module as scheduled, whose parameters callers pass). A
    bounds-checked build has no unchecked C entries (``Function.native`` is None), nor
    has a main that calls library functions. For another machine (``-mtriple=``) nothing
    is loaded: the Module exports (:meth:`LLVMModule.export`) and its functions refuse
    to run here."""
    if target.triple:
        return _unloaded(mod, target, fast_math)
    _check_runnable(target)
    return _loaded(source, mod, target, compile_ir(source.units, target, _entry_points(source)), fast_math)


def _unloaded(mod: IRModule, target: Target, fast_math: bool) -> LLVMModule:
    """The Module of ``mod`` built for another machine: each function raises when called."""
    def refuse(arrays, _target=target):
        raise CompileError(f"this module was built for {_target}, which is not this machine: export it "
                           "(lib.export('name.so', cc=...)) and run the library there, or build for "
                           "target='llvm' to run it here")
    functions = {name: Function(name, func, refuse) for name, func in mod.items()}
    return LLVMModule(target, functions, {}, fast_math=fast_math, scheduled=mod)


def _entry_points(source: LLVMSource) -> list[str]:
    """The symbols the loaded code must define: every function's, and each object entry's."""
    return [*source.symbols.values(), *source.objects.values()]


def _loaded(source: LLVMSource, mod: IRModule, target: Target, compiled: CompiledModule,
            fast_math: bool = False) -> LLVMModule:
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
        checked_kernel = fast = None
        if entry is not None and not is_graph_main(func):  # lib[name](...): the object entry
            kernel = _object_kernel(entry, compiled)
            if name in source.checked:
                checked_kernel = _checked_kernel(compiled, source.checked[name], func)
        elif entry is not None:  # a main's: a jitted call's cache hit calls it (.fast_entry)
            fast = fast_entry(compiled.address(symbols[name]), func, target)
        functions[name] = Function(name, func, kernel, native, pointer_kernel, object_entry=entry,
                                   checked_kernel=checked_kernel, fast_entry=fast)
    sources = {"ll": compiled.optimized_ir}
    if config().debug:  # MLC_DEBUG keeps what the optimiser started from
        sources["ll-unoptimized"] = source.ir_text
    free_kept_blocks(compiled)
    lib = LLVMModule(target, functions, sources, keepalive=(compiled, table), units=compiled.optimized_units,
                     fast_math=fast_math, scheduled=mod)
    if compiled.is_quick:  # what LLVMModule.optimized builds again
        lib._quick = (source, compiled)
    return lib


def _extents(buffer) -> tuple:
    """``buffer``'s shape, each dynamic extent None (main passes it with the pointers)."""
    return tuple(e.value if isinstance(e, IntImm) else None for e in buffer.shape)


def _callback_table(compiled: CompiledModule, library) -> CallbackTable | None:
    """The library functions the module's mains call back, looked up now (a function must be
    registered before the build); its token goes into the module's table global."""
    if not library:
        return None
    table = CallbackTable(compiled, [(get_func(call.name), [(_extents(b), b.dtype) for b in call.args])
                                     for call in library])
    ctypes.c_void_p.from_address(compiled.global_address(CALLBACK_TABLE_SYMBOL)).value = table.token
    return table


def compile_sources(mod: IRModule, target: Target, *, fast_math: bool = False) -> dict[str, str]:
    """The code ``mlc.build`` would generate for ``mod`` (already scheduled; lowered here by
    the llvm TIR pipeline), without loading or running it: ``{"ll-unoptimized", "ll", "asm"}``.
    ``target`` may be any CPU LLVM knows, this machine's or not (golden IR and assembly
    tests pin theirs)."""
    ir_text = codegen_llvm(lower_for_llvm(mod, fast_math), target, fast_math=fast_math, units=1).ir_text
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
    if table is not None or sizes:
        def sized_kernel(arrays, _cfunc=cfunc, _owner=compiled, _table=table):
            set_num_threads(config().num_threads)
            _cfunc(*[data_pointer(a) for a in arrays], *[arrays[n].shape[d] for n, d in sizes])
            if _table is not None:
                _table.raise_pending()

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
    dtypes = _fill_table(compiled, symbol, func)
    cfunc = _entry(compiled, symbol, len(func.params), restype=ctypes.c_int32)

    # (_dtypes: the dtype objects whose addresses the table holds, kept alive with it)
    def kernel(arrays, _cfunc=cfunc, _owner=compiled, _dtypes=dtypes):
        set_num_threads(config().num_threads)
        return not _cfunc(*map(id, arrays))
    return kernel


def _fill_table(compiled: CompiledModule, symbol: str, func: PrimFunc) -> list:
    """Fill the table of the checked entry ``symbol`` (:mod:`.entries`) from ``func`` as
    scheduled, for this process; the dtype objects whose addresses it holds."""
    written = written_params(func)
    specs = [(dtype, shape, required_flags(n in written)) for n, (_, _, dtype, shape) in enumerate(param_specs(func.params))]
    table = expected_objects(specs)
    address = compiled.global_address(table_symbol(symbol))
    if not address:
        raise CompileError(f"the checked entry {symbol} has no table {table_symbol(symbol)}")
    (ctypes.c_int64 * len(table)).from_address(address)[:] = table
    return [spec[0] for spec in specs]


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

    def __init__(self, target, functions, sources=None, keepalive=None, units: tuple[str, ...] = (),
                 fast_math: bool = False, scheduled: IRModule | None = None):
        super().__init__(target, functions, sources, keepalive)
        self._units = units or (self._sources.get("ll", ""),)  # the optimised IR of each module
        self._sources.setdefault("asm", lambda units=self._units, target=target: emit_assembly(units, target))
        self.fast_math = fast_math
        #: the module as scheduled, which an export generates again for its target
        self.scheduled = scheduled if scheduled is not None else IRModule({n: f.func for n, f in functions.items()})
        self._quick = None  # (source, compiled) of a module some of whose kernels are unoptimised

    @property
    def is_quick(self) -> bool:
        """Whether some kernel of this module runs unoptimised code (a build's ``quick``
        parts, :meth:`LLVMBuild.add`): :meth:`optimized` gives the module at O3."""
        return self._quick is not None

    def optimized(self, cancelled=lambda: False) -> LLVMModule | None:
        """This module with every kernel optimised at O3: itself where none is quick, else a
        new Module (its quick units built at O3, :func:`~.jit.reoptimise`, on this thread);
        None where ``cancelled()`` turned True meanwhile."""
        if self._quick is None:
            return self
        source, compiled = self._quick
        optimized = reoptimise(compiled, self.target, _entry_points(source), cancelled)
        if optimized is None:
            return None
        return _loaded(source, self.scheduled, self.target, optimized, self.fast_math)

    def export(self, path, *, cc=None, format: str = "so", entries=None):
        """Write this module as a shared library (``format="so"``, the default) that runs
        without mlc's compiler: ``path`` (``name.so``), its C header ``name.h`` beside it,
        and the metadata :func:`mlc.runtime.load` reads. ``cc``: the C compiler/linker
        (default: cc, gcc or clang on PATH; for another machine ``<triple>-gcc``).
        ``entries``: the C functions (:mod:`mlc.runtime.exported`), by default one per
        function, destination passing. ``format="mlc"``: the portable form instead, the
        scheduled IR as text (:mod:`mlc.runtime.portable`), which ``mlc.load_portable``
        rebuilds for its own CPU.

        >>> import numpy as np, mlc, tempfile, os
        >>> from mlc import te
        >>> A = te.placeholder((4,), "float32", "A")
        >>> B = te.compute((4,), lambda i: A[i] * 2, "B")
        >>> lib = mlc.build(mlc.IRModule({"double": te.create_prim_func([A, B])}))
        >>> path = lib.export(os.path.join(tempfile.mkdtemp(), "double.so"))
        >>> b = np.empty(4, "float32"); mlc.runtime.load(path)["double"](np.arange(4, dtype="float32"), b); b
        array([0., 2., 4., 6.], dtype=float32)
        """
        if format == "mlc":
            return write_portable(path, self.scheduled, str(self.target), self.fast_math, entries or ())
        if format != "so":
            raise MLCError(f"export: format must be 'so' (a shared library) or 'mlc' (the portable form), "
                           f"got {format!r}")
        if entries is None:
            entries = [function_entry(name, f.func, f.name) for name, f in self.functions.items()]
        return export_library(self.scheduled, self.target, entries, path, cc=cc, fast_math=self.fast_math)
