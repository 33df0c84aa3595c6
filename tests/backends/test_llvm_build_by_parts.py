"""The llvm backend compiles a build kernel by kernel (``LLVMBackend.begin``).

:class:`~mlc.backends.llvm.module.LLVMBuild` generates each kernel's IR as the
driver hands it over and gives its units to a :class:`~mlc.backends.llvm.jit.UnitBuild`,
which optimises them on a background thread while the driver schedules the next
kernel; the unoptimised glue (launch code, tasks, entries, a graph's main) is one
unit built at the end. The code is the code a stage-by-stage build makes.
"""
import re
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.backends.llvm import jit, module as llvm_module
from mlc.backends.llvm.backend import LLVMBackend
from mlc.backends.llvm.output import capturing
from mlc.backends.registry import BuildOptions
from mlc.config import override
from mlc.errors import BoundsError, CompileError
from mlc.ir.calls import is_graph_main

from .test_bounds import gather, run_gather

HOST = mlc.Target.from_str("llvm")
SEVEN = 'define i32 @seven() {\n  ret i32 7\n}'


def _block(x, w1, w2, g):
    """Several kernels: a norm, two matmuls, a softmax."""
    h = x / np.sqrt((x * x).mean(axis=1, keepdims=True) + 1e-5) * g
    s = h @ w1
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)) @ w2 + x


def _block_args(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s, dtype=np.float32) * 0.1 for s in ((48, 64), (64, 96), (96, 64), (64,))]


def _units_built(monkeypatch):
    """Record (thread name, start time, whether glue only) of each unit LLVM builds."""
    seen = []
    real = jit._build_unit

    def recording(text, target, quick, worker):
        seen.append((threading.current_thread().name, time.perf_counter(), jit.unoptimised_only(text)))
        return real(text, target, quick, worker)

    monkeypatch.setattr(jit, "_build_unit", recording)
    return seen


def test_a_unit_builds_in_the_background_before_the_build_finishes(monkeypatch):
    started = threading.Event()
    real = jit._build_unit

    def signalling(*args):
        started.set()
        return real(*args)

    monkeypatch.setattr(jit, "_build_unit", signalling)
    with override(num_threads=2, cache_dir=""):
        build = jit.UnitBuild(HOST)
        build.submit(SEVEN)
        assert capturing()  # what the background thread's LLVM writes goes into this thread's capture
        assert sys.getswitchinterval() <= jit.SWITCH_INTERVAL_S
        assert started.wait(30), "nothing was built before finish"
        compiled = build.finish(["seven"])
    assert compiled.address("seven")
    assert not capturing() and sys.getswitchinterval() > jit.SWITCH_INTERVAL_S


def test_with_one_thread_every_unit_builds_in_finish_on_the_calling_thread(monkeypatch):
    seen = _units_built(monkeypatch)
    with override(num_threads=1, cache_dir=""):
        build = jit.UnitBuild(HOST)
        build.submit(SEVEN)
        assert not seen and not capturing()
        build.finish(["seven"])
    assert [name for name, _, _ in seen] == [threading.current_thread().name]


def test_a_unit_llvm_rejects_fails_finish_and_ends_the_background_work():
    before = sys.getswitchinterval()
    with override(num_threads=2, cache_dir=""):
        build = jit.UnitBuild(HOST)
        build.submit(SEVEN)
        build.submit("define i32 @broken() {\n  ret i64 7\n}")
        with pytest.raises(CompileError, match="LLVM rejected the generated IR"):
            build.finish(["seven", "broken"])
    assert not capturing() and sys.getswitchinterval() == before
    assert not any(t.name.startswith("mlc-llvm-unit") for t in threading.enumerate())


def test_an_abandoned_build_stops_and_takes_no_more_units():
    before = sys.getswitchinterval()
    with override(num_threads=2, cache_dir=""):
        build = jit.UnitBuild(HOST)
        for n in range(6):
            build.submit(SEVEN.replace("seven", f"seven{n}"))
        build.abandon()
        with pytest.raises(RuntimeError, match="after finish or abandon"):
            build.submit(SEVEN)
    assert not capturing() and sys.getswitchinterval() == before
    assert not any(t.name.startswith("mlc-llvm-unit") for t in threading.enumerate())


def test_the_first_kernel_compiles_while_the_last_is_prepared(monkeypatch):
    """In a jitted graph of several kernels, a unit starts building on a background thread
    before the driver hands over the last kernel; the glue comes last, on its own."""
    seen = _units_built(monkeypatch)
    added = []
    real_add = llvm_module.LLVMBuild.add

    def recording_add(self, lowered):
        added.append((time.perf_counter(), [is_graph_main(func) for func in lowered.values()]))
        return real_add(self, lowered)

    monkeypatch.setattr(llvm_module.LLVMBuild, "add", recording_add)
    submitted = []
    real_submit = jit.UnitBuild.submit

    def recording_submit(self, text):
        submitted.append(jit.unoptimised_only(text))
        return real_submit(self, text)

    monkeypatch.setattr(jit.UnitBuild, "submit", recording_submit)
    args = _block_args()
    with override(num_threads=2, cache_dir=""):
        out = mlc.jit(_block)(*args)
    np.testing.assert_allclose(out, _block(*args), rtol=1e-4, atol=1e-5)
    kernels = [mains for _, mains in added[:-1]]
    assert len(kernels) >= 3 and all(mains == [False] for mains in kernels)
    assert added[-1][1] == [True]  # the graph's main, last
    last_add = added[-2][0]
    assert any(name != "MainThread" and start < last_add for name, start, _ in seen)
    assert submitted.count(True) == 1 and submitted[-1]  # one unit of glue, submitted last


