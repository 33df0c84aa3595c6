"""mlc.testing.check_grads: passes correct derivatives, catches wrong ones in each mode and order."""
import numpy as np
import pytest

import mlc
from mlc.testing import check_grads


def test_correct_derivatives_pass_to_second_order():
    w = np.array([[0.5, -1.0], [2.0, 0.3]])
    check_grads(lambda x, p: np.tanh(w @ x) * p["s"], (np.array([0.2, -0.3]), {"s": np.float64(1.5)}), order=2)
    check_grads(lambda x: (np.sum(x * x), np.exp(x)), (np.linspace(-1, 1, 3),), modes=("rev",))
    check_grads(np.sin, (np.ones(3),), target="cuda-emulator")


@mlc.custom_vjp
def _wrong_vjp(x):
    return np.sin(x)


_wrong_vjp.defvjp(lambda x: (np.sin(x), x), lambda x, g: (g * np.sin(x),))  # cos would be right


@mlc.custom_jvp
def _cube(x):
    return x * x * x


@_cube.defjvp
def _cube_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _cube(x), t * 3 * x * mlc.stop_gradient(x)  # right value, wrong second derivative


def test_a_wrong_reverse_rule_is_caught():
    x = (np.array([0.3, 0.7]),)
    with pytest.raises(AssertionError, match="reverse mode"):
        check_grads(_wrong_vjp, x, modes=("rev",))


def test_a_wrong_second_derivative_is_caught():
    x = (np.array([0.3, 0.7]),)
    check_grads(_cube, x, order=1)
    with pytest.raises(AssertionError, match="forward mode"):
        check_grads(_cube, x, order=2)


def test_bad_arguments():
    with pytest.raises(mlc.DTypeError, match="argument leaf 0 is int64"):
        check_grads(lambda i: i * 2.0, (np.arange(3),))
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        check_grads(np.sin, (np.ones(2),), order=3)
    with pytest.raises(ValueError, match="modes must be"):
        check_grads(np.sin, (np.ones(2),), modes=("backward",))
