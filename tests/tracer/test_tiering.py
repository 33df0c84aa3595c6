"""Tiered compilation: a first call served by a quick build (short kernels without O3),
the optimised build swapped in by a background thread within bounded time; against NumPy.
(The eager first tier, which serves small graphs' first calls otherwise, is off here:
tests/tracer/test_eager_tier.py tests it.)"""
import os
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.config import override
from mlc.driver.tiers import (QUICK_WORK_LIMIT, UNKNOWN_WORK, WHILE_TRIPS, calls_per_run, estimated_work,
                              quick_enough)
from mlc.ir.functor import pre_order_nodes
from mlc.passes.graph.emit_main import main_name
from mlc.passes.tir import run_passes
from mlc.backends.llvm import LLVM_TIR_PASSES
from mlc.backends.llvm.module import LLVMBuild

#: The longest an optimised build may take to be swapped in, in seconds (a busy machine).
SWAP_BOUND_S = 120


@pytest.fixture(autouse=True)
def _compiled_first_tier(monkeypatch):
    from mlc import config as config_module
    monkeypatch.setenv("MLC_EAGER_FIRST", "0")
    config_module._from_environment.cache_clear()
    yield
    monkeypatch.undo()
    config_module._from_environment.cache_clear()


def program(x, y):
    return np.tanh(x * 2.0 + 1.0) - (x @ y).sum(axis=1, keepdims=True) / 3.0


def _function(f):
    """The one signature compiled by ``f`` and the slot its calls go through."""
    (compiled,) = f._specs.compiled.values()
    (slot,) = [s for s in f._specs._slots.values()]
    return compiled, slot


