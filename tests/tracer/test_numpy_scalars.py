"""NumPy scalars are immutable: ``s += 1`` rebinds ``s`` where ``s`` is an element
(``a[0]``), a reduction (``a.sum()``) or a ufunc's 0-d result, and writes in place where ``s``
is a 0-d array (``np.zeros(())``, ``np.array(x)``, a 0-d argument). A Python number stays one
through a compiled ``if`` whose branches both leave it a number.

Each program runs under ``mlc.jit`` and under NumPy on the same drawn data; the results
(values and dtypes) must agree.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc


def element_then_alias(a, n):
    s = a[0]
    t = s
    s += 1
    return s, t


def sum_then_alias(a, n):
    s = a.sum()
    t = s
    s *= 2
    return s, t


def ufunc_result_then_alias(a, n):
    s = np.sqrt(a[1] * a[1])
    t = s
    s -= 3
    return s, t


def cast_scalar_then_alias(a, n):
    s = a.sum().astype(np.float32)
    t = s
    s += 1
    return s, t


def zeros_0d_is_an_array(a, n):
    x = np.zeros(())
    y = x
    x += a[0]
    return x, y


def array_of_a_scalar_is_an_array(a, n):
    x = np.array(a.sum())
    y = x
    x += 1
    return x, y


def asarray_and_copy_are_arrays(a, n):
    x = np.asarray(a[0])
    y = x
    x += 1
    u = np.copy(a[1])
    v = u
    u *= 3
    return x, y, u, v


def full_0d_is_an_array(a, n):
    x = np.full((), a[0])
    y = x
    x += 1
    return x, y


def scalar_in_a_compiled_loop(a, n):
    s = a[0]
    t = s
    u = s
    for i in range(n):
        u = s
        s += a[i]
    return s, t, u


def array_in_a_compiled_loop(a, n):
    s = np.zeros(())
    t = s
    for i in range(n):
        s += a[i]
    return s, t


def scalar_in_compiled_branches(a, n):
    s = a.sum()
    t = s
    for i in range(n):
        if a[i] > 0.5:
            t = s
            s *= 2
        else:
            t = s
            s += 1
    return s, t


def array_in_a_compiled_branch(a, n):
    s = np.zeros(())
    t = s
    for i in range(n):
        if a[i] > 0.5:
            s += 1
    return s, t


def crc_like(a, n):
    """A Python int updated with ``>>=`` in one branch of a traced ``if`` and rebound in the
    other, and a NumPy scalar (``cur``) shifted in place in an inner loop (CRC-16's loop)."""
    crc = 0xFFFF
    for k in range(n):
        cur = 0xFF & (a[k] * 100).astype(np.uint8)
        for _ in range(0, 8):
            if (crc & 0x0001) ^ (cur & 0x0001):
                crc = (crc >> 1) ^ 0x8408
            else:
                crc >>= 1
            cur >>= 1
    return crc


def python_number_through_a_branch(a, n):
    """A Python int after a compiled ``if`` stays one: a float32 array times it is float32 (NEP 50)."""
    s = 2
    for i in range(n):
        if a[i] > 0.5:
            s = s + 1
    return a.astype(np.float32) * s


PROGRAMS = [element_then_alias, sum_then_alias, ufunc_result_then_alias, cast_scalar_then_alias,
            zeros_0d_is_an_array, array_of_a_scalar_is_an_array, asarray_and_copy_are_arrays,
            full_0d_is_an_array, scalar_in_a_compiled_loop, array_in_a_compiled_loop,
            scalar_in_compiled_branches, array_in_a_compiled_branch, crc_like, python_number_through_a_branch]


def _results(out):
    return [np.asarray(v) for v in (out if isinstance(out, tuple) else (out,))]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
@settings(max_examples=4, deadline=None)
@given(values=st.lists(st.floats(0, 1, width=32), min_size=2, max_size=9))
def test_augmented_assignment_follows_numpy(program, values):
    a = np.array(values)
    n = len(values)  # a Python int argument: the loops over range(n) are compiled
    want = _results(program(a.copy(), n))
    got = _results(mlc.jit(program)(a.copy(), n))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype, (program.__name__, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_a_number_through_a_compiled_if_carries_no_alias_flags():
    """In CRC-16's loop ``crc`` is a Python int on every path, so each conditional returns its
    value alone: no flag of which array it names (a 0-d bool beside it) and no write through one."""
    text = str(mlc.jit(crc_like).trace(np.linspace(0, 1, 5), 5).graph)
    assert '"bool"' not in text, text


@settings(max_examples=5, deadline=None)
@given(value=st.floats(-4, 4), kind=st.sampled_from([np.float64, np.float32, np.int64]))
def test_a_numpy_scalar_argument_is_rebound_a_0d_array_written(value, kind):
    def bump(s):
        t = s
        s += 1
        return s, t

    f = mlc.jit(bump)
    scalar, array = kind(value), np.array(kind(value))
    for arg in (scalar, array):
        want = _results(bump(arg.copy()))
        got = _results(f(arg.copy()))
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g == w, (type(arg), got, want)
    caller = np.array(kind(value))
    f(caller)
    assert caller == kind(value) + 1  # the caller's 0-d array is written, as NumPy's += does
