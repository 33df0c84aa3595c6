"""The threads of a parallel launch keep to different CPUs (mlc/backends/llvm/placement.py).

The generated placement functions run here on Python threads (``os.sched_getaffinity(0)``
is the calling thread's mask): a worker leaves its launcher's CPU out of its mask and
takes it back when the launcher moves; a mask of one CPU and an unknown CPU change
nothing; a launcher the kernel moved goes back with its mask unchanged. Then a real
pooled launch leaves its worker off the launcher's CPU.
"""
import ctypes
import os
import threading

import numpy as np
import pytest
from llvmlite import ir

from mlc.backends.llvm import jit, parallel, placement
from mlc.backends.llvm.symbols import PARALLEL_STATE, PLACEMENT_KEY
from mlc.backends.llvm.types import I32
from mlc.config import override
from mlc.target import Target

from .test_llvm_parallel import long_kernel

pytestmark = [pytest.mark.skipif(not (hasattr(os, "sched_setaffinity") and placement.available()),
                                 reason="needs Linux CPU affinity (sched_getcpu, sched_setaffinity)"),
              pytest.mark.cores]  # where the threads run: two idle cores (tests/conftest.py)

_ALLOWED = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
needs_two_cpus = pytest.mark.skipif(len(_ALLOWED) < 2, reason="needs two CPUs to move between")
_LIBC = ctypes.CDLL(None)
_LIBC.pthread_getspecific.restype = ctypes.c_void_p


def _getcpu() -> int:
    return _LIBC.sched_getcpu()


def _left_out() -> int:
    """The CPU the calling thread's mask leaves out by placement (-1: none)."""
    return (_LIBC.pthread_getspecific(PLACEMENT_KEY) or 0) - 1


_FUNCTIONS = {}


def _placement_functions():
    """ctypes callables of ``place_worker(cpu)`` and ``place_launcher(cpu)``, which call the
    support module's placement functions (:mod:`mlc.backends.llvm.support`)."""
    if not _FUNCTIONS:
        target = Target.from_str("llvm")
        module = ir.Module("placement_test")
        module.triple, module.data_layout = jit.target_layout(target)
        for name, inner, args in (("place_worker", placement.place_worker, [I32]),
                                  ("place_launcher", placement.place_launcher, [I32])):
            fn = ir.Function(module, ir.FunctionType(ir.VoidType(), args), name=name)
            b = ir.IRBuilder(fn.append_basic_block("entry"))
            b.call(inner(module), list(fn.args))
            b.ret_void()
        compiled = jit.compile_ir(str(module), target, ["place_worker", "place_launcher"])
        _FUNCTIONS["module"] = compiled  # (keeps the engine, and the code, alive)
        _FUNCTIONS["place_worker"] = ctypes.CFUNCTYPE(None, ctypes.c_int32)(
            compiled.address("place_worker"))
        _FUNCTIONS["place_launcher"] = ctypes.CFUNCTYPE(None, ctypes.c_int32)(compiled.address("place_launcher"))
    return _FUNCTIONS["place_worker"], _FUNCTIONS["place_launcher"]


def _on_a_thread(fn):
    """Run ``fn()`` on a new Python thread (whose affinity it may change); return its result."""
    result, errors = [], []

    def run():
        try:
            result.append(fn())
        except BaseException as err:  # reported by the caller
            errors.append(err)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return result[0]


@needs_two_cpus
def test_a_worker_leaves_the_launchers_cpu_and_takes_it_back_when_the_launcher_moves():
    place_worker, _ = _placement_functions()
    first, second = _ALLOWED[0], _ALLOWED[1]

    def steps():
        seen = []
        os.sched_setaffinity(0, {first})  # the worker sits on the launcher's CPU
        os.sched_setaffinity(0, _ALLOWED)
        place_worker(first)
        seen.append((os.sched_getaffinity(0), _getcpu(), _left_out()))
        place_worker(second)  # the launcher moved
        seen.append((os.sched_getaffinity(0), _getcpu(), _left_out()))
        place_worker(second)  # and stayed: nothing changes
        seen.append((os.sched_getaffinity(0), _getcpu(), _left_out()))
        return seen
    (mask1, cpu1, left1), (mask2, cpu2, left2), (mask3, _, left3) = _on_a_thread(steps)
    assert mask1 == set(_ALLOWED) - {first} and cpu1 != first and left1 == first
    assert mask2 == set(_ALLOWED) - {second} and cpu2 != second and left2 == second
    assert mask3 == mask2 and left3 == second


