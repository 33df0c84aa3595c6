"""A backend with ``begin`` gets the module kernel by kernel (``mlc.driver.build._build_by_parts``).

The driver schedules, checks and lowers one kernel, hands it to the build's ``add``,
and only then goes on to the next, so that the backend can compile a kernel while
the driver prepares the next one; ``finish`` gives the runtime Module. A failure on
the way abandons the build.
"""
import numpy as np
import pytest

import mlc
from mlc import te
from mlc.backends.reference.interpreter import Program
from mlc.backends.registry import BuildOptions, register_backend, unregister_backend
from mlc.runtime.module import Function, Module
from mlc.schedules import as_written

from .test_backend_registry import LOWERED_ATTR, DummyBackend, doubling


class PartsBuild:
    def __init__(self, backend, mod, options):
        self.backend, self.programs = backend, {}
        backend.log.append(f"begin:{','.join(mod)}")
        backend.options = options

    def add(self, lowered):
        assert all(func.attr(LOWERED_ATTR) for func in lowered.values()), "add got unlowered functions"
        self.backend.log.append(f"add:{','.join(lowered)}")
        self.programs.update({name: Program(func, name=name) for name, func in lowered.items()})

    def finish(self, mod):
        self.backend.log.append("finish")
        return Module(mlc.Target("dummy-parts"),
                      {name: Function(name, mod[name], program.run) for name, program in self.programs.items()})

    def abandon(self):
        self.backend.log.append("abandon")


class PartsBackend(DummyBackend):
    """The dummy backend, taking its modules part by part."""
    name = "dummy-parts"
    target_kinds = ("dummy-parts",)

    def begin(self, mod, target, options):
        return PartsBuild(self, mod, options)

    def codegen(self, mod, target, options):
        raise AssertionError("a backend with begin gets no codegen call")


@pytest.fixture
def parts():
    backend = register_backend(PartsBackend())
    yield backend
    unregister_backend("dummy-parts")


def _two_kernels():
    return mlc.IRModule({"f": doubling(8, "f")["f"], "g": doubling(4, "g")["g"]})


def test_each_kernel_is_scheduled_lowered_and_added_before_the_next_is_scheduled(parts):
    lib = mlc.build(_two_kernels(), target="dummy-parts", fast_math=True)
    assert parts.log == ["begin:f,g", "schedule:f", "tir:f", "add:f", "schedule:g", "tir:g", "add:g", "finish"]
    assert parts.options == BuildOptions(check_bounds=False, fast_math=True)
    a, b = np.arange(4, dtype="float32"), np.zeros(4, "float32")
    lib["g"](a, b)
    np.testing.assert_array_equal(b, a * 2 + 1)


def test_a_user_schedule_takes_the_whole_module_before_the_build_begins(parts):
    mlc.build(_two_kernels(), target="dummy-parts", schedule=as_written)
    assert parts.log == ["begin:f,g", "tir:f", "add:f", "tir:g", "add:g", "finish"]


def test_a_kernel_refused_on_the_way_abandons_the_build(parts):
    A = te.placeholder((4,), "float32", "A")
    bad = te.create_prim_func([A, te.compute((4,), lambda i: A[i + 1], "B")])  # A[4] is read
    mod = mlc.IRModule({"f": doubling(8, "f")["f"], "bad": bad, "g": doubling(4, "g")["g"]})
    with pytest.raises(mlc.CompileError, match="out of bounds"):
        mlc.build(mod, target="dummy-parts")
    assert parts.log == ["begin:f,bad,g", "schedule:f", "tir:f", "add:f", "schedule:bad", "abandon"]


class DecliningBackend(PartsBackend):
    """A backend whose ``begin`` declines (None): it is built stage by stage."""
    name = "dummy-declining"
    target_kinds = ("dummy-declining",)

    def begin(self, mod, target, options):
        self.log.append("begin")
        return None

    def codegen(self, mod, target, options):
        return DummyBackend.codegen(self, mod, target, options)


def test_a_backend_declining_to_begin_is_built_stage_by_stage():
    backend = register_backend(DecliningBackend())
    try:
        mlc.build(_two_kernels(), target="dummy-declining")
    finally:
        unregister_backend("dummy-declining")
    assert backend.log == ["begin", "schedule:f", "schedule:g", "tir:f", "tir:g", "codegen", "load"]
