"""check_against_numpy and mlc.op(...).check(): correct code passes; each kind of mistake
(an off-by-one slice, a wrong reduction axis, float32 accumulation where float64 is
needed) fails with a shrunk counterexample, its error and the kernel's IR."""
import importlib.util
import pathlib

import numpy as np
import pytest
from hypothesis import strategies as st

import mlc
import mlc.testing as mt
from mlc import te

FAST = dict(max_examples=25)


@mlc.jit
def gelu(x):
    return 0.5 * x * (1 + np.tanh(0.79788456 * (x + 0.044715 * x * x * x)))


def test_a_jitted_function_matches_numpy():
    mt.check_against_numpy(gelu, gelu.__wrapped__,
                           mt.arrays(dtypes=["float32", "float64"], shapes=mt.shapes(max_dims=3)),
                           **FAST)


def test_broadcasting_integer_functions_compare_exactly():
    @mlc.jit
    def f(a, b):
        return (a * b + a) // 3 - b

    pair = st.shared(mt.broadcastable(2), key="pair")  # one draw of two shapes, one per argument
    mt.check_against_numpy(f, f.__wrapped__, mt.arrays("int32", pair.map(lambda p: p[0]), bound=1000),
                           mt.arrays("int32", pair.map(lambda p: p[1]), bound=1000), **FAST)


# ------------------------------------------------------------------ three mistakes

@mlc.op
def drop_first(x: te.Tensor):
    """Meant to be ``x[1:] * 2``; reads ``x[:-1]`` (off by one)."""
    return te.compute((x.shape[0] - 1,), lambda i: x[i] * 2, name="dropped")


@mlc.op
def row_sums(x: te.Tensor):
    """Meant to be ``x.sum(axis=1)``; sums over axis 0."""
    k = te.reduce_axis((0, x.shape[0]), "k")
    return te.compute((x.shape[1],), lambda j: te.sum(x[k, j], axis=k), name="sums")


@mlc.op
def total(x: te.Tensor):
    """Meant to be ``x.sum()`` in float64; accumulates in float32."""
    k = te.reduce_axis((0, x.shape[0]), "k")
    acc = te.compute((), lambda: te.sum(x[k].astype("float32"), axis=k), name="acc")
    return te.compute((), lambda: acc[()].astype("float64"), name="total")


def _counterexample(fn, reference, *strategies, **options) -> str:
    with pytest.raises(mt.Counterexample) as caught:
        mt.check_against_numpy(fn, reference, *strategies, **options)
    return str(caught.value)


def test_an_off_by_one_slice_is_caught():
    report = _counterexample(drop_first, lambda x: x[1:] * 2,
                             mt.arrays("float32", shapes=mt.shapes(min_dims=1, max_dims=1, min_side=2)))
    assert "drop_first on llvm disagrees with <lambda>" in report
    assert "x: float32 (2,) =" in report  # shrunk to the smallest input that shows it
    assert "ulps" in report and "rel error" in report
    assert "--- traced graph ---" in report and "R.custom.drop_first" in report
    assert 'with T.block("dropped")' in report  # the kernel's IR


def test_a_wrong_reduction_axis_is_caught():
    report = _counterexample(row_sums, lambda x: x.sum(axis=1),
                             mt.arrays("float64", shapes=mt.shapes(min_dims=2, max_dims=2, min_side=1)))
    assert "row_sums on llvm disagrees" in report
    assert "float64 (" in report and ("elements differ" in report or "shape" in report)
    assert 'with T.block("sums")' in report


def test_float32_accumulation_where_float64_is_needed_is_caught():
    report = _counterexample(total, np.sum,
                             mt.arrays("float64", shapes=mt.shapes(min_dims=1, max_dims=1, min_side=1)))
    assert "output 0: float64 (): 1 of 1 elements differ" in report
    assert "error budget:" in report and "reduction of" in report
    assert 'acc[()] = acc[()] + T.Cast("float32", arg0[vk])' in report


def test_a_reduction_that_overflows_in_one_order_and_not_in_numpys_passes():
    # mlc reorders float reductions (vectorized), as NumPy's own pairwise sums do for longer
    # ones: with values near the largest float, whether a partial result overflows depends on
    # the order. NumPy multiplies [0, 2^64, 2^64, 2^64] in order (0); two of the 2^64s first
    # give inf, then 0 * inf = NaN. The sum rounds 3.4028235e38 + 2^103 up to inf in order.
    cases = [(np.prod, np.float32([0.0, 2.0 ** 64, 2.0 ** 64, 2.0 ** 64])),
             (np.sum, np.float32([1.0141205e31, 3.4028235e38, -3.0223149e23, -3.0223149e23])),
             (np.mean, np.float32([3.4028235e38, 1.0141205e31, -3.0223149e23, -3.0223149e23])),
             (np.prod, np.float64([2.0 ** 256] * 2 + [0.0] + [2.0 ** 256] * 3))]  # no factor near the root
    for reduce, x in cases:
        mt.check_against_numpy(mlc.jit(lambda v, reduce=reduce: reduce(v, axis=0)),
                               lambda v, reduce=reduce: reduce(v, axis=0), st.just(x), max_examples=1)
    mt.check_against_numpy(mlc.jit(lambda v: np.sum(v, axis=-1)), lambda v: np.sum(v, axis=-1),
                           mt.arrays("float32", shapes=mt.shapes(min_dims=1, max_dims=2), special=True), **FAST)


