"""``mlc.jit``: trace a NumPy-like function, compile its graph once per signature, run it.

>>> import numpy as np, mlc
>>> @mlc.jit
... def f(x, y):
...     return np.exp(x) * 2 + y
>>> x = np.zeros(3, "float32")
>>> f(x, x)
array([2., 2., 2.], dtype=float32)
>>> f.trace_count, f(x, x + 1)[0], f.trace_count   # same signature: no new trace
(1, np.float32(3.0), 1)

A call whose array shapes, dtypes, Python scalar kinds, pytree structure or
static arguments differ from every earlier call traces and compiles again.
Inside another trace a jitted function is simply inlined.

The stages are there to look at, as in JAX: ``f.trace(x)`` (the graph),
``.lower()`` (the fused kernels' IRModule), ``.compile()`` (the callable, and
its generated code); see :mod:`.stages`. A call compiles through them.
"""
from __future__ import annotations

import functools
import linecache
import os
import threading
import warnings

import numpy as np

from ..config import config
from ..driver import collector_paused
from ..errors import DeviceError, DTypeError, GlobalChangedWarning, PerformanceWarning, TraceError
from ..ir.graph import Graph
from ..ops.registry import TensorType
from ..runtime.memory import memory_kind_of
from ..runtime.ndarray import FAST_DEVICE_ARRAYS
from ..target import Target
from .arguments import WEAK_DTYPES, ArgumentSpec, WideInt, fast_leaves, keyed_arguments, leaf_signature
from . import autograph
from .captured_globals import Snapshot
from .dynamic import DynamicAxes
from .numpy_creation import numpy_creation
from .numpy_random import RandomWatch
from .checks import check_outputs
from .compile import RangeCheck, nonempty_axes
from .operands import as_tracer
from .pytree import flatten, unflatten
from ..ir.graph import SourceLoc
from .source import describe_location, user_stacklevel

_MLC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
from .specializations import Specializations
from .stages import Compiled, Lowered, Traced, _Origin
from .state import written_inputs
from .trace import TraceContext, is_tracing
from .writeback import AliasMismatch, PartialOverlap, alias_pattern
from . import tiering

__all__ = ["jit", "JitFunction", "Traced", "Lowered", "Compiled"]


#: With dynamic axes every size seen gets a fast-path entry (its exact shapes) up to this
#: many; later sizes take the general path (the same compiled function, a few us more).
MAX_FAST_KEYS = 64


def _callable_name(fn) -> str:
    """A name for messages of a callable without ``__name__``: ``partial(f)`` for a
    ``functools.partial`` of ``f``, else its type's name.

    >>> _callable_name(functools.partial(print, end="")), _callable_name(functools.partial(lambda x: x))
    ('partial(print)', 'partial(<lambda>)')
    """
    if isinstance(fn, functools.partial):
        return f"partial({_callable_name(fn.func)})"
    return getattr(fn, "__name__", None) or type(fn).__name__


