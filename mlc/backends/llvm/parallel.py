"""Parallel loops on libgomp's thread pool: outlining, chunking and the launch policy.

A ``For(kind="parallel")`` that is not inside another parallel loop becomes
three pieces (the codegen emits the loop body into the first):

* the **body function** ``void @__mlc_par.<f>.N(captured..., iK begin, iK count)``
  (internal) runs the loop over ``[begin, begin + count)``; it and its task may
  go into another LLVM module of the build than the kernel's, for LLVM to
  optimise the loops of one kernel side by side (the task is then an external
  symbol of the build's engine). Captured buffers
  are ``noalias`` pointer parameters, as in the kernel, so the body
  vectorises as it would in place; its entry block holds the body's stack
  buffers, so every thread has its own;
* the **task** ``void @__mlc_par.<f>.N.task(ptr %closure)`` is what each thread
  of the team runs: it unpacks the closure ``{begin, extent, pooled, homes,
  began_at, done_at, mine, cpu, captured...}``. Thread ``t`` of a team of T
  has a *home*: the ``t``-th of T equal shares of the iterations (``[t * extent /
  T, (t + 1) * extent / T)``), cut into CHUNKS_PER_THREAD chunks, with a counter
  of its own (``homes[t]``, one cache line each: the pooled launch's are a static
  table of MAX_THREADS lines, :data:`~.symbols.PARALLEL_HOMES`, which only the launch
  holding the pool uses; a launch on its calling thread has one on its stack, so no
  launch reserves stack for its team). A thread takes the chunks of its home one by one
  (``atomicrmw add homes[t], 1``), then those left in the homes of threads
  ``t + 1, t + 2, ...`` (round the team), and calls the body function on each
  (a call: the task is ``optnone``, so LLVM optimises the body once, as a
  function of its own, not again inlined into the task). Thread 0 of a team
  (the caller) notes when it starts and stops taking chunks and how many
  iterations it ran (``began_at``, ``done_at``, ``mine``) for the launch's
  review. The task itself is never inlined, so the kernel holds one copy of
  the loop body however it launches it. Homes keep each thread on the same
  iterations, and so the same data, launch after launch: a loop whose data
  fits in the cores' own caches finds it there, where one counter dealing the
  chunks to whichever thread came first found it in the other core's
  (benchmarks/results/decisions.md, "LLVM backend"). Taking what is
  left in the other homes keeps a thread that the OS preempted (another
  process on a busy machine) from holding up the others. The other threads
  first keep off the caller's CPU (``cpu``, see :mod:`.placement`);
* the **launch** in the kernel stores the closure on the stack, asks
  ``@__mlc_parallel_threads(extent, site, now)`` for a thread count ``n``, and calls
  ``GOMP_parallel(task, closure, n, 0)`` when ``n > 1`` (noting its CPU
  before, returning to it after if the kernel moved it, then reviewing the
  launch, see below, and freeing the pool) or the task directly otherwise
  (``pooled`` is 0 then, and the one call takes the whole range). A kernel
  that is nothing but this launch is ``optnone`` like the task: only the
  body's loops are worth LLVM's optimisation.

Thread-count policy, kept in the process-wide
:data:`~mlc.backends.llvm.symbols.PARALLEL_STATE` ``{busy, num_threads,
pooled}`` (``pooled`` counts the launches that ran on the pool) and, for each
parallel loop, in its own ``{serial_until, losing, since, periods}`` (the
global ``<body>.site``, :data:`SITE_TYPE`):

* ``num_threads`` is ``mlc.config.config().num_threads`` (MLC_NUM_THREADS,
  default: every core the process may run on), at most what
  :func:`mlc.set_num_threads` allows. :func:`set_num_threads` stores it; the
  llvm runtime does so at every build, before every bounds-checked call, when
  ``mlc.set_num_threads`` is called and when a configuration override
  (:func:`mlc.config.override`) begins or ends; calls on the fast path read
  what was stored;
* a launch uses ``min(num_threads, extent)`` threads (never more than
  :data:`~mlc.config.MAX_THREADS`), and only if it takes the
  pool with a try-lock (``cmpxchg busy, 0 -> 1``). While a launch from another
  Python thread holds it, a launch runs on its calling thread alone, so
  concurrent callers never oversubscribe the cores (and never wait);
* **a loop whose team costs more than it saves stands down for a while.**
  libgomp starts a team by releasing its docked workers and ends it with a
  barrier: the caller waits until every thread of the team has arrived, even
  one that found no work left. When other processes hold the other cores, a
  worker gets one only after their time slices (milliseconds, for a kernel of
  microseconds); a worker that slept since the last launch takes tens of
  microseconds to wake; and a loop of a few microseconds never repays the
  start. So each pooled launch is reviewed (where the CPU has a counter a
  program may read: x86's ``rdtsc``, AArch64's ``cntvct``): the calling
  thread times the iterations it ran itself, which gives the time the whole
  loop would have taken on it alone; a launch that took more than LOSS_RATIO
  times that lost (by W ticks, the difference). A run of losing launches of a loop in a
  row stands the loop down when it is both LOSSES_IN_A_ROW launches long and
  either LOSING_TICKS old or MANY_LOSSES launches long; the last loss, of
  ``W`` ticks, keeps that loop on its calling thread for the next
  ``SERIAL_AFTER_LOSS * W`` ticks (``serial_until``). Then it tries the team
  again, and a new run of losses must stand it down again (each period of
  one run of losses twice as long as the one before, at most MAX_DOUBLINGS
  times, and at most MAX_SERIAL_TICKS). What this tells apart:

  - *cores that stay busy* (other processes): launches keep losing, by a
    time slice each, for as long as the neighbours run: the run grows old,
    and the launches that try the team again (at most LOSING_TICKS of them
    before a period of at least SERIAL_AFTER_LOSS time slices) cost a few
    percent of the time;
  - *a loop too small for any team*: every launch loses a little, and
    MANY_LOSSES of them take microseconds;
  - *a team waking up*: after a pause the first launches only wake the
    workers, and on a virtual machine their idle virtual CPUs too (a few
    launches, each many times the loop's time). The run is short
    and young: no period. The launches after a period are such a run too
    (the period outlasted the workers' spinning), which is why a new run
    must stand the loop down again: when one loss after a period started
    the next, a loop that stood down once stayed on its calling thread for
    good.

  The review is per loop, so that a small loop that never repays a team
  leaves the large loops beside it on the pool. Both rules, the team size and
  the review, are functions of their arguments and the loop's state: the
  kernel reads the counter and passes them the times, so a test (or a
  simulation) gives them any times and outcomes it likes;
* parallel loops nested in a parallel body run serially inside it;
* in a child process made by ``fork`` every launch runs serially: libgomp's
  worker threads do not survive a fork, and a launch would wait for them
  forever (start worker processes with "spawn" to use all cores there).

Without libgomp every parallel loop runs serially, and a warning says so once
per process.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

from llvmlite import ir

from ...config import MAX_THREADS, config, on_override
from ...runtime import threads
from . import placement
from .intrinsics import declare
from .symbols import (HOME_BYTES, OPENMP_SYMBOLS, PARALLEL_HOMES, PARALLEL_HOMES_SYMBOL, PARALLEL_STATE,
                      PARALLEL_STATE_SYMBOL, register_symbols)
from .types import I32, I64, PTR

__all__ = ["openmp_available", "warn_serial", "set_num_threads", "body_function", "emit_launch",
           "SUPPORT_FUNCTIONS", "PREFIX", "SITE_TYPE", "SITE_SUFFIX", "CHUNKS_PER_THREAD", "SERIAL_AFTER_LOSS",
           "MAX_DOUBLINGS", "LOSS_RATIO", "LOSSES_IN_A_ROW", "LOSING_TICKS", "MANY_LOSSES", "MAX_SERIAL_TICKS"]

#: Every function this module adds starts with it (user functions are renamed away from it).
PREFIX = "__mlc_par"
_THREADS_FN = "__mlc_parallel_threads"
_REVIEW_FN = "__mlc_parallel_review"
#: A team splits a loop into this many chunks per thread: each thread's home (see above).
CHUNKS_PER_THREAD = 4
#: A pooled launch that took W ticks longer than its loop would have on the calling thread
#: alone, when it stands the loop down, makes launches run serially for this many times W
#: (doubled for each further period of the same run of losses, up to MAX_DOUBLINGS times):
#: while other processes hold the cores, the launches that try the team again (a run of
#: LOSING_TICKS before each period) cost a few percent of the time, and less the longer it
#: lasts (a loop stalled for a 10 ms time slice stays on its calling thread for 2.5 s).
SERIAL_AFTER_LOSS = 256
MAX_DOUBLINGS = 3
#: A launch loses only where its team took more than this many times the calling thread's
#: estimate of the loop alone: the estimate extrapolates the caller's own chunks, which may
#: run faster than the workers' (their data warmer in its cache), so a team within a quarter
#: of it has not been shown to lose. A team that costs a time slice (another process on
#: the core), or far more than a few cheap iterations, does.
LOSS_RATIO = 1.25
#: A run of losing launches shorter than this never stands a loop down (one launch whose
#: worker was preempted once, the two or three that woke the team after a pause, or a new
#: kernel's first ones: on a 2-core VM the first three launches of a 2^22-element stencil,
#: milliseconds each while its fresh outputs' pages faulted in, took up to 3.2 times the
#: calling thread's estimate, and standing down then kept it on one thread for a second).
LOSSES_IN_A_ROW = 6
#: ... and it must have lasted this many counter ticks since its first launch started
#: (about 4 to 8 ms of x86's rdtsc at 2 to 4 GHz; longer on AArch64, whose counter runs
#: at tens of MHz to 1 GHz): waking a team takes less, busy neighbours longer;
LOSING_TICKS = 1 << 24
#: ... or be this many launches long (a loop too small for any team loses them in microseconds).
MANY_LOSSES = 16
#: The longest serial period one launch starts (a few seconds at 2 to 4 GHz).
MAX_SERIAL_TICKS = 1 << 34
_STATE_TYPE = ir.LiteralStructType([I32, I32, I64])  # {busy, num_threads, pooled}
#: Each parallel loop's own review, a global named <body>.site: {serial_until, losing (the
#: launches of the current run of losses), since (when its first started), periods (the serial
#: periods this run of losses started: the doublings of the next)}.
SITE_TYPE = ir.LiteralStructType([I64, I64, I64, I64])
_UNTIL, _LOSING, _SINCE, _PERIODS = range(4)
SITE_SUFFIX = ".site"
_THREADS_TYPE = ir.FunctionType(I32, [I64, SITE_TYPE.as_pointer(), I64])
_REVIEW_TYPE = ir.FunctionType(ir.VoidType(), [SITE_TYPE.as_pointer()] + [I64] * 6)
#: Closure fields before the captured values: begin, extent, pooled, homes (a pointer to
#: the team's home counters), began_at, done_at, mine, cpu (the launching thread's CPU, -1
#: when unknown: see :mod:`.placement`).
_BEGIN, _EXTENT, _POOLED, _HOMES, _BEGAN_AT, _DONE_AT, _MINE, _CPU = range(8)
_HEADER = 8
_VOID = ir.VoidType()
_warned = False
_forked = False  # this process is a fork child: the thread pool is unusable


def _after_fork_in_child() -> None:
    global _forked
    _forked = True
    PARALLEL_STATE.busy = 0
    PARALLEL_STATE.num_threads = 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def openmp_available() -> bool:
    """Whether libgomp's entry points are registered (else parallel loops run serially)."""
    return OPENMP_SYMBOLS <= register_symbols()


