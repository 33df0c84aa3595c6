"""LLVM IR text of one or more modules -> optimised modules -> object code -> one MCJIT
engine for the host.

LLVM is initialised once; one TargetMachine per (cpu, features) serves
optimisation and code emission (an engine owns its own), and a thread building
a unit beside others takes one of its own from a pool (:func:`_own_machine`).
:class:`UnitBuild` builds a build's units as they are handed over, side by side in the
background (:mod:`.threaded`); :func:`compile_ir` hands it every unit at once.
Optimisation is LLVM's new pass manager at O3. Each object file is checked for
symbols mlc did not register (:mod:`.symbols`) and read in full (:mod:`.elf`)
before the engine loads it, and kept in the on-disk :mod:`.object_cache` for the
next build of the same IR; a cached object that fails any check is discarded and
compiled again. An object calling the support functions (:mod:`.support`) links
against the support module, built and loaded the first time one does.
:func:`optimise` and :func:`emit_assembly` work for any CPU LLVM knows and load
nothing, so code for another machine can be read here.

What LLVM prints while it works (remarks on loops it was asked to vectorize
and could not, say) goes through :func:`~mlc.backends.llvm.output.llvm_output`:
the user sees it only under ``MLC_DEBUG``.
"""
from __future__ import annotations

import collections
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache

import llvmlite.binding as llvm
from llvmlite.binding.newpassmanagers import NewPassManager

from ...errors import CompileError
from ...shared_change import SharedChange
from ...runtime.threads import get_num_threads
from ...runtime.meanwhile import while_waiting
from .output import covered, llvm_output
from ...target import Target
from .cpus import llvm_target, vector_bits
from . import object_cache, support, threaded
from .elf import ObjectFileError, read_object
from .symbols import register_symbols

__all__ = ["compile_ir", "UnitBuild", "CompiledModule", "reoptimise", "target_machine", "optimise", "emit_assembly",
           "target_layout"]


_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _initialise() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.initialize_native_asmparser()
    register_symbols()


def _create_target_machine(cpu: str, features: str, opt: int = 3, triple: str = "",
                           reloc: str = "default") -> llvm.TargetMachine:
    """A TargetMachine for ``cpu`` and ``features`` on ``triple`` ("": this machine), for the
    JIT, or (``reloc="pic"``) for position-independent code a shared library links."""
    _initialise()
    target = llvm_target(triple)
    with llvm_output():
        return target.create_target_machine(cpu=cpu, features=_tuned_features(cpu, features, triple), opt=opt,
                                            reloc=reloc, jit=reloc == "default")


def _tuned_features(cpu: str, features: str, triple: str = "") -> str:
    """``features``, and on a CPU with 512-bit vectors ``-prefer-256-bit``: mlc's schedules
    use whole zmm registers there (16 float lanes), and so should the loops they leave
    to LLVM's vectorizers, which LLVM's tuning for Intel's AVX-512 CPUs (Skylake to
    Emerald Rapids) would widen to 256 bits only."""
    if vector_bits(cpu, features, triple) != 512:
        return features
    return f"{features},-prefer-256-bit" if features else "-prefer-256-bit"


@lru_cache(maxsize=8)
def target_machine(cpu: str, features: str, triple: str = "") -> llvm.TargetMachine:
    """The shared TargetMachine for optimisation and code emission (cached); ``triple``:
    another architecture's (nothing built for it is loaded here)."""
    return _create_target_machine(cpu, features, triple=triple)


@lru_cache(maxsize=2)
def _quick_target_machine(cpu: str, features: str) -> llvm.TargetMachine:
    """A TargetMachine emitting code without optimisation (fast instruction selection)."""
    return _create_target_machine(cpu, features, opt=0)


def target_layout(target: Target) -> tuple[str, str]:
    """(triple, data layout) to stamp on modules generated for ``target``."""
    tm = target_machine(target.cpu, target.features, target.triple)
    return tm.triple, str(tm.target_data)


