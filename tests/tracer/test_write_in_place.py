"""Arguments written in place: a jitted function that writes its argument (``x += 1``,
``data -= mean``, ``C[:] = ...``, ``x[i] = v``) writes the caller's array itself, with no copy in
and no copy out, where the compiled ``main`` can (``Graph.written``, mlc.tracer.writeback);
else (a Fortran-order or strided array, a call with traced indices to check, arguments that are
one array) it still does what NumPy does. Each case against NumPy running the same function.

The copies are counted two ways, so that a copy coming back fails a test: the ``copy`` kernels
``main`` calls, and the arguments the call stages (``writeback.STAGED``)."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import BoundsError, PerformanceWarning
from mlc.ir.calls import CallPrimFunc
from mlc.ir.functor import pre_order_nodes
from mlc.passes.graph.emit_main import main_name
from mlc.tracer import writeback
from mlc.tracer.writeback import WriteError

from tests.cuda.conftest import needs_gpu

SIZES = st.sampled_from([1, 2, 5, 7])


# ---------------------------------------------------------------- programs (NumPy as written)

def bump(x):
    x += 1


def heat_step(u):
    u[1:-1, 1:-1] += 0.1 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1])


def center(data):
    data -= data.mean(axis=0)


def gemm(C, A, B):
    C[:] = 0.5 * A @ B + 1.5 * C


def scale_rows(x, s):
    x *= s[:, None]
    return x.sum()


def add_into(x, y):
    x += y


def reverse(x):  # reads the element another one writes: not in place
    x[:] = x[::-1] * 2.0


def shift(x):
    x[1:] = x[:-1]


def set_then_index(x, i):
    x[0] = 1.0
    x[i] = 2.0


# ---------------------------------------------------------------- helpers

def _main_copies(jitted, *args) -> int:
    """The copy kernels the compiled ``main`` calls on arrays (a 0-d traced index returned for its
    bounds check is copied too: not counted)."""
    lowered = jitted.lower(*args)
    main = lowered.mod[main_name(lowered.graph)]
    return sum(1 for n in pre_order_nodes(main.body)
               if isinstance(n, CallPrimFunc) and n.name.startswith("copy") and n.args[1].static_shape() != ())


def _check(fn, args, jitted=None):
    """``fn`` under the jit and in NumPy, each on its own copies of ``args`` laid out as they
    are: equal results and equal arguments afterwards."""
    want_args = copy.deepcopy(args)
    got_args = [a.copy(order="K") if isinstance(a, np.ndarray) and a.base is None else a for a in args]
    want = fn(*want_args)
    got = (jitted or mlc.jit(fn))(*got_args)
    if want is not None:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    for w, g in zip(want_args, got_args):
        if isinstance(w, np.ndarray):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def _layouts(a: np.ndarray):
    """``a`` C-ordered, Fortran-ordered, and as a strided view into a larger array."""
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    view = wide[..., ::2]
    view[...] = a
    return {"C": np.ascontiguousarray(a), "F": np.asfortranarray(a), "strided": view}


# ---------------------------------------------------------------- in place: no copy at all

@pytest.mark.parametrize("fn, shapes", [
    (bump, [(7,)]),
    (center, [(5, 3)]),
    (scale_rows, [(5, 3), (5,)]),
])
def test_a_written_argument_costs_no_copy(fn, shapes):
    rng = np.random.default_rng(0)
    args = [rng.uniform(-1, 1, s) for s in shapes]
    jitted = mlc.jit(fn)
    assert _main_copies(jitted, *args) == 0
    before = writeback.STAGED[0]
    target = args[0]
    address = target.__array_interface__["data"][0]
    want = [a.copy() for a in args]
    want_out = fn(*want)
    out = jitted(*args)
    assert writeback.STAGED[0] == before  # the caller's array itself was passed
    assert target.__array_interface__["data"][0] == address
    np.testing.assert_allclose(target, want[0], rtol=1e-10, atol=1e-12)
    if want_out is not None:
        np.testing.assert_allclose(out, want_out, rtol=1e-10)


def test_a_matmul_into_its_own_input_is_made_aside_then_copied_once():
    # C[:] = A @ B + C: a tiled matmul's schedule accumulates in its output's buffer before the
    # epilogue reads C, so the kernel must not write into C (300: a size the schedule tiles)
    rng = np.random.default_rng(5)
    C, A, B = rng.uniform(size=(300, 308)), rng.uniform(size=(300, 316)), rng.uniform(size=(316, 308))
    jitted = mlc.jit(gemm)
    assert _main_copies(jitted, C, A, B) == 1
    _check(gemm, [C, A, B], jitted)


def test_a_stencil_that_reads_neighbours_is_made_aside_then_copied_once():
    # the kernel reads u[i+1, j] after it would have written it: not in place, one copy in main
    u = np.random.default_rng(1).uniform(size=(6, 5))
    assert _main_copies(mlc.jit(heat_step), u) == 1


def test_a_time_step_loop_updates_the_argument_in_its_own_buffer():
    def heat(u, steps):
        for _ in range(steps):
            heat_step(u)
    jitted = mlc.jit(heat, static_argnames=("steps",))
    u = np.random.default_rng(2).uniform(size=(9, 8))
    assert _main_copies(jitted, u, 20) == 0  # an even count of steps: the two buffers end in u's
    assert _main_copies(jitted, u, 21) <= 1  # an odd one: at most the last step's buffer copied into u
    for steps in (20, 21):
        _check(lambda u, s=steps: heat(u, s), [u.copy()], mlc.jit(lambda u, s=steps: heat(u, s)))


def test_a_traced_index_write_costs_no_copy_in_main():
    x = np.zeros(5)
    assert _main_copies(mlc.jit(set_then_index), x, 3) == 0


# ---------------------------------------------------------------- differential, every layout

@settings(max_examples=12, deadline=None)
@given(n=SIZES, m=SIZES, layout=st.sampled_from(["C", "F", "strided"]))
def test_written_arguments_of_every_layout_match_numpy(n, m, layout):
    rng = np.random.default_rng(n * 10 + m)
    u = _layouts(rng.uniform(size=(n + 2, m + 2)))[layout]
    _check(heat_step, [u], _JITTED[heat_step])
    d = _layouts(rng.uniform(size=(n, m)))[layout]
    _check(center, [d], _JITTED[center])
    C, A, B = (_layouts(rng.uniform(size=s))[layout] for s in [(n, m), (n, 3), (3, m)])
    _check(gemm, [C, A, B], _JITTED[gemm])


_JITTED = {fn: mlc.jit(fn) for fn in (bump, heat_step, center, gemm, reverse, shift)}


@settings(max_examples=8, deadline=None)
@given(n=SIZES, m=SIZES, layout=st.sampled_from(["C", "F", "strided"]))
def test_writes_that_read_other_elements_match_numpy(n, m, layout):
    rng = np.random.default_rng(n * 10 + m)
    for fn in (reverse, shift):
        _check(fn, [_layouts(rng.uniform(size=(n, m)))[layout]], _JITTED[fn])


@settings(max_examples=6, deadline=None)
@given(shape=st.sampled_from([(70, 100), (64, 37), (1003,), (129, 3)]))
def test_sizes_with_vector_tails_and_parallel_rows_match_numpy(shape):
    # a vectorized loop's last tile may overlap the one before (computing elements twice): not in
    # a kernel that writes into its own input (x -= x.mean(0) was wrong at 100 x 100)
    rng = np.random.default_rng(len(shape) * 1000 + shape[0])
    x = rng.uniform(size=shape)
    _check(bump, [x], _JITTED[bump])
    _check(center, [x.copy()], _JITTED[center])
    if len(shape) == 2:
        _check(heat_step, [x.copy()], _JITTED[heat_step])


def test_a_fortran_argument_is_staged_and_written_back():
    x = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    before = writeback.STAGED[0]
    mlc.jit(bump)(x)
    assert writeback.STAGED[0] == before + 1
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3) + 1)
    assert x.flags.f_contiguous


def test_a_strided_view_is_written_through_to_its_base():
    base = np.zeros((4, 6))
    mlc.jit(bump)(base[:, ::2])
    want = np.zeros((4, 6))
    want[:, ::2] += 1
    np.testing.assert_array_equal(base, want)


# ---------------------------------------------------------------- aliasing arguments

@settings(max_examples=6, deadline=None)
@given(n=SIZES)
def test_the_same_array_twice(n):
    a = np.arange(float(n))
    want = a.copy()
    add_into(want, want)
    mlc.jit(add_into)(a, a)
    np.testing.assert_array_equal(a, want)
    b = np.arange(float(n))
    mlc.jit(add_into)(b, np.ones(n))  # and apart again: each way of sharing compiled on its own
    np.testing.assert_array_equal(b, np.arange(float(n)) + 1)


@pytest.mark.parametrize("views", [
    lambda a: (a[1:], a[:-1]),
    lambda a: (a[:-1], a[1:]),
    lambda a: (a[::2], a[len(a) // 2 - 1:-1]),
])
@settings(max_examples=4, deadline=None)
@given(n=st.sampled_from([4, 7]))
def test_overlapping_views_run_as_numpy_runs_them(views, n):
    def shift_add(x, y):  # the write into x is seen through y, as in NumPy
        x += y
        y *= 2.0
        return x.sum() + y.sum()
    want, got = np.arange(float(2 * n)), np.arange(float(2 * n))
    want_out = shift_add(*views(want))
    with pytest.warns(PerformanceWarning, match="overlap in memory.*uncompiled"):
        got_out = mlc.jit(shift_add)(*views(got))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got_out, want_out)


def test_a_read_only_argument_is_refused_before_anything_runs():
    x = np.zeros(3)
    x.flags.writeable = False
    with pytest.raises(WriteError, match="read-only"):
        mlc.jit(bump)(x)


# ---------------------------------------------------------------- an error in the middle of a call

def test_a_bounds_error_mid_call_leaves_the_arguments_unwritten():
    jitted = mlc.jit(set_then_index)
    x = np.zeros(4)
    jitted(x, 2)
    np.testing.assert_array_equal(x, [1.0, 0.0, 2.0, 0.0])
    x = np.zeros(4)
    with pytest.raises(IndexError):  # NumPy's too; NumPy has written x[0] by then
        set_then_index(x.copy(), 9)
    with pytest.raises(BoundsError, match="no argument was written"):
        jitted(x, 9)
    np.testing.assert_array_equal(x, np.zeros(4))  # mlc: all or nothing (the call is staged)


@pytest.mark.parametrize("target", ["reference", "cuda-emulator"])
def test_other_host_targets_write_in_place_too(target):
    rng = np.random.default_rng(3)
    for fn, shapes in ((center, [(5, 3)]), (heat_step, [(5, 4)]), (shift, [(6,)])):
        args = [rng.uniform(size=s) for s in shapes]
        jitted = mlc.jit(fn, target=target)
        if fn is center:
            assert _main_copies(jitted, *args) == 0
        _check(fn, args, jitted)


@needs_gpu
def test_on_the_gpu_written_arguments_and_pointwise_carries_match_numpy():
    """On a GPU the NumPy argument is written back from the device's copy; a loop's carry that
    its kernel reads element by element is updated in its own device buffer."""
    x = np.arange(1.0, 6.0)
    mlc.jit(bump, target="cuda")(x)
    np.testing.assert_array_equal(x, np.arange(2.0, 7.0))
    u = np.random.default_rng(4).uniform(size=(7, 6))
    _check(heat_step, [u], mlc.jit(heat_step, target="cuda"))
    loop = mlc.jit(lambda x, n: mlc.fori_loop(0, n, lambda i, c: c * x + i, x), target="cuda")
    want = x
    for i in range(5):
        want = want * x + i
    got = loop(x, np.int64(5))
    np.testing.assert_allclose(got.get() if hasattr(got, "get") else got, want, rtol=1e-12)