class JitFunction:
    """A jitted function: call it like the original; see :func:`jit`."""

    #: Whether each call checks the globals the last trace read (MLC_DEBUG), every element of
    #: their arrays; else only each trace does, samples of large arrays (.captured_globals).
    _check_every_call = False

    def __init__(self, fn, static_argnums=(), static_argnames=(), target=None, schedule=None,
                 fast_math=False, database=None, tune=None, dynamic=None, cache_size=None, bounds_check=True,
                 tiered=None):
        if not callable(fn):
            raise TraceError(f"mlc.jit needs a function, got {fn!r}")
        functools.update_wrapper(self, fn, updated=())
        if not isinstance(getattr(self, "__name__", None), str):  # a functools.partial, a callable object
            self.__name__ = _callable_name(fn)
        self.fn = fn
        self._spec = ArgumentSpec.of(fn, static_argnums, static_argnames)
        self._dynamic = DynamicAxes.of(dynamic, self._spec.names)  # axes traced as shape variables
        self._fast = not self._spec.has_static
        self._target = target
        self._schedule = schedule
        if not isinstance(fast_math, bool):
            raise TraceError(f"mlc.jit: fast_math must be True or False, got {fast_math!r}")
        self._fast_math = fast_math  # each JitFunction caches its own builds: part of its key
        if not isinstance(bounds_check, bool):
            raise TraceError(f"mlc.jit: bounds_check must be True or False, got {bounds_check!r}")
        self._bounds_check = bounds_check
        if tune is not None and not callable(getattr(tune, "tune_jitted", None)):
            raise TraceError(f"mlc.jit: tune must be an mlc.TuneConfig, got {type(tune).__name__}")
        self._tune = tune
        self._database = database
        if tiered is not None and not isinstance(tiered, bool):
            raise TraceError(f"mlc.jit: tiered must be True, False or None (MLC_TIERED), got {tiered!r}")
        self._tiered = tiered
        #: the compiled signatures, at most cache_size (.specializations); the hit path reads
        #: its dicts: signature key -> Compiled, signature or fast key -> Slot, and a call with
        #: keywords or static arguments: its ArgumentSpec.call_key -> (Slot, where its dynamic
        #: arguments are: ArgumentSpec.dynamic_of)
        self._specs = Specializations(_cache_size(cache_size))
        self._cache, self._runs, self._keyed_runs = self._specs.compiled, self._specs.runs, self._specs.keyed_runs
        self._lock = threading.RLock()
        #: How many times the function was traced (once per new signature).
        self.trace_count = 0
        self._globals: Snapshot | None = None  # what the last trace read (.captured_globals)
        self._warned: set = set()  # the changes of it already warned about

    # ------------------------------------------------------------------ call

    def __call__(self, *args, **kwargs):
        # the last signature called: its arrays and numbers checked natively, run
        if kwargs:
            hot = self._specs.hot_keyed
            if hot is not None:
                fast = hot.fast
                if fast is not None:
                    out = fast[0](args, kwargs)  # (the keywords found by name)
                    if out is not fast[1]:
                        hot.used = True
                        return out
        else:
            hot = self._specs.hot
            if hot is not None:
                fast = hot.fast
                if fast is not None:
                    out = fast[0](*args)
                    if out is not fast[1]:
                        hot.used = True
                        return out
        try:
            return self._call(args, kwargs)
        except AliasMismatch as mismatch:  # arguments sharing memory, into which the function writes
            return self._call_general(args, kwargs, mismatch.pattern)
        except PartialOverlap as overlap:  # views overlapping in part, one written: NumPy's own meaning
            return self._run_uncompiled(args, kwargs, overlap)

    def _run_uncompiled(self, args, kwargs, overlap: PartialOverlap):
        """The function run as written, on the arguments themselves: the call's arguments overlap
        in memory in part and it writes one of them, which NumPy's meaning (each write seen
        through the other view, in program order) only running it as NumPy does keeps."""
        warnings.warn(f"{self.__name__}: {overlap} The call runs uncompiled, as NumPy runs it (correct, "
                      "not fast); pass a copy of one of them to run compiled code", PerformanceWarning,
                      stacklevel=user_stacklevel())
        return self.fn(*args, **kwargs)

    def _call(self, args, kwargs):
        if not kwargs and self._fast:  # the cache hit path: a few tuple operations
            key = []  # fast_key(args), inlined: the call would add a third to a hit's 1 us
            scalars = False
            for a in args:
                t = type(a)
                if t is _ndarray:
                    key.append(a.shape)
                    key.append(a.dtype)
                elif t in WEAK_DTYPES:  # a Python number: its type is its part of the key
                    key.append(t)
                    scalars = True
                elif t in FAST_DEVICE_ARRAYS:  # a CuPy array: its type, shape and dtype
                    key.append(t)
                    key.append(a.shape)
                    key.append(a.dtype)
                else:
                    break
            else:
                slot = self._runs.get(tuple(key))
                if slot is not None:
                    slot.used = True  # (for the cache's eviction: .specializations)
                    fast = slot.fast if not slot.pending else slot.make_fast()
                    if fast is not None:
                        self._specs.hot = slot  # the next call tries it first
                        if scalars:  # (passed by value: no 0-d arrays made)
                            out = fast[0](*args)
                            if out is not fast[1]:
                                return out
                    if not scalars:
                        return slot.run(args)
                    leaves = fast_leaves(args)  # (an int past int64 declined: traced as a constant)
                    if leaves is not None:
                        return slot.run(leaves)
        else:  # keywords or static arguments: a hit path keyed by their names and values too
            hit = self._keyed_runs.get(self._spec.call_key(args, kwargs))
            if hit is not None:
                slot, where = hit
                slot.used = True
                dynamic = keyed_arguments(args, kwargs, where)
                fast = slot.fast if not slot.pending else slot.make_fast()
                if fast is not None:
                    if self._fast and slot.keywords == where[1]:  # (it takes the keywords by name)
                        self._specs.hot_keyed = slot
                    out = fast[0](*dynamic)
                    if out is not fast[1]:
                        return out
                leaves = fast_leaves(dynamic)
                if leaves is not None:
                    return slot.run(leaves)
        if is_tracing():  # called from another traced function: inline
            return self.fn(*args, **kwargs)
        return self._call_general(args, kwargs)

    def _call_general(self, args, kwargs, aliases=None):
        key, leaves, call = self._signature(args, kwargs)
        if aliases is not None:  # traced with the arguments that are one array as one (.writeback)
            key, call = key + (("aliases", aliases),), call + (aliases,)
        found = self._spec.remembered(args, kwargs, leaves)  # how this call can be found again
        slot = self._specs.get(key)
        eager = None
        if slot is None:
            with self._lock:
                slot = self._specs.get(key)
                if slot is None:
                    database = self._database_for(args, kwargs)
                    settings = config()
                    quick = self._tiered if self._tiered is not None else settings.tiered
                    if quick and settings.eager_first and not self._dynamic:  # NumPy's run first
                        compiled, eager = self._compile_eager(key, call, database)
                    else:
                        compiled = self._compile(key, call, database, quick)
                    if eager is not None:
                        _refuse_device_arrays(leaves, self._target or settings.target, self.__name__)
                    elif compiled.lib.device.kind == "cpu":  # GPU arrays have keys of their own
                        _refuse_device_arrays(leaves, compiled.lib.target, self.__name__)
                    slot = self._specs.add(key, compiled, compiled.run, compiled.function.can_fast,
                                           *_passing(key, found, self._fast))
                    if quick and eager is None:  # the optimised build, swapped in when ready (.tiering)
                        tiering.upgrade(compiled, slot)
        if found is not None and aliases is None:
            fast, where = found
            runs = self._runs if where is None else self._keyed_runs
            if not (self._dynamic and len(runs) >= MAX_FAST_KEYS):
                self._specs.alias(slot, fast, where)
            if slot.fast is not None and self._fast:  # (its fast entry checks every argument)
                if where is None:
                    self._specs.hot = slot
                elif slot.keywords == where[1]:
                    self._specs.hot_keyed = slot
        if any(type(a) is WideInt for a in leaves):  # traced as constants, not passed
            leaves = [a for a in leaves if type(a) is not WideInt]
        try:
            return slot.run(leaves)
        finally:
            if eager is not None:  # the first call ran eagerly: now the optimised build (.tiering)
                eager.start(slot)

    def _signature(self, args, kwargs):
        """(cache key, arrays to pass, what tracing needs) for a call."""
        dynamic, static_keys, statics = self._spec.split(args, kwargs)
        leaves, treedef = flatten(dynamic)
        parts, arrays, weak = [], [], []
        def where(n):  # names the argument in an error message (computed only then)
            names = self._spec.leaf_names(dynamic, {k for k in statics if isinstance(k, int)})
            return f"argument {names[n]!r} of {self.__name__}()"

        for n, leaf in enumerate(leaves):
            part, array, is_weak = leaf_signature(leaf, lambda n=n: where(n))
            parts.append(part)
            arrays.append(array)
            weak.append(is_weak)
        if self._dynamic:  # dynamic axes are no part of the key: a new size reuses the build
            names = self._spec.leaf_names(dynamic, {k for k in statics if isinstance(k, int)})
            arrays_named = [m for m, w, a in zip(names, weak, arrays) if not w and type(a) is not WideInt]
            self._dynamic.check_names(arrays_named, self.__name__)
            parts = [(self._dynamic.key_shape(m, p[0], lambda n=n: where(n)), *p[1:]) if m in arrays_named else p
                     for n, (m, p) in enumerate(zip(names, parts))]
        key = ("general", treedef, tuple(parts), static_keys)
        return key, arrays, (dynamic, treedef, arrays, weak, statics, len(args))

    # --------------------------------------------------------------- compile

    def _check_globals(self) -> None:
        """Warn (GlobalChangedWarning, once each) about the globals the last trace read that
        were rebound or written into since: the code compiled then still uses their values."""
        if self._globals is None:
            return
        for change in self._globals.changes():
            if change not in self._warned:
                self._warned.add(change)
                warnings.warn(
                    f"{self.__name__}: the {change.kind} {change.name!r} of {change.owner} was {change.how} "
                    f"{self.__name__} was traced. mlc.jit takes the globals and closure variables a "
                    f"function reads as constants when it traces it, so the code compiled then still uses "
                    f"the value {change.name!r} had; pass {change.name} as an argument to use its current "
                    f"value (or call {self.__name__}.clear_cache() to trace again)",
                    GlobalChangedWarning, stacklevel=user_stacklevel())

    def _trace(self, call) -> Graph:
        self._check_globals()
        self._globals, self._warned = Snapshot.of(self.fn, full=self._check_every_call), set()
        watch = RandomWatch(self.fn)  # NumPy's generators: a trace that draws from one is refused
        ctx, outputs, out_tree = self._run_traced(call)
        written = [c for c in self._globals.changes() if c.how == "written into since"]
        if written:  # NumPy's write ran once, while tracing: the compiled code would not repeat it
            change = written[0]
            raise TraceError(
                f"{self.__name__} writes into the NumPy array {change.name!r} (a {change.kind} of {change.owner}) "
                f"while it is traced: that array is a constant of the compiled code, so the write would happen "
                f"once, now, and never when the compiled function runs. Pass {change.name} as an argument of "
                f"{self.__name__} (its writes are then written back into it at every call)")
        changed = watch.changed()
        if changed:
            raise watch.refusal(self.__name__, changed, lambda: self._run_traced(call))
        self.trace_count += 1
        # traced Python ints that must fit a dtype are returned too, and checked after the run
        checks = tuple(RangeCheck(*check[1:]) for check in ctx.range_checks)
        # the arguments written: their last versions are returned last, and written back (.writeback)
        written = written_inputs(ctx)
        positions = {id(var): n for n, var in enumerate(ctx.inputs)}
        writes = tuple(positions[id(var)] for var, _ in written)
        graph = ctx.finish(outputs + check_outputs(ctx) + [ctx._tracer(a) for _, a in written])
        return graph, out_tree, checks, tuple(ctx.key_sources), writes

    def _run_traced(self, call):
        """Run the function on Tracers: (its trace, its output Tracers, their pytree structure).
        Arguments that are one array (``call``'s aliases, :mod:`.writeback`) are one Tracer."""
        dynamic, treedef, arrays, weak, statics, n_args = call[:6]
        aliases = call[6] if len(call) > 6 else None
        names = self._spec.leaf_names(dynamic, {k for k in statics if isinstance(k, int)})
        with TraceContext(getattr(self.fn, "__name__", "main")) as ctx, numpy_creation(self.fn):
            ctx.bounds_checks = self._bounds_check
            tracers = [int(a) if type(a) is WideInt else
                       ctx.new_input(TensorType(self._dynamic.trace_shape(name, a.shape) if not w else a.shape,
                                                a.dtype.name), name, w)
                       for a, name, w in zip(arrays, names, weak)]
            for t, leaf in zip(tracers, flatten(dynamic)[0]):
                if isinstance(leaf, np.generic):  # s += 1 rebinds a NumPy scalar argument
                    t.array0d = False
            if aliases is not None:
                tracers = [tracers[a] for a in aliases]
            args, kwargs = self._spec.merge(unflatten(treedef, tracers), statics, n_args)
            try:
                result = autograph.convert(self.fn)(*args, **kwargs)  # if/while/for on traced values
            except ValueError as err:
                if "setting an array element with a sequence" not in str(err):
                    raise
                raise _numpy_write_error(err) from None
            out_leaves, out_tree = flatten(result)
            outputs = [_output_tracer(leaf, ctx, n) for n, leaf in enumerate(out_leaves)]
        return ctx, outputs, out_tree

    @property
    def target(self):
        """The Target this function is built for: its ``target=``, else the configured one
        (``MLC_TARGET``, "llvm" by default), read now."""
        return Target.from_str(self._target)

    def _compile(self, key, call, database=None, quick: bool = False) -> Compiled:
        """The one compile path: trace, lower, compile (``f.trace(...).lower().compile()``),
        with the garbage collector paused (:mod:`mlc.driver.collector`); ``quick``: a first
        tier (:mod:`.tiering`)."""
        with collector_paused():
            return self._stage(key, call, database).lower().compile(quick=quick)

    def _compile_eager(self, key, call, database=None):
        """(Compiled, its :class:`~.tiering.EagerTier`): the trace run eagerly through NumPy,
        where that gives the first result sooner than compiling (:mod:`.eager`); otherwise
        (the Compiled of a quick build, None), as :meth:`_compile` with ``quick``."""
        with collector_paused():
            traced = self._stage(key, call, database)
            tier = tiering.eager_tier(traced)
            if tier is not None:
                return tier.compiled, tier
            return traced.lower().compile(quick=True), None

    def _database_for(self, args, kwargs):
        """The tuning database a new signature builds with: the jit's ``database``, after
        ``tune`` (a TuneConfig) tuned the kernels these arguments run that it lacks."""
        if self._tune is not None:  # later stages (f.lower(x).scheduled()) see the same database
            self._database = self._tune.tune_jitted(self, args, kwargs, database=self._database)
        return self._opened_database()

    def _opened_database(self):
        """The jit's ``database``, opened when it was given as a path."""
        if isinstance(self._database, (str, os.PathLike)):
            # mlc.tune loads on first use: importing it here keeps `import mlc` fast
            from ..tune import Database
            self._database = Database(os.fspath(self._database))
        return self._database

    def _stage(self, key, call, database=None) -> Traced:
        traced, out_tree, checks, key_sources, writes = self._trace(call)
        if database is None:
            database = self._opened_database()
        aliases = call[6] if len(call) > 6 else None
        origin = _Origin(self, key, out_tree, checks, self._fast_math, database,
                         nonempty_axes(traced) if self._dynamic else (), key_sources, writes, aliases)
        return Traced(traced, self._target, self._schedule, origin)

    # ---------------------------------------------------------------- inspect

    def trace(self, *args, **kwargs) -> Traced:
        """Trace for these arguments: ``.graph`` is the graph as traced; ``.lower()`` goes on.

        ``f.trace(x).lower().compile()`` is what ``f(x)`` does on its first call with
        this signature (without caching it): where the function writes an argument and
        the call passes one array as two arguments, traced with them as one, as the call
        traces it again (:mod:`.writeback`).
        """
        key, leaves, call = self._signature(args, kwargs)
        traced = self._stage(key, call)
        writes = traced._origin.writes
        aliases = alias_pattern(leaves, writes) if writes else None
        if aliases is not None:
            traced = self._stage(key + (("aliases", aliases),), call + (aliases,))
        return traced

    def lower(self, *args, **kwargs) -> Lowered:
        """Trace and run the graph passes for these arguments, without building.

        ``print(f.lower(x).as_text())`` shows the fused graph and its kernels;
        ``.compile()`` builds them.
        """
        return self.trace(*args, **kwargs).lower()

    def clear_cache(self) -> None:
        """Forget every compiled signature."""
        with self._lock:
            self._specs.clear()

    @property
    def cache_size(self) -> int | None:
        """The most compiled signatures this function keeps (None: no limit)."""
        return self._specs.size

    def __get__(self, obj, objtype=None):  # jitted methods bind like functions
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<mlc.jit {getattr(self.fn, '__qualname__', self.fn)}>"


