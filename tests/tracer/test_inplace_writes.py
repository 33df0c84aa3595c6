"""Writes performed in place: a write at a traced offset (``A[i, j] = v``, ``C[:, i] = c``,
``p[1:-1, j] = q``, ``x[::2, j] = ...``, ``C[i, :i + 1] *= beta``) stores its region only, into
the array's own buffer where the old version is dead after it (a loop's carry, an intermediate,
a loop's initial value), a copy of it where it is still read (mlc.passes.graph.inplace).

Differential tests against NumPy on sizes 1, odd and above the unrolling threshold (8), in
compiled loops and straight-line code, and structural ones: a cholesky-style loop's ``main``
calls no full-size kernel per iteration."""
import copy
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir.calls import CallPrimFunc
from mlc.ir.tir import For, Stmt, While
from mlc.passes.graph.emit_main import main_name

from tests.cuda.conftest import needs_gpu
from tests.tracer.test_loop_slices import cholesky  # npbench's: an element write in a double loop

#: 1, odd, and above the loop-unrolling threshold (8): the compiled loops are the ones tested
SIZES = st.sampled_from([1, 3, 9, 13])


def _run(fn, args, static=(), target="llvm"):
    """``fn`` under the jit and in NumPy on copies of ``args``: equal results and arguments."""
    want_args, got_args = copy.deepcopy(args), copy.deepcopy(args)
    want = fn(*want_args)
    got = mlc.jit(fn, static_argnums=static, target=target)(*got_args)
    if want is not None:
        for w, g in zip(want if isinstance(want, tuple) else (want,), got if isinstance(got, tuple) else (got,)):
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
    for w, g in zip(want_args, got_args):
        if isinstance(w, np.ndarray):
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


def _spd(n, seed):
    a = np.random.default_rng(seed).uniform(-1, 1, (n, n))
    return a @ a.T + n * np.eye(n)


# ---------------------------------------------------------------- programs (NumPy as written)



def columns(p, q):  # deriche/adi's column writes with a traced column
    n = p.shape[0]
    for j in range(1, p.shape[1]):
        p[1:n - 1, j] = p[1:n - 1, j - 1] * 0.5 + q[1:n - 1, j]
        p[::2, j - 1] += 1.0           # a strided one
        p[-1, j] = -p[0, j - 1]        # a negative static index beside a traced one


def rows(C, beta):  # syrk's window write: a traced row, a traced extent
    for i in range(C.shape[0]):
        C[i, :i + 1] *= beta
        C[i, i] += 1.0


def two_writes(A):  # two writes to one array per iteration, one reading the other's element
    n = A.shape[0]
    for i in range(n):
        A[i, n - 1 - i] = A[i, i] + 1.0
        A[n - 1 - i, i] = A[i, n - 1 - i] * 2.0
    return A.sum()


def old_read_after(x):  # the old version is read after the writes: they must not clobber it
    y = x * 2.0
    old = y.copy()
    for i in range(x.shape[0]):
        y[i, 0] = -old[i, 0] + i
    return old, y


def through_a_view(A):  # writes through a view go to the array it was taken from
    top = A[:2]
    for j in range(A.shape[1]):
        top[0, j] = A[1, j] * 3.0
    return A


def straight_line(A, i, j):  # traced indices outside any loop, and a small static region
    A[i, j] = 7.0
    A[:, j] = A[:, i] + 1.0
    A[0, :2] = -1.0
    return A * 1.0


def element_loop(a):  # an element loop updating an intermediate in place
    b = a * 2.0
    for i in range(1, b.shape[0]):
        b[i] = b[i - 1] * 0.5 + b[i]
    return b + 1.0


def swapping(x, y):  # two carries that trade places every iteration, each written at i
    a, b = x * 1.0, y * 1.0
    for i in range(a.shape[0]):
        a[i] = b[i] + 1.0
        a, b = b, a
    return a, b


def old_captured(a):  # the initial value read inside the loop (captured) and carried: a copy
    old = a.copy()
    for i in range(1, a.shape[0]):
        a[i] = old[i - 1] * 2.0 + a[i - 1]
    return a + old


def branchy(A):  # a write in one branch of an if on a traced value, inside a compiled loop
    for i in range(A.shape[0]):
        if A[i, 0] > 0.5:
            A[i, :] = A[i, :] * 2.0
        else:
            A[:, i] -= 1.0
    return A


def newton(x):  # a while loop on a traced condition writing one element per trip
    k = 0
    while x.sum() < 100.0:
        x[k % x.shape[0]] += 3.0
        k += 1
    return x


# ---------------------------------------------------------------- differential

@settings(max_examples=4, deadline=None)
@given(n=SIZES, seed=st.integers(0, 99))
def test_an_element_write_in_a_double_loop(n, seed):
    _run(cholesky, [_spd(n, seed)])


@settings(max_examples=4, deadline=None)
@given(n=SIZES, m=SIZES, seed=st.integers(0, 99))
def test_column_and_strided_writes_at_a_traced_column(n, m, seed):
    rng = np.random.default_rng(seed)
    _run(columns, [rng.random((n + 1, m + 1)), rng.random((n + 1, m + 1))])


@settings(max_examples=4, deadline=None)
@given(n=SIZES, seed=st.integers(0, 99))
def test_window_writes_with_a_traced_extent(n, seed):
    _run(rows, [np.random.default_rng(seed).random((n, n)), 1.5])


