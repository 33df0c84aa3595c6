"""The graph executor: one generated function, planned workspaces per thread, outputs per call."""
import dataclasses
import threading

import numpy as np
import pytest

import mlc
from mlc.config import config, override
from mlc.runtime import graph_executor
from mlc.runtime.graph_executor import GraphExecutor, data_pointer

RNG = np.random.default_rng(0)
X = RNG.standard_normal((8, 8)).astype("float32")
W = (RNG.standard_normal((8, 8)) / 8).astype("float32")


def chain(x, w):
    for _ in range(5):
        x = mlc.nn.softmax(x @ w)
    return x


def ref_chain(x, w):
    for _ in range(5):
        e = np.exp(x @ w - (x @ w).max(axis=-1, keepdims=True))
        x = e / e.sum(axis=-1, keepdims=True)
    return x


def compiled(fn, *args, **options):
    f = mlc.jit(fn, **options)
    f(*args)
    (entry,) = f._cache.values()
    return f, entry


def test_memory_planning_allocates_fewer_buffers_than_intermediates():
    f, entry = compiled(chain, X, W)
    ex = entry.executor
    n_intermediates = sum(s is not None for b in ex.graph.bindings for s in b.attr("storage"))
    assert n_intermediates == 9
    f(X, W)
    assert len(ex._local.keep) == len(ex.graph.storages) < n_intermediates
    assert ex.source.count("np.empty(") == 1  # a call allocates only its output
    np.testing.assert_allclose(f(X, W), ref_chain(X, W), rtol=1e-5)


@pytest.fixture
def release_mode():
    """Modules and executors built as without MLC_DEBUG (which also bounds-checks every
    access, leaving no native entries), whatever the environment says."""
    with override(debug=False):
        yield


def test_llvm_runs_the_whole_graph_as_one_native_program(release_mode):
    f, entry = compiled(chain, X, W)
    ex = entry.executor
    assert ex.mode == "program" and "_ptr(" in ex.source
    assert ex.source.count("_program(") == 1 and "_k0(" not in ex.source
    ll = entry.lib.get_source("ll")
    program = ll[ll.index("define void @__mlc_program_graph"):].split("\n}")[0]
    n_calls = sum(b.op == "call_tir" for b in entry.graph.bindings)
    assert program.count("call void @") == n_calls > 1  # the kernels stay calls, in order
    np.testing.assert_allclose(f(X, W), ref_chain(X, W), rtol=1e-5)


def test_without_a_program_llvm_kernels_are_called_one_by_one(release_mode):
    _, entry = compiled(chain, X, W)
    lib = mlc.build(entry.graph.module, "llvm")
    assert lib.program(graph_executor.PROGRAM) is None
    ex = GraphExecutor(entry.graph, lib)
    assert ex.mode == "native" and "_program(" not in ex.source and "_k0(" in ex.source
    np.testing.assert_allclose(ex([X, W])[0], ref_chain(X, W), rtol=1e-5)


def test_program_with_views_constants_and_returned_inputs(release_mode):
    c = np.arange(6, dtype="float32").reshape(3, 2)

    def fn(x, y):
        z = (x * 2).reshape(3, 2) + c  # a view of a kernel's output, and a constant
        return z, x, z.sum(axis=0) + y, z.reshape(6)

    x, y = RNG.standard_normal((2, 3)).astype("float32"), RNG.standard_normal(2).astype("float32")
    f, entry = compiled(fn, x, y)
    assert entry.executor.mode == "program"
    for got, want in zip(f(x, y), fn(x, y)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_programs_are_checked_and_ignored_without_native_code(release_mode):
    from mlc.backends.program import Program
    from mlc import te
    A = te.placeholder((4,), "float32", "A")
    mod = mlc.IRModule({"double": te.create_prim_func([A, te.compute((4,), lambda i: A[i] * 2, "B")])})
    lib = mlc.build(mod, "llvm", programs={"twice": Program(3, (("double", (0, 1)), ("double", (1, 2))))})
    a, out = np.arange(4, dtype="float32"), np.empty(4, "float32")
    tmp = np.empty(4, "float32")
    lib.program("twice")(data_pointer(a), data_pointer(tmp), data_pointer(out))
    np.testing.assert_array_equal(out, a * 4)
    assert mlc.build(mod, "reference", programs={"twice": Program(3, ())}).program("twice") is None
    with pytest.raises(mlc.MLCError, match="does not define"):
        mlc.build(mod, "llvm", programs={"p": Program(2, (("triple", (0, 1)),))})
    with pytest.raises(mlc.MLCError, match="takes 2 buffers"):
        mlc.build(mod, "llvm", programs={"p": Program(2, (("double", (0, 1, 1)),))})
    with pytest.raises(mlc.MLCError, match="2 slots"):
        mlc.build(mod, "llvm", programs={"p": Program(2, (("double", (0, 2)),))})


def test_reference_backend_uses_array_kernels(release_mode):
    f, entry = compiled(chain, X, W, target="reference")
    assert entry.executor.mode == "arrays"
    np.testing.assert_allclose(f(X, W), ref_chain(X, W), rtol=1e-5)


def test_debug_mode_checks_every_kernel_call(monkeypatch):
    debug = dataclasses.replace(config(), debug=True)
    monkeypatch.setattr(graph_executor, "config", lambda: debug)
    f, entry = compiled(chain, X, W)
    assert entry.executor.mode == "checked"
    np.testing.assert_allclose(f(X, W), ref_chain(X, W), rtol=1e-5)


def test_each_thread_gets_its_own_workspace():
    f, entry = compiled(chain, X, W)
    ex = entry.executor
    inputs = [RNG.standard_normal((8, 8)).astype("float32") for _ in range(6)]
    workspaces, errors = [], []
    barrier = threading.Barrier(len(inputs))

    def worker(x):
        barrier.wait()
        for _ in range(30):
            got = f(x, W)
            if not np.allclose(got, ref_chain(x, W), rtol=1e-5):
                errors.append(x)
        workspaces.append(ex._local.keep[0])  # kept alive, so ids stay distinct

    threads = [threading.Thread(target=worker, args=(x,)) for x in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({id(w) for w in workspaces}) == len(inputs)


def test_outputs_are_fresh_arrays_each_call():
    f = mlc.jit(lambda x: x * 2)
    a, b = f(X), f(X)
    assert a is not b and not np.shares_memory(a, b)


def test_non_contiguous_inputs_are_copied_in():
    f = mlc.jit(lambda x, w: x @ w)
    xt = X.T
    np.testing.assert_allclose(f(xt, W), xt @ W, rtol=1e-5)
    np.testing.assert_allclose(f(X[:, ::2].T, W[::-1]), X[:, ::2].T @ W[::-1], rtol=1e-5)


def test_data_pointer_matches_numpy():
    for a in [X, X[2:], np.zeros(0), np.float64(1) * np.ones((3, 3))[:, 1]]:
        assert data_pointer(a) == a.ctypes.data


def test_executor_needs_a_lowered_graph():
    lowered = mlc.jit(lambda x: x + 1).lower(X)
    with pytest.raises(mlc.MLCError, match="call_tir"):
        GraphExecutor(lowered.traced, mlc.build(lowered.mod, "reference"))


def test_graph_without_kernels():
    f = mlc.jit(lambda x: (x, 3.0))
    a, b = f(X)
    np.testing.assert_array_equal(a, X)
    assert b == 3.0
