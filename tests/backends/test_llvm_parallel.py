"""Parallel loops of the llvm backend on libgomp's thread pool.

Parallel results equal serial ones (random programs, ragged extents, loops
nested in serial and parallel loops, per-thread scratch buffers); calls from
several Python threads are right, release the GIL and never oversubscribe;
MLC_NUM_THREADS sets the team size; a launch is reviewed, and a loop in its
serial period runs on the calling thread (the review's rules are tested with
made-up times in test_llvm_launch_review.py); without libgomp loops run serially
with one warning.
"""
import ctypes
import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from llvmlite import ir

import mlc
from mlc import te
from mlc.backends.llvm import jit, parallel
from mlc.backends.llvm.loops import emit_loop
from mlc.backends.llvm.module import generate_ir
from mlc.backends.llvm.symbols import PARALLEL_STATE
from mlc.backends.llvm.types import I32, PTR
from mlc.config import config, override
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Var, const
from mlc.ir.tir import Allocate, BufferStore, For, PrimFunc, seq
from mlc.passes.tir import lower
from mlc.target import Target
from tests.targets import AVX2

from ..test_random_programs import assert_close, build_te, programs, random_inputs
from .test_llvm_launch_review import Site

pytestmark = [pytest.mark.skipif(not parallel.openmp_available(), reason="libgomp is not available"),
              pytest.mark.cores]  # which thread runs what: two idle cores (tests/conftest.py)

TARGET = AVX2  # the IR as generated, before any CPU-specific optimisation


def parallel_outer_loops(func, names):
    """``func`` with the outermost loop of every block in ``names`` parallel where legal."""
    sch = mlc.Schedule(mlc.IRModule({"main": func}))
    for name in names:
        try:
            sch.parallel(sch.get_loops(sch.get_block(name))[0])
        except mlc.ScheduleError:
            pass  # a stage no output needs, or a loop that must stay serial
    return sch.mod["main"]


def gomp_launches(func) -> int:
    return generate_ir({"f": lower(func)}, TARGET).count('call void @"GOMP_parallel"')


def elementwise_2d(n, m, fn=lambda x: x * 2 + 1):
    A = te.placeholder((n, m), "float32", "A")
    B = te.compute((n, m), lambda i, j: fn(A[i, j]), "B")
    return te.create_prim_func([A, B])


# ----------------------------------------------------------- parallel == serial

@settings(max_examples=25)
@given(programs(), st.integers(0, 2**32 - 1))
def test_parallel_equals_serial_on_random_programs(program, seed):
    dtype, shape, n_inputs, stages, outputs = program
    func = build_te(dtype, shape, n_inputs, stages, outputs)
    par = parallel_outer_loops(func, [f"S{s}" for s in range(len(stages))])
    lib = mlc.build(mlc.IRModule({"serial": func, "parallel": par}), "llvm")
    inputs = random_inputs(np.random.default_rng(seed), dtype, shape, n_inputs)
    results = {}
    for name in ("serial", "parallel"):
        outs = [np.zeros(shape, dtype) for _ in outputs]
        with np.errstate(all="ignore"):
            lib[name](*inputs, *outs)
        results[name] = outs
    exact = not any(s[0] == "reduce" and s[1] == "sum" for s in stages)  # sums may reassociate
    for got, want in zip(results["parallel"], results["serial"]):
        if exact:
            np.testing.assert_array_equal(got, want)
        else:
            assert_close(got, want, dtype, "parallel vs serial")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 1001])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_ragged_extents_split_into_chunks(n, threads):
    func = parallel_outer_loops(elementwise_2d(n, 5), ["B"])
    assert gomp_launches(func) == (n > 1)  # loops of 0 or 1 iterations are simplified away
    lib = mlc.build(mlc.IRModule({"f": func}), "llvm")
    a = np.random.default_rng(n).standard_normal((n, 5)).astype("float32")
    b = np.full((n, 5), np.nan, "float32")
    with override(num_threads=threads):
        lib["f"](a, b)
    np.testing.assert_array_equal(b, a * 2 + 1)