def warn_serial() -> None:
    """Say once per process that parallel loops run serially for lack of libgomp."""
    global _warned
    if not _warned:
        _warned = True
        warnings.warn("libgomp (libgomp.so.1) could not be loaded: parallel loops of the llvm "
                      "backend run serially; install the GCC OpenMP runtime (e.g. apt-get install "
                      "libgomp1) to run them on all cores", RuntimeWarning, stacklevel=3)


def set_num_threads(n: int) -> None:
    """The thread count launches use from now on: ``n`` (the configured count), at most
    what :func:`mlc.set_num_threads` allows, at least 1; 1 in a fork child. Called at every
    build and before every bounds-checked call: the usual case, no change, costs one compare."""
    if n == _threads_set[0] and not _forked:
        return
    _threads_set[0] = n
    n = 1 if _forked else max(1, min(int(n), threads.get_num_threads(), MAX_THREADS))
    if PARALLEL_STATE.num_threads != n:
        PARALLEL_STATE.num_threads = n


_threads_set = [0]  # the count set_num_threads was last given (0: nothing yet)


def _limit_changed() -> None:
    """:func:`mlc.set_num_threads` was called, or a configuration override began or ended:
    store the count now allowed at once (for the calls of code built earlier and callers of
    the C entry points) and make the next call's check look again."""
    _threads_set[0] = 0
    set_num_threads(config().num_threads)


