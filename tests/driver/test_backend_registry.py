"""A backend registered from this file only builds and runs through ``mlc.build``.

The dummy backend runs functions on the reference interpreter's Program and
records each stage the driver calls, so the tests see the pipeline's order.
"""
import numpy as np
import pytest

import mlc
from mlc import te
from mlc.backends.reference.interpreter import Program
from mlc.backends.registry import (BuildOptions, get_backend, register_backend, registered_backends,
                                   unregister_backend)
from mlc.runtime.module import Function, Module
from mlc.driver.schedule import default_rules
from mlc.target import Target
from mlc.schedules import as_written

LOWERED_ATTR = "dummy.lowered"


class DummyBackend:
    """Runs PrimFuncs on the reference interpreter; ``log`` lists the stages as they run."""

    name = "dummy"
    target_kinds = ("dummy",)
    array_types = (np.ndarray,)

    def __init__(self, reason=None):
        self.reason = reason
        self.log = []

    def unavailable_reason(self):
        return self.reason

    def tir_passes(self, target, options):
        def mark_lowered(func):
            self.log.append(f"tir:{func.attr('global_symbol')}")
            return func.with_attr(LOWERED_ATTR, True)
        return [mark_lowered]

    def schedule_rules(self, target):
        def rules(sch, func_name, target):
            self.log.append(f"schedule:{func_name}")
        return rules

    def codegen(self, mod, target, options):
        self.log.append("codegen")
        assert all(func.attr(LOWERED_ATTR) for func in mod.values()), "codegen got unlowered functions"
        return {name: Program(func, name=name) for name, func in mod.items()}

    def load(self, artifact, mod, target, options):
        self.log.append("load")
        self.options = options
        return Module(target, {name: Function(name, mod[name], program.run) for name, program in artifact.items()})


@pytest.fixture
def dummy():
    backend = register_backend(DummyBackend())
    yield backend
    unregister_backend("dummy")


def doubling(n=8, name="double"):
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] * 2 + 1, "B")
    return mlc.IRModule({name: te.create_prim_func([A, B])})


def test_a_registered_backend_builds_and_runs_a_module(dummy):
    lib = mlc.build(doubling(), target="dummy")
    a, b = np.arange(8, dtype="float32"), np.zeros(8, "float32")
    lib["double"](a, b)
    np.testing.assert_array_equal(b, a * 2 + 1)
    assert lib.target == mlc.Target("dummy") and str(lib.target) == "dummy"


def test_the_driver_runs_the_stages_in_order(dummy):
    mod = doubling(name="f")
    mod = mlc.IRModule({"f": mod["f"], "g": doubling(4, "g")["g"]})
    mlc.build(mod, target="dummy", fast_math=True)
    assert dummy.log == ["schedule:f", "schedule:g", "tir:f", "tir:g", "codegen", "load"]
    assert dummy.options == BuildOptions(check_bounds=False, fast_math=True)


def test_a_user_schedule_replaces_the_default_rules(dummy):
    mlc.build(doubling(name="f"), target="dummy", schedule=as_written)
    assert dummy.log == ["tir:f", "codegen", "load"]


def test_bounds_are_verified_before_the_backend_sees_the_module(dummy):
    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i + 1], "B")  # A[4] is read
    with pytest.raises(mlc.CompileError, match="out of bounds"):
        mlc.build(mlc.IRModule({"f": te.create_prim_func([A, B])}), "dummy")
    assert "codegen" not in dummy.log


def test_target_of_a_registered_kind_and_its_string(dummy):
    assert mlc.Target.from_str("dummy") == mlc.Target("dummy")
    with pytest.raises(mlc.MLCError, match="target kind 'dummy' takes no options"):
        mlc.Target.from_str("dummy -mcpu=haswell")


class OffBackend(DummyBackend):
    """A backend that cannot run here."""
    name = "dummy-off"
    target_kinds = ("dummy-off",)

    def unavailable_reason(self):
        return "it needs the frobnicator package: pip install frobnicator"


def test_unknown_target_lists_the_registered_kinds_and_why_one_is_unavailable(dummy):
    register_backend(OffBackend())
    try:
        with pytest.raises(mlc.MLCError) as err:
            mlc.build(doubling(), target="vulkan")
        message = str(err.value)
        assert "unknown target 'vulkan'" in message
        for kind in ("dummy", "llvm", "reference", "cuda", "cuda-emulator"):
            assert kind in message
        with pytest.raises(mlc.MLCError, match="target 'dummy-off' is unavailable: it needs the frobnicator "
                                               "package.*known target kinds are: .*dummy-off \\(unavailable: "):
            mlc.build(doubling(), target="dummy-off")
    finally:
        unregister_backend("dummy-off")


def test_after_unregistering_the_kind_is_unknown_again():
    register_backend(DummyBackend())
    unregister_backend("dummy")
    assert "dummy" not in registered_backends()
    with pytest.raises(mlc.MLCError, match="unknown target kind 'dummy'; the known target kinds are: .*llvm"):
        mlc.Target("dummy")


def test_registering_a_taken_kind_is_refused(dummy):
    with pytest.raises(mlc.MLCError, match="target kind 'dummy' is already compiled by backend 'dummy'"):
        register_backend(DummyBackend())
    llvm_like = DummyBackend()
    llvm_like.target_kinds = ("llvm",)
    with pytest.raises(mlc.MLCError, match="target kind 'llvm' is already compiled by backend 'llvm'"):
        register_backend(llvm_like)
    assert get_backend("dummy") is dummy and get_backend("llvm").name == "llvm"


def test_override_replaces_a_backend(dummy):
    second = register_backend(DummyBackend(), override=True)
    mlc.build(doubling(name="f"), "dummy")
    assert second.log and not dummy.log


