"""Functions and ops with derivative rules of their own: mlc.custom_vjp, mlc.custom_jvp, and
an mlc.op's rules given by hand."""
import numpy as np
import pytest

import mlc
from mlc import te


@mlc.custom_vjp
def clip_gradient(x, bound):
    return x


clip_gradient.defvjp(lambda x, bound: (x, bound), lambda bound, g: (np.clip(g, -bound, bound), None))


def test_custom_vjp_replaces_the_derivative():
    f = lambda x: np.sum(3.0 * clip_gradient(x, 1.0))  # noqa: E731
    x = np.array([1.0, -2.0])
    np.testing.assert_array_equal(mlc.grad(f)(x), [1.0, 1.0])
    np.testing.assert_array_equal(mlc.jit(mlc.grad(f))(x), [1.0, 1.0])
    # outside a transformation the function is called as it is
    np.testing.assert_array_equal(mlc.jit(lambda v: clip_gradient(v, 1.0) * 3)(x), 3 * x)
    np.testing.assert_array_equal(clip_gradient(x, 1.0), x)


def test_custom_vjp_under_vmap():
    xs = np.linspace(-2, 2, 4)
    np.testing.assert_array_equal(mlc.vmap(mlc.grad(lambda v: 3.0 * clip_gradient(v, 1.0)))(xs), np.ones(4))
    g = mlc.grad(lambda v: np.sum(mlc.vmap(lambda e: 3.0 * clip_gradient(e, 2.0))(v)))(xs)
    np.testing.assert_array_equal(g, np.full(4, 2.0))


@mlc.custom_vjp
def scaled_pair(p):
    return {"y": p["a"] * p["b"]}


def _pair_fwd(p):
    return scaled_pair(p), (p["a"], p["b"])


def _pair_bwd(res, ct):
    a, b = res
    return ({"a": 2 * ct["y"] * b, "b": None},)


scaled_pair.defvjp(_pair_fwd, _pair_bwd)


def test_custom_vjp_with_pytrees_and_zero_cotangents():
    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    g = mlc.grad(lambda q: np.sum(scaled_pair(q)["y"]))(p)
    np.testing.assert_array_equal(g["a"], 2 * p["b"])
    np.testing.assert_array_equal(g["b"], np.zeros(2))


