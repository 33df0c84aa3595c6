"""Tracer operators, methods, indexing and NumPy protocol hooks, each against NumPy."""
import operator

import numpy as np
import pytest

import mlc
from mlc.tracer import Tracer

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4)).astype("float32")
Y = RNG.standard_normal((4,)).astype("float32")
I = RNG.integers(-20, 20, (3, 4)).astype("int32")
J = RNG.integers(1, 5, (4,)).astype("int32")


def check(fn, *args, rtol=1e-6):
    got = mlc.jit(fn)(*args)
    want = fn(*args)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    assert np.shape(got) == np.shape(want)


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv,
                                operator.pow, operator.lt, operator.le, operator.gt, operator.ge,
                                operator.eq, operator.ne])
def test_float_binary_operators_and_reflected(op):
    x = np.abs(X) + 0.5
    y = np.abs(Y) + 0.5
    check(lambda a, b: op(a, b), x, y)
    check(lambda a, b: op(b, a), x, y)          # broadcasting the other way
    check(lambda a: op(a, 2.0), x)               # Python scalar, weak
    check(lambda a: op(3, a), x)                 # reflected with a Python int


@pytest.mark.parametrize("op", [operator.floordiv, operator.mod, operator.and_, operator.or_,
                                operator.xor, operator.lshift, operator.rshift])
def test_integer_operators_and_reflected(op):
    check(lambda a, b: op(a, b), np.abs(I), J)
    check(lambda a, b: op(b, a), np.abs(I), J)
    check(lambda a: op(a, 3), np.abs(I))
    check(lambda a: op(7, a), J)


def test_unary_operators():
    check(lambda a: -a, X)
    check(lambda a: +a, X)
    check(lambda a: abs(a), X)
    check(lambda a: ~a, I)
    check(lambda a: ~(a > 0), X)


def test_bool_arrays():
    a, b = X > 0, Y > 0
    check(lambda p, q: (p & q) | ~p ^ (p == q), a, b)
    check(lambda p: p.sum(axis=0) + p.astype("int8") * 3, a)
    check(lambda p, q: np.logical_and(p, q) | np.logical_not(q), a, b)
    check(lambda p: np.where(p, 1.5, -1), a)


def test_matmul_operator_and_numpy_array_operand():
    w = RNG.standard_normal((4, 2)).astype("float32")
    check(lambda a: a @ w, X, rtol=1e-5)      # w is a closed-over constant
    check(lambda a, b: a @ b, X, w, rtol=1e-5)
    check(lambda a: w.T @ a.T, X, rtol=1e-5)  # NumPy array on the left: __array_ufunc__


def test_metadata_attributes():
    seen = {}

    @mlc.jit
    def f(a):
        seen.update(shape=a.shape, ndim=a.ndim, dtype=a.dtype, size=a.size, T=a.T.shape,
                    length=len(a), is_tracer=isinstance(a, Tracer))
        return a

    f(X)
    assert seen == dict(shape=(3, 4), ndim=2, dtype=np.dtype("float32"), size=12, T=(4, 3),
                        length=3, is_tracer=True)


def test_methods():
    check(lambda a: a.reshape(2, 6), X)
    check(lambda a: a.reshape((4, -1)), X)
    check(lambda a: a.astype("int32"), X * 3)
    check(lambda a: a.astype(np.float64), X)
    check(lambda a: a.transpose(), X)
    check(lambda a: a.transpose(1, 0), X)
    check(lambda a: a.T, X)
    check(lambda a: a.reshape(2, 3, 2).mT, X)
    check(lambda a: a.real + a.imag, X)
    check(lambda a: a.conj(), X)
    check(lambda a: a.flatten(), X)
    check(lambda a: a.ravel(), X)
    check(lambda a: a.reshape(1, 3, 4, 1).squeeze(), X)
    check(lambda a: a.clip(-0.5, 0.5), X)


