"""The external symbols JIT-compiled kernels may use, registered explicitly.

MCJIT would otherwise look unknown names up in the whole process (and crash
on a name it cannot find). Instead mlc registers the addresses of the
functions it knows kernels can need — libm functions the math intrinsics
lower to, ``malloc``/``free`` (and ``madvise``, for huge pages), the ``mem*``
functions loop idioms become, the half-precision conversions of libgcc,
libgomp's entry points for parallel loops and the C library's CPU placement
functions,
:data:`PARALLEL_STATE` (mlc's process-wide thread-pool state, see
:mod:`.parallel`) and :data:`PARALLEL_HOMES` (the pooled launch's home counters),
:data:`PLACEMENT_KEY` (where team threads keep, see
:mod:`.placement`) and ``mlc_graph_callback`` (graph programs' library
calls, see :mod:`mlc.runtime.callbacks`) — and checks every object
file before loading it (:mod:`.elf` lists its symbols): an undefined symbol
outside this list is a CompileError.
"""
from __future__ import annotations

import ctypes
import os
from functools import lru_cache

import llvmlite.binding as llvm

from ...config import MAX_THREADS
from ...runtime.callbacks import CALLBACK, CALLBACK_SYMBOL
from .complex import LIBM_COMPLEX_CALLS
from .intrinsics import LIBM_CALLS

__all__ = ["register_symbols", "RUNTIME_SYMBOLS", "OPENMP_SYMBOLS", "AFFINITY_SYMBOLS",
           "PARALLEL_STATE", "PARALLEL_STATE_SYMBOL", "ParallelState", "GOMP_SPIN_COUNT",
           "HOME_BYTES", "PARALLEL_HOMES", "PARALLEL_HOMES_SYMBOL",
           "PLACEMENT_KEY", "PLACEMENT_KEY_SYMBOL"]

#: libm functions LLVM itself may call (what its intrinsics and loop idioms become); the
#: libm functions math calls lower to are :data:`.intrinsics.LIBM_CALLS`.
_LIBM_BASE = ("exp", "exp2", "exp10", "expm1", "log", "log2", "log10", "log1p", "pow", "sqrt",
              "sin", "cos", "tan", "sincos", "tanh", "erf", "fmod", "floor", "ceil", "trunc",
              "round", "roundeven", "rint", "nearbyint", "fmin", "fmax", "fma", "ldexp", "frexp",
              "copysign", "fabs")
_LIBM = tuple(dict.fromkeys([*(n for base in _LIBM_BASE for n in (base, base + "f")),
                             *(n for names in LIBM_CALLS.values() for n in names),
                             *(n for names in LIBM_COMPLEX_CALLS.values() for n in names)]))

#: library -> names looked up in it.
RUNTIME_SYMBOLS: dict[str, tuple[str, ...]] = {
    "m": _LIBM,
    "c": ("malloc", "calloc", "free", "memset", "memcpy", "memmove", "madvise",
          "sched_getcpu", "sched_getaffinity", "sched_setaffinity"),
    "pthread": ("pthread_getspecific", "pthread_setspecific"),
    "gcc_s": ("__truncdfhf2", "__truncsfhf2", "__extendhfsf2"),
    "gomp": ("GOMP_parallel", "omp_get_num_threads", "omp_get_thread_num"),
}

#: The libgomp functions parallel loops need (all of them, or loops run serially).
OPENMP_SYMBOLS = frozenset(RUNTIME_SYMBOLS["gomp"])


class ParallelState(ctypes.Structure):
    """``{i32 busy; i32 num_threads; i64 pooled}``: which launch holds the thread pool, its
    size, and how many launches have run on the pool (see :mod:`.parallel`)."""
    _fields_ = [("busy", ctypes.c_int32), ("num_threads", ctypes.c_int32), ("pooled", ctypes.c_int64)]


#: The one process-wide instance kernels read and update (atomically).
PARALLEL_STATE = ParallelState(0, 1, 0)
PARALLEL_STATE_SYMBOL = "mlc_parallel_state"