@dataclass
class CompiledModule:
    """A loaded module: the engine that owns the machine code of its units, and the
    optimised IR of each unit (:func:`compile_ir`)."""
    engine: llvm.ExecutionEngine
    optimized_units: tuple[str, ...]
    #: for a build some of whose units were emitted without optimisation (``UnitBuild.submit``'s
    #: ``quick``): each unit's IR text, object code and whether it was quick (:func:`reoptimise`)
    units: tuple[str, ...] = ()
    objects: tuple[bytes, ...] = ()
    quick: tuple[bool, ...] = ()

    @property
    def is_quick(self) -> bool:
        """Whether some unit runs unoptimised code (until :func:`reoptimise`)."""
        return any(self.quick)

    @property
    def optimized_ir(self) -> str:
        """The optimised IR of every unit, one after another."""
        return "\n".join(self.optimized_units)

    def address(self, symbol: str) -> int:
        return self.engine.get_function_address(symbol)

    def global_address(self, symbol: str) -> int:
        """The address of global variable ``symbol`` of the loaded code."""
        return self.engine.get_global_value_address(symbol)


def compile_ir(units: str | Sequence[str], target: Target, entry_points: Iterable[str] = ()) -> CompiledModule:
    """Parse, verify, optimise (O3) and load ``units`` (the LLVM IR text of one module, or of
    several that call each other's functions) for ``target``'s CPU, into one engine; the
    objects together must define every symbol of ``entry_points``: a :class:`UnitBuild`
    handed every unit at once (the one way units are built), so several are optimised and
    emitted side by side on up to ``mlc.get_num_threads()`` threads (:mod:`.threaded`)."""
    build = UnitBuild(target)
    try:
        for text in ((units,) if isinstance(units, str) else units):
            build.submit(text)
    except BaseException:
        build.abandon()
        raise
    return build.finish(entry_points)


def _compile(units: tuple[str, ...], target: Target, entry_points: frozenset[str],
             quick: bool = False) -> CompiledModule:
    """``units`` built on this thread (each read from the object cache where it is there)
    and loaded: the support module (``quick``: built without optimisation, LLVM's O0
    pipeline and fast instruction selection, for code whose speed does not matter), and a
    :class:`UnitBuild` whose cached objects failed to load. The caller holds ``_LOCK`` and
    is inside :func:`llvm_output`."""
    features = _tuned_features(target.cpu, target.features)
    keys = [object_cache.cache_key(text + ("; quick" if quick else ""), target.cpu, features) for text in units]
    cached = [object_cache.load(key) for key in keys]
    try:
        return _load(_complete(cached, units, keys, target, quick), target, entry_points)
    except CompileError:
        if not _discard_cached(keys, cached):
            raise
        return _load(_complete([None] * len(units), units, keys, target, quick), target, entry_points)


def _discard_cached(keys: Sequence, cached: Sequence) -> bool:
    """Remove from the object cache each entry of ``keys`` that a build read from it
    (``cached``: the entry, or None where the unit was compiled): objects that failed to
    load together cannot be trusted. Whether there was any."""
    read = [key for key, entry in zip(keys, cached) if entry is not None]
    for key in read:
        object_cache.discard(key)
    return bool(read)


def _complete(cached: list, units: tuple[str, ...], keys: list, target: Target, quick: bool) -> list[tuple[bytes, str]]:
    """``cached`` (an object cache entry or None per unit) with each None built and stored."""
    built = list(cached)
    for n, entry in enumerate(built):
        if entry is None:
            built[n] = _build_unit(units[n], target, quick, None)
            object_cache.store(keys[n], *built[n])
    return built


#: How often Python hands the GIL between threads while a build compiles units in the
#: background (:data:`_SWITCHING_OFTEN`), in seconds; Python's default is 5 ms.
SWITCH_INTERVAL_S = 1e-4



def _switch_often(_) -> float:
    old = sys.getswitchinterval()
    sys.setswitchinterval(min(old, SWITCH_INTERVAL_S))
    return old


#: While held, Python hands the GIL between threads every ``SWITCH_INTERVAL_S``.
#: A thread building a unit in the background needs the GIL back after each of its ~20
#: calls into LLVM, and while the driver's Python runs beside it, it waited up to Python's
#: 5 ms each time (benchmarks/results/decisions.md, "LLVM backend").
_SWITCHING_OFTEN = SharedChange(_switch_often, lambda _, old: sys.setswitchinterval(old))


