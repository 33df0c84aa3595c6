"""An element loop's outer loop runs in parallel only where its iterations are independent.

mlc.ops.library.element_loop proves it: every array the loop writes is read and written at
``i + c`` along one axis (one constant ``c``), inside the axis. Loops that read what another
iteration writes (``a[i - 1]``, ``a[n - 1 - i]``, a scalar carried from one iteration to the
next) stay serial and give NumPy's answer. Sizes above the unrolling threshold (8), so that
the loops are compiled loops."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For

ROWS = st.sampled_from([11, 13, 22])


def _kinds(fn, *args) -> set:
    mod = mlc.jit(fn).lower(*args).mod
    return {n.kind for f in mod.values() for n in pre_order_nodes(f.body) if isinstance(n, For)}


def escape(xs, ys):
    out = np.zeros((ys.shape[0], xs.shape[0]), np.int64)
    for i in range(ys.shape[0]):
        for j in range(xs.shape[0]):
            zr, zi, n = 0.0, 0.0, 0
            while zr * zr + zi * zi < 4.0 and n < 20:
                zr, zi = zr * zr - zi * zi + xs[j], 2.0 * zr * zi + ys[i]
                n += 1
            out[i, j] = n
    return out


def shifted(b):
    out = np.zeros_like(b)
    for i in range(1, b.shape[0] - 1):
        for j in range(b.shape[1]):
            out[i + 1, j] = b[i, j] * 2 - b[i - 1, j]
    return out


def recurrence(a):
    for i in range(1, a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] = a[i - 1, j] * 0.5 + a[i, j]
    return a


def mirrored(a, b):
    n = a.shape[0]
    for i in range(n):
        a[i] = b[i] + a[n - 1 - i]
    return a


def running(x):
    out = np.zeros_like(x)
    acc = 0.0
    for i in range(x.shape[0]):
        acc = acc * 0.5 + x[i]
        out[i] = acc
    return out


@settings(max_examples=4, deadline=None)
@given(rows=ROWS, cols=st.sampled_from([1, 7, 16]))
def test_independent_rows_run_in_parallel_and_match_numpy(rows, cols):
    xs, ys = np.linspace(-2.0, 1.0, cols), np.linspace(-1.5, 1.5, rows)
    assert "parallel" in _kinds(escape, xs, ys)
    np.testing.assert_array_equal(mlc.jit(escape)(xs, ys), escape(xs, ys))
    b = np.random.default_rng(rows * cols).uniform(-1, 1, (rows, cols))
    assert "parallel" in _kinds(shifted, b)
    np.testing.assert_allclose(mlc.jit(shifted)(b), shifted(b), rtol=1e-12)


@settings(max_examples=4, deadline=None)
@given(rows=ROWS, cols=st.sampled_from([1, 5, 12]), seed=st.integers(0, 99))
def test_dependent_loops_stay_serial_and_match_numpy(rows, cols, seed):
    rng = np.random.default_rng(seed)
    a, b, x = rng.uniform(-1, 1, (rows, cols)), rng.uniform(-1, 1, rows), rng.uniform(-1, 1, rows)
    for fn, args in ((recurrence, (a,)), (mirrored, (x, b)), (running, (x,))):
        assert "parallel" not in _kinds(fn, *[v.copy() for v in args]), fn.__name__
        np.testing.assert_allclose(mlc.jit(fn)(*[v.copy() for v in args]), fn(*[v.copy() for v in args]),
                                   rtol=1e-12, err_msg=fn.__name__)


def test_parallel_loop_on_the_cuda_emulator():
    """A GPU build runs the parallel loop's function as the element loop's kernel (its
    per-iteration scalars local): the same answer."""
    xs, ys = np.linspace(-2.0, 1.0, 5), np.linspace(-1.5, 1.5, 11)
    got = mlc.jit(escape, target="cuda-emulator")(xs, ys)
    np.testing.assert_array_equal(np.asarray(got.get() if hasattr(got, "get") else got), escape(xs, ys))