def test_a_variance_of_equal_large_values_passes_where_numpys_mean_is_an_ulp_off():
    # mlc's variance of six 9.775614e15 is 0; NumPy's is 1.15e18 (its float32 mean is an ulp,
    # some 1e9, off, and that is squared): both are within what float32 can say here
    x = np.float32([9.775614e15] * 6)
    mt.check_against_numpy(mlc.jit(lambda v: np.var(v, axis=-1)), lambda v: np.var(v, axis=-1), st.just(x),
                           max_examples=1)


def test_a_reduction_that_gives_nan_where_numpy_does_not_is_still_caught():
    report = _counterexample(mlc.jit(lambda v: np.sum(np.log(v))), lambda v: np.sum(np.log(np.abs(v))),
                             mt.arrays("float32", shapes=mt.shapes(min_dims=1, max_dims=1, min_side=2),
                                       bound=1000.0))
    assert "NaN positions differ" in report and "reduction of 2" in report


def test_the_counterexample_is_found_with_the_project_profile():
    # the same mistakes under mlc's own settings (the loaded profile), not only with FAST
    _counterexample(drop_first, lambda x: x[1:] * 2,
                    mt.arrays("float32", shapes=mt.shapes(min_dims=1, max_dims=1, min_side=2)))


# ------------------------------------------------------------------ subjects

def test_a_built_function_with_destination_passing():
    A = te.placeholder((7, 3), "float32", "A")
    B = te.compute((7,), lambda i: te.max(A[i, 0], A[i, 2]) + 1, name="B")
    lib = mlc.build(mlc.IRModule({"f": te.create_prim_func([A, B])}), "llvm")
    mt.check_against_numpy(lib["f"], lambda a: np.maximum(a[:, 0], a[:, 2]) + 1,
                           mt.arrays("float32", (7, 3), special=True), **FAST)
    report = _counterexample(lib["f"], lambda a: a[:, 0] + 1, mt.arrays("float32", (7, 3)), **FAST)
    assert "f on built disagrees" in report and "--- the built function ---" in report
    assert "A: float32 (7, 3) =" in report


@mlc.op
def softplus(x: te.Tensor, alpha: float = 2.0):
    return te.compute(x.shape, lambda *i: te.log(1 + te.exp(alpha * x[i])), name="softplus")


@mlc.op
def pair_max(x: te.Tensor, y: te.Tensor):
    return te.compute(x.shape, lambda *i: te.max(x[i], y[i]), name="pair_max")


def test_op_check_against_its_own_reference_and_numpy():
    softplus.check(**FAST)
    softplus.check(lambda x, alpha: np.log(1 + np.exp(x.dtype.type(alpha) * x)), attrs={"alpha": 0.5},
                   bound=20.0, **FAST)
    pair_max.check(np.maximum, dtypes=mt.ALL, special=True, **FAST)


def test_op_check_skips_shapes_the_body_rejects_and_catches_mistakes():
    with pytest.raises(mt.Counterexample, match="row_sums on llvm disagrees"):
        row_sums.check(lambda x: x.sum(axis=1), **FAST)  # 1-D and 3-D shapes are skipped


def test_op_check_with_shapes_per_input():
    pair_max.check(np.maximum, shapes=mt.shapes(min_dims=1).map(lambda s: (s, s)), **FAST)


def test_explicit_tolerances_replace_the_budget():
    with pytest.raises(mt.Counterexample, match=r"tolerance: 0 ulps"):
        mt.check_against_numpy(softplus, lambda x: np.log1p(np.exp(2 * x)) * (1 + 1e-6),
                               mt.arrays("float32", shapes=mt.shapes(min_dims=1), bound=5.0),
                               ulps=0, **FAST)


def test_bad_uses_are_typed_errors():
    with pytest.raises(mlc.MLCError, match="one strategy per argument"):
        mt.check_against_numpy(gelu, np.tanh)
    with pytest.raises(mlc.MLCError, match="must be a Hypothesis strategy"):
        mt.check_against_numpy(gelu, np.tanh, np.zeros(3))
    with pytest.raises(mlc.MLCError, match="has no reference of its own"):
        mt.check_against_numpy(gelu, None, mt.arrays("float32"))
    with pytest.raises(mlc.MLCError, match="not a dtype mlc supports"):
        mt.arrays("datetime64")


def test_the_property_testing_example_runs(capsys):
    spec = importlib.util.spec_from_file_location(
        "example_property_testing", pathlib.Path(__file__).resolve().parents[2] / "examples" / "property_testing.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    report = example.main()
    assert "row_sums on llvm disagrees" in report and 'with T.block("sums")' in report
    assert "gelu and softplus agree with NumPy" in capsys.readouterr().out


def test_static_keyword_arguments_of_a_jitted_function():
    @mlc.jit(static_argnames="axis")
    def normalise(x, axis):
        return x / (np.abs(x).sum(axis=axis, keepdims=True) + 1)

    strategy = mt.arrays("float64", shapes=mt.shapes(min_dims=2, max_dims=2, min_side=1), bound=1e3)
    mt.check_against_numpy(normalise, normalise.__wrapped__, strategy, kwargs={"axis": 1}, **FAST)
    with pytest.raises(mt.Counterexample, match="keyword arguments: {'axis': 0}"):
        mt.check_against_numpy(normalise, lambda x, axis: normalise.__wrapped__(x, 1 - axis), strategy,
                               kwargs={"axis": 0}, **FAST)


def test_one_target_only():
    mt.check_against_numpy(gelu, gelu.__wrapped__, mt.arrays("float32", shapes=mt.shapes()),
                           targets=("reference",), **FAST)
    with pytest.raises(mlc.MLCError, match="unknown target 'gpu'"):
        mt.check_against_numpy(gelu, gelu.__wrapped__, mt.arrays("float32"), targets=("gpu",))