class UnitBuild:
    """What :func:`compile_ir` does for units handed over one at a time: each is compiled
    as it comes, on a background thread, while the caller prepares the next (the llvm
    backend's :class:`~.module.LLVMBuild` hands over each kernel's units as soon as their
    IR exists, so that LLVM optimises one kernel while Python schedules the next).

    :meth:`submit` takes a unit's IR text, found in the object cache or queued for one of
    up to ``get_num_threads() - 1`` background threads (each with an LLVM context and a
    TargetMachine of its own, outside llvmlite's lock: :mod:`.threaded`); :meth:`finish`
    builds what is still queued on the calling thread beside them, does the caller's work
    for the wait while a thread still builds (:func:`~mlc.runtime.meanwhile.while_waiting`:
    a jitted call's outputs mapped), then checks and loads
    every object into one engine exactly as :func:`compile_ir` does, and stores the new
    ones in the cache. With one thread allowed, where llvmlite's calls cannot be made
    unlocked, or where no thread can be started (the process at its limit of threads),
    nothing (more) runs in the background and ``finish`` builds every unit left itself.
    :meth:`abandon` stops a build whose caller failed: what is queued is dropped, what
    runs finishes. From the first background thread to the end of the build, what is
    written to fd 2 goes through one :func:`llvm_output` capture of the calling thread
    (the background threads' LLVM remarks among it; anything else is passed on when it
    ends), and Python switches threads often (:data:`_SWITCHING_OFTEN`).

    >>> from mlc.target import Target
    >>> unit = 'define i32 @seven() {\\n  ret i32 7\\n}'
    >>> build = UnitBuild(Target.from_str("llvm"))
    >>> build.submit(unit)
    >>> build.finish(["seven"]).address("seven") != 0
    True
    """

    def __init__(self, target: Target):
        _initialise()
        self.target = target
        self._features = _tuned_features(target.cpu, target.features)
        self._units: list[str] = []
        self._keys: list = []
        self._cached: list[tuple[bytes, str] | None] = []  # each unit's cache entry, if it had one
        self._built: list[tuple[bytes, str] | None] = []
        self._quick: list[bool] = []  # each unit: emitted unoptimised (submit's quick)
        self._queue: collections.deque[int] = collections.deque()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        self._errors: list[BaseException] = []
        self._background = max(0, get_num_threads() - 1) if threaded.available() else 0
        self._session = ExitStack()  # the capture and the switching, while threads run

    def submit(self, ir_text: str, quick: bool = False) -> None:
        """Compile ``ir_text`` (one LLVM module) with the build's other units; ``quick``: emit
        it unoptimised here and now (LLVM's O0, fast instruction selection: some 10 times
        less work than O3), unless the object cache has its optimised object. A quick unit
        is neither cached nor final: :func:`reoptimise` builds it at O3 later."""
        key = object_cache.cache_key(ir_text, self.target.cpu, self._features)
        cached = object_cache.load(key)
        quick = quick and cached is None
        if quick:
            with llvm_output(), _LOCK:
                cached_or_quick = _build_unit(ir_text, self.target, True, None)
        else:
            cached_or_quick = cached
        with self._cond:
            if self._closed:
                raise RuntimeError("UnitBuild.submit after finish or abandon")
            self._units.append(ir_text)
            self._keys.append(key)
            self._cached.append(cached)
            self._quick.append(quick)
            self._built.append(cached_or_quick)
            if cached_or_quick is not None:
                return
            self._queue.append(len(self._units) - 1)
            if self._idle:
                self._cond.notify()
                return
            if len(self._threads) >= self._background:
                return
        if not self._threads:
            self._session.enter_context(llvm_output())
            self._session.enter_context(_SWITCHING_OFTEN.held())
        thread = threading.Thread(target=self._work, name=f"mlc-llvm-unit-{len(self._threads)}", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # "can't start new thread": finish builds what the threads do not
            with self._cond:
                self._background = len(self._threads)
            return
        self._threads.append(thread)  # (only the calling thread starts them)

    def finish(self, entry_points: Iterable[str] = ()) -> CompiledModule:
        """Every unit built (here, beside the background threads) and loaded into one engine
        whose objects together define ``entry_points``; the first error a unit raised, if any."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        try:
            while self._take_and_build(worker=0 if self._background else None):
                pass
            if self._building():  # the caller's work for the wait, while the threads compile
                while_waiting()
        finally:
            self._stop()
        if self._errors:
            raise self._errors[0]
        entry_points = frozenset(entry_points)
        with llvm_output(), _LOCK:
            for key, cached, built, quick in zip(self._keys, self._cached, self._built, self._quick):
                if cached is None and not quick:
                    object_cache.store(key, *built)
            try:
                loaded = _load(self._built, self.target, entry_points)
                if any(self._quick):  # (what reoptimise needs)
                    loaded.units, loaded.quick = tuple(self._units), tuple(self._quick)
                    loaded.objects = tuple(obj for obj, _ in self._built)
                return loaded
            except CompileError:
                if not _discard_cached(self._keys, self._cached):
                    raise
            return _compile(tuple(self._units), self.target, entry_points)  # (the cached ones afresh)

    def _building(self) -> bool:
        """Whether a background thread is still building a unit (none is queued any more)."""
        with self._cond:
            return not self._errors and any(built is None for built in self._built)

    def abandon(self) -> None:
        """Stop: nothing queued is built; a unit being built is finished and dropped."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        self._stop()

    def _stop(self) -> None:
        """Wait for the background threads, then end the capture and the switching."""
        try:
            for thread in self._threads:
                thread.join()
        finally:
            self._session.close()

    def _work(self) -> None:
        with covered():  # what LLVM writes goes into the calling thread's capture
            while True:
                with self._cond:
                    while not self._queue and not self._closed:
                        self._idle += 1
                        self._cond.wait()
                        self._idle -= 1
                if not self._take_and_build(worker=0):
                    return

    def _take_and_build(self, worker: int | None) -> bool:
        """Build the next queued unit on this thread (``worker`` None: through llvmlite and
        its lock); False when none is left or a unit failed."""
        with self._cond:
            if not self._queue or self._errors:
                return False
            n = self._queue.popleft()
        try:
            with llvm_output(), (_LOCK if worker is None else nullcontext()):
                built = _build_unit(self._units[n], self.target, False, worker)
        except BaseException as err:  # raised by finish
            with self._cond:
                self._errors.append(err)
                self._queue.clear()
            return False
        with self._cond:
            self._built[n] = built
        return True


def reoptimise(compiled: CompiledModule, target: Target, entry_points: Iterable[str] = (),
               cancelled=lambda: False) -> CompiledModule | None:
    """``compiled`` with every quick unit (:meth:`UnitBuild.submit`) optimised at O3 and
    loaded into a new engine with the other units' objects; ``compiled`` itself where no
    unit is quick; None where ``cancelled()`` turned True between two units. Each unit is
    built outside llvmlite's lock, in an LLVM context of its own, so that builds on other
    threads go on beside it (waiting at most for one unit's capture of fd 2,
    :func:`llvm_output`); the new objects go into the object cache, where the next build
    of the same IR finds them."""
    if not compiled.is_quick:
        return compiled
    _initialise()
    features = _tuned_features(target.cpu, target.features)
    built = []
    for text, obj, quick, optimized in zip(compiled.units, compiled.objects, compiled.quick,
                                           compiled.optimized_units):
        if not quick:
            built.append((obj, optimized))
            continue
        if cancelled():
            return None
        worker = 0 if threaded.available() else None
        with llvm_output(), (_LOCK if worker is None else nullcontext()):
            entry = _build_unit(text, target, False, worker)
        object_cache.store(object_cache.cache_key(text, target.cpu, features), *entry)
        built.append(entry)
    with llvm_output(), _LOCK:
        return _load(built, target, frozenset(entry_points))



def _build_unit(ir_text: str, target: Target, quick: bool, worker: int | None) -> tuple[bytes, str]:
    """(object code, optimised IR) for ``ir_text``, optimised at O3 (O0 when ``quick``, and
    for glue: :func:`unoptimised_only`).
    ``worker`` None: through llvmlite and its lock, with the shared TargetMachine, in LLVM's
    global context; a worker's number (a :class:`UnitBuild` thread): beside other workers, in
    a context of its own, outside llvmlite's lock, with the worker's own TargetMachine."""
    level = opt_level(ir_text, quick)
    if worker is None:
        tm = (_quick_target_machine if level == 0 else target_machine)(target.cpu, target.features)
        return _optimise_and_emit(ir_text, tm, level)
    context = llvm.create_context()
    try:
        with _own_machine(target.cpu, target.features, level) as tm:
            return _optimise_and_emit(ir_text, tm, level, context)
    finally:
        context.close()


#: a ``define`` line, after its newline: searching for "\ndefine" is several times quicker than
#: matching ``^define`` at every line's start under re.M (every unit is asked)
_DEFINE = re.compile(r"\ndefine\b[^\n]*")


def opt_level(ir_text: str, quick: bool = False) -> int:
    """The optimisation level a unit is built at, chosen here and nowhere else: 3, or 0 for
    the support module and a first tier's quick units (``quick``: :meth:`UnitBuild.submit`) and for
    glue (:func:`unoptimised_only`).

    >>> opt_level('define void @"f"(ptr %".1")\\n{\\n}')
    3
    """
    return 0 if quick or unoptimised_only(ir_text) else 3


def unoptimised_only(ir_text: str) -> bool:
    """Whether every function ``ir_text`` defines is ``optnone`` (a kernel's launch code, a
    parallel loop's task, a checked entry: glue LLVM does not optimise). Such a unit is
    emitted by a TargetMachine without optimisation, whose fast instruction selection and
    register allocation take a third of the time; a function marked ``optnone`` alone is
    left unoptimised by the O3 pipeline but still goes through the full code generator.
    Nor does such a unit go through the O3 pipeline, which would build all its passes to
    skip every function (benchmarks/results/decisions.md, "LLVM backend").

    >>> unoptimised_only('define void @"f.task"(ptr %".1") noinline nounwind optnone\\n{\\n}')
    True
    >>> unoptimised_only('define void @"f"(ptr %".1")\\n{\\n}')
    False
    """
    defines = _define_lines(ir_text)
    return bool(defines) and all(_OPTNONE.search(line) for line in defines)


_OPTNONE = re.compile(r"\boptnone\b")


def _define_lines(ir_text: str) -> list[str]:
    """The lines of ``ir_text`` that begin with ``define``.

    >>> _define_lines('declare void @"g"()\\ndefine void @"f"() optnone\\n{\\n}\\ndefined')
    ['define void @"f"() optnone']
    """
    return [line[1:] for line in _DEFINE.findall("\n" + ir_text)]


def _optimise_and_emit(ir_text: str, tm: llvm.TargetMachine, level: int,
                       context: llvm.ContextRef | None = None) -> tuple[bytes, str]:
    """(object code, optimised IR) for ``ir_text``: parsed, verified, optimised at O``level``
    and emitted with ``tm``. In a ``context`` of this thread's own, LLVM's slow calls are made
    outside llvmlite's lock (:mod:`.threaded`); without one, through llvmlite."""
    unlocked = context is not None
    module = _parse(ir_text, context, threaded.parse if unlocked else None)
    try:
        _run_pipeline(module, tm, level, threaded.run_pipeline if unlocked else None)
        optimized = str(module)
        emit = threaded.emit_object if unlocked else llvm.TargetMachine.emit_object
        return _emit_object(module, tm, optimized, emit), optimized
    finally:
        module.close()


_MACHINES_LOCK = threading.Lock()
#: (cpu, features, opt) -> the TargetMachines no thread holds now.
_FREE_MACHINES: dict[tuple[str, str, int], list[llvm.TargetMachine]] = {}


@contextmanager
def _own_machine(cpu: str, features: str, opt: int = 3) -> Iterator[llvm.TargetMachine]:
    """A TargetMachine of code generation level ``opt`` that only this thread uses while
    the block runs (a TargetMachine serves one thread at a time): one another thread gave
    back, or a new one. Builds on several threads at once (side by side, or a build whose
    units compile while the next function is prepared, :class:`UnitBuild`) never share one."""
    key = (cpu, features, opt)
    with _MACHINES_LOCK:
        free = _FREE_MACHINES.setdefault(key, [])
        tm = free.pop() if free else None
    if tm is None:
        tm = _create_target_machine(cpu, features, opt=opt)
    try:
        yield tm
    finally:
        with _MACHINES_LOCK:
            _FREE_MACHINES[key].append(tm)


def worker_machines(cpu: str, features: str, opt: int) -> tuple[llvm.TargetMachine, ...]:
    """The TargetMachines of level ``opt`` no thread holds now: while no build runs, every
    one the threads building units have used."""
    with _MACHINES_LOCK:
        return tuple(_FREE_MACHINES.get((cpu, features, opt), ()))


def _emit_object(module: llvm.ModuleRef, tm: llvm.TargetMachine, optimized: str, emit) -> bytes:
    """Machine code of the optimised ``module`` (whose text is ``optimized``) for ``tm``, by
    ``emit(tm, module)``."""
    try:
        return emit(tm, module)
    except RuntimeError as err:
        raise CompileError(f"LLVM could not generate machine code: {err}", source=optimized) from None


def _optimised_module(ir_text: str, tm: llvm.TargetMachine, level: int = 3) -> llvm.ModuleRef:
    """``ir_text`` parsed, verified and optimised at O3 (or ``level``) for ``tm`` (the caller
    closes it)."""
    module = _parse(ir_text)
    try:
        with llvm_output():
            _run_pipeline(module, tm, level)
    except BaseException:
        module.close()
        raise
    return module


def _parse(ir_text: str, context: llvm.ContextRef | None = None, parse=None) -> llvm.ModuleRef:
    """``ir_text`` parsed (into ``context``, by default LLVM's global one) and verified by
    LLVM (the caller closes it); ``parse(text, context)`` does both, by default through llvmlite."""
    try:
        if parse is None:
            module = llvm.parse_assembly(ir_text, context)
            module.verify()
        else:
            module = parse(ir_text, context)
    except RuntimeError as err:
        raise CompileError(f"LLVM rejected the generated IR: {err}", source=ir_text) from None
    return module


def _run_pipeline(module: llvm.ModuleRef, tm: llvm.TargetMachine, level: int = 3, run=None) -> None:
    """Optimise ``module`` in place with LLVM's O3 pipeline (or O``level``'s) for ``tm``
    (``run(pipeline, module, builder)``: how to run it, by default through llvmlite)."""
    pass_builder = llvm.create_pass_builder(tm, _tuning_options(level))
    try:
        pipelines = [pass_builder.getModulePassManager()]
        if _always_inline(module):  # (after O3: calls the loop vectorizer made, to vector forms)
            pipelines.append(llvm.create_new_module_pass_manager())
            pipelines[-1].add_always_inliner_pass()
        for pipeline in pipelines:
            try:
                if run is None:
                    pipeline.run(module, pass_builder)
                else:
                    run(pipeline, module, pass_builder)
            finally:
                _dispose_pipeline(pipeline)
    finally:
        pass_builder.close()


def _always_inline(module: llvm.ModuleRef) -> bool:
    """Whether ``module`` defines a function marked ``alwaysinline``: LLVM's loop vectorizer
    may call one (a masked vector form, :func:`.selects.call_out_of_line`) after O3's
    inliner ran, so an always-inliner runs after O3."""
    return any(not f.is_declaration and any(b"alwaysinline" in a for a in f.attributes) for f in module.functions)


def optimise(units: str | Sequence[str], target: Target) -> str:
    """The O3-optimised IR of ``units`` (one module's text, or several: their optimised texts
    one after another) for ``target``; nothing is loaded, so ``target`` may be any CPU
    LLVM knows, whether this machine can run its code or not."""
    units = (units,) if isinstance(units, str) else tuple(units)
    with llvm_output(), _LOCK:
        _initialise()
        texts = []
        for text in units:
            module = _optimised_module(text, target_machine(target.cpu, target.features, target.triple))
            try:
                texts.append(str(module))
            finally:
                module.close()
        return "\n".join(texts)


@lru_cache(maxsize=2)
def _tuning_options(level: int = 3) -> llvm.PipelineTuningOptions:
    """O3's (or O``level``'s) pipeline tuning options (one object for every build: the pass
    builder copies them)."""
    return llvm.PipelineTuningOptions(speed_level=level)


def _dispose_pipeline(pipeline: llvm.ModulePassManager) -> None:
    """Free ``pipeline`` and every pass in it now.

    ``ModulePassManager.close()`` does not: in llvmlite's class the no-op
    ``ObjectRef._dispose`` precedes ``NewPassManager._dispose`` in the method
    order, so each O3 pipeline and the state its passes grew while running
    (GVN's value table, InstCombine's worklist, ...) stayed allocated, some
    60-110 KB per build.
    """
    if type(pipeline)._dispose is llvm.ffi.ObjectRef._dispose:
        NewPassManager._dispose(pipeline)
        pipeline.detach()
    else:  # a fixed llvmlite
        pipeline.close()


def _load(built: Sequence[tuple[bytes, str]], target: Target, entry_points: frozenset[str]) -> CompiledModule:
    """Check each object of ``built`` ((object, optimised IR) per unit: a well-formed object
    for this machine; together they define ``entry_points`` and need only registered
    symbols and each other's), then load them into a new engine (the caller is inside
    :func:`llvm_output`)."""
    tm = target_machine(target.cpu, target.features)
    optimized = "\n".join(text for _, text in built)
    defined: set[str] = set()
    undefined: set[str] = set()
    for obj, text in built:
        try:
            symbols = read_object(obj, tm.triple)
        except ObjectFileError as err:
            raise ObjectFileError(f"LLVM's object code cannot be loaded: {err}", source=text) from None
        defined |= symbols.defined
        undefined |= symbols.undefined
    missing = entry_points - defined
    if missing:
        raise CompileError(f"the object code does not define {sorted(missing)}", source=optimized)
    unknown = undefined - defined - register_symbols()
    if unknown & support.support_functions().keys():  # it calls the support module's functions
        unknown -= _support_symbols(target)
    if unknown:
        raise CompileError(
            f"the generated code needs external symbol(s) {sorted(unknown)} that mlc does not "
            "provide (see mlc/backends/llvm/symbols.py)", source=optimized)
    try:
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""),
                                            _create_target_machine(target.cpu, target.features))
        for obj, _ in built:
            engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
    except RuntimeError as err:
        raise CompileError(f"LLVM could not load the machine code: {err}", source=optimized) from None
    return CompiledModule(engine, tuple(text for _, text in built))


