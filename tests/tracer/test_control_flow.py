"""mlc.fori_loop, while_loop, cond, switch and scan inside @mlc.jit, against Python loops over NumPy.

Each compiles into one loop or conditional of the graph's main (not an unrolled trace), on the
llvm backend and, for a few, on the reference backend and the CUDA emulator."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir.calls import CallPrimFunc
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For, IfThenElse, While
from mlc.passes.graph.emit_main import main_name

SIZES = st.sampled_from([1, 3, 7, 16])
TARGETS = ["llvm", "reference", "cuda-emulator"]


def _data(n, seed=0, dtype="float32"):
    return np.random.default_rng(seed).uniform(0.5, 1.5, n).astype(dtype)


def _main_nodes(fn, *args, **kwargs):
    lowered = fn.lower(*args, **kwargs)
    return list(pre_order_nodes(lowered.mod[main_name(lowered.graph)].body)), lowered


@settings(max_examples=8, deadline=None)
@given(n=SIZES, steps=st.integers(-2, 6))
def test_fori_loop_traced_bounds_matches_python(n, steps):
    @mlc.jit
    def f(x, lo, hi):
        return mlc.fori_loop(lo, hi, lambda i, acc: acc * 0.5 + x * i, np.zeros_like(x))

    x = _data(n)
    want = np.zeros_like(x)
    for i in range(1, steps):
        want = want * np.float32(0.5) + x * np.float32(i)
    np.testing.assert_allclose(f(x, np.int64(1), np.int64(steps)), want, rtol=1e-6)


def test_fori_loop_is_one_loop_whatever_the_trip_count():
    def f(x, steps):
        return mlc.fori_loop(0, steps, lambda i, u: u + 0.1 * (x - u), x * 0)

    sizes = []
    for steps in (10, 1000):
        jf = mlc.jit(f, static_argnames=("steps",))
        nodes, lowered = _main_nodes(jf, _data(5), steps=steps)
        loops = [s for s in nodes if isinstance(s, For)]
        # the carry's next value reads it element by element: updated in its own buffer
        assert len(loops) == 1 and loops[0].extent.value == steps
        sizes.append(len(lowered.mod))
        assert lowered.graph.ops().count("for_loop") == 1
    assert sizes[0] == sizes[1]
    x = _data(5)
    want = x * 0
    for _ in range(1000):
        want = want + np.float32(0.1) * (x - want)
    np.testing.assert_allclose(mlc.jit(f, static_argnames=("steps",))(x, steps=1000), want, rtol=1e-5)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_carries_are_updated_in_place_without_copies(target, n):
    """A body whose new carry does not read the old one, or reads it element by element at the
    element it writes (c = c * x), writes the carry's buffer directly; one that reads other
    elements of it (c = c[::-1] * x) alternates between two buffers, two iterations per trip
    of the compiled loop: no copy inside the loop either way."""
    fresh = mlc.jit(lambda x, n: mlc.fori_loop(0, n, lambda i, c: x * i, x), target=target)
    reads = mlc.jit(lambda x, n: mlc.fori_loop(0, n, lambda i, c: c * x + i, x), target=target)
    flips = mlc.jit(lambda x, n: mlc.fori_loop(0, n, lambda i, c: c[::-1] * x + i, x), target=target)
    stop = mlc.jit(lambda x: mlc.while_loop(lambda c: c.sum() < 100, lambda c: c * x, x), target=target)
    for fn, kernels in ((fresh, 1), (reads, 1), (flips, 2)):
        nodes, lowered = _main_nodes(fn, _data(4), np.int64(3))
        (loop,) = [s for s in nodes if isinstance(s, For)]
        calls = [s.name for s in pre_order_nodes(loop.body) if isinstance(s, CallPrimFunc)]
        assert len(calls) == kernels and not any(name.startswith("copy") for name in calls), calls
    x = _data(4) + 1
    want_fresh, want_reads = x, x
    for i in range(n):
        want_fresh, want_reads = x * np.float32(i), want_reads * x + np.float32(i)
    np.testing.assert_allclose(fresh(x, np.int64(n)), want_fresh)
    np.testing.assert_allclose(reads(x, np.int64(n)), want_reads, rtol=1e-6)
    want_flips = x
    for i in range(n):
        want_flips = want_flips[::-1] * x + np.float32(i)
    np.testing.assert_allclose(flips(x, np.int64(n)), want_flips, rtol=1e-6)
    want = x
    while want.sum() < 100:
        want = want * x
    np.testing.assert_allclose(stop(x), want, rtol=1e-6)


@pytest.mark.parametrize("target", TARGETS)
def test_carries_that_swap_and_pytrees(target):
    """(a, b) -> (b, a + b): each carry's next value reads the other's old one."""
    @mlc.jit(target=target)
    def fib(n):
        state = {"a": np.zeros(2, "int64"), "b": np.ones(2, "int64")}
        out = mlc.fori_loop(0, n, lambda i, s: {"a": s["b"], "b": s["a"] + s["b"]}, state)
        return out["a"], out["b"]

    a, b = fib(np.int64(10))
    assert a.tolist() == [55, 55] and b.tolist() == [89, 89]


@pytest.mark.parametrize("target", TARGETS)
def test_while_loop_newton_sqrt(target):
    @mlc.jit(target=target)
    def newton_sqrt(a):
        return mlc.while_loop(lambda x: np.max(np.abs(x * x - a)) > 1e-12,
                              lambda x: 0.5 * (x + a / x), a)

    a = np.array([2.0, 9.0, 0.25, 1e4])
    nodes, _ = _main_nodes(newton_sqrt, a)
    assert any(isinstance(s, While) for s in nodes)
    np.testing.assert_allclose(newton_sqrt(a), np.sqrt(a), rtol=1e-12)


@settings(max_examples=6, deadline=None)
@given(n=SIZES, limit=st.floats(1.0, 1e3))
def test_while_loop_counts_like_python(n, limit):
    @mlc.jit
    def doubling(x, limit):
        return mlc.while_loop(lambda s: s[0].sum() < limit, lambda s: (s[0] * 2, s[1] + 1),
                              (x, np.int64(0)))

    x = _data(n)
    want_x, want_k = x, 0
    while want_x.sum() < np.float32(limit):
        want_x, want_k = want_x * 2, want_k + 1
    got_x, got_k = doubling(x, np.float32(limit))
    np.testing.assert_allclose(got_x, want_x)
    assert int(got_k) == want_k


@pytest.mark.parametrize("target", TARGETS)
def test_cond_and_switch_pick_the_branch_at_run_time(target):
    @mlc.jit(target=target)
    def f(x):
        return mlc.cond(x.sum() > 0, lambda v: v * 2, lambda v: -v, x)

    @mlc.jit(target=target)
    def g(k, x):
        return mlc.switch(k, [lambda v: v + 1, lambda v: v * 3, lambda v: 0.0], x)

    x = _data(3)
    np.testing.assert_allclose(f(x), x * 2)
    np.testing.assert_allclose(f(-x), x)
    nodes, _ = _main_nodes(f, x)
    assert any(isinstance(s, IfThenElse) for s in nodes)
    for k, want in ((-5, x + 1), (0, x + 1), (1, x * 3), (2, 0 * x), (9, 0 * x)):
        np.testing.assert_allclose(g(np.int64(k), x), want)


@settings(max_examples=6, deadline=None)
@given(n=SIZES)
def test_scan_is_cumulative_sum_and_product(n):
    @mlc.jit
    def f(xs):
        return mlc.scan(lambda c, x: ((c[0] + x, c[1] * x), (c[0] + x, c[1] * x)),
                        (np.float32(0), np.float32(1)), xs)

    xs = _data(n)
    (s, p), (ss, ps) = f(xs)
    np.testing.assert_allclose(ss, np.cumsum(xs), rtol=1e-5)
    np.testing.assert_allclose(ps, np.cumprod(xs), rtol=1e-5)
    np.testing.assert_allclose(s, xs.sum(), rtol=1e-5)


def test_nested_loops_capture_outer_values():
    @mlc.jit
    def f(x, n, m):
        def outer(i, acc):
            return mlc.fori_loop(0, m, lambda j, a: a + x * (i + j), acc)
        return mlc.fori_loop(0, n, outer, np.zeros_like(x))

    x = _data(3)
    want = np.zeros_like(x)
    for i in range(4):
        for j in range(3):
            want = want + x * np.float32(i + j)
    np.testing.assert_allclose(f(x, np.int64(4), np.int64(3)), want, rtol=1e-6)


def test_weak_python_number_carry_takes_the_body_dtype():
    f = mlc.jit(lambda x: mlc.fori_loop(0, 3, lambda i, s: s + x.sum(), 0.0))
    out = f(_data(4))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 3 * _data(4).sum(), rtol=1e-6)


def test_errors_name_the_users_line():
    @mlc.jit
    def bad(x):
        return mlc.fori_loop(0, 3, lambda i, c: c.astype("float64"), x)

    with pytest.raises(mlc.TraceError, match="(?s)carried value 0 enters the loop as float32.*test_control_flow.py"):
        bad(_data(2))

    @mlc.jit
    def bad_branches(x):
        return mlc.cond(x.sum() > 0, lambda: x, lambda: x[:1])

    with pytest.raises(mlc.TraceError, match="every branch returns values of one shape"):
        bad_branches(_data(2))

    @mlc.jit
    def bad_cond(x):
        return mlc.while_loop(lambda v: v > 0, lambda v: v - 1, x)

    with pytest.raises(mlc.TraceError, match="ambiguous"):
        bad_cond(_data(2))


def test_outside_a_trace_they_run_as_python():
    assert mlc.fori_loop(0, 4, lambda i, c: c + i, 0) == 6
    assert mlc.while_loop(lambda c: c < 10, lambda c: c * 2, 1) == 16
    assert mlc.cond(False, lambda: 1, lambda: 2) == 2
    assert mlc.switch(5, [lambda: 1, lambda: 2]) == 2


def test_reverse_mode_refuses_a_loop_of_unknown_trip_count_clearly_and_dynamic_axes_refuse_loops():
    def f(x):
        return mlc.while_loop(lambda c: c.sum() < 10, lambda c: c * x, x).sum()

    with pytest.raises(mlc.TraceError, match="(?s)does not go through a while_loop.*forward mode.*test_control_flow.py"):
        mlc.jit(mlc.grad(f))(_data(2))
    g = mlc.jit(lambda x: mlc.fori_loop(0, 3, lambda i, c: c * 2, x), dynamic=("x", 0))
    with pytest.raises(mlc.ShapeError, match="does not run with dynamic axes"):
        g(_data(2))


def test_a_nest_of_compiled_loops_each_updating_the_carry_out_of_order():
    """Three levels of traced-bound loops, each level reading the carry reversed before its
    inner loop: one compiled loop a level, and NumPy's values at every trip count."""
    def f(x, n):
        u = x * 0
        for i in range(n):
            u = u[::-1] * 0.5 + x * i
            for j in range(n):
                u = u[::-1] * 0.5 + x * j
                for k in range(n):
                    u = u[::-1] * 0.5 + x * k
        return u

    x = _data(5)
    jf = mlc.jit(f)
    nodes, _ = _main_nodes(jf, x, np.int64(3))
    assert sum(isinstance(s, For) for s in nodes) == 3
    for n in (0, 1, 2, 3):
        np.testing.assert_allclose(jf(x, np.int64(n)), f(x, n), rtol=1e-5)