@settings(max_examples=12, deadline=None)
@given(m=st.sampled_from([1, 3, 8, 17]), k=st.sampled_from([1, 5, 16]), n=st.sampled_from([1, 2, 7]))
def test_first_call_is_quick_then_the_optimised_build_runs(m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    x = rng.standard_normal((m, k))
    y = rng.standard_normal((k, n))
    want = program(x, y)
    f = mlc.jit(program, tiered=True)
    np.testing.assert_allclose(f(x, y), want, rtol=1e-10, atol=1e-10)
    assert mlc.tiering.wait(timeout=SWAP_BOUND_S), "the optimised build was not swapped in in time"
    compiled, slot = _function(f)
    assert not compiled.lib.is_quick  # steady state: every kernel optimised
    assert slot.run is compiled.run is compiled.function.run
    np.testing.assert_allclose(f(x, y), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(compiled(x, y), want, rtol=1e-10, atol=1e-10)
    assert f.trace_count == 1


def test_the_first_build_is_quick_and_the_swap_replaces_every_entry():
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    y = np.ones((4, 2))
    f = mlc.jit(program, tiered=True)
    with override(num_threads=2, cache_dir=""):
        f(x, y)
        compiled, slot = _function(f)
        first = compiled.function
        assert first.lib.is_quick
        assert mlc.tiering.wait(timeout=SWAP_BOUND_S)
    assert compiled.function is not first and not compiled.function.lib.is_quick
    assert slot.run is compiled.function.run
    np.testing.assert_allclose(f(x, y), program(x, y), rtol=1e-12)


def test_tiered_false_and_the_configuration_build_the_optimised_program_at_once():
    x = np.arange(6.0).reshape(2, 3)
    y = np.ones((3, 2))
    for f, setting in ((mlc.jit(program, tiered=False), True), (mlc.jit(program), False)):
        with override(tiered=setting):
            f(x, y)
        compiled, slot = _function(f)
        assert not compiled.lib.is_quick
        np.testing.assert_allclose(f(x, y), program(x, y), rtol=1e-12)


def test_tiered_must_be_a_bool():
    with pytest.raises(mlc.TraceError, match="tiered must be True, False or None"):
        mlc.jit(program, tiered="yes")


@pytest.mark.parametrize("variable, field", [("MLC_TIERED", "tiered"), ("MLC_EAGER_FIRST", "eager_first")])
def test_the_tier_switches_are_read_from_the_environment(monkeypatch, variable, field):
    from mlc import config as config_module
    for value, want in (("0", False), ("off", False), ("no", False), ("1", True), ("", True)):
        monkeypatch.setenv(variable, value)
        config_module._from_environment.cache_clear()
        try:
            assert getattr(config_module.config(), field) is want
        finally:
            config_module._from_environment.cache_clear()
    monkeypatch.setenv(variable, "maybe")
    try:
        with pytest.raises(mlc.ConfigError, match=variable):
            config_module.config()
    finally:
        monkeypatch.undo()
        config_module._from_environment.cache_clear()


def _elementwise(n):
    a = te.placeholder((n,), "float32", "A")
    return mlc.IRModule({"k": te.create_prim_func([a, te.compute((n,), lambda i: te.exp(a[i]) * 2 + a[i], "B")])})


@settings(max_examples=8, deadline=None)
@given(n=st.sampled_from([1, 7, 64, 1000, 5000]))  # (exp written out: some 130 nodes an element)
def test_a_quick_build_computes_what_the_optimised_one_does(n):
    a = np.linspace(-3, 3, n).astype("float32")
    with override(num_threads=2, cache_dir=""):
        lib = mlc.build(_elementwise(n), "llvm", quick=True)
        assert lib.is_quick
        b = np.empty_like(a)
        lib["k"](a, b)
        np.testing.assert_allclose(b, np.exp(a) * 2 + a, rtol=1e-5, atol=1e-6)
        optimized = lib.optimized()
    assert not optimized.is_quick and optimized.optimized() is optimized
    c = np.empty_like(a)
    optimized["k"](a, c)
    np.testing.assert_allclose(c, b, rtol=1e-5, atol=1e-6)


def test_a_long_kernel_is_optimised_at_once():
    n = QUICK_WORK_LIMIT  # (several nodes an element)
    with override(num_threads=2, cache_dir=""):
        lib = mlc.build(_elementwise(n), "llvm", quick=True)
    assert not lib.is_quick


def test_estimated_work_counts_stores_per_iteration_and_refuses_unknown_trip_counts():
    a = te.placeholder((100,), "float32", "A")
    plain = te.create_prim_func([a, te.compute((100,), lambda i: a[i] * 2 + a[i], "B")])
    lowered = run_passes(plain, LLVM_TIR_PASSES)
    assert 100 * 3 <= estimated_work(lowered) <= 100 * 20 and quick_enough(lowered)
    with_exp = run_passes(_elementwise(100)["k"], LLVM_TIR_PASSES)  # exp's polynomial counted
    assert estimated_work(with_exp) > 100 * 20 and quick_enough(with_exp)
    n = te.var("n")
    a = te.placeholder((n,), "float32", "A")
    symbolic = te.create_prim_func([a, te.compute((n,), lambda i: a[i] + 1, "B")])
    assert estimated_work(run_passes(symbolic, LLVM_TIR_PASSES)) == UNKNOWN_WORK


@pytest.mark.skipif(not any(shutil.which(c) for c in ("cc", "gcc", "clang")), reason="no C compiler to export with")
def test_an_export_of_a_quick_build_is_the_optimised_code(tmp_path):
    x = np.linspace(0, 1, 8).reshape(2, 4)
    y = np.ones((4, 3))
    f = mlc.jit(program, tiered=True)
    with override(num_threads=2, cache_dir=""):
        f(x, y)
    compiled, _ = _function(f)
    path = compiled.export(os.path.join(tmp_path, "program.so"))
    mlc.tiering.wait(timeout=SWAP_BOUND_S)
    np.testing.assert_allclose(mlc.runtime.load(path)(x, y), program(x, y), rtol=1e-12)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_calls_running_while_the_optimised_build_is_swapped_in_stay_right():
    """Calls go on (from two threads) while the optimised build is swapped in: a call that
    began in the quick program finishes in it (its code stays loaded)."""
    import threading
    x = np.random.default_rng(1).standard_normal((48, 64)).astype("float32")
    want = softmax(x)
    f = mlc.jit(softmax, tiered=True)
    failures = []

    def calls():
        for _ in range(200):
            got = f(x)
            if not np.allclose(got, want, rtol=1e-5, atol=1e-6):
                failures.append(got)
            if not mlc.tiering.pending():
                break

    with override(num_threads=2, cache_dir=""):
        f(x)
        threads = [threading.Thread(target=calls) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert mlc.tiering.wait(timeout=SWAP_BOUND_S)
    compiled, _ = _function(f)
    assert compiled.function.replaced is not None and compiled.function.replaced.lib.is_quick
    assert not failures
    np.testing.assert_allclose(f(x), want, rtol=1e-5, atol=1e-6)


def heat(u, steps):
    """A time-step loop as NumPy users write it: the caller's u is updated in place."""
    for t in range(steps):
        u[1:-1, 1:-1] += 0.1 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1])


_HEAT = mlc.jit(heat, static_argnames=("steps",))


def test_a_time_step_loop_is_one_loop_whose_kernels_a_long_run_optimises_at_once(monkeypatch):
    """The first call of a compiled time-step loop costs about the same at 10 and 10,000 steps:
    main is one loop whatever the trip count (an unrolled loop grows main and its build with the
    trip count), and a first build optimises a kernel main runs 10,000 times at once instead of
    running it 10,000 times unoptimised (the quick build serves kernels whose total run is short:
    here 10 runs are, 10,000 are not)."""
    added = []  # (kernel names, quick) of each part of a build
    add = LLVMBuild.add
    monkeypatch.setattr(LLVMBuild, "add", lambda self, lowered, quick=False: (
        added.append((set(lowered.keys()), quick)), add(self, lowered, quick))[1])
    u = np.linspace(0.0, 1.0, 256).reshape(16, 16)
    mains = []
    for steps, quick in ((10, True), (10_000, False)):
        assert _HEAT.trace(u, steps=steps).graph.ops().count("for_loop") == 1
        lowered = _HEAT.lower(u, steps=steps)
        main = lowered.mod[main_name(lowered.graph)]
        mains.append(sum(1 for _ in pre_order_nodes(main.body)))
        (stencil,) = calls_per_run(main)
        assert calls_per_run(main)[stencil] == steps
        added.clear()
        with override(num_threads=2, cache_dir=""):
            mlc.build(lowered.mod, "llvm", quick=True)
        assert [q for names, q in added if stencil in names] == [quick]
    assert mains[0] == mains[1] < 100  # IR nodes of main: one loop, the trip count only its extent


@settings(max_examples=6, deadline=None)
@given(m=st.sampled_from([3, 4, 7]), n=st.sampled_from([3, 5, 8]), steps=st.sampled_from([0, 1, 5, 10_000]))
def test_a_time_step_loop_updates_the_callers_array_as_numpy_does(m, n, steps):
    u = np.random.default_rng(m * 10 + n).random((m, n))
    want = u.copy()
    heat(want, steps)
    _HEAT(u, steps=steps)
    np.testing.assert_allclose(u, want, rtol=1e-12, atol=1e-12)


def relax(u, tol):
    """A loop until convergence as NumPy users write it: its trip count is known when it runs."""
    diff = 1.0
    steps = 0
    while diff > tol:
        un = u.copy()
        u[1:-1] = 0.5 * (un[2:] + un[:-2])
        diff = np.abs(u - un).max()
        steps += 1
    return steps


_RELAX = mlc.jit(relax, static_argnames=("tol",))


def test_a_while_loops_kernels_are_optimised_at_once_and_its_scalar_steps_are_not(monkeypatch):
    """A kernel main runs inside a ``while`` counts WHILE_TRIPS runs: a first build optimises
    the loop's stencil at once (unoptimised, it would run slower every trip, for as many trips
    as the loop takes to converge), and leaves the loop's counter and its test unoptimised."""
    added = {}  # kernel name -> (its work, lowered; whether the build emitted it unoptimised)
    add = LLVMBuild.add
    monkeypatch.setattr(LLVMBuild, "add", lambda self, lowered, quick=False: (
        added.update({name: (estimated_work(f), quick) for name, f in lowered.items()}), add(self, lowered, quick))[1])
    u = np.linspace(0.0, 1.0, 37)
    lowered = _RELAX.lower(u, tol=1e-3)
    assert lowered.graph.ops().count("while_loop") == 1
    runs = calls_per_run(lowered.mod[main_name(lowered.graph)])
    looped = {name for name, n in runs.items() if n >= WHILE_TRIPS}
    with override(num_threads=2, cache_dir=""):
        mlc.build(lowered.mod, "llvm", quick=True)
    (stencil,) = (name for name in looped if "update_slice" in name)
    assert not added[stencil][1]
    scalar = {name for name in looped if added[name][0] <= 16}  # the counter, the test
    assert scalar and all(added[name][1] for name in scalar)


@settings(max_examples=6, deadline=None)
@given(n=st.sampled_from([1, 2, 3, 8, 37]), tol=st.sampled_from([1e-1, 1e-3]))
def test_a_while_loop_until_convergence_computes_what_numpy_does(n, tol):
    u = np.random.default_rng(n).random(n)
    want = u.copy()
    steps = relax(want, tol)
    got = _RELAX(u, tol=tol)
    assert int(got) == steps
    np.testing.assert_allclose(u, want, rtol=1e-12, atol=1e-12)


def test_a_stencils_vector_windows_count_as_the_loads_they_stand_for(monkeypatch):
    """share_vector_windows makes the loads between a stencil's first and last shuffles of
    those two: the estimate counts each window as the load it replaced, so that the pass
    changes no tier decision."""
    from mlc.passes.tir import vector_windows
    from mlc.schedules import default_schedule
    from mlc.target import Target
    from tests.backends.test_llvm_windows import stencil
    func = default_schedule(stencil(4098, (0, 1, 2, 3), (1.0,) * 4), Target("llvm", "skylake-avx512")).mod["main"]
    windowed = run_passes(func, LLVM_TIR_PASSES)
    assert any(getattr(n, "op", None) == "vector_window" for n in pre_order_nodes(windowed.body))
    monkeypatch.setattr(vector_windows, "plan_windows", lambda value: {})
    assert estimated_work(windowed) == estimated_work(run_passes(func, LLVM_TIR_PASSES))
