"""A build's kernels spread over several LLVM modules, optimised side by side on threads.

:func:`~mlc.backends.llvm.module.generate_units` places each kernel in the smallest
module so far (each parallel loop body of a kernel too; a graph's ``main`` too, declaring
what it calls from the others);
:func:`~mlc.backends.llvm.jit.compile_ir` builds the modules on up to
``num_threads`` threads (:mod:`mlc.backends.llvm.threaded`) and loads their objects
into one engine. Code built that way runs the same as code built in one module.
"""
import re
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import IRModule, te
from mlc.backends.llvm import jit, threaded
from mlc.backends.llvm.backend import LLVMBackend
from mlc.backends.llvm.module import codegen_llvm, generate_units, lower_for_llvm
from mlc.config import override
from mlc.errors import CompileError
from mlc.ir.calls import is_graph_main

from tests.targets import AVX2

from .test_llvm_memory import _through_scratch

HOST = mlc.Target.from_str("llvm")


def _scale(n: int, factor: float, name: str):
    A = te.placeholder((n,), "float32", "A")
    return te.create_prim_func([A, te.compute((n,), lambda i: A[i] * factor + 1, name)])


def _mlp(x, w1, b1, w2, b2):
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def _mlp_args(batch, n_in, hidden, n_out, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s, dtype=np.float32)
            for s in ((batch, n_in), (n_in, hidden), (hidden,), (hidden, n_out), (n_out,))]


def test_the_llvm_calls_this_llvmlite_serialises_can_be_made_unlocked():
    """The threaded path is what builds take with this llvmlite, not a silent serial fallback."""
    assert threaded.available()


def test_kernels_go_to_the_smallest_module_and_empty_modules_are_dropped():
    funcs = {name: lower_for_llvm(IRModule({name: _scale(64, k, "B")}))[name]
             for k, name in enumerate(["a", "b", "c"], start=2)}
    assert len(generate_units(funcs, AVX2, units=1)) == 1
    two = generate_units(funcs, AVX2, units=2)
    assert len(two) == 2
    assert [len(re.findall(r"^define ", text, re.M)) for text in two] == [2, 1]  # a, c | b
    assert len(generate_units({"a": funcs["a"]}, AVX2, units=4)) == 1


def _parallel_stages(n: int, stages: int):
    """A kernel of ``stages`` elementwise stages on (n, 8) float32, each its own parallel loop."""
    A = te.placeholder((n, 8), "float32", "A")
    tensors = [A]
    for s in range(stages):
        tensors.append(te.compute((n, 8), _stage(tensors[-1], s + 2), f"S{s}"))
    sch = mlc.Schedule(IRModule({"main": te.create_prim_func([A, tensors[-1]])}))
    for s in range(stages):
        sch.parallel(sch.get_loops(sch.get_block(f"S{s}"))[0])
    return sch.mod["main"]


def _stage(prev, factor):
    return lambda i, j: prev[i, j] * factor + 1


def _numpy_stages(a, stages):
    for s in range(stages):
        a = a * np.float32(s + 2) + np.float32(1)
    return a


def _defined(text: str) -> set:
    return set(re.findall(r'^define (?:internal )?void @"?([\w.]+)"?\(', text, re.M))