def test_a_launch_reserves_no_stack_for_its_team():
    """The home counters of a pooled launch's team are a static table (the pool has one
    holder at a time), a launch alone has one line in the kernel's entry block: no alloca
    sized by the team (a launch kept 64 bytes a thread on its caller's stack, and a team of
    16,384 threads overflowed a thread's stack of 512 KiB)."""
    text = generate_ir({"f": lower(parallel_outer_loops(elementwise_2d(64, 64), ["B"]))}, TARGET)
    allocas = re.findall(r"= alloca ([^\n]*)", text)
    assert allocas and not [a for a in allocas if re.search(r"^[^,]+, i(32|64) %", a)]
    assert "llvm.stacksave" not in text and '@"mlc_parallel_homes"' in text


def test_parallel_loop_inside_a_serial_loop_captures_the_outer_index():
    n, m = 6, 50
    A = te.placeholder((n, m), "int64", "A")
    B = te.compute((n, m), lambda i, j: A[i, j] * 10 + i.astype("int64"), "B")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    i, j = sch.get_loops(sch.get_block("B"))
    sch.parallel(j)
    lib = mlc.build(sch.mod, "llvm")
    a = np.arange(n * m, dtype="int64").reshape(n, m)
    b = np.zeros_like(a)
    lib["main"](a, b)
    np.testing.assert_array_equal(b, a * 10 + np.arange(n)[:, None])


def _definition(ir_text: str, name: str) -> str:
    return next(line for line in ir_text.splitlines() if line.startswith("define") and f'@"{name}"' in line)


def test_glue_is_left_unoptimised_and_loops_are_not():
    """The task (chunk taking) and a kernel that only launches its loop are ``optnone``; the
    loop body, and a kernel with a serial loop of its own, are optimised."""
    only = parallel_outer_loops(elementwise_2d(33, 40), ["B"])
    text = generate_ir({"f": lower(only)}, TARGET)
    assert "optnone" in _definition(text, "f")
    assert "optnone" in _definition(text, "__mlc_par.f.task")
    assert "optnone" not in _definition(text, "__mlc_par.f")
    sch = mlc.Schedule(mlc.IRModule({"main": elementwise_2d(33, 40)}))
    i, j = sch.get_loops(sch.get_block("B"))
    sch.parallel(j)  # a serial loop around the launch: the kernel's own code
    text = generate_ir({"f": lower(sch.mod["main"])}, TARGET)
    assert "optnone" not in _definition(text, "f") and "optnone" in _definition(text, "__mlc_par.f.task")


def test_nested_parallel_loops_run_serially_inside_the_outer_one():
    func = elementwise_2d(33, 40)
    sch = mlc.Schedule(mlc.IRModule({"main": func}))
    i, j = sch.get_loops(sch.get_block("B"))
    sch.parallel(i)
    sch.parallel(j)
    assert gomp_launches(sch.mod["main"]) == 1
    lib = mlc.build(sch.mod, "llvm")
    a = np.random.default_rng(1).standard_normal((33, 40)).astype("float32")
    b = np.empty_like(a)
    lib["main"](a, b)
    np.testing.assert_array_equal(b, a * 2 + 1)


@pytest.mark.parametrize("scratch", [16, 20_000])  # stack (alloca) and heap (malloc) scratch
def test_buffers_allocated_in_a_parallel_body_are_per_thread(scratch):
    """Each iteration fills a scratch buffer and reads it back reversed: shared
    scratch would mix rows of different threads."""
    n = 64
    A, B = decl_buffer((n * scratch,), "float32", "A"), decl_buffer((n * scratch,), "float32", "B")
    tmp = decl_buffer((scratch,), "float32", "tmp")
    i, j, k = Var("i"), Var("j"), Var("k")
    body = Allocate(tmp, seq(
        For(j, const(0), const(scratch), "serial",
            BufferStore(tmp, BufferLoad(A, (i * scratch + j,), "float32") * 3.0, (j,))),
        For(k, const(0), const(scratch), "serial",
            BufferStore(B, BufferLoad(tmp, (const(scratch - 1) - k,), "float32"), (i * scratch + k,))),
    ))
    func = PrimFunc((A, B), For(i, const(0), const(n), "parallel", body))
    text = generate_ir({"f": lower(func)}, TARGET)
    body_fn = text[text.index('define internal void @"__mlc_par.f"'):]
    assert ("alloca float" if scratch == 16 else '@"__mlc_malloc"') in body_fn.split("\n}")[0]
    lib = mlc.build(mlc.IRModule({"f": func}), "llvm")
    a = np.random.default_rng(2).standard_normal(n * scratch).astype("float32")
    b = np.empty_like(a)
    with override(num_threads=2):
        for _ in range(3):
            lib["f"](a, b)
            np.testing.assert_array_equal(b, (a * 3).reshape(n, scratch)[:, ::-1].reshape(-1))


