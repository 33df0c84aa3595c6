"""The eager first tier: a first call whose graph NumPy runs sooner than it compiles runs
the traced graph through the ops' NumPy references, then the optimised program is built in
the background and swapped in; against NumPy."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.config import override
from mlc.ir.graph import Binding, Graph, Var
from mlc.ir.types import TensorType
from mlc.ops import registry
from mlc.tracer import eager, tiering

SWAP_BOUND_S = 120


def _compiled(f):
    (compiled,) = f._specs.compiled.values()
    return compiled


def program(x, y):
    h = np.maximum(x @ y + 1.0, 0)
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), (x * 2).T, h.reshape(-1)[:3].astype("float32")


@settings(max_examples=10, deadline=None)
@given(m=st.sampled_from([1, 3, 8, 17]), k=st.sampled_from([1, 5, 16]), n=st.sampled_from([3, 7]))
def test_the_first_call_runs_eagerly_then_the_optimised_program(m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    x, y = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    want = program(x, y)
    f = mlc.jit(program, tiered=True)
    with override(eager_first=True):
        got = f(x, y)
    compiled = _compiled(f)
    assert compiled.function.lib is None  # the eager tier: no kernels built yet
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert tiering.wait(timeout=SWAP_BOUND_S), "the optimised build was not swapped in in time"
    slot = f._specs._slots[next(iter(f._specs.compiled))]
    assert compiled.function.lib is not None and not compiled.function.lib.is_quick
    assert slot.run is compiled.run is compiled.function.run
    for a, b in zip(f(x, y), want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert f.trace_count == 1


def test_eager_outputs_are_arrays_of_their_own():
    x = np.arange(6.0).reshape(2, 3)
    def views(a):
        t = a.T
        return a, t, a.reshape(-1), t, a.T

    f = mlc.jit(views, tiered=True)
    with override(eager_first=True):
        outs = f(x)
        assert _compiled(f).function.lib is None
    assert outs[1] is outs[3]  # one value returned twice: one array, as the compiled main returns it
    for out in outs:
        assert not np.shares_memory(out, x) and out.flags.c_contiguous and out.flags.writeable
    assert not np.shares_memory(outs[0], outs[2]) and not np.shares_memory(outs[1], outs[4])
    np.testing.assert_array_equal(outs[1], x.T)
    assert tiering.wait(timeout=SWAP_BOUND_S)


@settings(max_examples=6, deadline=None)
@given(n=st.sampled_from([1, 2, 9]))
def test_an_eager_call_writes_its_argument_back(n):
    def scale(a, b):
        a *= 2
        a += b
        return a.sum()

    x, y = np.arange(float(n)), np.ones(n)
    want_x = x * 2 + y
    f = mlc.jit(scale, tiered=True)
    with override(eager_first=True):
        total = f(x, y)
        assert _compiled(f).function.lib is None
    np.testing.assert_allclose(x, want_x)
    np.testing.assert_allclose(total, want_x.sum())
    assert tiering.wait(timeout=SWAP_BOUND_S)
    np.testing.assert_allclose(f(x, y), (want_x * 2 + y).sum())
    np.testing.assert_allclose(x, want_x * 2 + y)


def test_a_failing_reference_hands_the_call_to_the_optimised_program(monkeypatch):
    def broken(*arrays):
        raise FloatingPointError("no")
    broken.__module__ = "mlc.ops.library.elementwise"  # (passes for the library's own)
    monkeypatch.setitem(registry._REGISTRY, "exp", registry.replace(registry.get_op("exp"), reference=broken))
    x = np.linspace(-1, 1, 5)
    f = mlc.jit(lambda a: np.exp(a) + 1, tiered=True)
    with override(eager_first=True):
        np.testing.assert_allclose(f(x), np.exp(x) + 1, rtol=1e-12)
    assert tiering.wait(timeout=SWAP_BOUND_S)
    assert _compiled(f).function.lib is not None
    np.testing.assert_allclose(f(x), np.exp(x) + 1, rtol=1e-12)


def test_the_optimised_program_brings_its_fast_entry():
    x = np.arange(6.0)
    f = mlc.jit(lambda a, b: a * b + 1, tiered=True)
    with override(eager_first=True):
        first = f(x, x)
        assert _compiled(f).function.lib is None
    assert type(first) is np.ndarray and first.shape == x.shape  # a lone output is the array itself
    np.testing.assert_array_equal(first, x * x + 1)
    assert tiering.wait(timeout=SWAP_BOUND_S)
    np.testing.assert_array_equal(f(x, x), x * x + 1)
    np.testing.assert_array_equal(f(x, x), x * x + 1)
    slot = f._specs._slots[next(iter(f._specs.compiled))]
    assert slot.compiled.function.lib is not None
    if slot.compiled.function.can_fast:
        assert slot.fast is not None


def test_eager_first_off_and_large_work_build_instead():
    x = np.ones((4, 4))
    for setting, size in ((False, 4), (True, 1 << 22)):
        a = np.ones(size)
        f = mlc.jit(lambda v: np.sqrt(np.tanh(np.arctan2(v, v + 1)) ** 3 + 1), tiered=True)
        with override(eager_first=setting):
            f(a)
        assert _compiled(f).function.lib is not None  # a (quick) build served the first call
        assert tiering.wait(timeout=SWAP_BOUND_S)
    del x


def _graph(op: str, shape, dtype="float32", n_args=1) -> Graph:
    args = tuple(Var(f"x{k}", TensorType(shape, dtype)) for k in range(n_args))
    out = Var("y", TensorType(shape, dtype))
    return Graph(args, (Binding((out,), op, args),), (out,))


def test_the_plan_weighs_eager_work_against_compiling():
    assert eager.plan(_graph("exp", (64, 64))) is not None
    assert eager.plan(_graph("exp", (1 << 14, 1 << 12))) is None  # 256 MB moved: compiling is sooner
    assert eager.plan(_graph("argsort", (1 << 20,))) is None  # the reference argsorts slowly (stably)
    assert eager.plan(_graph("sort", (1 << 22,))) is not None  # NumPy's own sort
    assert eager.plan(_graph("add", (1 << 23,), "float32", 2)) is not None
    assert eager.plan(_graph("add", (1 << 23,), "float16", 2)) is None  # NumPy converts each half
    a, b, c = (Var(n, TensorType(s, "float32")) for n, s in (("a", (2048, 2048)), ("b", (2048, 2048)),
                                                                ("c", (2048, 2048))))
    product = Graph((a, b), (Binding((c,), "matmul", (a, b)),), (c,))
    assert eager.plan(product) is not None  # BLAS's flops: the compiled kernel runs them too
    i, j, k = (Var(n, TensorType((512, 512), "int32")) for n in "ijk")
    assert eager.plan(Graph((i, j), (Binding((k,), "matmul", (i, j)),), (k,))) is None  # NumPy's int loops
    dead = Var("d", TensorType((64,), "float32"))
    x = Var("x", TensorType((64,), "float32"))
    y = Var("y", TensorType((64,), "float32"))
    planned = eager.plan(Graph((x,), (Binding((dead,), "exp", (x,)), Binding((y,), "sqrt", (x,))), (y,)))
    assert planned.ops() == ["sqrt"]  # nothing computed that no output needs



def test_the_gradients_of_the_nn_row_ops_run_eagerly_first():
    """The gradient of sum(nn.layer_norm(x) * c) (x's, gamma's and beta's) and of
    sum(nn.softmax(x) * c) at 4096 x 1024 float32: NumPy's references (written in place) run
    them sooner than a build of their row kernels compiles."""
    x = c = np.zeros((4096, 1024), "float32")
    g = np.zeros(1024, "float32")
    layer_norm = mlc.jit(lambda v, g_, b_, c_: mlc.grad(
        lambda *p: np.sum(mlc.nn.layer_norm(*p, axis=1) * c_), argnums=(0, 1, 2))(v, g_, b_))
    softmax = mlc.jit(lambda v, c_: mlc.grad(lambda u: np.sum(mlc.nn.softmax(u, axis=1) * c_))(v))
    for graph in (layer_norm.trace(x, g, g, c).graph, softmax.trace(x, c).graph):
        assert eager.plan(graph) is not None, graph.ops()


def test_a_broadcast_is_a_view_of_its_operand_in_the_eager_run():
    """broadcast_to costs the eager run nothing (NumPy's read-only view, no new array); a later
    op reads through it, an output that is one comes back an array of its own."""
    x = Var("x", TensorType((1, 3), "float32"))
    y = Var("y", TensorType((4, 3), "float32"))
    b = Var("b", TensorType((4, 3), "float32"))
    e = Var("e", TensorType((1, 3), "float32"))
    s = Var("s", TensorType((4, 3), "float32"))
    graph = Graph((x, y), (Binding((e,), "exp", (x,)), Binding((b,), "broadcast_to", (e,), (("shape", (4, 3)),)),
                           Binding((s,), "add", (b, y))), (s, b))
    alone = Graph((x,), (Binding((b,), "broadcast_to", (x,), (("shape", (4, 3)),)),), (b,))
    assert eager.estimated_cost(alone) == (eager.SECONDS_PER_BINDING, 0.0)
    xs, ys = np.arange(3, dtype="float32").reshape(1, 3), np.ones((4, 3), "float32")
    got_s, got_b = eager.EagerEntry(graph).run([xs, ys])
    np.testing.assert_array_equal(got_b, np.broadcast_to(np.exp(xs), (4, 3)))
    np.testing.assert_array_equal(got_s, np.exp(xs) + ys)
    assert got_b.flags.writeable and got_b.flags.c_contiguous and got_b.base is None


def test_a_control_flow_graph_or_dynamic_axes_are_compiled():
    x = np.arange(4.0)
    loop = mlc.jit(lambda v: mlc.fori_loop(0, 3, lambda i, c: c * 2, v), tiered=True)
    dynamic = mlc.jit(lambda v: v + 1, tiered=True, dynamic=("v", 0))
    with override(eager_first=True):
        np.testing.assert_array_equal(loop(x), x * 8)
        np.testing.assert_array_equal(dynamic(x), x + 1)
    for f in (loop, dynamic):
        assert all(c.function.lib is not None for c in f._specs.compiled.values())
    assert tiering.wait(timeout=SWAP_BOUND_S)


def _views_and_temporaries(x, y):
    d = x - 1.0
    v = mlc.stop_gradient(d)  # (its reference returns d's array itself), alive after d's last use
    t = d.T[::-1]  # a view of d (VIEWS), alive after d's last use too
    e = np.exp(d)
    same = y.astype(y.dtype)  # (may be y itself)
    w = np.sqrt(np.abs(same)) * 2.0
    return e + v.reshape(d.shape), w - 1.0, np.tanh(e * e), t[::-1].T * 3.0


@settings(max_examples=10, deadline=None)
@given(shape=st.sampled_from([(1,), (7,), (3, 5), (1, 4)]), dtype=st.sampled_from(["float32", "float64"]))
def test_temporaries_written_in_place_never_clobber_a_value_still_read(shape, dtype):
    rng = np.random.default_rng(len(shape) * 10 + shape[-1])
    x, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    x0, y0 = x.copy(), y.copy()
    want = _views_and_temporaries(x, y)
    f = mlc.jit(_views_and_temporaries, tiered=True)
    with override(eager_first=True):
        got = f(x, y)
        assert _compiled(f).function.lib is None
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)  # the arguments are never written
    for a, b in zip(got, want):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == "float32" else 1e-12)
    assert tiering.wait(timeout=SWAP_BOUND_S)


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_calls_from_two_threads_while_the_optimised_program_is_swapped_in_stay_right():
    import threading
    x = np.random.default_rng(2).standard_normal((33, 40)).astype("float32")
    want = _softmax(x)
    f = mlc.jit(_softmax, tiered=True)
    failures, eager_calls = [], []

    def calls():
        for _ in range(300):
            eager_calls.append(_compiled(f).function.lib is None)
            got = f(x)
            if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-6):
                failures.append(got)
            if not tiering.pending():
                break

    with override(eager_first=True):
        f(x)
        threads = [threading.Thread(target=calls) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert tiering.wait(timeout=SWAP_BOUND_S)
    assert not failures
    assert _compiled(f).function.lib is not None
    np.testing.assert_allclose(f(x), want, rtol=1e-5, atol=1e-6)


def test_mlc_testing_checks_the_compiled_program_never_the_numpy_tier(monkeypatch):
    """mlc.testing compares compiled code with NumPy: a first tier that runs NumPy's references
    would compare NumPy with itself. With tiers on, none of its checks asks for that tier."""
    from mlc.testing import check_against_numpy, check_grads
    from mlc.testing import fuzz
    import random

    def refused(traced):
        raise AssertionError("mlc.testing ran a NumPy first tier")

    monkeypatch.setattr(tiering, "eager_tier", refused)
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    with override(tiered=True, eager_first=True):
        check_against_numpy(mlc.jit(lambda a: np.exp(a) * 2.0), lambda a: np.exp(a) * 2.0,
                            mlc.testing.arrays("float64", (3, 4), bound=3.0), targets=["llvm"], max_examples=2)
        check_grads(lambda a: np.sum(np.tanh(a)), (x,))
        prog = fuzz.Program("lambda a: a * 2 + 1", {"a": ((3,), "float64")})
        assert fuzz.run_program(prog, "llvm", random.Random(0)) is None


def test_a_given_schedule_is_compiled_on_the_first_call():
    x = np.ones((64, 64))
    f = mlc.jit(lambda a: a + 1.0, tiered=True, schedule=lambda sch: None)
    with override(eager_first=True):
        np.testing.assert_array_equal(f(x), x + 1.0)
    assert _compiled(f).function.lib is not None


def test_mlc_testing_checks_the_optimised_build_of_a_signature_the_caller_ran_first(monkeypatch):
    from mlc.testing import check_against_numpy
    runs = []
    eager_run = eager.EagerEntry.run
    monkeypatch.setattr(eager.EagerEntry, "run", lambda self, *a: runs.append(1) or eager_run(self, *a))
    f = mlc.jit(lambda a: np.exp(a) * 2.0, tiered=True)
    x = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    with override(eager_first=True):
        f(x)  # the eager tier serves this signature until the optimised build is swapped in
        assert len(runs) == 1
        check_against_numpy(f, lambda a: np.exp(a) * 2.0, mlc.testing.arrays("float64", (3, 4), bound=3.0),
                            targets=["llvm"], max_examples=2)
    assert len(runs) == 1  # every run of the check was the compiled program's