def test_the_parallel_loops_of_one_kernel_spread_over_the_modules():
    """Each loop body goes to the smallest module (the first one away from its kernel's:
    here the other, as the kernel's launch code outweighs these bodies), and its task,
    unoptimised glue, to a module other than the body's: the body is then
    external in its module and declared in the task's, and so is a task that the kernel's
    module does not hold. The build computes what NumPy does."""
    func = lower_for_llvm(IRModule({"k": _parallel_stages(64, 4)}))["k"]
    one, = generate_units({"k": func}, AVX2, units=1)
    kernel_text, other = generate_units({"k": func}, AVX2, units=2)
    assert "k" in _defined(kernel_text)
    texts = (kernel_text, other)
    bodies = {n for text in texts for n in _defined(text) if n.startswith("__mlc_par") and not n.endswith(".task")}
    assert len(bodies) == 4 and bodies & _defined(other)
    for body in bodies:
        home, = (text for text in texts if body in _defined(text))
        away, = (text for text in texts if text is not home)
        assert body + ".task" in _defined(away)  # beside it, compiled on the other thread
        assert re.search(rf'^define void @"?{re.escape(body)}"?\(', home, re.M)  # external there
        assert re.search(rf'^declare void @"?{re.escape(body)}"?\(', away, re.M)
        if away is other:
            assert re.search(rf'^declare void @"?{re.escape(body)}\.task"?\(', kernel_text, re.M)
    # the same bodies in all: one module, or two
    assert {n for n in _defined(one) if n.startswith("__mlc_par")} == \
        {n for text in (kernel_text, other) for n in _defined(text) if n.startswith("__mlc_par")}
    a = np.random.default_rng(0).standard_normal((300, 8), dtype=np.float32)
    for threads in (1, 2, 3):
        with override(num_threads=threads, cache_dir=""):
            lib = mlc.build(IRModule({"k": _parallel_stages(300, 4)}), "llvm")
            out = np.empty_like(a)
            lib["k"](a, out)
        np.testing.assert_array_equal(out, _numpy_stages(a, 4))
        # on one thread, one module; on more, mlc.build compiles by parts (LLVMBuild): the
        # kernel's code in two modules, its tasks in the glue module, its entries in a unit
        # of their own
        assert lib.get_source("ll").count("target triple") == (1 if threads == 1 else 4)


def test_loop_bodies_are_named_apart_across_the_modules():
    """The bodies of one kernel's loops land in different modules, each under a name no
    module of the build uses (their tasks are symbols of one engine), and all run."""
    a = np.random.default_rng(1).standard_normal((50, 8), dtype=np.float32)
    mod = IRModule({"k": _parallel_stages(50, 3), "k_1": _parallel_stages(50, 2)})
    lowered = lower_for_llvm(mod)
    units = generate_units(dict(lowered.items()), AVX2, units=3)
    tasks = [n for text in units for n in _defined(text) if n.endswith(".task")]
    assert len(tasks) == 5 == len(set(tasks))
    assert sum(any(n.endswith(".task") for n in _defined(text)) for text in units) >= 2
    with override(num_threads=3, cache_dir=""):
        lib = mlc.build(mod, "llvm")
    for name, stages in (("k", 3), ("k_1", 2)):
        out = np.empty_like(a)
        lib[name](a, out)
        np.testing.assert_array_equal(out, _numpy_stages(a, stages))


def test_a_main_declares_the_kernels_of_the_other_modules():
    lowered = mlc.jit(_mlp, target=AVX2).lower(*_mlp_args(4, 12, 8, 3))
    source = codegen_llvm(lower_for_llvm(lowered.scheduled()), AVX2, units=2)
    assert len(source.units) == 2
    (main,) = (name for name, func in lowered.mod.items() if is_graph_main(func))
    with_main = [text for text in source.units if re.search(rf'^define void @"?{main}"?\(', text, re.M)]
    (main_text,) = with_main
    declared = set(re.findall(r'^declare void @"?(\w+)"?\(', main_text, re.M))
    defined_elsewhere = {name for text in source.units if text is not main_text
                         for name in re.findall(r'^define void @"?(\w+)"?\(', text, re.M)}
    assert defined_elsewhere and defined_elsewhere <= declared


@settings(max_examples=12, deadline=None)
@given(batch=st.integers(1, 9), n_in=st.integers(1, 40), hidden=st.integers(1, 24), n_out=st.integers(1, 11),
       threads=st.sampled_from([1, 2, 3]))
