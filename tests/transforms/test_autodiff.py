"""mlc.grad, value_and_grad, vjp, jvp, linearize and stop_gradient: what they return, how they
compose with each other and with mlc.jit, and their errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
import mlc.testing as mt
from mlc.transforms import jvp_graph, partial_eval, vjp_graph
from mlc.transforms.tracing import trace_function


def _poly(x):
    return np.sum(x * x * x - 2 * x)


def test_grad_of_a_polynomial():
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(mlc.grad(_poly)(x), 3 * x * x - 2)


def test_gradients_keep_dtype_shape_and_structure():
    params = {"w": np.ones((2, 3), "float32"), "b": [np.zeros(3, "float32"), np.float32(2.0)]}
    g = mlc.grad(lambda p: np.sum(p["w"] * p["b"][0] + p["b"][1] * p["w"]))(params)
    assert set(g) == {"w", "b"} and isinstance(g["b"], list)
    assert g["w"].dtype == np.float32 and g["w"].shape == (2, 3)
    np.testing.assert_allclose(g["w"], np.full((2, 3), 2.0))
    np.testing.assert_allclose(g["b"][0], np.full(3, 2.0))
    assert g["b"][1].shape == () and float(g["b"][1]) == 6.0


def test_argnums_has_aux_and_value_and_grad():
    def f(a, b, c):
        return np.sum(a * b * c), a + b

    x, y, z = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])
    (ga, gc), aux = mlc.grad(f, argnums=(0, -1), has_aux=True)(x, y, z)
    np.testing.assert_allclose(ga, y * z)
    np.testing.assert_allclose(gc, x * y)
    np.testing.assert_allclose(aux, x + y)
    (value, aux), gb = mlc.value_and_grad(f, argnums=1, has_aux=True)(x, y, z)
    assert float(value) == float(np.sum(x * y * z))
    np.testing.assert_allclose(gb, x * z)


def test_keywords_and_non_array_arguments_pass_through():
    def f(x, mode, scale=1.0):
        return np.sum(x * x) * scale if mode == "square" else np.sum(x)

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(mlc.grad(f)(x, "square", scale=3.0), 6 * x)
    np.testing.assert_allclose(mlc.grad(f)(x, "plain"), np.ones(2))


def test_grad_composes_with_jit_in_any_order():
    x = np.linspace(-1, 1, 5)
    want = mlc.grad(_poly)(x)
    np.testing.assert_allclose(mlc.jit(mlc.grad(_poly))(x), want)
    np.testing.assert_allclose(mlc.grad(mlc.jit(_poly))(x), want)
    np.testing.assert_allclose(mlc.jit(lambda v: mlc.grad(_poly)(v))(x), want)


def test_a_jitted_gradient_is_one_fused_program():
    def loss(w, x):
        return np.mean(np.tanh(x @ w) ** 2)

    step = mlc.jit(lambda w, x: w - 0.1 * mlc.grad(loss)(w, x))
    w, x = np.ones((4, 3), "float32"), np.ones((8, 4), "float32")
    lowered = step.lower(w, x)
    ops = [b.op for b in lowered.graph.bindings]
    assert set(ops) <= {"call_tir", "view"}
    # forward and backward: the two matmuls and their elementwise epilogues, a reduction or two;
    # no kernel per op
    assert ops.count("call_tir") <= 6, lowered.graph.script()
    np.testing.assert_allclose(step(w, x), w - 0.1 * mlc.grad(loss)(w, x), rtol=1e-6)


def test_closures_over_traced_values_are_captured():
    w = np.array([0.5, -1.0, 2.0])

    @mlc.jit
    def f(w, x):
        return mlc.grad(lambda v: np.sum(np.sin(w * v)))(x)

    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(f(w, x), w * np.cos(w * x))


def test_nested_gradients_keep_their_variables_apart():
    # d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x: the inner derivative treats x as a constant
    assert float(mlc.grad(lambda x: x * mlc.grad(lambda y: x * y)(2.0))(3.0)) == 6.0
    # second derivative of x^3: 6x
    assert float(mlc.grad(mlc.grad(lambda x: x ** 3))(2.0)) == 12.0


def test_forward_over_reverse_hessian_vector_product():
    def f(x):
        return np.sum(np.exp(x) * x[0])

    x, v = np.array([0.5, 1.0, -1.0]), np.array([1.0, 2.0, 3.0])
    hvp = mlc.jit(lambda p, t: mlc.jvp(mlc.grad(f), (p,), (t,))[1])
    h = np.diag(np.exp(x) * x[0])
    h[0, :] += np.exp(x)
    h[:, 0] += np.exp(x)
    np.testing.assert_allclose(hvp(x, v), h @ v)


def test_stop_gradient():
    assert float(mlc.grad(lambda x: x * mlc.stop_gradient(x))(3.0)) == 3.0
    tree = mlc.stop_gradient({"a": np.ones(2)})
    np.testing.assert_array_equal(tree["a"], np.ones(2))
    np.testing.assert_array_equal(mlc.jit(lambda x: mlc.stop_gradient(x) * 2)(np.ones(2)), np.full(2, 2.0))


def test_no_dependence_gives_zeros_and_integers_are_not_differentiated():
    x, idx = np.array([1.0, 2.0, 3.0]), np.array([2, 0])
    np.testing.assert_array_equal(mlc.grad(lambda v: np.sum(v * 0) + 1.0)(x), np.zeros(3))
    g = mlc.grad(lambda v, i: np.sum(np.take(v, i) ** 2))(x, idx)
    np.testing.assert_allclose(g, [2.0, 0.0, 6.0])


def test_vjp_and_linearize_run_the_forward_pass_once():
    x = np.array([0.1, 0.2, 0.3])
    out, pullback = mlc.vjp(np.sin, x)
    np.testing.assert_allclose(out, np.sin(x))
    (g,) = pullback(np.ones(3))
    np.testing.assert_allclose(g, np.cos(x))
    (g2,) = pullback(np.full(3, 2.0))
    np.testing.assert_allclose(g2, 2 * np.cos(x))
    out, f_jvp = mlc.linearize(lambda a, b: a * np.exp(b), x, x)
    np.testing.assert_allclose(f_jvp(np.ones(3), np.zeros(3)), np.exp(x))
    np.testing.assert_allclose(out, x * np.exp(x))


def test_vjp_with_aux_and_pytrees_inside_jit():
    @mlc.jit
    def f(p, ct):
        out, pullback, aux = mlc.vjp(lambda q: ({"y": q["a"] * q["b"]}, q["a"].sum()), p, has_aux=True)
        return out, pullback({"y": ct}), aux

    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    out, (g,), aux = f(p, np.ones(2))
    np.testing.assert_allclose(out["y"], [3.0, 8.0])
    np.testing.assert_allclose(g["a"], p["b"])
    np.testing.assert_allclose(g["b"], p["a"])
    assert float(aux) == 3.0


def test_jvp_of_pytrees():
    primal, tangent = mlc.jvp(lambda d: d["x"] * d["y"], ({"x": np.ones(2), "y": np.full(2, 3.0)},),
                              ({"x": np.ones(2), "y": np.zeros(2)},))
    np.testing.assert_allclose(primal, [3.0, 3.0])
    np.testing.assert_allclose(tangent, [3.0, 3.0])


def test_graph_level_transformations():
    graph, _, _ = trace_function(lambda x: np.exp(x) * 2, [np.zeros(3, "float32")])
    jg = jvp_graph(graph)
    assert [v.name for v in jg.inputs] == ["x0", "t_x0"] and len(jg.outputs) == 2
    vg = vjp_graph(graph)
    known, unknown = partial_eval(vg, [True, False], [0], [1])
    assert "exp" in known.ops() and "exp" not in unknown.ops()


# ------------------------------------------------------------------ errors

def test_grad_needs_a_real_scalar_and_float_inputs():
    with pytest.raises(mlc.TraceError, match="must return one real scalar.*float64\\[3\\]"):
        mlc.grad(lambda x: x)(np.ones(3))
    with pytest.raises(mlc.DTypeError, match="int64; only floating point inputs"):
        mlc.grad(lambda x: x * 1.0)(3)
    with pytest.raises(mlc.TraceError, match="argnums 2 does not name"):
        mlc.grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)
    with pytest.raises(mlc.TraceError, match="has_aux=True the function must return"):
        mlc.grad(lambda x: x * 2.0, has_aux=True)(1.0)


def test_complex_values_are_refused():
    with pytest.raises(mlc.DTypeError, match="complex values is not supported"):
        mlc.grad(lambda x: np.real(x * (1 + 1j)))(1.0)


def test_cotangents_and_tangents_must_match():
    _, pullback = mlc.vjp(lambda x: (x, x), np.ones(2))
    with pytest.raises(mlc.TraceError, match="cotangent must have the output's structure"):
        pullback(np.ones(2))
    with pytest.raises(mlc.TraceError, match="tangent leaf 0 must have its primal's shape"):
        mlc.jvp(np.sin, (np.ones(2),), (np.ones(3),))


def test_errors_name_the_users_line():
    with pytest.raises(mlc.ShapeError, match="test_autodiff.py"):
        mlc.grad(lambda x: np.sum(x @ np.ones((4, 2))))(np.ones((2, 3)))


def test_non_differentiable_points_follow_jax():
    g = mlc.grad
    assert float(g(np.abs)(0.0)) == 0.0 and float(g(np.abs)(-2.0)) == -1.0
    assert float(g(mlc.nn.relu)(0.0)) == 0.0
    assert float(g(lambda x: np.maximum(x, 1.0))(1.0)) == 0.5
    assert float(g(lambda x: np.minimum(1.0, x))(1.0)) == 0.5
    assert float(g(lambda x: np.clip(x, 0.0, 1.0))(1.0)) == 0.5
    np.testing.assert_array_equal(g(np.max)(np.array([1.0, 3.0, 3.0])), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(g(lambda x: np.sum(np.floor(x) + np.round(x) + np.sign(x)))(np.array([0.5, 1.5])),
                                  [0.0, 0.0])
    np.testing.assert_array_equal(g(lambda x: np.sum(x) + np.argmax(x))(np.array([1.0, 2.0])), [1.0, 1.0])
    # sort: each derivative moves with its element, ties in their stable order
    np.testing.assert_array_equal(g(lambda x: np.sum(np.sort(x) * np.array([1.0, 2.0, 3.0])))(
        np.array([2.0, 1.0, 2.0])), [2.0, 1.0, 3.0])
    np.testing.assert_array_equal(g(lambda x: np.sum(np.where(x > 0, x, 0.0)))(np.array([-1.0, 2.0])), [0.0, 1.0])
    assert float(g(lambda y: np.power(0.0, y))(2.0)) == 0.0


def test_transformations_with_dynamic_axes():
    f = mlc.jit(lambda x: mlc.grad(lambda v: np.sum(np.sin(v) * v))(x), dynamic=("x", 0))
    for n in (3, 5):
        x = np.linspace(0, 1, n)
        np.testing.assert_allclose(f(x), np.cos(x) * x + np.sin(x), rtol=1e-12)
    g = mlc.jit(lambda x: mlc.grad(lambda v: np.mean(v))(x), dynamic=("x", 0))
    with pytest.raises(mlc.TraceError, match="of mean does not support these dynamic axes"):
        g(np.ones(3))


@settings(max_examples=10, deadline=None)
@given(mt.shapes(min_dims=1, max_dims=3, min_side=1, max_side=5), st.data())
def test_gather_gradients_add_up_repeated_indices_in_a_scatter(shape, data):
    x = data.draw(mt.arrays("float64", shape, special=False, bound=2.0), label="x")
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    n = shape[axis]
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=7), label="idx"))
    weights = np.arange(1.0, 1.0 + np.prod(np.take(x, idx, axis=axis).shape)).reshape(np.take(x, idx, axis=axis).shape)
    want = np.zeros_like(x)
    np.add.at(np.moveaxis(want, axis, 0), idx % n, np.moveaxis(weights, axis, 0))  # repeats add up
    np.testing.assert_allclose(mlc.grad(lambda v: np.sum(np.take(v, idx, axis=axis) * weights))(x), want, rtol=1e-12)
    rows = np.expand_dims(np.take(idx, np.arange(3) % len(idx)), axis=tuple(d for d in range(len(shape)) if d != axis))
    along = lambda v: np.sum(np.take_along_axis(v, rows, axis=axis) ** 2)  # noqa: E731
    taken = np.take_along_axis(x, rows, axis=axis)
    want = np.zeros_like(x)
    grid = list(np.indices(taken.shape, sparse=True))
    grid[axis] = np.broadcast_to(rows % n, taken.shape)
    np.add.at(want, tuple(grid), 2 * taken)
    np.testing.assert_allclose(mlc.grad(along)(x), want, rtol=1e-12)
    graph, _, _ = trace_function(lambda v: np.sum(np.take(v, idx, axis=axis) * weights), [x])
    assert "index_add" in vjp_graph(graph).ops() and "equal" not in vjp_graph(graph).ops()  # no one-hot
