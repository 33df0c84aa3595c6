"""Every registry op's JVP, VJP and batching rules, checked on sample calls.

The registry is walked: an op without rules, or without sample calls in
:mod:`.op_cases`, fails here (a new op needs both). For each op, one
compiled program per target computes its forward mode, reverse mode and two
``vmap`` versions on Hypothesis-drawn values, checked against central finite
differences in float64, against each other (``<v, J u> == <J^T v, u>``) and
against a Python loop of the op's NumPy reference (:mod:`._harness`). Every
op runs on llvm; a sample of each kind of rule on the CUDA emulator.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.ops import get_op, list_ops, register_op
from mlc.ops.rules import NONDIFFERENTIABLE, zero_jvp, zero_vjp

from ._harness import check_op
from .op_cases import CASES

#: The ops that are not differentiable by design (reviewed): bool or integer results, piecewise
#: constant float results, orderings, and stop_gradient. They have zero rules, and batching rules.
REVIEWED_NONDIFFERENTIABLE = {
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift",
    "isnan", "isfinite", "isinf", "signbit",
    "sign", "floor", "ceil", "trunc", "rint", "spacing", "heaviside", "floor_divide", "stop_gradient",
    "all", "any", "argmax", "argmin", "argsort", "searchsorted",
    "random.bits", "random.unit", "random.threefry2x32",
}

#: ops run on the CUDA emulator too: each kind of rule (elementwise with broadcasting, where,
#: reductions, ties, contractions, gathers, slicing, joins, nn, scans, sorting, linear algebra)
EMULATOR_SAMPLE = ("add", "maximum", "where", "exp", "sum", "max", "prod", "matmul", "einsum", "take",
                   "take_along_axis", "slice", "concatenate", "nn.softmax", "nn.layer_norm", "nn.conv2d",
                   "nn.max_pool2d", "cumsum", "sort", "solve")

#: ops only the graph pipeline makes, after tracing (a transformation never sees them); their
#: rules refuse, naming why
PIPELINE_ONLY = ("element_loop",)

LIBRARY = sorted(n for n in list_ops() if not n.startswith(("test.", "custom.")) and n not in PIPELINE_ONLY)


@pytest.mark.parametrize("kind", ["jvp", "vjp", "batch"])
def test_the_ops_only_the_pipeline_makes_refuse_to_be_transformed(kind):
    from mlc.ops.rules import RuleError
    for name in PIPELINE_ONLY:
        with pytest.raises(RuleError, match=f"{name} is made by the graph pipeline after tracing"):
            getattr(get_op(name), kind)()


def test_every_op_has_its_three_rules():
    missing = [(n, kind) for n in LIBRARY for kind in ("jvp", "vjp", "batch") if getattr(get_op(n), kind) is None]
    assert not missing, f"ops without rules: {missing}"


def test_every_op_has_sample_calls():
    assert [n for n in LIBRARY if n not in CASES] == []
    assert [n for n in CASES if n not in LIBRARY] == []


def test_the_nondifferentiable_ops_are_the_reviewed_ones():
    zero = {n for n in LIBRARY if get_op(n).jvp is zero_jvp}
    assert zero == REVIEWED_NONDIFFERENTIABLE == set(NONDIFFERENTIABLE)
    assert all(get_op(n).vjp is zero_vjp for n in zero)


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_rules_on_llvm(name, seed):
    check_op(name, "llvm", seed)


@pytest.mark.parametrize("name", EMULATOR_SAMPLE)
@settings(max_examples=1, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_rules_on_the_cuda_emulator(name, seed):
    check_op(name, "cuda-emulator", seed)


def test_gamma_samples_refuse_to_be_differentiated():
    from mlc.ops.rules import apply_op
    key = np.array([1, 2], "uint32")
    with pytest.raises(mlc.TraceError, match="random.gamma: the derivative of gamma samples"):
        mlc.grad(lambda a: np.sum(apply_op("random.gamma", key, a)))(np.ones(3))
    # with the shape parameter held constant, the rest differentiates
    g = mlc.grad(lambda a, s: np.sum(apply_op("random.gamma", key, mlc.stop_gradient(a)) * s), argnums=1)
    np.testing.assert_array_equal(g(np.ones(3), 1.0) > 0, True)


# ------------------------------------------------------------------ ops without rules

def _register_bare():
    if "test.no_rules" not in list_ops():
        from mlc import te
        register_op("test.no_rules", pattern="elemwise", infer=lambda t: t,
                    lower=lambda x: te.compute(x.shape, lambda *i: x[i] * 2, name="twice"),
                    reference=lambda x: x * 2, doc="twice, without transformation rules")


def _bare(x):
    from mlc.ops.rules import apply_op
    return apply_op("test.no_rules", x)


@pytest.mark.parametrize("transform, kind", [
    (lambda f: mlc.grad(lambda x: np.sum(f(x))), "vjp"),
    (lambda f: lambda x: mlc.jvp(f, (x,), (x,)), "jvp"),
    (lambda f: mlc.vmap(f), "batch"),
])
def test_an_op_without_a_rule_is_named(transform, kind):
    _register_bare()
    with pytest.raises(mlc.TraceError, match=f"op test.no_rules has no {kind} rule"):
        transform(_bare)(np.ones((2, 3)))


def test_an_op_without_rules_still_runs_where_nothing_is_transformed():
    _register_bare()
    x = np.ones(3)
    # its operand does not vary: no rule is needed
    assert mlc.grad(lambda y, z: np.sum(y * _bare(z)))(x, x).tolist() == [2.0, 2.0, 2.0]
    np.testing.assert_array_equal(mlc.vmap(lambda y, z: y + _bare(z), in_axes=(0, None))(np.ones((2, 3)), x),
                                  np.full((2, 3), 3.0))