def test_a_graph_built_on_threads_computes_what_numpy_does(batch, n_in, hidden, n_out, threads):
    args = _mlp_args(batch, n_in, hidden, n_out, seed=batch * n_in)
    with override(num_threads=threads, cache_dir=""):
        lowered = mlc.jit(_mlp).lower(*args)
        compiled = lowered.compile()
        out = compiled(*args)
    np.testing.assert_allclose(out, _mlp(*args), rtol=1e-4, atol=1e-4)
    # one module on one thread; on more, built by parts (LLVMBuild): each kernel's code in a
    # unit of its own, the main in the glue
    units = compiled.lib.get_source("ll").count("target triple")
    assert units == 1 if threads == 1 else units >= len(lowered.mod)
    asm = compiled.lib.get_source("asm")
    assert all(f"\n{name}:" in asm for name in lowered.mod)


def test_every_module_is_built_on_a_thread_of_its_own(monkeypatch):
    """compile_ir (the stage-by-stage build: codegen, then load) hands its units to a
    UnitBuild, which builds them on threads of their own, outside llvmlite's lock."""
    monkeypatch.delattr(LLVMBackend, "begin")
    seen = []
    real = jit._build_unit

    def recording(text, target, quick, worker):
        if not quick:  # (not the support module, built without optimisation once per process)
            seen.append((worker, threading.current_thread().name))
        return real(text, target, quick, worker)

    monkeypatch.setattr(jit, "_build_unit", recording)
    mod = IRModule({"a": _scale(1000, 2.0, "B"), "b": _scale(1000, 3.0, "B")})
    with override(num_threads=2, cache_dir=""):
        lib = mlc.build(mod, "llvm")
    assert len(seen) == 2 and all(w is not None for w, _ in seen)
    x = np.arange(1000, dtype="float32")
    for name, factor in (("a", 2), ("b", 3)):
        out = np.empty_like(x)
        lib[name](x, out)
        np.testing.assert_array_equal(out, x * factor + 1)


def test_set_num_threads_limits_the_modules_built_side_by_side(monkeypatch):
    seen = []
    real = jit._build_unit

    def recording(text, target, quick, worker):
        if not quick:
            seen.append(worker)
        return real(text, target, quick, worker)

    monkeypatch.setattr(jit, "_build_unit", recording)
    mod = IRModule({"a": _scale(1000, 2.0, "B"), "b": _scale(1000, 3.0, "B")})
    with override(num_threads=2, cache_dir=""):
        try:
            mlc.set_num_threads(1)
            lib = mlc.build(mod, "llvm")
        finally:
            mlc.set_num_threads(2)
    assert seen == [None]  # one module, built on the calling thread
    assert lib.get_source("ll").count("target triple") == 1
    x = np.arange(1000, dtype="float32")
    out = np.empty_like(x)
    lib["b"](x, out)
    np.testing.assert_array_equal(out, x * 3 + 1)


def test_large_buffers_kept_by_functions_of_different_modules_do_not_collide():
    """Each kept block's global is named after its function: two modules of one engine may
    both keep a buffer called ``scratch``."""
    n = 1 << 18  # 1 MiB: kept between calls
    with override(num_threads=2, cache_dir=""):
        lib = mlc.build(IRModule({"first": _through_scratch(n), "second": _through_scratch(n)}), "llvm")
    kept = set(re.findall(r'^@"?(__mlc_kept\.[^"\s]*)"? =', lib.get_source("ll"), re.M))
    assert len(kept) == 2
    x = np.arange(n, dtype="float32")
    for name in ("first", "second"):
        out = np.empty_like(x)
        lib[name](x, out)
        np.testing.assert_array_equal(out, x + 1)


def test_a_module_llvm_rejects_on_a_worker_raises_compile_error():
    triple, layout = jit.target_layout(HOST)
    head = f'target triple = "{triple}"\ntarget datalayout = "{layout}"\n'
    good = head + "define void @good(ptr %a) {\n  store float 1.0, ptr %a\n  ret void\n}\n"
    with override(num_threads=2, cache_dir=""), pytest.raises(CompileError, match="rejected the generated IR"):
        jit.compile_ir([good, head + "define void @bad( {\n"], HOST, ["good"])