#: The bytes of one thread's home counter (see :mod:`.parallel`): a cache line, so that the
#: threads' counters never share one.
HOME_BYTES = 64
#: The home counters of the team of the launch that holds the pool (one launch at a time
#: does), a line each for MAX_THREADS threads (64 KiB): static, so that a launch reserves
#: nothing on its caller's stack however large its team (teams of 16,384 threads overflowed
#: a thread's stack of 512 KiB when each launch put its counters there).
PARALLEL_HOMES = (ctypes.c_int64 * (MAX_THREADS * HOME_BYTES // 8))()
PARALLEL_HOMES_SYMBOL = "mlc_parallel_homes"

#: The ``pthread_key_t`` under which each worker thread keeps the CPU its affinity mask leaves
#: out, plus one (no value, 0: none); created when the symbols are registered.
PLACEMENT_KEY = ctypes.c_uint(0)
PLACEMENT_KEY_SYMBOL = "mlc_parallel_placement_key"
#: What keeps the threads of a parallel launch on different CPUs (:mod:`.placement`): the C
#: library's CPU placement functions (Linux), thread-specific values and the key of the one
#: each thread keeps.
AFFINITY_SYMBOLS = frozenset((*RUNTIME_SYMBOLS["pthread"], "sched_getcpu", "sched_getaffinity",
                              "sched_setaffinity", PLACEMENT_KEY_SYMBOL))


@lru_cache(maxsize=1)
def register_symbols() -> frozenset[str]:
    """Register every available runtime symbol with LLVM (once); return their names."""
    found = set()
    for lib_name, names in RUNTIME_SYMBOLS.items():
        lib = _load_library(lib_name)
        if lib is None:
            continue
        for name in names:
            try:
                fn = getattr(lib, name)
            except AttributeError:
                continue  # not in this libc/libm version; kernels needing it fail to compile
            llvm.add_symbol(name, ctypes.cast(fn, ctypes.c_void_p).value)
            found.add(name)
    for name, value in ((PARALLEL_STATE_SYMBOL, PARALLEL_STATE), (PARALLEL_HOMES_SYMBOL, PARALLEL_HOMES)):
        llvm.add_symbol(name, ctypes.addressof(value))
        found.add(name)
    if _create_placement_key():
        llvm.add_symbol(PLACEMENT_KEY_SYMBOL, ctypes.addressof(PLACEMENT_KEY))
        found.add(PLACEMENT_KEY_SYMBOL)
    llvm.add_symbol(CALLBACK_SYMBOL, ctypes.cast(CALLBACK, ctypes.c_void_p).value)
    found.add(CALLBACK_SYMBOL)
    return frozenset(found)


def _create_placement_key() -> bool:
    """Create :data:`PLACEMENT_KEY` (no destructor: the values are integers)."""
    lib = _load_library("pthread")
    try:
        return lib is not None and lib.pthread_key_create(ctypes.byref(PLACEMENT_KEY), None) == 0
    except AttributeError:
        return False


#: libgomp's threads spin this many rounds waiting for work (or for the team, at the end of
#: a parallel region) before they sleep, unless the user set GOMP_SPINCOUNT or
#: OMP_WAIT_POLICY. libgomp's own default (300,000 rounds, milliseconds) makes a core
#: shared with another busy process a disaster: a waiting thread spins through its time
#: slice while the thread it waits for is preempted, and a parallel loop takes ten times
#: its serial time. Ten thousand rounds (a hundred microseconds to half a millisecond; see
#: :mod:`.placement`) cover the gap between the parallel loops of one call and between
#: back-to-back calls, and cost nothing measurable beside a busy process; at 1,000 rounds
#: the workers slept between calls, and calls after an idle pause ran slower
#: (benchmarks/results/decisions.md, "LLVM backend").
GOMP_SPIN_COUNT = 10000


def _set_gomp_wait_policy() -> None:
    """Default GOMP_SPINCOUNT to GOMP_SPIN_COUNT; libgomp reads it once, when it loads
    (so this is too late if another library of the process loaded libgomp first)."""
    if "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = str(GOMP_SPIN_COUNT)


#: The usual sonames on Linux, tried before ``ctypes.util.find_library`` (which runs
#: ``ldconfig`` in a subprocess per library).
_SONAMES = {"m": "libm.so.6", "c": "libc.so.6", "gcc_s": "libgcc_s.so.1", "gomp": "libgomp.so.1",
            "pthread": "libpthread.so.0"}


def _load_library(lib_name: str) -> ctypes.CDLL | None:
    if lib_name == "gomp":
        _set_gomp_wait_policy()
    try:
        return ctypes.CDLL(_SONAMES[lib_name])
    except (KeyError, OSError):
        pass
    from ctypes.util import find_library  # runs ldconfig: only when the usual soname fails
    path = find_library(lib_name)
    try:
        return ctypes.CDLL(path) if path else None
    except OSError:
        return None