class _CheckedJitFunction(JitFunction):
    """A jitted function made with ``MLC_DEBUG`` on: every call first checks the globals the
    last trace read (:meth:`JitFunction._check_globals`), cache hits included."""

    _check_every_call = True

    def __call__(self, *args, **kwargs):
        self._check_globals()
        return JitFunction.__call__(self, *args, **kwargs)


_ndarray = np.ndarray


def _passing(key, found, no_statics: bool) -> tuple[tuple, tuple]:
    """(scalars, keywords) of a new signature's :class:`~.specializations.Slot`: how its fast
    entry takes the calls that find it (``found``: :meth:`ArgumentSpec.remembered` of its
    first call) — each Python number leaf by value (its type; None for an array; nothing
    where a leaf is an int traced as a constant, or none is a number) and, for a function
    without static arguments, the keyword leaves by name."""
    parts = key[2]
    scalars = tuple(p if type(p) is type else None for p in parts)
    if not any(scalars) or any(type(p) is tuple and p[:1] == ("wide int",) for p in parts):
        scalars = ()
    keywords = found[1][1] if no_statics and found is not None and found[1] is not None else ()
    return scalars, keywords


def _numpy_write_error(err: ValueError) -> TraceError:
    """NumPy's error for a traced value written into a NumPy array (``W[0] = x[0]``, ``W`` a
    global): a TraceError saying what to do, at the user's line."""
    tb, loc = err.__traceback__, None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_MLC_DIR):
            loc = SourceLoc(filename, tb.tb_lineno,
                            linecache.getline(filename, tb.tb_lineno, tb.tb_frame.f_globals).strip())
        tb = tb.tb_next
    return TraceError(
        "a traced value was written into a NumPy array (NumPy: 'setting an array element with a sequence'). "
        "A NumPy array inside a jitted function (a global, a closure variable) is a constant of the compiled "
        "code and cannot hold traced values: pass the array as an argument of the jitted function (the "
        "function's writes into it are written back when the call returns), or make it with mlc.numpy / "
        "NumPy's creation functions inside the function (np.zeros, np.empty_like), which trace"
        + describe_location(loc))