def test_the_body_of_a_kernel_of_one_parallel_loop_is_alone_in_its_module():
    """A kernel that only launches its one parallel loop (softmax's, a matmul's): the body,
    the one function LLVM optimises, gets a module of its own, and the kernel and the task
    (both unoptimised glue) compile in the other, on another thread."""
    func = lower_for_llvm(IRModule({"k": _parallel_stages(64, 1)}))["k"]
    kernel_text, body_text = generate_units({"k": func}, AVX2, units=2)
    assert _defined(body_text) == {"__mlc_par.k"}
    assert _defined(kernel_text) == {"k", "__mlc_par.k.task"}
    assert all("optnone" in line for line in kernel_text.splitlines() if line.startswith("define"))
    _build_stages_on_two_threads(seed=2)


def _build_stages_on_two_threads(seed: int):
    """A one-loop kernel built uncached on two threads; it must compute what NumPy does."""
    a = np.random.default_rng(seed).standard_normal((300, 8), dtype=np.float32)
    with override(num_threads=2, cache_dir=""):
        lib = mlc.build(IRModule({"k": _parallel_stages(300, 1)}), "llvm")
        out = np.empty_like(a)
        lib["k"](a, out)
    np.testing.assert_array_equal(out, _numpy_stages(a, 1))
    return lib


def test_a_unit_of_unoptimised_glue_is_emitted_without_optimisation(monkeypatch):
    """A te-built kernel's launch code, task, object entry and checked entry are all
    ``optnone``: their unit goes to the TargetMachine that emits without optimisation (fast
    instruction selection), the body's to the optimising one; the build computes the same."""
    seen = []
    real = jit._optimise_and_emit

    def recording(text, tm, level, context=None):
        seen.append((jit.unoptimised_only(text), tm))
        return real(text, tm, level, context)

    monkeypatch.setattr(jit, "_optimise_and_emit", recording)
    lib = _build_stages_on_two_threads(seed=3)
    host = (HOST.cpu, HOST.features)
    unoptimising = {jit._quick_target_machine(*host)} | {*jit.worker_machines(*host, 0)}
    glue = [tm for only_glue, tm in seen if only_glue]
    bodies = [tm for only_glue, tm in seen if not only_glue]
    assert glue and bodies
    assert all(tm in unoptimising for tm in glue)
    assert not any(tm in unoptimising for tm in bodies)
    assert not jit.unoptimised_only(lib.get_source("ll"))  # (the whole build holds the body too)


def test_a_graphs_main_is_unoptimised_glue(monkeypatch):
    """A jitted graph's ``main`` (allocations, views and calls) is ``optnone`` like the launch
    code: a graph of one kernel of one parallel loop then builds its body in one unit and
    everything else (the kernel's launch, its task, main and main's object entry) in a unit
    of glue only, emitted by the unoptimising TargetMachine; the result is NumPy's."""
    seen = []
    real = jit._optimise_and_emit

    def recording(text, tm, level, context=None):
        seen.append((text, tm))
        return real(text, tm, level, context)

    monkeypatch.setattr(jit, "_optimise_and_emit", recording)
    a = np.random.default_rng(4).standard_normal((300, 64), dtype=np.float32)
    with override(num_threads=2, cache_dir=""):
        jitted = mlc.jit(lambda v: np.exp(v - v.max(axis=1, keepdims=True)))
        lowered = jitted.lower(a)
        out = lowered.compile()(a)
    np.testing.assert_allclose(out, np.exp(a - a.max(axis=1, keepdims=True)), rtol=2e-6)
    (main,) = (name for name, func in lowered.mod.items() if is_graph_main(func))
    (main_text,) = [text for text, _ in seen if re.search(rf'^define void @"?{main}"?\(', text, re.M)]
    assert re.search(rf'^define void @"?{main}"?\(.*\boptnone\b', main_text, re.M)
    assert jit.unoptimised_only(main_text)
    built_for = (jitted.target.cpu, jitted.target.features)  # (the host's, unless MLC_TARGET says)
    unoptimising = {jit._quick_target_machine(*built_for)} | {*jit.worker_machines(*built_for, 0)}
    assert {tm for text, tm in seen if text is main_text} <= unoptimising