def test_glue_goes_through_no_optimisation_pipeline(monkeypatch):
    """The glue unit (launch code, tasks, entries: optnone functions only) is emitted by the
    unoptimising TargetMachine without running O3's passes on it (they would skip every
    optnone function, after building the whole pipeline: 0.6 of softmax's 2.8 ms of glue);
    the kernels' units go through O3."""
    levels = []
    real = jit._run_pipeline

    def recording(module, tm, level=3, run=None):
        levels.append((level, all(b"optnone" in b" ".join(fn.attributes) for fn in module.functions
                                  if not fn.is_declaration)))
        return real(module, tm, level, run)

    monkeypatch.setattr(jit, "_run_pipeline", recording)
    args = _block_args(seed=5)
    with override(num_threads=2, cache_dir=""):
        out = mlc.jit(_block)(*args)
    np.testing.assert_allclose(out, _block(*args), rtol=1e-4, atol=1e-5)
    glue = [level for level, optnone_only in levels if optnone_only]
    assert glue and set(glue) == {0}
    assert {level for level, optnone_only in levels if not optnone_only} == {3}


def test_a_build_by_parts_computes_what_a_build_stage_by_stage_does(monkeypatch):
    args = _block_args(seed=3)
    with override(num_threads=2, cache_dir=""):
        by_parts = mlc.jit(_block)(*args)
        monkeypatch.delattr(LLVMBackend, "begin")
        by_stages = mlc.jit(_block)(*args)
    np.testing.assert_array_equal(by_parts, by_stages)


@pytest.mark.parametrize("threads", [1, 2])
def test_functions_python_calls_keep_their_object_and_checked_entries(threads):
    """A te module of several functions (no main): each has its object entry, beside it."""
    n = 1000
    A = te.placeholder((n,), "float32", "A")
    mod = mlc.IRModule({"double": te.create_prim_func([A, te.compute((n,), lambda i: A[i] * 2, "B")]),
                        "square": te.create_prim_func([A, te.compute((n,), lambda i: A[i] * A[i], "C")])})
    a = np.linspace(-3, 3, n, dtype="float32")
    with override(num_threads=threads, cache_dir=""):
        lib = mlc.build(mod, "llvm")
        for name, expected in (("double", a * 2), ("square", a * a)):
            out = np.empty_like(a)
            lib[name](a, out)
            np.testing.assert_array_equal(out, expected)
            assert lib[name].object_entry is not None
    ll = lib.get_source("ll")
    assert re.search(r'define void @"?double__objects"?\(', ll)
    assert re.search(r'define void @"?square__objects"?\(', ll)


def test_a_bounds_checked_build_by_parts_checks_every_kernel():
    """The kernels of a checked build share one table of access sites: a violation in the
    second kernel names its own access."""
    mod = gather()
    n = 16
    A = te.placeholder((n,), "float32", "A")
    mod = mlc.IRModule({"plus": te.create_prim_func([A, te.compute((n,), lambda i: A[i] + 1, "B")]),
                        "gather": mod["gather"]})
    with override(num_threads=2, cache_dir=""):
        lib = mlc.build(mod, "llvm", check_bounds=True)
        a, out = np.arange(n, dtype="float32"), np.empty(n, "float32")
        lib["plus"](a, out)
        np.testing.assert_array_equal(out, a + 1)
        x, y = run_gather(lib, range(8))
        np.testing.assert_array_equal(y, x[:8] * 2)
        with pytest.raises(BoundsError, match=r"gather\(\): load from buffer X at element 99 "):
            run_gather(lib, [0, 1, 2, 3, 99, 5, 6, 7])


def test_with_one_thread_the_backend_declines_and_the_build_goes_stage_by_stage():
    """Nothing could build beside the driver: ``begin`` says None (the stage-by-stage build
    of one thread is then test_llvm_units' test_set_num_threads_limits_...)."""
    mod = mlc.IRModule({"a": te.create_prim_func([te.placeholder((4,), "float32", "A")])})
    with override(num_threads=2):
        build = LLVMBackend().begin(mod, HOST, BuildOptions())
        assert isinstance(build, llvm_module.LLVMBuild)
        build.abandon()
        try:
            mlc.set_num_threads(1)
            assert LLVMBackend().begin(mod, HOST, BuildOptions()) is None
        finally:
            mlc.set_num_threads(2)


