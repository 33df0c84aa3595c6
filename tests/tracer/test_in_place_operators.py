"""``x += y`` and the other in-place operators inside ``@mlc.jit`` do what NumPy's do.

The result keeps the left operand's dtype (cast under ``same_kind``) and shape, and every
name bound to that array object sees the change; so do the views of it, the array it is a
view of, and for an argument the caller's array (tests/tracer/test_mutation.py).
"""
import numpy as np
import pytest

import mlc
from mlc import DTypeError, ShapeError, TraceError

X = np.arange(4, dtype=np.float32)


def _same(fn, *args):
    expected = fn(*(a.copy() for a in args))
    got = mlc.jit(fn)(*args)
    expected, got = (expected, got) if isinstance(expected, tuple) else ((expected,), (got,))
    for e, g in zip(expected, got):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-6)


def test_every_name_of_the_array_sees_the_change():
    def f(x):
        y = x * 2
        z = y
        y += 1
        return z, y
    _same(f, X)


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "//=", "%=", "**="])
def test_arithmetic_keeps_the_left_dtype(op):
    def f(x):
        y = x * 1
        exec(f"y {op} np.float64(1.5)", {"np": np}, scope := {"y": y})
        return scope["y"]
    _same(f, X + 1)


@pytest.mark.parametrize("op", ["&=", "|=", "^=", "<<=", ">>="])
def test_integer_operators(op):
    def f(x):
        y = x.astype(np.int32)
        exec(f"y {op} 1", {}, scope := {"y": y})
        return scope["y"]
    _same(f, X)


def test_matmul_in_place_keeps_the_shape():
    def f(x):
        y = x.reshape(2, 2) * 1
        y @= np.eye(2, dtype=np.float32) * 3
        return y
    _same(f, X)


def test_an_accumulator_in_a_loop():
    def f(x):
        acc = x[:2] * 0
        for row in x.reshape(2, 2):
            acc += row
        return acc
    _same(f, X)


def test_a_float_result_into_an_int_array_is_a_dtype_error_as_in_numpy():
    def f(x):
        y = x.astype(np.int32) * 1
        y += x
        return y
    with pytest.raises(DTypeError, match=r"x \+= \.\.\.: cannot cast ufunc 'add' output from float64 to int32 "
                                         r"with casting rule 'same_kind'.*\n  at File"):
        mlc.jit(f)(X)


def test_a_result_that_would_grow_the_array_is_a_shape_error():
    def f(x):
        y = x * 1
        y += x[:, None]
        return y
    with pytest.raises(ShapeError, match=r"non-broadcastable output operand with shape \(4,\) doesn't match the "
                                         r"broadcast shape \(4, 4\)"):
        mlc.jit(f)(X)


def test_changing_an_argument_in_place_changes_the_callers_array():
    def f(x):
        x += 1
        return x
    x = X.copy()
    np.testing.assert_array_equal(mlc.jit(f)(x), X + 1)
    np.testing.assert_array_equal(x, X + 1)


@pytest.mark.parametrize("body", ["v = y[1:]\n    v += 1", "v = y.reshape(2, 2)\n    y += 1",
                                  "v = y[::-1]\n    v *= 2", "v = y[None]\n    y -= 1"])
def test_changing_a_view_or_its_base_in_place_changes_both(body):
    src = f"def f(x):\n    y = x * 2\n    {body}\n    return y, v\n"
    namespace = {"np": np}
    exec(src, namespace)
    _same(namespace["f"], X)


def test_asarray_and_the_real_part_of_a_real_array_are_the_array_itself_as_in_numpy():
    def f(x):
        y = x * 2
        a, r = mlc.numpy.asarray(y), np.real(y)
        a += 1
        r *= 3
        return y, a, r
    _same(f, X)


def test_a_1d_transpose_is_the_array_itself_as_in_numpy():
    def f(x):
        y = x * 2
        v = y.T
        v *= 2
        return y, v
    _same(f, X)


@pytest.mark.parametrize("copy", [lambda y: y.copy(), lambda y: y.astype(np.float32), lambda y: +y,
                                  lambda y: np.positive(y), lambda y: mlc.numpy.array(y), lambda y: np.clip(y, None, None),
                                  lambda y: np.conj(y), lambda y: np.round(y.astype(np.int32)).astype(np.float32)])
def test_a_copy_changes_alone(copy):
    def f(x):
        y = x * 2
        z = copy(y)
        z += 1
        return y, z
    _same(f, X)


def test_a_python_scalar_argument_is_rebound():
    def f(x, s):
        t = s
        s += 1
        return x * s + t
    assert mlc.jit(f)(X, 2.0).tolist() == (X * 3 + 2).tolist()


def test_a_numpy_array_made_in_the_function_takes_a_traced_value_in_place():
    def f(x):
        acc = np.zeros(4, np.float32)
        acc += x
        return acc
    _same(f, X)


def test_a_global_numpy_array_cannot_take_a_traced_value_in_place():
    def f(x):
        np.add(GLOBAL, x, out=GLOBAL)
        return x
    with pytest.raises(TraceError, match=r"np\.add into the NumPy array float32\[4\] in place \(a \+= \.\.\. or "
                                         r"out=a\) cannot hold a traced value.*Pass the array as an argument.*\n  at File"):
        mlc.jit(f)(X)


GLOBAL = np.zeros(4, np.float32)
