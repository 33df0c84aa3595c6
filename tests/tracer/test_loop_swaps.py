"""Loops that swap arrays between their names (``a, b = b, a``) while writing them in place:
the arrays (the caller's arguments among them) end with NumPy's contents, and each name with
NumPy's array, whatever the trip count's parity; what a compiled loop cannot carry is refused."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import TraceError


def swap_write(a, b):
    for i in range(a.shape[0]):
        a[i] = b[i] + 1.0
        a, b = b, a


def rotate_three(a, b, c):
    for i in range(a.shape[0]):
        a[i] += 1
        b[i] += 2
        c[i] += 3
        a, b, c = b, c, a
    return a - c


def ping_pong(u, steps):
    a, b = u, u.copy()
    for t in range(steps):
        b[1:-1] = 0.5 * (a[2:] + a[:-2])
        a, b = b, a
    return a


def _both(fn, arrays, *rest, **jit):
    ours = [x.copy() for x in arrays]
    theirs = [x.copy() for x in arrays]
    expected = fn(*theirs, *rest)
    got = mlc.jit(fn, **jit)(*ours, *rest)
    for x, y in zip(ours, theirs):
        np.testing.assert_array_equal(x, y)
    if expected is not None:
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 23))
def test_swapping_arguments_written_in_place_match_numpy(n):
    rng = np.random.default_rng(n)
    _both(swap_write, [rng.random(n), rng.random(n)])
    _both(rotate_three, [rng.random(n), rng.random(n), rng.random(n)])


@pytest.mark.parametrize("steps", [0, 1, 40, 41])
def test_a_ping_pong_stencil_is_one_compiled_loop_and_matches_numpy(steps):
    _both(ping_pong, [np.linspace(0, 1, 33) ** 2], steps, static_argnames=("steps",))


def test_a_ping_pong_compiles_once_whatever_its_trip_count():
    f = mlc.jit(ping_pong, static_argnames=("steps",))
    u = np.linspace(0, 1, 17)
    graphs = [f.lower(u, steps=s).graph for s in (40, 4000)]
    assert len(graphs[0].bindings) == len(graphs[1].bindings)  # a loop, not 4000 unrolled steps


def test_swaps_a_compiled_loop_cannot_carry_are_refused_clearly():
    def traced_count(a, b, n):
        for i in range(n):
            a[i] = b[i] + 1.0
            a, b = b, a

    def while_swap(a, b):
        while a.sum() < 100:
            a[0] += 1.0
            a, b = b, a

    with pytest.raises(TraceError, match="trip count is traced"):
        mlc.jit(traced_count)(np.zeros(5), np.ones(5), 4)
    with pytest.raises(TraceError, match="while loop at line .* swaps arrays"):
        mlc.jit(while_swap)(np.zeros(3), np.zeros(3))


def test_an_array_written_in_place_then_renamed_keeps_numpy_meaning():
    def rebind(a):
        for i in range(a.shape[0]):
            a[i] = 5.0
            a = a * 2
        return a

    _both(rebind, [np.ones(12)])  # (a static range: unrolled, the caller's array written once)