def test_a_kernel_refused_after_others_were_handed_over_ends_the_background_work():
    """The first kernels are compiling when the third is refused: the build is abandoned,
    its threads end, and fd 2 and Python's thread switching are as they were."""
    before = sys.getswitchinterval()
    n = 4096
    A = te.placeholder((n,), "float32", "A")
    ok = [te.create_prim_func([A, te.compute((n,), lambda i: A[i] * 2, "B")]),
          te.create_prim_func([A, te.compute((n,), lambda i: A[i] * 3, "B")])]
    bad = te.create_prim_func([A, te.compute((n,), lambda i: A[i + 1], "B")])  # A[n] is read
    with override(num_threads=2, cache_dir=""):
        with pytest.raises(CompileError, match="out of bounds"):
            mlc.build(mlc.IRModule({"two": ok[0], "three": ok[1], "bad": bad}), "llvm")
    assert not capturing() and sys.getswitchinterval() == before
    assert not any(t.name.startswith("mlc-llvm-unit") for t in threading.enumerate())


STAGES = ["matmul", "softmax", "norm", "relu_add", "centre_columns"]


def _drawn_program(stages):
    """``x @ w`` followed by ``stages``, each one kernel or more, all of shape (m, n)."""
    def program(x, w, sq, b):
        h = x @ w
        for stage in stages:
            if stage == "matmul":
                h = h @ sq
            elif stage == "softmax":
                e = np.exp(h - h.max(axis=1, keepdims=True))
                h = e / e.sum(axis=1, keepdims=True)
            elif stage == "norm":
                h = h / np.sqrt((h * h).mean(axis=1, keepdims=True) + 1.0)
            elif stage == "relu_add":
                h = np.maximum(h, 0) + b
            else:
                h = h - h.sum(axis=0, keepdims=True)
        return h
    return program


@settings(max_examples=12, deadline=None)
@given(m=st.sampled_from([1, 3, 17, 64]), k=st.sampled_from([1, 5, 33]), n=st.sampled_from([1, 7, 16, 48]),
       stages=st.lists(st.sampled_from(STAGES), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_drawn_graphs_built_by_parts_equal_the_stage_by_stage_build_and_numpy(m, k, n, stages, seed):
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal(shape, dtype=np.float32) * 0.3 for shape in ((m, k), (k, n), (n, n), (m, n))]
    program = _drawn_program(stages)
    with override(num_threads=2, cache_dir=""):
        by_parts = mlc.jit(program)(*args)
        with pytest.MonkeyPatch.context() as patch:
            patch.delattr(LLVMBackend, "begin")
            by_stages = mlc.jit(program)(*args)
    np.testing.assert_array_equal(by_parts, by_stages)
    expected = program(*[a.astype(np.float64) for a in args])
    np.testing.assert_allclose(by_parts, expected, rtol=1e-3, atol=1e-4)


def test_builds_by_parts_on_two_threads_at_once_both_finish_and_compute_right():
    """Each build holds the capture of fd 2 while its units build in the background; a
    second build on another thread waits for it, and neither waits for the other forever."""
    programs = [_drawn_program(["softmax", "matmul"]), _drawn_program(["norm", "relu_add"])]
    rng = np.random.default_rng(9)
    args = [rng.standard_normal(shape, dtype=np.float32) * 0.3 for shape in ((24, 40), (40, 32), (32, 32), (24, 32))]
    results, errors = {}, []

    def build(n):
        try:
            with override(num_threads=2, cache_dir=""):
                results[n] = mlc.jit(programs[n])(*args)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=build, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a build never finished"
    assert not errors, errors
    for n, program in enumerate(programs):
        np.testing.assert_allclose(results[n], program(*[a.astype(np.float64) for a in args]), rtol=1e-3, atol=1e-4)
    assert not capturing()


def test_finish_does_the_callers_work_while_a_thread_still_builds(monkeypatch):
    """The work named by :func:`~mlc.runtime.meanwhile.meanwhile` runs in ``finish`` while a
    background thread builds (which is held until it has run), and not where every unit
    was built by the time the calling thread had nothing left to do."""
    from mlc.runtime.meanwhile import meanwhile
    ran = threading.Event()
    real = jit._build_unit

    def held(*args):
        assert ran.wait(30), "finish did not do the caller's work while the unit was building"
        return real(*args)

    monkeypatch.setattr(jit, "_build_unit", held)
    with override(num_threads=2, cache_dir=""), meanwhile(ran.set):
        build = jit.UnitBuild(HOST)
        build.submit(SEVEN)
        assert build.finish(["seven"]).address("seven")
    monkeypatch.setattr(jit, "_build_unit", real)
    done = []
    with override(num_threads=1, cache_dir=""), meanwhile(lambda: done.append(1)):
        build = jit.UnitBuild(HOST)  # (no background thread: nothing to wait for)
        build.submit(SEVEN)
        build.finish(["seven"])
    assert done == []