threads.on_change(_limit_changed)
on_override(_limit_changed)  # (a build under override(num_threads=1) stored 1: its with ends, the count again)


def body_function(module: ir.Module, owner: str, arg_types: Sequence[ir.Type],
                  name: str | None = None) -> ir.Function:
    """A new internal ``void`` function for the body of a parallel loop of ``owner``, named
    ``name`` (by default ``__mlc_par.<owner>``, made unique in ``module``). The body goes
    into ``module``, which may be another LLVM module than the launching kernel's, where its
    task goes (:func:`emit_launch`); ``name`` is then unique among all the modules of the
    build."""
    name = name or module.get_unique_name(f"{PREFIX}.{owner}")
    fn = ir.Function(module, ir.FunctionType(_VOID, list(arg_types)), name=name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    return fn


def emit_launch(builder: ir.IRBuilder, stack: ir.IRBuilder, body: ir.Function,
                captured: Sequence[ir.Value], begin: ir.Value, extent: ir.Value,
                task_module: ir.Module | None = None) -> None:
    """Run ``body(*captured, lo, count)`` over chunks of ``[begin, begin + extent)`` on the pool.

    ``stack`` is a builder in the kernel's entry block, where the closure is
    allocated (one slot, reused by every launch of this loop). The task goes into
    ``task_module`` (by default the body's). Where the body, the task and the kernel are
    in different modules, the callee is an external function in its own, declared in its
    caller's (the JIT links the build's modules into one engine): LLVM then optimises the
    loop in one module while the task and the kernel, unoptimised glue, compile in another,
    side by side.
    """
    module = builder.module
    task_module = task_module or body.module
    index_type = begin.type
    closure_type = ir.LiteralStructType([index_type, index_type, I32, PTR] + [I64] * 3 + [I32]
                                        + [v.type for v in captured])
    if body.module is not task_module:
        body.linkage = ""
        body = declare(task_module, body.name, body.function_type)
    task = _task_function(task_module, body, closure_type, index_type)
    if task_module is not module:
        task.linkage = ""
        task = declare(module, task.name, task.function_type)
    closure = stack.alloca(closure_type, name="closure")
    wide = builder.sext(extent, I64) if index_type.width < 64 else extent
    site = ir.GlobalVariable(module, SITE_TYPE, module.get_unique_name(body.name + SITE_SUFFIX))
    site.initializer = ir.Constant(SITE_TYPE, None)
    now = _clock(builder)
    if now is None:  # no counter: no review, so no serial period either
        now = ir.Constant(I64, 0)
    threads = builder.call(declare(module, _THREADS_FN, _THREADS_TYPE), [wide, site, now], name="threads")
    use_pool = builder.icmp_signed(">", threads, ir.Constant(I32, 1))
    zero = ir.Constant(I64, 0)
    # the team's home counters, zeroed: the static table for the launch holding the pool, one
    # line on the stack (the entry block's: the same for every launch) for a launch alone
    own = stack.alloca(ir.ArrayType(I64, HOME_BYTES // 8), name="home")
    own.align = HOME_BYTES
    first = [ir.Constant(I32, 0), ir.Constant(I32, 0)]  # (the first counter of each: one pointer type)
    homes = builder.select(use_pool, builder.gep(_homes_table(module), first, inbounds=True),
                           builder.gep(own, first, inbounds=True))
    size = builder.mul(builder.zext(threads, I64), ir.Constant(I64, HOME_BYTES))
    builder.call(declare(module, "llvm.memset.p0.i64", ir.FunctionType(_VOID, [PTR, ir.IntType(8), I64, ir.IntType(1)])),
                 [homes, ir.Constant(ir.IntType(8), 0), size, ir.Constant(ir.IntType(1), 0)])
    header = [begin, extent, builder.zext(use_pool, I32), homes] + [zero] * 3 + [ir.Constant(I32, -1)]
    for n, value in enumerate(header + list(captured)):
        # (the alloca and the state global are typed: llvmlite derives the field's type)
        builder.store(value, _field(builder, closure, n))
    with builder.if_else(use_pool) as (pooled, alone):
        with pooled:
            gomp = declare(module, "GOMP_parallel", ir.FunctionType(_VOID, [PTR, PTR, I32, I32]))
            cpu = placement.emit_launcher_cpu(builder) if placement.available() else None
            if cpu is not None:
                builder.store(cpu, _field(builder, closure, _CPU))
            started = _clock(builder)
            builder.call(gomp, [task, closure, threads, ir.Constant(I32, 0)])
            ended = _clock(builder)
            if cpu is not None:
                builder.call(placement.place_launcher(module), [cpu])
            # (only the launch holding the pool writes the count and the review's fields)
            count = _state_field(builder, 2)
            builder.store_atomic(builder.add(builder.load_atomic(count, "monotonic", align=8, typ=I64),
                                             ir.Constant(I64, 1)), count, "monotonic", align=8)
            if started is not None:
                noted = [builder.load(_field(builder, closure, n), typ=I64)
                         for n in (_BEGAN_AT, _DONE_AT, _MINE)]
                builder.call(declare(module, _REVIEW_FN, _REVIEW_TYPE), [site, started, *noted, wide, ended])
            builder.store_atomic(ir.Constant(I32, 0), _state_field(builder, 0), "release", align=4)
        with alone:
            builder.call(task, [closure])


def _field(builder: ir.IRBuilder, struct: ir.Value, n: int) -> ir.Value:
    """Field ``n`` of the struct at ``struct`` (a closure, a site or the state: typed pointers)."""
    return builder.gep(struct, [ir.Constant(I32, 0), ir.Constant(I32, n)], inbounds=True)


def _clock(builder: ir.IRBuilder) -> ir.Value | None:
    """The CPU's time stamp counter (ticks at a constant rate) where the target has one a
    program may read: ``llvm.readcyclecounter`` is x86's ``rdtsc`` and AArch64's
    ``mrs CNTVCT_EL0``; None elsewhere (other targets lower it to a constant 0 or to a
    register user code may not read)."""
    arch = (builder.module.triple or "").split("-", 1)[0]
    if arch not in ("x86_64", "i386", "i686", "aarch64", "arm64"):
        return None
    return builder.call(declare(builder.module, "llvm.readcyclecounter", ir.FunctionType(I64, [])), [])


def _state_field(builder: ir.IRBuilder, n: int) -> ir.Value:
    state = builder.module.globals.get(PARALLEL_STATE_SYMBOL)
    if state is None:
        state = ir.GlobalVariable(builder.module, _STATE_TYPE, PARALLEL_STATE_SYMBOL)
    return _field(builder, state, n)


def _homes_table(module: ir.Module) -> ir.GlobalVariable:
    """The pooled launch's home counters (:data:`~.symbols.PARALLEL_HOMES`), declared in ``module``."""
    table = module.globals.get(PARALLEL_HOMES_SYMBOL)
    if table is None:
        table = ir.GlobalVariable(module, ir.ArrayType(I64, len(PARALLEL_HOMES)), PARALLEL_HOMES_SYMBOL)
    return table


def define_threads(module: ir.Module) -> None:
    """Define ``i32 @__mlc_parallel_threads(i64 extent, ptr site, i64 now)`` in ``module``
    (the support module, :mod:`.support`): the team size; > 1 means the pool is taken. 1
    when the extent or ``num_threads`` is 1, while ``now`` (the launch's counter reading,
    0 where the CPU has none) is in the serial period of the loop's ``site``, or while
    another launch holds the pool. The clock is the caller's: the rule depends on its
    arguments and the state alone, and a test gives it any time it likes."""
    fn = _support_function(module, _THREADS_FN, _THREADS_TYPE)
    extent, site, now = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    one = ir.Constant(I32, 1)
    want = b.sext(b.load_atomic(_state_field(b, 1), "monotonic", align=4, typ=I32), I64)
    most = ir.Constant(I64, MAX_THREADS)  # (the home table's lines, whatever the state says)
    want = b.select(b.icmp_signed("<", want, most), want, most)
    n = b.select(b.icmp_signed("<", extent, want), extent, want)
    try_block, lock, taken, alone = (fn.append_basic_block(x) for x in ("try", "lock", "taken", "alone"))
    b.cbranch(b.icmp_signed(">", n, ir.Constant(I64, 1)), try_block, alone)
    b.position_at_end(try_block)
    until = b.load_atomic(_field(b, site, _UNTIL), "monotonic", align=8, typ=I64)
    b.cbranch(b.icmp_signed("<", now, until), alone, lock)
    b.position_at_end(lock)
    swapped = b.cmpxchg(_state_field(b, 0), ir.Constant(I32, 0), one, "acquire", "monotonic")
    b.cbranch(b.extract_value(swapped, 1), taken, alone)
    b.position_at_end(taken)
    b.ret(b.trunc(n, I32))
    b.position_at_end(alone)
    b.ret(one)


def define_review(module: ir.Module) -> None:
    """Define ``void @__mlc_parallel_review(ptr site, i64 started, i64 began_at, i64 done_at,
    i64 mine, i64 total, i64 ended)``: after a pooled launch of the loop whose review state
    is ``site`` (``GOMP_parallel`` from ``started`` to ``ended``), start a serial period of
    that loop when the launch lost to the calling thread alone.

    The caller ran ``mine`` of the ``total`` iterations between ``began_at`` and
    ``done_at`` (its part of the task; waiting for the team to start or end is not in
    it), so alone it would have taken ``(done_at - began_at) * total / mine``; the launch
    lost where it took more than LOSS_RATIO times that (nothing is known when the caller ran
    none: the launch counts as lost, all of it). A loss of W ticks that
    makes the run of losses (``losing``, since ``since``) LOSSES_IN_A_ROW launches long
    and LOSING_TICKS old or MANY_LOSSES launches long sets ``serial_until`` to ``ended +
    min(SERIAL_AFTER_LOSS * 2**d * W, MAX_SERIAL_TICKS)``, ``d`` the periods the run
    started before (``periods``, at most MAX_DOUBLINGS), and starts a new run; a launch
    that paid ends the run and its periods.
    """
    fn = _support_function(module, _REVIEW_FN, _REVIEW_TYPE)
    site, started, began_at, done_at, mine, total, ended = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    weigh, paid, lost, pause_block, keep = (fn.append_basic_block(x)
                                            for x in ("weigh", "paid", "lost", "pause", "keep"))
    # no verdict when the counter went backwards (the threads read different CPUs' counters)
    ordered = b.and_(b.icmp_signed("<=", started, began_at),
                     b.and_(b.icmp_signed("<=", began_at, done_at), b.icmp_signed("<=", done_at, ended)))
    b.cbranch(ordered, weigh, keep)
    b.position_at_end(weigh)
    double = ir.DoubleType()
    own, whole = b.sitofp(b.sub(done_at, began_at), double), b.sitofp(b.sub(ended, started), double)
    ran = b.icmp_signed(">", mine, ir.Constant(I64, 0))
    alone_ticks = b.fdiv(b.fmul(own, b.sitofp(total, double)), b.sitofp(b.select(ran, mine, total), double))
    alone = b.select(ran, alone_ticks, ir.Constant(double, 0.0))
    loss = b.fsub(whole, alone)
    b.cbranch(b.fcmp_ordered(">", whole, b.fmul(alone, ir.Constant(double, LOSS_RATIO))), lost, paid)
    b.position_at_end(paid)
    zero = ir.Constant(I64, 0)
    for n in (_LOSING, _PERIODS):
        b.store_atomic(zero, _field(b, site, n), "monotonic", align=8)
    b.branch(keep)
    b.position_at_end(lost)
    losing_before = b.load_atomic(_field(b, site, _LOSING), "monotonic", align=8, typ=I64)
    since = b.select(b.icmp_signed("==", losing_before, zero), started,
                     b.load_atomic(_field(b, site, _SINCE), "monotonic", align=8, typ=I64))
    losing = b.add(losing_before, ir.Constant(I64, 1))
    b.store_atomic(since, _field(b, site, _SINCE), "monotonic", align=8)
    b.store_atomic(losing, _field(b, site, _LOSING), "monotonic", align=8)
    old = b.icmp_signed(">=", b.sub(ended, since), ir.Constant(I64, LOSING_TICKS))
    many = b.icmp_signed(">=", losing, ir.Constant(I64, MANY_LOSSES))
    stand_down = b.and_(b.icmp_signed(">=", losing, ir.Constant(I64, LOSSES_IN_A_ROW)), b.or_(old, many))
    b.cbranch(stand_down, pause_block, keep)
    b.position_at_end(pause_block)
    periods = b.load_atomic(_field(b, site, _PERIODS), "monotonic", align=8, typ=I64)
    doublings = b.select(b.icmp_signed("<", periods, ir.Constant(I64, MAX_DOUBLINGS)), periods,
                         ir.Constant(I64, MAX_DOUBLINGS))
    factor = b.uitofp(b.shl(ir.Constant(I64, SERIAL_AFTER_LOSS), doublings), double)
    pause = b.fmul(loss, factor)
    cap = ir.Constant(double, float(MAX_SERIAL_TICKS))
    pause = b.select(b.fcmp_ordered("<", pause, cap), pause, cap)
    b.store_atomic(b.add(ended, b.fptosi(pause, I64)), _field(b, site, _UNTIL), "monotonic", align=8)
    b.store_atomic(b.add(periods, ir.Constant(I64, 1)), _field(b, site, _PERIODS), "monotonic", align=8)
    b.store_atomic(zero, _field(b, site, _LOSING), "monotonic", align=8)  # a new run
    b.branch(keep)
    b.position_at_end(keep)
    b.ret_void()


def _support_function(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    fn = ir.Function(module, fnty, name=name)
    fn.attributes.add("nounwind")
    return fn


#: The support functions (:mod:`.support`) parallel launches call, and what defines each.
SUPPORT_FUNCTIONS = {_THREADS_FN: define_threads, _REVIEW_FN: define_review}


def _task_function(module: ir.Module, body: ir.Function, closure_type: ir.LiteralStructType,
                   index_type: ir.IntType) -> ir.Function:
    """``void @<body>.task(ptr closure)``: run chunks of the loop until none is left."""
    fn = ir.Function(module, ir.FunctionType(_VOID, [PTR]), name=f"{body.name}.task")
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    fn.attributes.add("noinline")  # one copy of the loop body: the serial path calls it too
    # The task is glue, run once per chunk: left unoptimised, it keeps LLVM from inlining
    # the body into it and optimising the loop nest a second time there (nearly doubling
    # the O3 time of softmax's kernel for the same run time: benchmarks/results/decisions.md).
    fn.attributes.add("optnone")
    closure, = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def field(n):
        return b.gep(closure, [ir.Constant(I32, 0), ir.Constant(I32, n)], inbounds=True,
                     source_etype=closure_type)
    begin, extent, pooled = (b.load(field(n), typ=closure_type.elements[n])
                             for n in (_BEGIN, _EXTENT, _POOLED))
    captured = [b.load(field(n), typ=t) for n, t in enumerate(closure_type.elements) if n >= _HEADER]
    mine = b.alloca(I64, name="mine")  # the iterations this thread ran
    b.store(ir.Constant(I64, 0), mine)
    total = b.sext(extent, I64) if index_type.width < 64 else extent
    # Called directly (not by GOMP_parallel), the task takes the whole range in one chunk,
    # without asking OpenMP (its thread might sit in some other OpenMP team).
    team = declare(module, "omp_get_num_threads", ir.FunctionType(I32, []))
    in_team = b.icmp_signed("!=", pooled, ir.Constant(I32, 0))
    # thread 0 of a team is the launching thread: it notes when it starts and runs out of
    # chunks, and how many iterations it ran, for the launch's review (define_review)
    thread = declare(module, "omp_get_thread_num", ir.FunctionType(I32, []))
    me = b.select(in_team, b.call(thread, []), ir.Constant(I32, 0))
    caller = b.select(in_team, b.icmp_signed("==", me, ir.Constant(I32, 0)), ir.Constant(ir.IntType(1), 0))
    start_note, begin_work = fn.append_basic_block("start_note"), fn.append_basic_block("begin_work")
    if placement.available():  # the other threads of a team keep off the launcher's CPU
        worker, place = fn.append_basic_block("worker"), fn.append_basic_block("place")
        b.cbranch(caller, start_note, worker)
        b.position_at_end(worker)
        b.cbranch(in_team, place, begin_work)
        b.position_at_end(place)
        b.call(placement.place_worker(module), [b.load(field(_CPU), typ=I32)])
        b.branch(begin_work)
    else:
        b.cbranch(caller, start_note, begin_work)
    b.position_at_end(start_note)
    now = _clock(b)
    if now is not None:
        b.store(now, field(_BEGAN_AT))
    b.branch(begin_work)
    b.position_at_end(begin_work)
    one = ir.Constant(I64, 1)
    size = b.select(in_team, b.sext(b.call(team, []), I64), one)  # T
    per_home = b.select(in_team, ir.Constant(I64, CHUNKS_PER_THREAD), one)
    homes = b.load(field(_HOMES), typ=PTR)
    visited = b.alloca(I64, name="visited")  # the homes this thread has emptied
    b.store(ir.Constant(I64, 0), visited)
    home = b.alloca(I64, name="home")  # the home it takes chunks from
    blocks = ("visit", "look", "grab", "take", "work", "next", "done", "note", "end")
    visit, look, grab, take, work, next_home, done, note, end = (fn.append_basic_block(x) for x in blocks)
    b.branch(visit)
    b.position_at_end(visit)  # home = (me + visited) % T, while visited < T
    n = b.load(visited, typ=I64)
    h = b.add(b.sext(me, I64), n)
    b.store(b.select(b.icmp_signed("<", h, size), h, b.sub(h, size)), home)
    b.cbranch(b.icmp_signed("<", n, size), look, done)

    def counter():  # the current home's counter
        return b.gep(homes, [b.mul(b.load(home, typ=I64), ir.Constant(I64, HOME_BYTES // 8))],
                     inbounds=True, source_etype=I64)
    b.position_at_end(look)  # another thread's home: a plain look first, whether it is empty
    seen = b.load_atomic(counter(), "monotonic", align=8, typ=I64)
    b.cbranch(b.or_(b.icmp_signed("==", n, ir.Constant(I64, 0)),
                    b.icmp_signed("<", seen, per_home)), grab, next_home)
    b.position_at_end(grab)
    taken = b.atomic_rmw("add", counter(), one, "monotonic")
    b.cbranch(b.icmp_signed("<", taken, per_home), take, next_home)
    b.position_at_end(take)  # home h: iterations [h * total / T, (h + 1) * total / T)
    h = b.load(home, typ=I64)
    home_lo = b.sdiv(b.mul(h, total), size)
    home_hi = b.sdiv(b.mul(b.add(h, one), total), size)
    chunk = b.sdiv(b.add(b.sub(home_hi, home_lo), b.sub(per_home, one)), per_home)
    lo = b.add(home_lo, b.mul(taken, chunk))
    b.cbranch(b.icmp_signed("<", lo, home_hi), work, next_home)
    b.position_at_end(next_home)
    b.store(b.add(b.load(visited, typ=I64), one), visited)
    b.branch(visit)
    b.position_at_end(work)
    hi = _min(b, b.add(lo, chunk), home_hi)
    count, start = b.sub(hi, lo), lo
    b.store(b.add(b.load(mine, typ=I64), count), mine)
    if index_type.width < 64:
        count, start = b.trunc(count, index_type), b.trunc(start, index_type)
    b.call(body, [*captured, b.add(begin, start), count])
    b.branch(grab)
    b.position_at_end(done)
    b.cbranch(caller, note, end)
    b.position_at_end(note)
    now = _clock(b)
    if now is not None:
        b.store(now, field(_DONE_AT))
        b.store(b.load(mine, typ=I64), field(_MINE))
    b.branch(end)
    b.position_at_end(end)
    b.ret_void()
    return fn


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)
