"""A ``while`` whose condition is a true Python value before the loop and traced after its first
iteration (``udiff = 1; while udiff > tol: ...``, NPBench's channel_flow) is one compiled loop from
that first iteration on: its body traced and its kernels built once, not once for a first
iteration run as Python and again for the loop. Compared with the same function run by NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from tests.tracer.test_autograph import _all_ops  # the ops of a graph and its bodies

SIZES = st.sampled_from([1, 3, 7, 10])


def _data(n, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, n)


def _top_ops(graph):
    return [b.op for b in graph.bindings]


def relax(a, tol):
    x = a.copy()
    err = 1                                   # a Python int; a traced float64 after one trip
    steps = 0
    while err > tol:
        step = 0.5 * (a / x - x)
        x = x + step
        err = np.max(np.abs(step)) / np.max(np.abs(x))
        steps += 1
    return x, steps


def relax_in_place(u, tol):
    udiff = 1.0
    while udiff > tol:                        # channel_flow's form: the argument updated in place
        un = u.copy()
        u[1:] = 0.5 * (un[1:] + un[:-1])
        u[0] = 0.5 * un[0]
        udiff = (np.sum(u) - np.sum(un)) / np.sum(u)


def relax_reads_temporary(a, tol):
    x = a.copy()
    err = 1.0
    while err > tol:
        step = 0.5 * (a / x - x)
        x = x + step
        err = np.max(np.abs(step))
    return x, step                            # first bound in the loop: its first trip stays Python


def grows_a_shape(x):
    s = 0.0                                   # a Python float, an array after one trip
    while np.all(s < 10):
        s = s + x
    return s


def python_counter(x):
    i = 0
    while i < 3:                              # a Python condition throughout: a Python loop
        x = x * 2
        i += 1
    return x, i


@settings(max_examples=4, deadline=None)
@given(n=SIZES, tol=st.sampled_from([1e-12, 1e-3, 10.0]))
def test_a_loop_traced_after_its_first_trip_matches_numpy(n, tol):
    a = _data(n)
    got_x, got_steps = mlc.jit(relax, static_argnames=("tol",))(a, tol=tol)
    want_x, want_steps = relax(a, tol)
    np.testing.assert_allclose(got_x, want_x, rtol=1e-12)
    assert int(got_steps) == want_steps


def test_the_first_trip_is_traced_and_built_once_inside_the_loop():
    a = _data(5)
    f = mlc.jit(relax, static_argnames=("tol",))
    top = _top_ops(f.trace(a, tol=1e-9).graph)
    assert top.count("while_loop") == 1
    assert not {"divide", "max", "abs"} & set(top), top  # no first trip around the loop
    lowered = f.lower(a, tol=1e-9)
    assert "call_tir" not in _top_ops(lowered.graph)           # no kernel runs outside the loop
    kernels = [name for name in lowered.mod.keys() if name.startswith("fused_divide")]
    assert len(kernels) == 1, kernels                          # the step's kernel, built once


@settings(max_examples=3, deadline=None)
@given(n=SIZES)
def test_an_argument_written_in_place_by_such_a_loop(n):
    u, want = _data(n, 1), _data(n, 1)
    f = mlc.jit(relax_in_place, static_argnames=("tol",))
    f(u, tol=1e-6)
    relax_in_place(want, 1e-6)
    np.testing.assert_allclose(u, want, rtol=1e-12)
    assert _top_ops(f.trace(_data(n, 1), tol=1e-6).graph).count("while_loop") == 1


@pytest.mark.parametrize("n", [1, 4])
def test_a_variable_first_bound_in_the_loop_and_read_after_it(n):
    a = _data(n)
    got = mlc.jit(relax_reads_temporary, static_argnames=("tol",))(a, tol=1e-9)
    want = relax_reads_temporary(a, 1e-9)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


@pytest.mark.parametrize("n", [1, 3])
def test_a_carry_whose_shape_changes_in_the_first_trip(n):
    x = _data(n)
    np.testing.assert_allclose(mlc.jit(grows_a_shape)(x), grows_a_shape(x))


def test_a_loop_that_runs_no_trip_and_one_that_stays_python():
    a = _data(3)
    got_x, got_steps = mlc.jit(relax, static_argnames=("tol",))(a, tol=2.0)   # 1 > 2: no trip
    np.testing.assert_array_equal(got_x, a)
    assert int(got_steps) == 0
    f = mlc.jit(python_counter)
    got_x, got_i = f(a)
    np.testing.assert_allclose(got_x, a * 8)
    assert int(got_i) == 3
    assert "while_loop" not in _all_ops(f.trace(a).graph)


def halve_counting(x):
    err = 1
    k = 0
    while err > 1e-3:
        x = x * 0.5
        err = np.max(x)
        k += 1                                # a Python int after the loop, as in NumPy
    return x * k, k


def sum_counting(x):
    s = 0.0                                   # takes x's float32 in the compiled loop
    k = 0
    for i in range(20):
        s = s + x[i % x.shape[0]]
        k = k + 1
    return x * k, s


@settings(max_examples=4, deadline=None)
@given(n=SIZES)
def test_a_python_int_carried_beside_a_number_that_takes_the_body_dtype_stays_weak(n):
    x = _data(n).astype("float32")
    for fn in (halve_counting, sum_counting):
        got, want = mlc.jit(fn)(x), fn(x.copy())
        assert got[0].dtype == want[0].dtype == np.float32, fn.__name__
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


def test_the_body_is_traced_once_where_a_carry_it_only_assigns_changes_dtype(monkeypatch):
    from mlc.tracer import control_flow
    traced, trace = [], control_flow._trace

    def counting(fn, name, *args, **kwargs):
        traced.append(name)
        return trace(fn, name, *args, **kwargs)

    monkeypatch.setattr(control_flow, "_trace", counting)
    a = _data(4)
    mlc.jit(relax, static_argnames=("tol",)).trace(a, tol=1e-6)
    assert traced.count("while_body") == 1, traced    # err: an int in, float64 out, never read there
