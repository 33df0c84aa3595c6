"""A jitted graph runs as its ``main``: one native call on llvm, planned workspace per call,
fresh outputs per call, the caller's side a MainEntry."""
import threading

import numpy as np
import pytest

import mlc
from mlc.config import override
from mlc.errors import IRError, ShapeError
from mlc.ir.calls import CallPrimFunc, DeclBuffer, is_graph_main
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import Allocate
from mlc.passes.graph import emit_main
from mlc.runtime.pointers import ARRAY_DATA_OFFSET, data_pointer

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


def main_of(entry):
    (func,) = [f for f in entry.graph.module.values() if is_graph_main(f)]
    return func


@pytest.fixture
def release_mode():
    """Modules and entries built as without MLC_DEBUG (which also bounds-checks every
    access, leaving no native entries), whatever the environment says."""
    with override(debug=False):
        yield


def test_memory_planning_allocates_fewer_buffers_than_intermediates():
    f, entry = compiled(chain, X, W)
    n_intermediates = sum(s is not None for b in entry.graph.bindings for s in b.attr("storage"))
    assert n_intermediates == 9
    main = main_of(entry)
    allocates = [n for n in pre_order_nodes(main.body) if isinstance(n, Allocate)]
    assert len(allocates) == len(entry.graph.storages) < n_intermediates
    views = [n for n in pre_order_nodes(main.body) if isinstance(n, DeclBuffer)]
    assert len(views) == n_intermediates  # each intermediate lives in a planned storage
    assert len(main.params) == 3  # x, w and the one output: the caller allocates only that
    np.testing.assert_allclose(f(X, W), ref_chain(X, W), rtol=1e-5)


def test_llvm_runs_the_whole_graph_as_one_native_call(release_mode):
    f, entry = compiled(chain, X, W)
    assert entry.entry.function.native is not None  # the entry calls main's C function
    ll = entry.lib.get_source("ll")
    name = entry.entry.function.name
    program = ll[ll.index(f"define void @{name}("):].split("\n}")[0]
    n_calls = sum(b.op == "call_tir" for b in entry.graph.bindings)
    assert program.count("call void @") == n_calls > 1  # the kernels stay calls, in order
    np.testing.assert_allclose(f(X, W), ref_chain(X, W), rtol=1e-5)


def test_the_entry_takes_array_objects_and_reads_their_data_pointers(release_mode):
    """The jit calls main through its object entry: ``id(array)`` in, the data pointer read
    in native code at ARRAY_DATA_OFFSET, main itself called (not inlined) with them."""
    f, entry = compiled(chain, X, W)
    function = entry.entry.function
    assert ARRAY_DATA_OFFSET is not None and function.object_entry is not None
    ll = entry.lib.get_source("ll")
    wrapper = ll[ll.index(f"define void @{function.name}__objects("):].split("\n}")[0]
    assert wrapper.count(f"i64 {ARRAY_DATA_OFFSET}") == wrapper.count("load ptr") == 3
    assert wrapper.count(f"call void @{function.name}(") == 1
    out = np.full_like(X, np.nan)
    function.object_entry(id(X), id(W), id(out))
    np.testing.assert_allclose(out, ref_chain(X, W), rtol=1e-5)
    same = np.full_like(X, np.nan)
    function.native(data_pointer(X), data_pointer(W), data_pointer(same))
    np.testing.assert_array_equal(out, same)


def test_no_object_entry_where_each_call_needs_a_check(release_mode):
    lowered = mlc.jit(chain).lower(X, W)
    with override(debug=True):  # bounds-checked: no unchecked entry at all
        checked = mlc.build(lowered.mod)
    assert all(checked[n].object_entry is None and checked[n].native is None for n in checked.function_names)
    released = mlc.build(lowered.mod)
    kernels = [released[n] for n in released.function_names if not is_graph_main(released[n].func)]
    assert kernels and all(fn.object_entry is None for fn in kernels)  # only mains have one


def test_the_kernels_stay_callable_one_by_one(release_mode):
    _, entry = compiled(chain, X, W)
    (first,) = [b for b in entry.graph.bindings[:1]]
    kernel = entry.lib[first.attr("func")]
    out = np.empty(first.outputs[0].shape, first.outputs[0].dtype)
    kernel(X, W, out)
    np.testing.assert_allclose(out, X @ W, rtol=1e-5)