def _nest_swapping_each_level(x, n):
    """Three levels of traced-bound loops; after its inner loop, each outer level makes its
    carry's next value reading the carry reversed (so that value goes to the carry's other
    buffer and is copied back after the level's body)."""
    u = x * 0
    for i in range(n):
        for j in range(n):
            for k in range(n):
                u = u * 0.5 + x * k
            u = u[::-1] * 0.75 + x * j
        u = u[::-1] + x * i
    return u


def test_main_runs_the_body_of_a_loop_with_loops_inside_once_a_trip_and_copies_its_carry_back():
    """main's structure for a nest whose outer levels swap their carry: one For per level (the
    body of a loop that has loops inside is not written out twice a trip, with an odd last trip
    after: that grew main threefold per level), each level's kernel called once, and the carry
    of each swapping level copied back from its other buffer once per trip, after the kernel
    that wrote it (without that copy the next trip read a stale value)."""
    jf = mlc.jit(_nest_swapping_each_level)
    x = _data(5)
    nodes, _ = _main_nodes(jf, x, np.int64(3))
    loops = [s for s in nodes if isinstance(s, For)]
    assert len(loops) == 3
    calls = [s for s in nodes if isinstance(s, CallPrimFunc)]
    kernels = [c.name for c in calls if not c.name.startswith("copy")]
    assert len(kernels) == len(set(kernels)) == 4  # u * 0 and one kernel per level
    for outer, inner in zip(loops, loops[1:]):  # a swapping level's trip: its inner loop, its kernel, a copy
        trip = [s for s in outer.body.seq if isinstance(s, (For, CallPrimFunc))]
        assert [type(s) for s in trip] == [For, CallPrimFunc, CallPrimFunc] and trip[0] is inner
        kernel, copy = trip[1:]
        assert not kernel.name.startswith("copy") and copy.name.startswith("copy")
        assert copy.args[0] is kernel.args[-1] and copy.args[1] is not kernel.args[-1]
    for n in (0, 1, 2, 3):
        np.testing.assert_allclose(jf(x, np.int64(n)), _nest_swapping_each_level(x, n), rtol=1e-5)