@pytest.mark.parametrize("name", ["sum", "max", "min", "mean", "prod", "argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_methods(name, axis, keepdims):
    if name in ("argmax", "argmin") and isinstance(axis, tuple):
        return  # NumPy takes one axis
    check(lambda a: getattr(a, name)(axis=axis, keepdims=keepdims), X, rtol=1e-5)
    check(lambda a: getattr(a, name)(axis=axis, keepdims=keepdims), I)


@pytest.mark.parametrize("key", [
    0, -1, (1, 2), (slice(None), 1), slice(1, None), slice(None, None, -1), (slice(None, None, -2),),
    (Ellipsis, 1), (None, 0), (1, None, slice(3, 0, -1)), (Ellipsis,), (slice(5, 10),),
    (slice(-2, None), slice(None, -1, 2)), (None, Ellipsis, None),
])
def test_static_indexing(key):
    check(lambda a: a[key], X)


def test_iteration_over_first_axis():
    check(lambda a: sum(row for row in a), X, rtol=1e-5)


def test_numpy_ufuncs_trace():
    check(lambda a: np.exp(a), X)
    check(lambda a: np.maximum(a, 0), X)
    check(lambda a: np.sqrt(np.abs(a)), X)
    check(lambda a, b: np.add(a, b, dtype="float64"), X, Y)
    check(lambda a: np.tanh(a) + np.sin(a) * np.cos(a), X)
    check(lambda a: np.add.reduce(a, axis=1), X, rtol=1e-5)
    check(lambda a: np.maximum.reduce(a, axis=0), X)


def test_numpy_functions_trace():
    check(lambda a: np.sum(a, axis=1), X, rtol=1e-5)
    check(lambda a: np.mean(a, axis=0, keepdims=True), X, rtol=1e-5)
    check(lambda a: np.max(a), X)
    check(lambda a: np.amin(a, axis=1), X)
    check(lambda a, b: np.matmul(a, b[:, None]), X, Y, rtol=1e-5)
    check(lambda a, b: np.dot(a, b), X, Y, rtol=1e-5)
    check(lambda a: np.where(a > 0, a, 0.1 * a), X)
    check(lambda a, b: np.where(a > 0, b, -1), X, Y)
    check(lambda a: np.concatenate([a, a * 2], axis=1), X)
    check(lambda a: np.concatenate((a, a), axis=0), X)
    check(lambda a: np.stack([a, a + 1]), X)
    check(lambda a: np.transpose(a), X)
    check(lambda a: np.reshape(a, (12,)), X)
    check(lambda a: np.expand_dims(a, 0), X)
    check(lambda a: np.squeeze(a[None]), X)
    check(lambda a: np.broadcast_to(a[:, :1], (3, 4)), X)
    check(lambda a: np.clip(a, -0.1, 0.2), X)
    check(lambda a: np.flip(a, axis=1), X)
    check(lambda a: np.pad(a, 1), X)
    check(lambda a: np.einsum("ij,j->i", a, Y), X, rtol=1e-5)
    check(lambda a: np.moveaxis(a[None], 0, 2), X)
    check(lambda a: np.swapaxes(a, 0, 1), X)
    check(lambda a: np.var(a, axis=1), X, rtol=1e-5)
    check(lambda a: np.std(a), X, rtol=1e-5)


def test_split_returns_list():
    f = mlc.jit(lambda a: np.split(a, 2, axis=1))
    got, want = f(X), np.split(X, 2, axis=1)
    assert isinstance(got, list) and len(got) == 2
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_size_one_and_empty_shapes():
    check(lambda a, b: a * b + 1, np.ones((1, 1), "float32"), np.arange(5, dtype="float32"))
    check(lambda a: np.exp(a) + a.sum(), np.zeros((0, 3), "float32"))
    check(lambda a: a[1:1], X)


def test_returning_inputs_constants_and_scalars():
    f = mlc.jit(lambda a: (a, 2.5, np.ones(2, "int8")))
    a, s, c = f(X)
    np.testing.assert_array_equal(a, X)
    assert a is not X  # results are fresh arrays
    assert s.dtype == np.float64 and s == 2.5
    np.testing.assert_array_equal(c, np.ones(2, "int8"))
    c[0] = 5  # a writeable copy; the next call is unaffected
    np.testing.assert_array_equal(f(X)[2], np.ones(2, "int8"))


def test_nested_jit_inlines():
    inner = mlc.jit(lambda a: a * 2)

    @mlc.jit
    def outer(a):
        return inner(a) + inner(a + 1)

    np.testing.assert_allclose(outer(X), X * 2 + (X + 1) * 2)
    assert inner.trace_count == 0  # traced inline, never compiled alone
