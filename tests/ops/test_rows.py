"""write_row against NumPy's ``stack[index] = value``: on its own (the caller's stack copied, never
written), in a compiled loop that writes a row per iteration into its carry (in place), and
with the stack still read after the write (then copied)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.ops.registry import get_op
from mlc.ops.rules import apply_op


def _expected(stack, value, index):
    out = stack.copy()
    n = len(stack)
    at = index + n if index < 0 else index
    out[min(max(at, 0), n - 1)] = value
    return out


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 9), st.sampled_from([(), (1,), (3,), (2, 5)]), st.integers(-12, 12),
       st.sampled_from(["float32", "float64", "int32"]))
def test_write_row_matches_numpy(rows, row_shape, index, dtype):
    rng = np.random.default_rng(rows * 31 + index)
    stack = rng.uniform(-3, 3, (rows, *row_shape)).astype(dtype)
    value = rng.uniform(-3, 3, row_shape).astype(dtype)
    before = stack.copy()
    got = mlc.jit(lambda s, v, i: apply_op("write_row", s, v, i))(stack, value, np.int64(index))
    np.testing.assert_array_equal(got, _expected(before, value, index))
    np.testing.assert_array_equal(stack, before)  # the caller's array is not the result
    np.testing.assert_array_equal(get_op("write_row").reference(stack, value, np.int64(index)), got)


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 40), st.sampled_from([(1,), (4,), (3, 2)]))
def test_a_loop_writes_a_row_per_iteration(trips, row_shape):
    x = np.linspace(-1.0, 1.0, int(np.prod(row_shape))).reshape(row_shape)

    @mlc.jit
    def rows(x, stack):
        def body(i, state):
            c, s = state
            return np.cos(c) + 0.5, apply_op("write_row", s, c, i)
        return mlc.fori_loop(0, trips, body, (x, stack))

    stack = np.full((trips, *row_shape), 7.0)
    c, expected = x.copy(), stack.copy()
    for i in range(trips):
        expected[i] = c
        c = np.cos(c) + 0.5
    got_c, got = rows(x, stack)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(got_c, c, rtol=1e-12)
    np.testing.assert_array_equal(stack, 7.0)


def test_a_stack_read_after_its_row_is_written_keeps_its_old_rows():
    @mlc.jit
    def both(stack, v):
        def body(i, s):
            new = apply_op("write_row", s, v * i, i)
            return new + s  # the old stack is read after the write: the write is not in place
        return mlc.fori_loop(0, 3, body, stack)

    stack, v = np.ones((3, 2)), np.float64([1.0, 2.0])
    expected = stack.copy()
    for i in range(3):
        new = expected.copy()
        new[i] = v * i
        expected = new + expected
    np.testing.assert_allclose(both(stack, v), expected)


def test_only_the_region_write_gets_its_base_memory():
    """Beside a row written in place, a carry that a kernel reads elsewhere than where it writes
    (a flip) still gets a buffer of its own for its next value."""
    @mlc.jit
    def loop(stack, t):
        def body(i, state):
            s, u = state
            return apply_op("write_row", s, u[:2], i), np.flip(u, 0) + 1.0
        return mlc.fori_loop(0, 4, body, (stack, t))

    stack, t = np.zeros((4, 2)), np.arange(5.0)
    s, u = stack.copy(), t.copy()
    for i in range(4):
        s[i] = u[:2]
        u = np.flip(u) + 1.0
    got_s, got_u = loop(stack, t)
    np.testing.assert_array_equal(got_s, s)
    np.testing.assert_array_equal(got_u, u)