def test_main_with_views_constants_and_returned_inputs(release_mode):
    c = np.arange(6, dtype="float32").reshape(3, 2)

    def fn(x, y):
        z = (x * 2).reshape(3, 2) + c  # a view of a kernel's output, and a constant
        return z, x, z.sum(axis=0) + y, z.reshape(6)

    x, y = RNG.standard_normal((2, 3)).astype("float32"), RNG.standard_normal(2).astype("float32")
    f, entry = compiled(fn, x, y)
    main = main_of(entry)
    calls = [n.name for n in pre_order_nodes(main.body) if isinstance(n, CallPrimFunc)]
    assert any(name.startswith("copy") for name in calls)  # the returned input, copied by main
    for got, want in zip(f(x, y), fn(x, y)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert not np.shares_memory(f(x, y)[1], x)


def test_a_value_returned_twice_is_two_arrays_of_one_output():
    f = mlc.jit(lambda x: (x + 1, x + 1))
    a, b = f(X)
    np.testing.assert_allclose(a, X + 1)
    np.testing.assert_array_equal(a, b)


def test_main_calls_are_checked_when_built():
    from mlc import te
    A = te.placeholder((4,), "float32", "A")
    double = te.create_prim_func([A, te.compute((4,), lambda i: A[i] * 2, "B")])
    a, b = double.params
    main = mlc.PrimFunc((a, b), CallPrimFunc("double", (a, b)), (("mlc.graph_main", (1, 0)),))
    for target in ("llvm", "reference"):
        lib = mlc.build(mlc.IRModule({"double": double, "main": main}), target)
        out = np.empty(4, "float32")
        lib["main"](np.arange(4, dtype="float32"), out)
        np.testing.assert_array_equal(out, np.arange(4) * 2)
        with pytest.raises(IRError, match=r"call_prim_func\('triple'\): the module has no such kernel"):
            mlc.build(mlc.IRModule({"double": double, "main": main.with_body(CallPrimFunc("triple", (a, b)))}),
                      target)
        with pytest.raises(IRError, match=r"passes 3 buffers; double takes 2"):
            mlc.build(mlc.IRModule({"double": double,
                                    "main": main.with_body(CallPrimFunc("double", (a, b, b)))}), target)


def test_reference_backend_interprets_main(release_mode):
    f, entry = compiled(chain, X, W, target="reference")
    assert entry.entry.function.native is None
    np.testing.assert_allclose(f(X, W), ref_chain(X, W), rtol=1e-5)


def test_debug_mode_checks_main_and_every_access():
    with override(debug=True):
        f, entry = compiled(chain, X, W)
        assert entry.entry.function.native is None  # a bounds-checked build: no unchecked entry
        np.testing.assert_allclose(f(X, W), ref_chain(X, W), rtol=1e-5)
        with pytest.raises(ShapeError, match=r"argument x must have shape \(8, 8\), got \(4, 8\)"):
            entry.entry([X[:4], W])  # the caller's arrays are checked against main's parameters


def test_concurrent_calls_share_no_workspace():
    f, entry = compiled(chain, X, W)
    assert any(isinstance(n, Allocate) for n in pre_order_nodes(main_of(entry).body))  # per call
    inputs = [RNG.standard_normal((8, 8)).astype("float32") for _ in range(6)]
    errors = []
    barrier = threading.Barrier(len(inputs))

    def worker(x):
        barrier.wait()
        for _ in range(30):
            got = f(x, W)
            if not np.allclose(got, ref_chain(x, W), rtol=1e-5):
                errors.append(x)

    threads = [threading.Thread(target=worker, args=(x,)) for x in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_outputs_are_fresh_arrays_each_call():
    f = mlc.jit(lambda x: x * 2)
    a, b = f(X), f(X)
    assert a is not b and not np.shares_memory(a, b)


def test_non_contiguous_inputs_are_copied_in():
    f = mlc.jit(lambda x, w: x @ w)
    xt = X.T
    np.testing.assert_allclose(f(xt, W), xt @ W, rtol=1e-5)
    np.testing.assert_allclose(f(X[:, ::2].T, W[::-1]), X[:, ::2].T @ W[::-1], rtol=1e-5)
    g = mlc.jit(lambda x, w, v: x @ w + v)  # more inputs, and a constant-free multi-input entry
    np.testing.assert_allclose(g(xt, W, X[::-1]), xt @ W + X[::-1], rtol=1e-5)


def test_data_pointer_matches_numpy():
    for a in [X, X[2:], np.zeros(0), np.float64(1) * np.ones((3, 3))[:, 1]]:
        assert data_pointer(a) == a.ctypes.data


def test_main_needs_a_lowered_graph():
    lowered = mlc.jit(lambda x: x + 1).lower(X)
    with pytest.raises(IRError, match="call_tir"):
        emit_main(lowered.traced)


def test_graph_without_kernels():
    f = mlc.jit(lambda x: (x, 3.0))
    a, b = f(X)
    np.testing.assert_array_equal(a, X)
    assert b == 3.0


def test_numbers_main_stores_itself_are_made_on_the_first_call_only():
    """A 0-d constant main makes itself (mlc.passes.graph.emit_main.made_in_main) is filled once
    by the runner of a main without a native entry (reference, GPUs), then kept."""
    from mlc.ir.buffer import decl_buffer
    from mlc.ir.expr import const
    from mlc.ir.tir import BufferStore, seq
    from mlc.runtime.graph_main import GraphMainProgram
    x, out, k = decl_buffer((4,), "float32", "x"), decl_buffer((4,), "float32", "out"), decl_buffer((1,), "float32", "k")
    body = Allocate(k, seq(BufferStore(k, const(2.5, "float32"), (const(0, "int32"),)),
                           CallPrimFunc("scale", (x, k, out))))
    main = mlc.PrimFunc((x, out), body, (("mlc.graph_main", (1, 0)),))
    made = []

    def empty(shape, dtype):
        made.append(shape)
        return np.empty(shape, dtype)

    def scale(a, s, o):
        o[:] = a * s[0]
    program = GraphMainProgram(main, {"scale": scale}, empty=empty)
    for _ in range(3):
        o = np.empty(4, "float32")
        program.run([np.arange(4, dtype="float32"), o])
        np.testing.assert_array_equal(o, np.arange(4) * 2.5)
    assert made == [(1,)]


def _steps_program(x):
    for t in range(12):  # a compiled loop, a branch in it, then a while loop
        if x.sum() > 0:
            x = x * 1.5
        else:
            x = x - 1
    while x.max() < 1000:
        x = x + 7
    return x


@pytest.mark.parametrize("start", [-3.0, 1.0])
def test_a_main_as_a_bundles_steps_runs_on_any_devices_arrays(release_mode, start):
    """A device bundle holds its graph ``main`` as steps (main_steps) that the loader's
    MainSteps runs with the device's ``empty`` and kernels: here NumPy's and the llvm kernels,
    on the loop, the branch and the while loop of compiled control flow."""
    from mlc.runtime.loader import MainSteps
    from mlc.runtime.main_steps import main_steps

    x = np.arange(5, dtype="float32") + np.float32(start)
    f, entry = compiled(_steps_program, x)
    module = entry.graph.module
    (name,) = [n for n, g in module.items() if is_graph_main(g)]
    kernels = {n: type("Kernel", (), {"launch": lambda self, arrays, n=n: entry.lib[n](*arrays)})()
               for n, g in module.items() if not is_graph_main(g)}
    meta = main_steps(name, module[name], kernels)
    assert {"for", "if", "while"} <= {kind for kind, *_ in _all_steps(meta["steps"])}
    out = np.empty(x.shape, x.dtype)
    MainSteps(name, meta["steps"], kernels, np.empty).run([x.copy(), out])
    np.testing.assert_array_equal(out, f(x))
    np.testing.assert_allclose(out, _steps_program(x), rtol=1e-6)


def _all_steps(steps):
    for step in steps:
        yield step
        for part in step[1:]:
            if isinstance(part, list) and part and isinstance(part[0], list) and isinstance(part[0][0], str):
                yield from _all_steps(part)