# ------------------------------------------------------------- Python threads

def long_module(n=1 << 21):
    """A module whose parallel kernel ``f`` takes milliseconds, an input and its result."""
    func = parallel_outer_loops(elementwise_2d(n // 256, 256, lambda x: te.sqrt(te.abs(x)) * 0.5 + x),
                                ["B"])
    lib = mlc.build(mlc.IRModule({"f": func}), "llvm")
    a = np.random.default_rng(3).standard_normal((n // 256, 256)).astype("float32")
    return lib, a, np.sqrt(np.abs(a)) * np.float32(0.5) + a


def long_kernel(n=1 << 21):
    """A parallel kernel taking tens of milliseconds, and its expected result."""
    lib, a, want = long_module(n)
    return lib["f"], a, want


def test_concurrent_calls_from_four_python_threads_are_right():
    fn, a, want = long_kernel(1 << 18)
    errors, barrier = [], threading.Barrier(4)

    def worker(seed):
        x = np.random.default_rng(seed).standard_normal(a.shape).astype("float32")
        expect = np.sqrt(np.abs(x)) * np.float32(0.5) + x
        out = np.empty_like(x)
        barrier.wait()
        for _ in range(20):
            fn(x, out)
            if not np.array_equal(out, expect):
                errors.append(seed)
    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert PARALLEL_STATE.busy == 0  # every launch that took the pool gave it back


def test_calls_release_the_gil():
    """The main thread keeps running Python code while a worker thread is inside a kernel."""
    fn, a, want = long_kernel()
    out = np.empty_like(a)
    fn(a, out)  # warm up the pool
    span = []

    def worker():  # calls spanning several scheduler time slices: a loaded machine may
        start = time.perf_counter()  # preempt the main thread for one of them
        for _ in range(40):
            fn(a, out)
        span.extend([start, time.perf_counter()])
    t = threading.Thread(target=worker)
    ticks = []
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
    t.join()
    start, end = span
    middle = [x for x in ticks if start + 0.2 * (end - start) < x < end - 0.2 * (end - start)]
    assert len(middle) > 100, "the main thread was blocked while the kernel ran"
    np.testing.assert_array_equal(out, want)


def test_a_launch_while_the_pool_is_taken_runs_on_its_own_thread():
    fn, a, want = long_kernel(1 << 16)
    out = np.empty_like(a)
    PARALLEL_STATE.busy = 1  # as if another Python thread's launch held the pool
    try:
        fn(a, out)
        assert PARALLEL_STATE.busy == 1  # it did not take (and so did not free) the pool
    finally:
        PARALLEL_STATE.busy = 0
    np.testing.assert_array_equal(out, want)
    fn(a, out)
    assert PARALLEL_STATE.busy == 0


def test_each_call_uses_the_configured_thread_count():
    fn, a, want = long_kernel(1 << 12)
    out = np.empty_like(a)
    with override(num_threads=3):
        fn(a, out)
        assert PARALLEL_STATE.num_threads == 3
    with override(num_threads=1):
        fn(a, out)
        assert PARALLEL_STATE.num_threads == 1
    np.testing.assert_array_equal(out, want)


_COUNT_THREADS = textwrap.dedent("""
    import os, numpy as np, mlc
    from mlc import te
    A = te.placeholder((64, 64), "float32", "A")
    B = te.compute((64, 64), lambda i, j: A[i, j] + 1, "B")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    sch.parallel(sch.get_loops(sch.get_block("B"))[0])
    lib = mlc.build(sch.mod, "llvm")
    a = np.ones((64, 64), "float32"); b = np.empty_like(a)
    before = len(os.listdir("/proc/self/task"))
    lib["main"](a, b)
    assert (b == 2).all()
    print(len(os.listdir("/proc/self/task")) - before)
""")


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
@pytest.mark.parametrize("threads", ["1", "3"])
def test_mlc_num_threads_sets_the_team_size(threads):
    """libgomp starts ``MLC_NUM_THREADS - 1`` worker threads for the first launch."""
    env = dict(os.environ, MLC_NUM_THREADS=threads)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", _COUNT_THREADS], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) == int(threads) - 1


_AFFINITY = textwrap.dedent("""
    import os
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from mlc.config import config
    print(config().num_threads)
""")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_the_default_team_has_the_cores_the_process_may_run_on():
    """A process confined to one core (taskset, a container's cpuset) starts no worker
    threads to wait for it, however many cores the machine has."""
    env = {k: v for k, v in os.environ.items() if k != "MLC_NUM_THREADS"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", _AFFINITY], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_fork_child_runs_parallel_loops_serially_instead_of_hanging():
    """libgomp's workers do not survive fork: the child must not wait for them."""
    fn, a, want = long_kernel(1 << 14)
    out = np.empty_like(a)
    fn(a, out)  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # the child: exit 0 when right; the parent's timeout catches a hang
        try:
            fn(a, out)
            os._exit(0 if np.array_equal(out, want) and PARALLEL_STATE.num_threads == 1 else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the fork child hung in its parallel loop")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status) == 0
    fn(a, out)  # the parent still uses its pool
    np.testing.assert_array_equal(out, want)


# ------------------------------------------- teams that cost more than they save

def sites(lib) -> list[Site]:
    """The review state of each parallel loop of built module ``lib``, in program order."""
    compiled = lib._keepalive[0]
    names = re.findall(r'^@"?(__mlc_par\.[^"\s]*\.site(?:\.\d+)?)"? = ', lib.get_source("ll"), re.M)
    return [Site.from_address(compiled.global_address(name)) for name in names]


def tiny_kernel():
    """A parallel loop of a few cheap iterations: starting a team costs far more."""
    func = parallel_outer_loops(elementwise_2d(4, 8), ["B"])
    lib = mlc.build(mlc.IRModule({"f": func}), "llvm")
    a = np.arange(32, dtype="float32").reshape(4, 8)
    return lib, a, a * 2 + 1


def test_a_pooled_launch_is_reviewed():
    """A real launch hands its times to the review (whose rules
    ``test_llvm_launch_review.py`` drives with made-up ones): a run of three losses, planted
    young, is one longer after a launch that lost and over after one that paid."""
    lib, a, want = tiny_kernel()
    site, = sites(lib)
    out = np.empty_like(a)
    with override(num_threads=2):
        for _ in range(20):  # (no verdict where the counter seemed to go backwards: try again)
            site.serial_until, site.losing, site.since, site.periods = 0, 3, 1 << 62, 0
            before = PARALLEL_STATE.pooled
            lib["f"](a, out)
            assert PARALLEL_STATE.pooled == before + 1
            if site.losing != 3:
                break
        assert site.losing in (0, 4) and site.serial_until == 0
    np.testing.assert_array_equal(out, want)


def test_a_loop_in_its_serial_period_runs_on_the_calling_thread():
    lib, a, want = long_module(1 << 16)
    fn, (site,) = lib["f"], sites(lib)
    out = np.empty_like(a)
    with override(num_threads=2):
        site.serial_until = 1 << 62  # (counter ticks: decades from now)
        before = PARALLEL_STATE.pooled
        fn(a, out)
        assert PARALLEL_STATE.pooled == before
        np.testing.assert_array_equal(out, want)
        site.serial_until = 0  # the period is over: the next launch tries the team
        out[:] = 0
        fn(a, out)
        assert PARALLEL_STATE.pooled == before + 1
    np.testing.assert_array_equal(out, want)


def test_a_loop_that_loses_leaves_the_other_loops_on_the_pool():
    """One kernel's tiny loop in its serial period, the large loop of a kernel called
    right after it still runs on the pool."""
    tiny, a, _ = tiny_kernel()
    fn, x, want = long_kernel(1 << 16)
    site, = sites(tiny)
    out, y = np.empty_like(a), np.empty_like(x)
    with override(num_threads=2):
        site.serial_until = 1 << 62
        before = PARALLEL_STATE.pooled
        tiny["f"](a, out)
        fn(x, y)
        assert PARALLEL_STATE.pooled == before + 1
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_te_mm_relu_is_right_at_every_thread_count(threads):
    from examples.ch2_tensor_program_transformations import mm_relu_module
    with override(num_threads=threads):
        lib = mlc.build(mm_relu_module(96), "llvm")  # scheduled for this many threads
        rng = np.random.default_rng(threads)
        a, b = (rng.standard_normal((96, 96)).astype("float32") for _ in range(2))
        c = np.full((96, 96), np.nan, "float32")
        before = PARALLEL_STATE.pooled
        lib["mm_relu"](a, b, c)
        assert PARALLEL_STATE.pooled == before + (threads > 1)
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("triple, counter", [("x86_64-unknown-linux-gnu", "llvm.readcyclecounter"),
                                             ("aarch64-unknown-linux-gnu", "llvm.readcyclecounter"),
                                             ("riscv64-unknown-linux-gnu", None)])
def test_launches_are_reviewed_where_the_cpu_has_a_counter(monkeypatch, triple, counter):
    """x86's rdtsc and AArch64's cntvct (both ``llvm.readcyclecounter``) time the launches;
    elsewhere every launch of more than one thread takes the pool, unreviewed."""
    from mlc.backends.llvm import generate
    monkeypatch.setattr(generate, "target_layout", lambda target: (triple, ""))
    text = generate_ir({"f": lower(parallel_outer_loops(elementwise_2d(64, 64), ["B"]))}, TARGET)
    assert 'call void @"GOMP_parallel"' in text
    if counter is None:
        assert "counter" not in text and "__mlc_parallel_review" not in text
    else:
        assert f'call i64 @"{counter}"()' in text and 'call void @"__mlc_parallel_review"' in text


# ---------------------------------------------------------------- no libgomp

def test_without_libgomp_parallel_loops_run_serially_and_warn_once(monkeypatch):
    monkeypatch.setattr(parallel, "openmp_available", lambda: False)
    monkeypatch.setattr(parallel, "_warned", False)
    func = parallel_outer_loops(elementwise_2d(9, 4), ["B"])
    with pytest.warns(RuntimeWarning, match="libgomp"):
        lib = mlc.build(mlc.IRModule({"f": func}), "llvm")
    assert "GOMP_parallel" not in lib.get_source("ll")
    a = np.arange(36, dtype="float32").reshape(9, 4)
    b = np.empty_like(a)
    lib["f"](a, b)
    np.testing.assert_array_equal(b, a * 2 + 1)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mlc.build(mlc.IRModule({"g": func}), "llvm")  # said once per process


_GOMP_SPINCOUNT = """
import os
import numpy as np
import mlc
from mlc import te
A = te.placeholder((1 << 16,), "float32", name="A")
B = te.compute((1 << 16,), lambda i: A[i] * 2, name="B")
lib = mlc.build(mlc.IRModule({"main": te.create_prim_func([A, B])}), "llvm")
a = np.ones(1 << 16, "float32")
b = np.empty_like(a)
lib["main"](a, b)
assert (b == 2).all()
print(os.environ.get("GOMP_SPINCOUNT"))
"""


@pytest.mark.parametrize("user, expected", [({}, "10000"), ({"GOMP_SPINCOUNT": "7"}, "7"),
                                            ({"OMP_WAIT_POLICY": "active"}, "None")])
def test_libgomp_waits_briefly_before_sleeping_unless_the_user_says_otherwise(user, expected):
    """libgomp's default spin (300,000 rounds) wastes a shared core's time slices: mlc sets
    GOMP_SPINCOUNT before it loads libgomp, keeping the user's own wait policy."""
    from mlc.backends.llvm.symbols import GOMP_SPIN_COUNT
    assert str(GOMP_SPIN_COUNT) == "10000"
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env.update(user, MLC_NUM_THREADS="2")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", _GOMP_SPINCOUNT], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == expected


def test_set_num_threads_limits_the_calls_of_functions_built_before():
    """Schedules are made for MLC_NUM_THREADS; ``mlc.set_num_threads`` limits each call's
    team (stored at once, for callers of the C entry points) until it is raised again."""
    fn, a, want = long_kernel(1 << 18)
    out = np.empty_like(a)
    with override(num_threads=2):
        fn(a, out)
        try:
            mlc.set_num_threads(1)
            assert PARALLEL_STATE.num_threads == 1
            before = PARALLEL_STATE.pooled
            fn(a, out)
            assert PARALLEL_STATE.pooled == before  # no team: the calling thread alone
            np.testing.assert_array_equal(out, want)
        finally:
            mlc.set_num_threads(2)
        assert PARALLEL_STATE.num_threads == 2
        out[:] = 0
        fn(a, out)
        np.testing.assert_array_equal(out, want)



# ------------------------------------------------------------- homes

def _team_kernel(rendezvous: bool = False, hold_thread_1: bool = False):
    """``run(n)``: a parallel loop over ``[0, n)`` whose body writes, for each iteration,
    the OpenMP number of the thread that ran it, and the order in which its chunk was
    started (two int32 arrays). The waits below make the tests of the homes independent of
    how busy the machine is; each gives up after a second or two.

    ``rendezvous`` (a team of two): each thread, in the first chunk it takes, waits until
    the other has taken one (a worker's wake-up took as long as a chunk on a busy machine,
    and a caller preempted after waking the worker saw it take every chunk). ``hold_thread_1``: a chunk
    of thread 1 waits until all ``2 * CHUNKS_PER_THREAD`` chunks have been started (a thread
    the OS held up)."""
    target = Target.from_str("llvm")
    module = ir.Module("homes")
    module.triple, module.data_layout = jit.target_layout(target)
    thread_num = ir.Function(module, ir.FunctionType(I32, []), name="omp_get_thread_num")
    tickets = ir.GlobalVariable(module, I32, "tickets")
    tickets.initializer = ir.Constant(I32, 0)
    started = ir.GlobalVariable(module, ir.ArrayType(I32, 2), "started")  # (per thread of two)
    started.initializer = ir.Constant(ir.ArrayType(I32, 2), [0, 0])
    body = parallel.body_function(module, "f", [PTR, PTR, I32, I32])
    out, order, lo, count = body.args
    b = ir.IRBuilder(body.append_basic_block("entry"))
    me = b.call(thread_num, [])
    zero = ir.Constant(I32, 0)
    ticket = b.atomic_rmw("add", tickets, ir.Constant(I32, 1), "seq_cst")

    def wait_until(ready):  # spin while ready() (emitted in the loop) is false, boundedly
        before, wait, waited = b.block, body.append_basic_block("wait"), body.append_basic_block("waited")
        b.branch(wait)
        b.position_at_end(wait)
        rounds = b.phi(I32)
        rounds.add_incoming(zero, before)
        more = b.add(rounds, ir.Constant(I32, 1))
        rounds.add_incoming(more, wait)
        go_on = b.and_(b.not_(ready()), b.icmp_signed("<", more, ir.Constant(I32, 2_000_000_000)))
        b.cbranch(go_on, wait, waited)
        b.position_at_end(waited)

    def load(global_):  # (atomic: LLVM keeps it in the loop, as it did not a volatile load)
        return b.load_atomic(global_, "acquire", 4)
    if rendezvous:
        one = ir.Constant(I32, 1)
        b.store_atomic(one, b.gep(started, [zero, b.and_(me, one)], inbounds=True), "release", 4)
        other = b.gep(started, [zero, b.sub(one, b.and_(me, one))], inbounds=True)
        wait_until(lambda: b.icmp_signed("!=", load(other), zero))
    if hold_thread_1:
        with b.if_then(b.icmp_signed("==", me, ir.Constant(I32, 1))):
            all_chunks = ir.Constant(I32, 2 * parallel.CHUNKS_PER_THREAD)
            wait_until(lambda: b.icmp_signed(">=", load(tickets), all_chunks))

    def write(k):
        i = b.add(lo, k)
        b.store(me, b.gep(out, [i], source_etype=I32))
        b.store(ticket, b.gep(order, [i], source_etype=I32))
    emit_loop(b, zero, count, "k", write)
    b.ret_void()
    kernel = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, PTR, I32]), name="f")
    stack = ir.IRBuilder(kernel.append_basic_block("entry"))
    for ptr in (tickets, stack.gep(started, [zero, zero]), stack.gep(started, [zero, ir.Constant(I32, 1)])):
        stack.store_atomic(zero, ptr, "release", 4)
    b = ir.IRBuilder(kernel.append_basic_block("body"))
    parallel.emit_launch(b, stack, body, list(kernel.args[:2]), zero, kernel.args[2])
    b.ret_void()
    stack.branch(kernel.blocks[1])
    compiled = jit.compile_ir(str(module), target, ["f"])
    f = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32)(compiled.address("f"))

    def run(n, with_order=False):
        parallel.set_num_threads(config().num_threads)  # (as a built function's call does)
        out, order = np.full(n, -1, np.int32), np.full(n, -1, np.int32)
        f(out.ctypes.data, order.ctypes.data, n)
        return (out, order) if with_order else out
    run.compiled = compiled  # (keeps the code loaded)
    return run


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 1001])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_every_iteration_runs_once_and_each_thread_of_the_team_has_a_home(n, threads):
    """Thread t's home is [t * n / T, (t + 1) * n / T): every iteration runs once, on some
    thread of the team; the serial launch (one thread) runs all on thread 0."""
    run = _team_kernel()
    with override(num_threads=threads):
        out = run(n)
    team = min(threads, n)
    assert out.min() >= 0 and out.max() < team
    if team == 1:
        assert (out == 0).all()