@mlc.custom_jvp
def log1pexp(x):
    return np.log1p(np.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * (1 - 1 / (1 + np.exp(x)))


def test_custom_jvp_forward_reverse_and_batched():
    x = np.array([-1.0, 0.0, 800.0])  # exp(800) overflows: the plain derivative would be NaN
    sigmoid = np.array([1 / (1 + np.exp(1.0)), 0.5, 1.0])
    _, t = mlc.jvp(log1pexp, (x,), (np.ones(3),))
    np.testing.assert_allclose(t, sigmoid)
    np.testing.assert_allclose(mlc.grad(lambda v: np.sum(log1pexp(v)))(x), sigmoid)
    np.testing.assert_allclose(mlc.vmap(mlc.grad(log1pexp))(x), sigmoid)
    np.testing.assert_allclose(mlc.jit(mlc.vmap(lambda v: mlc.jvp(log1pexp, (v,), (1.0,))[1]))(x), sigmoid)


def test_custom_rule_errors():
    with pytest.raises(mlc.TraceError, match="forward mode .* cannot differentiate"):
        mlc.jvp(lambda v: clip_gradient(v, 1.0), (1.0,), (1.0,))

    @mlc.custom_vjp
    def no_rule(x):
        return x

    with pytest.raises(mlc.TraceError, match="no rule yet; call f.defvjp"):
        mlc.grad(no_rule)(1.0)

    @mlc.jit
    def closes_over(w):
        @mlc.custom_vjp
        def f(x):
            return x * w
        f.defvjp(lambda x: (f(x), None), lambda r, g: (g,))
        return mlc.grad(f)(1.0)

    with pytest.raises(mlc.TraceError, match="uses a traced value of the code around it"):
        closes_over(2.0)


# ------------------------------------------------------------------ mlc.op rules by hand

@mlc.op
def cube(x: te.Tensor):
    return te.compute(x.shape, lambda *i: x[i] * x[i] * x[i], name="cube")


@cube.defvjp
def _cube_vjp(ct, primals, out):
    (x,) = primals
    return (ct * 3 * x * x,)


@cube.defjvp
def _cube_jvp(primals, tangents, out):
    return tangents[0] * 3 * primals[0] * primals[0]


def test_an_mlc_op_with_rules_by_hand():
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(mlc.grad(lambda v: np.sum(cube(v)))(x), 3 * x * x)
    np.testing.assert_allclose(mlc.jvp(cube, (x,), (np.ones(3),))[1], 3 * x * x)
    # batching derived from the te body until a rule is given by hand
    np.testing.assert_allclose(mlc.vmap(cube)(np.ones((2, 3)) * 2), np.full((2, 3), 8.0))
    calls = []

    @cube.defbatch
    def _cube_batch(args, dims):
        calls.append(dims)
        return cube(args[0]), dims[0]

    np.testing.assert_allclose(mlc.vmap(cube, in_axes=1)(np.ones((3, 2)) * 2), np.full((2, 3), 8.0))
    assert calls == [(1,)]
    with pytest.raises(mlc.MLCError, match="already has a batch rule given by hand"):
        cube.defbatch(_cube_batch)


def test_an_mlc_op_whose_rule_cannot_be_derived_is_an_error_naming_it():
    prod = te.comm_reducer(lambda a, b: a * b, lambda t: te.const(1, t), name="prod")

    @mlc.op
    def rowprod(x: te.Tensor):
        k = te.reduce_axis((0, x.shape[1]), name="k")
        return te.compute((x.shape[0],), lambda i: prod(x[i, k], axis=k), name="rowprod")

    with pytest.raises(mlc.TraceError, match=r"custom.rowprod\w*: its vjp rule cannot be derived from its te "
                                             r"body.*reduces with prod.*@op.defvjp"):
        mlc.grad(lambda v: np.sum(rowprod(v)))(np.ones((2, 3)))


def test_a_batched_custom_jvp_is_transposed_for_reverse_mode():
    x = np.array([-1.0, 0.0, 800.0])
    sigmoid = np.array([1 / (1 + np.exp(1.0)), 0.5, 1.0])
    np.testing.assert_allclose(mlc.grad(lambda v: np.sum(mlc.vmap(log1pexp)(v)))(x), sigmoid)
    _, t = mlc.jvp(mlc.vmap(log1pexp), (x,), (np.ones(3),))
    np.testing.assert_allclose(t, sigmoid)


def test_custom_rules_inside_compiled_loops_and_conditionals():
    @mlc.custom_vjp
    def doubled_cos(x):
        return np.sin(x)

    doubled_cos.defvjp(lambda x: (np.sin(x), np.cos(x)), lambda res, g: (2 * g * res,))  # not sin's own
    x = np.float32([0.5, 1.0, -2.0])
    looped = mlc.jit(lambda x: mlc.fori_loop(0, 2, lambda i, c: doubled_cos(c), x))  # no transformation
    np.testing.assert_allclose(looped(x), np.sin(np.sin(x)), rtol=1e-6)
    np.testing.assert_allclose(mlc.grad(lambda x: np.sum(mlc.fori_loop(0, 1, lambda i, c: doubled_cos(c), x)))(x),
                               2 * np.cos(x), rtol=1e-6)
    branch = lambda x: np.sum(mlc.cond(np.sum(x) < 0, doubled_cos, lambda v: v, x))  # noqa: E731
    np.testing.assert_allclose(mlc.grad(branch)(x), 2 * np.cos(x), rtol=1e-6)
    batched = mlc.vmap(lambda v: mlc.fori_loop(0, 2, lambda i, c: doubled_cos(c), v))(np.stack([x, -x]))
    np.testing.assert_allclose(batched, np.sin(np.sin(np.stack([x, -x]))), rtol=1e-6)
