"""grad, jvp and vmap through compiled loops and conditionals (mlc.fori_loop, while_loop, cond,
switch, scan, and a Python if/for the jit's rewriting turns into them): against the unrolled
program, central finite differences (mlc.testing.check_grads, float64) and a Python loop of the
function, on Hypothesis-drawn shapes and trip counts."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
import mlc.testing as mt


def _vector(data, n, label):
    return data.draw(mt.arrays("float64", (n,), special=False, bound=1.5), label=label)


def _step(x):
    """A loop body with a carry and a captured value, and its Python-unrolled loop."""
    return lambda i, c: np.tanh(c * x) + 0.5 * c + 0.1 * i


def _unrolled(x, trips):
    c = x
    for i in range(trips):
        c = _step(x)(i, c)
    return c


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 5), st.integers(0, 4), st.data())
def test_fori_loop_grad_and_jvp_match_the_unrolled_loop(n, trips, data):
    x, t = _vector(data, n, "x"), _vector(data, n, "tangent")

    def looped(x):
        return np.sum(mlc.fori_loop(0, trips, _step(x), x) ** 2)

    def unrolled(x):
        return np.sum(_unrolled(x, trips) ** 2)

    np.testing.assert_allclose(mlc.grad(looped)(x), mlc.grad(unrolled)(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mlc.jvp(looped, (x,), (t,))[1], mlc.jvp(unrolled, (x,), (t,))[1], rtol=1e-12,
                               atol=1e-14)


def test_loops_against_finite_differences_to_second_order():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(3), rng.standard_normal((3, 3)) * 0.5

    def nested(x, w):  # a loop in a loop, an int carry, a captured matrix
        def outer(i, state):
            c, k = state
            c = mlc.fori_loop(0, 2, lambda j, d: np.tanh(d @ w) * (j + 1.0), c)
            return c + i * x, k + 1
        return mlc.fori_loop(1, 4, outer, (x, np.int64(0)))[0]

    mt.check_grads(nested, (x, w), order=2)
    forward_only = lambda x, w: mlc.while_loop(lambda c: c[1] < 3,  # noqa: E731
                                               lambda c: (np.sin(c[0] @ w) + x, c[1] + 1), (x, 0))[0]
    mt.check_grads(forward_only, (x, w), order=1, modes=("fwd",))


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 4), st.integers(0, 3), st.data())
def test_switch_and_cond_differentiate_the_branch_taken(n, index, data):
    x, t = _vector(data, n, "x"), _vector(data, n, "tangent")
    branches = [lambda v, s: np.sin(v) * s, lambda v, s: v * v * s, lambda v, s: np.exp(v) - s]
    chosen = branches[min(index, 2)]

    def f(k, x):
        return np.sum(mlc.switch(k, branches, x, np.sum(x)))

    want = mlc.grad(lambda x: np.sum(chosen(x, np.sum(x))))(x)
    np.testing.assert_allclose(mlc.grad(f, argnums=1)(np.int64(index), x), want, rtol=1e-12)
    np.testing.assert_allclose(mlc.jvp(lambda x: f(np.int64(index), x), (x,), (t,))[1], np.dot(want, t),
                               rtol=1e-10, atol=1e-12)
    g = lambda x: np.sum(mlc.cond(np.sum(x) > 0, lambda v: np.sin(v) * 2, lambda v: v ** 3, x))  # noqa: E731
    want = 2 * np.cos(x) if np.sum(x) > 0 else 3 * x ** 2
    np.testing.assert_allclose(mlc.grad(g)(x), want, rtol=1e-12)


@settings(max_examples=5, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.data())
def test_scan_grad_matches_the_unrolled_recurrence(n, length, data):
    xs = data.draw(mt.arrays("float64", (length, n), special=False, bound=1.5), label="xs")
    w = data.draw(mt.arrays("float64", (n, n), special=False, bound=1.0), label="w")

    def scanned(w, xs):
        c, ys = mlc.scan(lambda c, x: (np.tanh(c @ w + x), c * x), np.zeros(n), xs)
        return np.sum(c) + np.sum(ys ** 2)

    def unrolled(w, xs):
        c, total = np.zeros(n), 0.0
        for k in range(length):
            total = total + np.sum((c * xs[k]) ** 2)
            c = np.tanh(c @ w + xs[k])
        return np.sum(c) + total

    for got, want in zip(mlc.grad(scanned, argnums=(0, 1))(w, xs), mlc.grad(unrolled, argnums=(0, 1))(w, xs)):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def python_control_flow(x, w):  # rewritten into fori_loop and cond when traced
    c = x
    for i in range(3):
        c = np.tanh(c @ w) + i
    if np.sum(c) > 4:
        c = c * 2
    else:
        c = c * c
    return np.sum(c)


def test_python_loops_and_ifs_in_a_differentiated_function():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(3), rng.standard_normal((3, 3))

    def reference(x, w):
        c = x
        for i in range(3):
            c = np.tanh(c @ w) + i
        return np.sum(np.where(np.sum(c) > 4, c * 2, c * c))

    for got, want in zip(mlc.grad(python_control_flow, argnums=(0, 1))(x, w),
                         mlc.grad(reference, argnums=(0, 1))(x, w)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_hessian_vmap_of_grad_and_vjp_linearize_through_a_loop():
    rng = np.random.default_rng(3)
    x, xb, w = rng.standard_normal(3), rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
    f = lambda x: np.sum(mlc.fori_loop(0, 3, lambda i, c: np.sin(c) * x, x))  # noqa: E731
    u = lambda x: np.sum(np.sin(np.sin(np.sin(x) * x) * x) * x)  # noqa: E731
    np.testing.assert_allclose(mlc.hessian(f)(x), mlc.hessian(u)(x), rtol=1e-11, atol=1e-13)
    loss = lambda w, v: np.sum(mlc.fori_loop(0, 3, lambda i, c: np.tanh(c @ w), v))  # noqa: E731
    per_example = mlc.vmap(mlc.grad(loss), in_axes=(None, 0))(w, xb)
    np.testing.assert_allclose(per_example, np.stack([mlc.grad(loss)(w, v) for v in xb]), rtol=1e-12)
    fv = lambda x: mlc.fori_loop(0, 3, lambda i, c: np.sin(c) * x, x)  # noqa: E731
    uv = lambda x: np.sin(np.sin(np.sin(x) * x) * x) * x  # noqa: E731
    ones = np.ones(3)
    np.testing.assert_allclose(mlc.vjp(fv, x)[1](ones)[0], mlc.vjp(uv, x)[1](ones)[0], rtol=1e-12)
    np.testing.assert_allclose(mlc.linearize(fv, x)[1](ones), mlc.linearize(uv, x)[1](ones), rtol=1e-12)


def test_reverse_mode_refuses_traced_trip_counts_forward_mode_does_not():
    x = np.float64([0.5, 1.0])
    f = lambda x, n: np.sum(mlc.fori_loop(0, n, lambda i, c: np.sin(c) * x, x))  # noqa: E731
    with pytest.raises(mlc.TraceError, match="fori_loop with traced bounds.*Python-int bounds"):
        mlc.grad(f)(x, np.int64(3))
    unrolled = lambda x: np.sum(np.sin(np.sin(np.sin(x) * x) * x) * x)  # noqa: E731
    np.testing.assert_allclose(mlc.jvp(lambda x: f(x, np.int64(3)), (x,), (np.ones(2),))[1],
                               mlc.jvp(unrolled, (x,), (np.ones(2),))[1], rtol=1e-12)


def _loop_of(f, *args):
    return np.stack([f(*row) for row in zip(*args)])


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.data())
def test_vmap_of_loops_and_conditionals_against_a_python_loop(size, n, data):
    xb = data.draw(mt.arrays("float64", (size, n), special=False, bound=2.0), label="xb")
    ns = np.array(data.draw(st.lists(st.integers(-1, 4), min_size=size, max_size=size), label="trips"))
    ks = np.array(data.draw(st.lists(st.integers(-1, 3), min_size=size, max_size=size), label="index"))
    cases = [
        (lambda v: mlc.fori_loop(0, 3, lambda i, c: c * v + i, v), (xb,)),           # batched carry
        (lambda v: mlc.fori_loop(0, 3, lambda i, c: c + i, np.float64(1.0)) * v, (xb,)),  # unbatched loop
        (lambda k, v: mlc.fori_loop(0, k, lambda i, c: np.sin(c) * 2 + i, v), (ns, xb)),  # batched bounds
        (lambda v: mlc.while_loop(lambda c: np.sum(np.abs(c)) < 8, lambda c: c * 2 + 0.5, v), (xb,)),
        (lambda v: mlc.cond(np.sum(v) > 0, lambda a: a * 2, lambda a: -a, v), (xb,)),  # batched predicate
        (lambda k, v: mlc.switch(k, [lambda a: a, lambda a: a * 2, lambda a: np.sin(a)], v), (ks, xb)),
    ]
    for f, args in cases:
        np.testing.assert_allclose(mlc.vmap(f)(*args), _loop_of(f, *args), rtol=1e-12)
    shared = lambda k, v: mlc.switch(k, [lambda a: a, lambda a: a * 3], v)  # noqa: E731 - unbatched index
    np.testing.assert_allclose(mlc.vmap(shared, in_axes=(None, 0))(np.int64(1), xb), xb * 3, rtol=1e-12)


def test_loop_and_conditional_derivatives_on_the_cuda_emulator():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(3), rng.standard_normal((3, 3)) * 0.5

    def f(x, w):
        c = mlc.fori_loop(0, 3, lambda i, c: np.tanh(c @ w) + i * x, x)
        return mlc.cond(np.sum(c) > 0, lambda v: v * 2, lambda v: np.sin(v), c)

    mt.check_grads(f, (x, w), target="cuda-emulator")
    bounded = mlc.jit(mlc.vmap(lambda k, v: mlc.fori_loop(0, k, lambda i, c: c * 2 + i, v)), target="cuda-emulator")
    np.testing.assert_allclose(bounded(np.array([0, 2, 3]), np.ones((3, 2))), [[1, 1], [5, 5], [12, 12]])


# ------------------------------------------------------------------ the stored carries' cost

def _written_per_iteration(jitted, *args) -> list[int]:
    """For each loop of ``jitted``'s main: the elements its body's kernels write per iteration
    (a region write into its own base counts its row, what it writes; a swapped loop's body runs
    twice per iteration of main's loop: halved)."""
    from mlc.ir.calls import CallPrimFunc
    from mlc.ir.functor import pre_order_nodes
    from mlc.ir.tir import For
    from mlc.ops.hand_written import REGION_WRITE
    from mlc.passes.graph.emit_main import main_name
    lowered = jitted.lower(*args)
    main = lowered.mod[main_name(lowered.graph)]
    counts = []
    for loop in (n for n in pre_order_nodes(main.body) if isinstance(n, For)):
        calls = [c for c in pre_order_nodes(loop.body) if isinstance(c, CallPrimFunc)]
        if not calls:
            continue
        written = 0
        for c in calls:
            out = c.args[-1]
            shape = [int(getattr(d, "value", d)) for d in out.shape]
            size = int(np.prod(shape))
            func = lowered.mod[c.name] if c.name in lowered.mod else None
            if func is not None and func.attr(REGION_WRITE) is not None and c.args[0] is out:
                size //= shape[0]
            written += size
        twice = sum(c.name == calls[0].name for c in calls) == 2
        counts.append(written // 2 if twice else written)
    return counts


def test_reverse_mode_stores_a_loops_carries_at_a_row_per_iteration():
    """The forward loop writes one row of the stored carries per iteration (a region write in
    place), not the whole stack: the work and memory grow linearly with the trip count."""
    x = np.linspace(0.1, 1.0, 8)

    def grad_of(trips):
        return mlc.jit(mlc.grad(lambda x: np.sum(mlc.fori_loop(0, trips, _step(x), x) ** 2)))

    short, long = _written_per_iteration(grad_of(10), x), _written_per_iteration(grad_of(1000), x)
    assert len(short) == len(long) == 2  # the forward loop and the backward one
    assert short == long and max(long) < 8 * 10, (short, long)
    lowered = grad_of(1000).lower(x)
    planned = sum(s.size for s in lowered.graph.storages) * 8
    assert planned < 3 * 1000 * x.nbytes  # the stack once (and its zeros), not once per iteration


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 4), st.sampled_from([1, 2, 7, 40]), st.data())
def test_long_loops_against_finite_differences(n, trips, data):
    """Reverse mode through loops of many iterations, the stored carries a row per iteration,
    against central finite differences and forward mode."""
    x = _vector(data, n, "x") * 0.5

    def f(x):
        c = mlc.fori_loop(0, trips, lambda i, c: np.sin(c) * 0.9 + 0.1 * x * c, x)
        return np.sum(c * c)

    mt.check_grads(f, (x,), modes=("rev", "fwd"))