@pytest.mark.skipif(mlc.get_num_threads() < 2, reason="needs two threads")
def test_each_thread_of_a_team_runs_its_home_first_and_then_what_is_left_elsewhere():
    """Thread 0's home is the first half, thread 1's the second: each thread starts all the
    chunks it runs of its own home before any chunk of the other's, and with both threads
    running (each waits for the other in its first chunk) each starts at the start of its
    home, launch after launch (a single counter dealing the chunks to whichever thread came
    first gave thread 1 a chunk of the first half)."""
    run = _team_kernel(rendezvous=True)
    n = 1 << 16
    home = np.repeat(np.arange(2, dtype=np.int32), n // 2)
    with override(num_threads=2):
        for _ in range(4):
            out, order = run(n, with_order=True)
            assert out[0] == 0 and out[n // 2] == 1, "a thread did not start its home"
            for t in (0, 1):
                own, other = order[(out == t) & (home == t)], order[(out == t) & (home != t)]
                if len(own) and len(other):
                    assert own.max() < other.min(), f"thread {t} left its home before it was empty"


@pytest.mark.skipif(mlc.get_num_threads() < 2, reason="needs two threads")
def test_a_thread_held_up_has_the_chunks_left_in_its_home_taken_by_the_others():
    """Thread 1 is held up in the first chunk it takes until every chunk has been started:
    thread 0, its own home done, takes the other three chunks of thread 1's home."""
    run = _team_kernel(hold_thread_1=True)
    n = 800
    with override(num_threads=2):
        pooled = PARALLEL_STATE.pooled
        out = run(n)
    assert PARALLEL_STATE.pooled == pooled + 1  # a team of two ran it
    assert (out[:400] == 0).all()  # its own home
    assert (out[400:] == 0).sum() >= 300  # at least three of thread 1's four chunks
