"""jacfwd, jacrev and hessian: against each other and finite differences; second derivatives of
a few ops (the hessian against central differences of the gradient)."""
import numpy as np
import pytest

import mlc

EPS = 1e-6


def _fd_jacobian(f, x):
    x = np.asarray(x, "float64")
    cols = []
    for n in range(x.size):
        e = np.zeros(x.size)
        e[n] = EPS
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * EPS))
    return np.moveaxis(np.stack(cols, axis=-1), -1, -1).reshape(np.shape(f(x)) + x.shape)


def test_jacfwd_and_jacrev_agree_with_finite_differences():
    w = np.array([[1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])

    def f(x):
        return np.tanh(w @ x) * x[0]

    x = np.array([0.2, -0.4, 0.7])
    fd = _fd_jacobian(f, x)
    np.testing.assert_allclose(mlc.jacfwd(f)(x), fd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(mlc.jacrev(f)(x), fd, rtol=1e-6, atol=1e-9)


def test_jacobians_of_pytrees_and_argnums():
    def f(a, b):
        return {"s": np.sum(a * b), "v": a * 2.0}

    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for jac in (mlc.jacfwd, mlc.jacrev):
        j = jac(f, argnums=(0, 1))(a, b)
        np.testing.assert_allclose(j["s"][0], b)
        np.testing.assert_allclose(j["s"][1], a)
        np.testing.assert_allclose(j["v"][0], 2 * np.eye(2))
        np.testing.assert_allclose(j["v"][1], np.zeros((2, 2)))
        assert j["v"][0].shape == (2, 2)


def test_jacobian_of_a_matrix_function_has_shape_out_plus_in():
    x = np.arange(6.0).reshape(2, 3) / 10
    j = mlc.jacrev(lambda m: m.T @ m)(x)
    assert j.shape == (3, 3, 2, 3)
    np.testing.assert_allclose(j, _fd_jacobian(lambda m: m.T @ m, x), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(mlc.jacfwd(lambda m: m.T @ m)(x), j, rtol=1e-12, atol=1e-12)


#: scalar functions of a vector exercising the second derivatives of several ops' rules
SECOND_ORDER = {
    "tanh and exp": lambda x: np.sum(np.tanh(x) * np.exp(x[::-1])),
    "log_softmax": lambda x: np.sum(mlc.nn.log_softmax(x) * np.arange(1.0, 5.0)),
    "matmul and power": lambda x: np.sum(((x[:, None] * x) @ x) ** 2) / 10,
    "prod": lambda x: np.prod(x),
    "logsumexp and divide": lambda x: np.log(np.sum(np.exp(x))) / (1 + x[0] * x[0]),
    "sort": lambda x: np.sum(np.sort(x) * np.arange(1.0, 5.0) * x),
    "norm": lambda x: np.sqrt(np.sum(x * x)),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_hessian_against_finite_differences_of_the_gradient(name):
    f = SECOND_ORDER[name]
    x = np.array([0.3, -0.7, 1.1, 0.45])
    h = mlc.hessian(f)(x)
    grad = mlc.jit(mlc.grad(f))
    np.testing.assert_allclose(h, _fd_jacobian(grad, x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h, h.T, rtol=1e-9, atol=1e-12)


def test_jacobians_need_float_arguments():
    with pytest.raises(mlc.DTypeError, match="only floating point arguments"):
        mlc.jacrev(lambda i: i * 2)(np.arange(3))
