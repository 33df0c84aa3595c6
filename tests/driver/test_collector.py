"""Builds run with the cyclic garbage collector paused, and leave it as they found it."""
import gc
import importlib
import threading

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.driver import collector_paused

driver_build = importlib.import_module("mlc.driver.build")


def _module():
    A = te.placeholder((8,), "float32", "A")
    B = te.compute((8,), lambda i: A[i] + 1, "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


@pytest.fixture
def seen(monkeypatch):
    """Whether the collector was enabled in each verify stage that ran."""
    states = []
    verify = driver_build.verify_stage

    def recording(mod):
        states.append(gc.isenabled())
        return verify(mod)

    monkeypatch.setattr(driver_build, "verify_stage", recording)
    return states


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_build_pauses_the_collector_and_enables_it_again(seen, collector_on):
    lib = mlc.build(_module(), "llvm")
    assert seen == [False] and gc.isenabled()
    b = np.empty(8, "float32")
    lib["main"](np.arange(8, dtype="float32"), b)
    np.testing.assert_array_equal(b, np.arange(8, dtype="float32") + 1)


def test_a_jit_compile_pauses_the_collector_for_trace_and_build(seen, collector_on, monkeypatch):
    tracer_jit = importlib.import_module("mlc.tracer.jit")
    traced = []
    trace = tracer_jit.JitFunction._trace

    def recording(self, call):
        traced.append(gc.isenabled())
        return trace(self, call)

    monkeypatch.setattr(tracer_jit.JitFunction, "_trace", recording)
    f = mlc.jit(lambda x: x * 2)
    np.testing.assert_array_equal(f(np.arange(3, dtype="float32")), [0, 2, 4])
    assert traced == [False] and seen == [False] and gc.isenabled()


def test_a_collector_turned_off_by_the_user_stays_off(seen, collector_on):
    gc.disable()
    mlc.build(_module(), "llvm")
    assert seen == [False] and not gc.isenabled()


def test_a_failing_build_enables_the_collector_again(collector_on):
    with pytest.raises(mlc.MLCError):
        mlc.build(object(), "llvm")
    assert gc.isenabled()


def test_concurrent_pauses_end_with_the_last_one(collector_on):
    first_in, release = threading.Event(), threading.Event()

    def hold():
        with collector_paused():
            first_in.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    first_in.wait(10)
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's pause still holds
    release.set()
    t.join(10)
    assert gc.isenabled()


def test_the_build_s_cyclic_garbage_is_collected_when_the_pause_ends(collector_on):
    """The young generations are collected as the last pause ends: a cycle made during the
    build is gone before the caller's next statement, and a finalizer that builds again
    (run by that collection) does not deadlock."""
    import weakref

    class Node:
        def __init__(self):
            self.me = self

        def __del__(self):
            built.append(mlc.build(_module(), "llvm") is not None)

    built = []
    with collector_paused():
        node = Node()
        ref = weakref.ref(node)
        del node
        assert ref() is not None  # a cycle: reference counting alone does not free it
    assert ref() is None and built == [True] and gc.isenabled()