def test_a_worker_whose_only_cpu_is_the_launchers_stays():
    place_worker, _ = _placement_functions()
    only = _ALLOWED[0]

    def steps():
        os.sched_setaffinity(0, {only})
        place_worker(only)
        return os.sched_getaffinity(0), _getcpu(), _left_out()
    assert _on_a_thread(steps) == ({only}, only, -1)  # nothing left out: the next launch tries again


@pytest.mark.parametrize("cpu", [-1, -2, 64 * placement.MASK_WORDS])
def test_an_unknown_cpu_changes_nothing(cpu):
    place_worker, _ = _placement_functions()

    def steps():
        before = os.sched_getaffinity(0)
        place_worker(cpu)
        return before, os.sched_getaffinity(0), _left_out()
    before, after, left_out = _on_a_thread(steps)
    assert before == after and left_out == -1


@needs_two_cpus
def test_a_launcher_the_kernel_moved_goes_back_with_its_mask_unchanged():
    _, place_launcher = _placement_functions()
    home, elsewhere = _ALLOWED[0], _ALLOWED[1]

    def steps():
        os.sched_setaffinity(0, {elsewhere})  # as if the kernel had moved it
        os.sched_setaffinity(0, _ALLOWED)
        moved_to = _getcpu()
        place_launcher(home)
        return moved_to, _getcpu(), os.sched_getaffinity(0)
    # The scheduler may move the thread again between widening its mask and reading its CPU,
    # and between restoring its mask and reading where it went (other work on the host): the
    # tries where the precondition held are judged together, the mask every time, the CPU by
    # most of them (a launcher left where the kernel moved it stays there: none would land).
    landed = []
    for _ in range(40):
        moved_to, now, mask = _on_a_thread(steps)
        if moved_to == elsewhere:
            assert mask == set(_ALLOWED)
            landed.append(now)
            if len(landed) == 5:
                break
    assert len(landed) == 5, "the kernel's move could not be staged: the thread never stayed on the other CPU"
    assert landed.count(home) >= 4, f"CPUs the launcher ran on after going back to CPU {home}: {landed}"


def test_a_launcher_where_it_started_stays_put():
    _, place_launcher = _placement_functions()

    def steps():
        here = _ALLOWED[-1]
        os.sched_setaffinity(0, {here})
        place_launcher(here)
        return os.sched_getaffinity(0), _getcpu()
    assert _on_a_thread(steps) == ({_ALLOWED[-1]}, _ALLOWED[-1])


def _thread_masks() -> dict[int, set[int]]:
    masks = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            masks[int(tid)] = os.sched_getaffinity(int(tid))
        except OSError:  # the thread ended meanwhile
            pass
    return masks


@needs_two_cpus
@pytest.mark.skipif(not parallel.openmp_available(), reason="libgomp is not available")
def test_a_pooled_launch_keeps_its_worker_off_the_launchers_cpu():
    """After launches on a team of two, a thread of the process other than the launcher
    (the team's worker) may run on every CPU of the process but one; the launcher's own
    mask is as it was."""
    fn, a, want = long_kernel(1 << 18)
    out = np.empty_like(a)
    with override(num_threads=2):
        pooled = PARALLEL_STATE.pooled
        for _ in range(3):
            fn(a, out)
        np.testing.assert_array_equal(out, want)
        assert PARALLEL_STATE.pooled > pooled
    masks = _thread_masks()
    me = threading.get_native_id()
    placed = [tid for tid, mask in masks.items()
              if tid != me and len(mask) == len(_ALLOWED) - 1 and mask < set(_ALLOWED)]
    assert placed
    assert masks[me] == set(_ALLOWED)