_SUPPORT: list[tuple[CompiledModule, frozenset[str]]] = []  # (the support module, its functions)


def _support_symbols(target: Target) -> frozenset[str]:
    """The support functions' names: the support module (:mod:`.support`) is built for
    ``target`` (a CPU whose objects this machine loads), loaded and its functions registered
    with LLVM the first time (the caller holds ``_LOCK``).

    It is built without optimisation: its functions run once per parallel launch, a few
    nanoseconds slower than at O3, and the process's first build takes 2 ms for them
    instead of 12 (on a Zen 5 machine; 13 ms with the generation of its IR on a Zen 3 one)."""
    if not _SUPPORT:
        names = frozenset(support.support_functions())
        compiled = _compile((support.support_ir(*target_layout(target)),), target, names, quick=True)
        for name in names:
            llvm.add_symbol(name, compiled.address(name))
        _SUPPORT.append((compiled, names))  # (the engine, and so the code, stays loaded)
    return _SUPPORT[0][1]


def emit_assembly(units: str | Sequence[str], target: Target) -> str:
    """Assembly of (already optimised) ``units`` (one module's IR text, or several: their
    assembly one after another) for ``target``'s CPU (any CPU LLVM knows)."""
    units = (units,) if isinstance(units, str) else tuple(units)
    texts = []
    for text in units:
        try:
            with llvm_output(), _LOCK:
                texts.append(target_machine(target.cpu, target.features, target.triple).emit_assembly(
                    llvm.parse_assembly(text)))
        except RuntimeError as err:
            raise CompileError(f"LLVM could not emit assembly: {err}", source=text) from None
    return "\n".join(texts)
