"""A build whose background LLVM threads cannot start (a process at its limit of threads:
``Thread.start`` raises "can't start new thread") builds everything on the calling thread.

Cleanup used to join the thread that never started, and raised ``RuntimeError: cannot
join thread before it is started``, hiding the cause.
"""
import sys
import threading

import numpy as np
import pytest

import mlc
from mlc import IRModule, te
from mlc.backends.llvm import jit
from mlc.backends.llvm.output import capturing
from mlc.config import override

HOST = mlc.Target.from_str("llvm")
SEVEN = 'define i32 @seven() {\n  ret i32 7\n}'


@pytest.fixture
def starts(monkeypatch):
    """[allowed, started]: Thread.start fails once ``allowed`` threads have started (0, the
    default: every start fails); ``started`` counts them."""
    state = [0, 0]
    real = threading.Thread.start

    def start(thread):
        if state[1] >= state[0]:
            raise RuntimeError("can't start new thread")
        state[1] += 1
        real(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    return state


def test_a_unit_build_builds_on_the_calling_thread(starts):
    before = sys.getswitchinterval()
    with override(num_threads=3, cache_dir=""):
        build = jit.UnitBuild(HOST)
        build.submit(SEVEN)
        build.submit(SEVEN.replace("seven", "eight").replace("7", "8"))
        compiled = build.finish(["seven", "eight"])
    assert compiled.address("seven") and compiled.address("eight")
    assert starts[1] == 0 and not capturing() and sys.getswitchinterval() == before


def _scale(n, factor):
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] * factor + 1, "B")
    return te.create_prim_func([A, B])


def test_a_build_and_a_jitted_call_without_threads_compute_right(starts):
    mod = IRModule({"a": _scale(1000, 2.0), "b": _scale(1000, 3.0)})
    x = np.arange(1000, dtype="float32")
    with override(num_threads=2, cache_dir=""):
        lib = mlc.build(mod, "llvm")
        y = mlc.jit(lambda v: np.exp(v) @ v + v.sum())(x[:64])
    for name, factor in (("a", 2), ("b", 3)):
        out = np.empty_like(x)
        lib[name](x, out)
        np.testing.assert_array_equal(out, x * factor + 1)
    np.testing.assert_allclose(y, np.exp(x[:64]) @ x[:64] + x[:64].sum(), rtol=1e-5)