def test_an_unavailable_backend_says_why():
    register_backend(DummyBackend(reason="it needs a frobnicator; install mlc[frob]"))
    try:
        with pytest.raises(mlc.MLCError, match=r"target 'dummy' is unavailable: it needs a frobnicator.*"
                                               r"dummy \(unavailable: it needs a frobnicator"):
            mlc.build(doubling(), target="dummy")
    finally:
        unregister_backend("dummy")


def test_an_object_that_is_not_a_backend_is_refused():
    class Half:
        name = "half"
        target_kinds = ("half",)

    with pytest.raises(mlc.MLCError, match="not a Backend; it lacks array_types, unavailable_reason"):
        register_backend(Half())
    with pytest.raises(mlc.MLCError, match="target_kinds must be a tuple of kind names"):
        bad = DummyBackend()
        bad.target_kinds = "dummy"
        register_backend(bad)


def test_builtin_backends_are_registered_through_the_registry():
    llvm, reference = get_backend("llvm"), get_backend("reference")
    assert (llvm.name, reference.name) == ("llvm", "reference")
    target = mlc.Target.from_str("llvm")
    # the driver picks the default rules by the kind's keys; the backends import no schedules
    assert default_rules(target, llvm) is not None and default_rules(Target.from_str("reference"), reference) is None
    assert not hasattr(llvm, "schedule_rules") and not hasattr(reference, "schedule_rules")
    from mlc.passes.tir.lower_complex import lower_complex
    from mlc.passes.tir.lower_math import lower_math
    from mlc.passes.tir.lower_threefry import lower_threefry
    # the algorithms every backend runs (complex arithmetic, the math routines, the generator)
    assert list(reference.tir_passes(target, BuildOptions())) == [lower_complex, lower_math, lower_threefry]
    assert len(llvm.tir_passes(target, BuildOptions())) > 1


def test_import_mlc_loads_no_code_generator_until_a_target_names_one():
    import subprocess
    import sys
    code = ("import sys, mlc\n"
            "loaded = lambda: [m for m in ('mlc.driver', 'mlc.backends.llvm', 'mlc.backends.reference', 'llvmlite')\n"
            "                  if m in sys.modules]\n"
            "assert not loaded(), loaded()\n"
            "mlc.Target.from_str('llvm')\n"
            "assert loaded() == ['mlc.backends.llvm', 'llvmlite'], loaded()\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_threads_whose_first_build_names_a_target_at_once_all_find_its_backend():
    # A second thread asking for "llvm" while the first was still importing its backend was
    # told that the backend "did not register it" (5 of 6 threads, in a fresh process).
    import subprocess
    import sys
    code = ("import threading, numpy as np, mlc\n"
            "start, errors = threading.Barrier(6), []\n"
            "def first_call(kind):\n"
            "    start.wait()\n"
            "    try:\n"
            "        x = np.arange(5, dtype='float32')\n"
            "        assert np.allclose(mlc.jit(lambda v: v * 2 + 1, target=kind)(x), x * 2 + 1)\n"
            "    except Exception as e:\n"
            "        errors.append(repr(e))\n"
            "threads = [threading.Thread(target=first_call, args=(k,)) for k in ['llvm'] * 4 + ['reference'] * 2]\n"
            "for t in threads: t.start()\n"
            "for t in threads: t.join()\n"
            "assert not errors, errors\n")
    for _ in range(3):  # fresh interpreters: the backends register once per process
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_target_kind_with_options_parses_and_validates_them():
    from mlc.target import TargetKind, register_target_kind, unregister_target_kind

    def validate(target):
        if not target.arch.startswith("v"):
            raise mlc.MLCError(f"arch must start with 'v', got {target.arch!r}")

    kind = register_target_kind(TargetKind("versioned", options=("arch",), validate=validate,
                                           properties={"vector_bits": lambda t: 64 * int(t.arch[1:])}))
    backend = DummyBackend()
    backend.target_kinds = ("versioned",)
    try:
        register_backend(backend)
        target = mlc.Target.from_str("versioned -arch=v2")
        assert (target.arch, target.vector_bits, str(target)) == ("v2", 128, "versioned -arch=v2")
        assert mlc.Target.from_str(str(target)) == target
        with pytest.raises(mlc.MLCError, match="arch must start with 'v'"):
            mlc.Target.from_str("versioned -arch=w2")
        with pytest.raises(mlc.MLCError, match="target kind 'versioned' takes -arch="):
            mlc.Target.from_str("versioned -mcpu=v2")
        with pytest.raises(mlc.MLCError, match="has no property 'caches'"):
            target.caches
        lib = mlc.build(doubling(name="f"), target)
        assert lib.target == target and backend.log[-1] == "load"
    finally:
        unregister_backend("versioned")
        unregister_target_kind("versioned")
    assert kind.name == "versioned"


@pytest.mark.parametrize("target", ["llvm", "reference", "cuda-emulator"])
def test_a_build_parses_its_target_once_and_hands_the_target_on(monkeypatch, target):
    A = te.placeholder((33,), "float32", "A")
    B = te.compute((33,), lambda i: A[i] * 2, "B")
    mod = mlc.IRModule({"main": te.create_prim_func([A, B])})
    calls, parse = [], Target.from_str

    def counted(spec):
        calls.append(spec)
        return parse(spec)
    monkeypatch.setattr(Target, "from_str", staticmethod(counted))
    lib = mlc.build(mod, target)
    assert calls == [target]  # the stages, the default rules and the backend get the Target
    b = np.zeros(33, "float32")
    lib["main"](np.arange(33, dtype="float32"), b)
    np.testing.assert_array_equal(b, np.arange(33, dtype="float32") * 2)