def _output_tracer(leaf, ctx: TraceContext, n: int):
    try:
        return as_tracer(leaf, ctx)
    except DTypeError as err:
        raise TraceError(f"output {n} of the traced function is not an array or number: {err}") from None


def jit(fn=None, *, static_argnums=(), static_argnames=(), target=None, schedule=None,
        fast_math=False, database=None, tune=None, dynamic=None, cache_size=None, bounds_check=True,
        tiered=None):
    """Compile ``fn`` on its first call per signature; usable bare or with options.

    - ``static_argnums`` / ``static_argnames``: arguments whose *values* are
      part of the compiled function (Python ints, strings, tuples); each new
      value compiles again. Every other argument is a pytree of arrays and
      scalars.
    - ``target``: "llvm" (default: ``mlc.config.config().target``), "reference",
      "cuda" or "cuda-emulator" (any target string ``mlc.build`` takes). On
      ``"cuda"`` the graph runs as kernel launches on the current CuPy stream,
      its workspace from CuPy's memory pool: CuPy arrays in, CuPy arrays out;
      NumPy inputs are copied to the device on every call; objects with
      ``__dlpack__`` or ``__cuda_array_interface__`` are taken without a copy.
      ``"cuda-emulator"`` runs the same kernels on the CPU: NumPy in, NumPy out.
      A GPU array passed to a function built for a host target is a DeviceError.
    - ``schedule``: a function ``schedule(sch)`` editing an ``mlc.Schedule``
      of the fused kernels' IRModule (or returning a Schedule / IRModule), or
      a Trace; without one ``mlc.build`` applies the target's default rules.
    - ``fast_math``: cheaper exp, expm1, tanh, sigmoid and erf (float32: log, log1p,
      log2, log10, atan, asin, acos, atan2, sin, cos, tan, cbrt and pow too), within 1e-6
      relative (float32) and 1e-13 (float64) where the result is normal; NaN,
      inf, overflow and underflow as by default (see :func:`mlc.build`). A
      fast and a default jit of the same function compile and cache apart.
    - ``database``: a tuning database (an ``mlc.tune.Database`` or its path): each
      kernel it has a record for is built with its best trace, the others with the
      default rules (see :func:`mlc.build`).
    - ``tune``: an ``mlc.TuneConfig``: the first call of each signature tunes the
      kernels the database lacks (``trials`` shared among them) for this function's
      target (unless the config names one), then builds with it.
    - ``dynamic``: array axes whose size may change without tracing or compiling
      again, e.g. ``dynamic=("x", 0)`` (axis 0 of argument ``x``) or a list of
      ``(argument, axis)`` / ``(argument, axis, name)`` entries; axes with the same
      name share one size (:mod:`.dynamic`). They are traced as shape variables and
      the kernels take any size along them; the other axes stay specialized.
    - ``cache_size``: the most signatures kept compiled (each some 170 KB for a small
      program); past it, one not called for the longest goes first (CLOCK, the
      second-chance approximation of least-recently-used: a cache hit costs one store
      more, :mod:`.specializations`) and is compiled again if it comes back. Default
      ``MLC_JIT_CACHE_SIZE`` (128), so that a long-running service that sees ever new
      shapes stays flat (``dynamic=`` axes compile once for every size).
    - ``bounds_check``: a traced index (``a[i]``, ``a[i] = v``, ``a[idx]``, ``np.take``,
      ``np.take_along_axis``) out of bounds when the function runs raises
      :class:`~mlc.errors.BoundsError` (an IndexError, as NumPy's) after the call, naming the
      access, the index, the axis' size and the line, also inside compiled loops and
      conditionals; no argument is written then. An index known to be in range while tracing
      (a constant, ``a[i - 1]`` in ``for i in range(1, n)`` with ``n`` static) costs nothing;
      another one a compare, or two reductions of an index array. ``bounds_check=False``
      keeps JAX's semantics instead: such an index is clipped into the axis, and a write out
      of bounds writes nothing (:mod:`mlc.numpy.bounds`).
    - ``tiered``: a signature's first call runs a quickly built program (its short kernels
      without LLVM's O3) while the optimised one is built in the background and swapped
      in when ready (:mod:`.tiering`; ``mlc.tiering.wait()`` waits for it). Default
      ``MLC_TIERED`` (on); ``tiered=False`` builds the optimised program at once.

    Globals and closure variables the function reads are constants, taken when it is
    traced, as in JAX and Numba: rebinding one later (``K = 3``) or writing into a global
    NumPy array (``W[:] = 10``) does not change the code compiled before. Pass such a value
    as an argument. A change is detected and warned about (:class:`~mlc.errors.GlobalChangedWarning`)
    when the function is traced again (a new signature) and, with ``MLC_DEBUG``, at every
    call (:mod:`.captured_globals`).

    Random numbers come from keys (:mod:`mlc.random`, a key argument) or from
    ``mlc.random.numpy_compat``'s forms of ``np.random``'s functions, which draw at every
    call; a trace that draws from NumPy's generators itself is a TraceError (its numbers
    would be constants of the compiled function: :mod:`.numpy_random`).

    >>> @jit(static_argnames="axis")
    ... def norm(x, axis):
    ...     return x / x.sum(axis=axis, keepdims=True)
    >>> norm(np.ones((2, 2), "float32"), axis=1)
    array([[0.5, 0.5],
           [0.5, 0.5]], dtype=float32)
    """
    if fn is None:
        return functools.partial(jit, static_argnums=static_argnums, static_argnames=static_argnames,
                                 target=target, schedule=schedule, fast_math=fast_math, database=database,
                                 tune=tune, dynamic=dynamic, cache_size=cache_size, bounds_check=bounds_check,
                                 tiered=tiered)
    kind = _CheckedJitFunction if config().debug else JitFunction  # (MLC_DEBUG: globals checked every call)
    return kind(fn, static_argnums, static_argnames, target, schedule, fast_math, database, tune, dynamic,
                cache_size, bounds_check, tiered)


def _cache_size(size) -> int | None:
    """``mlc.jit(cache_size=)``: a positive int, or None for the configured default."""
    if size is None:
        return config().jit_cache_size
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise TraceError(f"mlc.jit: cache_size must be a positive int (the most signatures kept compiled) "
                         f"or None (MLC_JIT_CACHE_SIZE, {config().jit_cache_size}), got {size!r}")
    return int(size)


def _refuse_device_arrays(leaves, target, name: str) -> None:
    """DeviceError when an array in a device's memory (:mod:`mlc.runtime.memory`: CuPy's
    on a GPU) goes to a function built for a target that runs on the host."""
    for leaf in leaves:
        kind = memory_kind_of(leaf)
        if kind is not None:
            raise DeviceError(f"{name}(): an argument is a {type(leaf).__name__} in {kind} device memory, "
                              f"but this function is built for {target}, which runs on the host: pass a "
                              f"NumPy array (a host copy of it), or jit with target={kind!r}")