@settings(max_examples=4, deadline=None)
@given(n=SIZES, seed=st.integers(0, 99))
def test_aliasing_two_writes_an_old_version_and_a_view(n, seed):
    rng = np.random.default_rng(seed)
    _run(two_writes, [rng.random((n, n))])
    _run(old_read_after, [rng.random((n, n))])
    _run(through_a_view, [rng.random((n + 2, n))])
    _run(element_loop, [rng.random(n)])


@settings(max_examples=4, deadline=None)
@given(n=SIZES, seed=st.integers(0, 99))
def test_swapped_carries_captured_initial_values_branches_and_while_loops(n, seed):
    rng = np.random.default_rng(seed)
    _run(swapping, [rng.random(n), rng.random(n)])
    _run(old_captured, [rng.random(n)])
    _run(branchy, [rng.random((n, n))])
    _run(newton, [rng.random(n)])


@pytest.mark.parametrize("target", ["llvm", "reference", "cuda-emulator"])
@settings(max_examples=2, deadline=None)
@given(n=st.sampled_from([3, 17]), seed=st.integers(0, 99))
def test_straight_line_and_loop_writes_on_every_target(target, n, seed):
    rng = np.random.default_rng(seed)
    i, j = np.int64(rng.integers(-n, n)), np.int64(rng.integers(-n, n))
    _run(straight_line, [rng.random((n, n)), i, j], target=target)
    _run(rows, [rng.random((n, n)), 0.5], target=target)
    if target != "reference":
        _run(cholesky, [_spd(n, seed)], target=target)


# ---------------------------------------------------------------- structure

def _calls(stmt, in_loop=False):
    """(call, whether inside a loop) for every kernel call of ``main``'s body."""
    if isinstance(stmt, CallPrimFunc):
        yield stmt, in_loop
        return
    inner = in_loop or isinstance(stmt, (For, While))
    for f in dataclasses.fields(stmt):
        value = getattr(stmt, f.name)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, Stmt):
                yield from _calls(v, inner)


def _main(fn, *args):
    graph = mlc.jit(fn).lower(*args).compile().graph
    return graph.module[main_name(graph)]


def _full_size_in_loops(fn, *args, shape):
    """The calls inside loops that write a full-size (``shape``) buffer other than in place."""
    bad = []
    for call, in_loop in _calls(_main(fn, *args).body):
        out = call.args[-1]
        if in_loop and tuple(out.static_shape()) == shape and not any(a is out for a in call.args[:-1]):
            bad.append(call.name)
    return bad


def test_a_cholesky_loop_writes_no_full_size_array_per_iteration():
    n = 12
    assert _full_size_in_loops(cholesky, _spd(n, 0), shape=(n, n)) == []


def test_column_and_window_writes_store_in_the_carry():
    assert _full_size_in_loops(columns, np.ones((12, 11)), np.ones((12, 11)), shape=(12, 11)) == []
    assert _full_size_in_loops(rows, np.ones((12, 12)), 2.0, shape=(12, 12)) == []


def test_an_element_loop_updates_its_dead_initial_value_in_place():
    calls = [c for c, _ in _calls(_main(element_loop, np.ones(12)).body)]
    (loop,) = [c for c in calls if "element_loop" in c.name]
    assert any(a is loop.args[-1] for a in loop.args[:-1])  # its carry's buffer is the initial value's
    assert not any(c.name.startswith("copy") for c in calls)


def test_a_traced_column_write_on_a_dynamic_axis_is_still_a_mask():
    """A dynamic axis has no static region: the write stays one masked pass over the array."""
    def f(x, i):
        x[:, i] = 2.0
        return x * 1.0
    g = mlc.jit(f, dynamic=("x", 0))
    for rows in (1, 5):
        x = np.ones((rows, 3))
        np.testing.assert_array_equal(g(x.copy(), np.int64(-2)), f(x.copy(), -2))


@needs_gpu
def test_writes_in_place_on_the_gpu():
    """The same programs on a GPU (cupy arrays in and out), where there is one."""
    import cupy
    rng = np.random.default_rng(3)
    for fn, args in ((cholesky, [_spd(13, 3)]), (columns, [rng.random((12, 11)), rng.random((12, 11))]),
                     (rows, [rng.random((13, 13)), 0.5]), (element_loop, [rng.random(13)])):
        want_args = copy.deepcopy(args)
        want = fn(*want_args)
        got_args = [cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        got = mlc.jit(fn, target="cuda")(*got_args)
        if want is not None:
            np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=1e-9)
        for w, g in zip(want_args, got_args):
            if isinstance(w, np.ndarray):
                np.testing.assert_allclose(cupy.asnumpy(g), w, rtol=1e-9)


def test_writes_in_a_program_with_dynamic_axes_stay_passes_over_the_array():
    """A program with dynamic axes runs its kernels one by one (no main to copy an array for an
    in-place kernel): its writes at traced offsets and small slices stay functional."""
    def f(x, y, i):
        x[i, 1:3] = 2.0
        x[0, :2] = -1.0
        return x * y.sum()
    g = mlc.jit(f, dynamic=("y", 0))
    x = np.ones((20, 20))
    graph = g.lower(x.copy(), np.ones(3), np.int64(4)).graph
    assert "dynamic_update_slice" not in str(graph)
    for n in (1, 4):
        np.testing.assert_array_equal(g(x.copy(), np.ones(n), np.int64(-3)), f(x.copy(), np.ones(n), -3))
