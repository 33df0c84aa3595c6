"""``@mlc.jit(dynamic=...)``: a dynamic axis is traced as a shape variable, so a new size
along it neither retraces nor recompiles; other axes stay specialized."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import ShapeError, TraceError
import mlc.driver
import mlc.tracer.compile


@pytest.fixture
def builds(monkeypatch):
    """Counts the calls of mlc.build (the jit builds through the driver's build, which
    mlc.tracer.compile imports)."""
    count = []
    real = mlc.driver.build
    monkeypatch.setattr(mlc.tracer.compile, "build", lambda *a, **k: count.append(1) or real(*a, **k))
    return count


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((784, 128)).astype("float32") * 0.05, rng.standard_normal(128).astype("float32"),
            rng.standard_normal((128, 10)).astype("float32") * 0.1, rng.standard_normal(10).astype("float32"))


def _mlp_numpy(x, w0, b0, w1, b1):
    return np.maximum(x @ w0 + b0, 0) @ w1 + b1


def test_a_symbolic_batch_mlp_runs_batches_1_7_64_1000_with_one_compilation(builds):
    mlp = mlc.jit(_mlp_numpy, dynamic=("x", 0))
    weights = _weights()
    rng = np.random.default_rng(1)
    for batch in (1, 7, 64, 1000):
        x = rng.standard_normal((batch, 784)).astype("float32")
        out = mlp(x, *weights)
        assert out.shape == (batch, 10)
        np.testing.assert_allclose(out, _mlp_numpy(x, *weights), rtol=1e-4, atol=1e-4)
    assert mlp.trace_count == 1
    assert len(builds) == 1


def test_the_trace_shows_the_shape_variable():
    f = mlc.jit(lambda x, w: x @ w, dynamic=("x", 0))
    text = f.trace(np.ones((3, 4), "float32"), np.ones((4, 2), "float32")).as_text()
    assert 'x: R.Tensor((x_dim0, 4), "float32")' in text


def test_a_static_axis_stays_specialized(builds):
    f = mlc.jit(lambda x: x.sum(axis=1), dynamic=("x", 0))
    f(np.ones((3, 4), "float32"))
    f(np.ones((5, 4), "float32"))
    assert len(builds) == 1
    np.testing.assert_array_equal(f(np.ones((2, 6), "float32")), np.full(2, 6, "float32"))
    assert len(builds) == 2 and f.trace_count == 2


@settings(max_examples=15, deadline=None)
@given(rows=st.integers(0, 70), seed=st.integers(0, 2**16))
def test_dynamic_rows_match_numpy_for_any_size(rows, seed):
    x = np.random.default_rng(seed).standard_normal((rows, 9)).astype("float32")
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(_softmax_rows(x), e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    assert _softmax_rows.trace_count == 1


@mlc.jit(dynamic=("x", 0))
def _softmax_rows(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_axes_sharing_a_name_share_one_size_and_disagreeing_arrays_are_a_shape_error():
    f = mlc.jit(lambda x, y: x * 2 + y, dynamic=[("x", 0, "batch"), ("y", 0, "batch")])
    np.testing.assert_array_equal(f(np.ones((3, 2), "float32"), np.ones((3, 2), "float32")),
                                  np.full((3, 2), 3, "float32"))
    np.testing.assert_array_equal(f(np.ones((5, 2), "float32"), np.ones((5, 2), "float32")),
                                  np.full((5, 2), 3, "float32"))
    assert f.trace_count == 1
    with pytest.raises(ShapeError, match=r"argument y must have shape \(batch, 2\), got \(4, 2\); "
                                         r"dimension 0 is `batch` = 3 with batch=3 \(from dimension 0 of x\)"):
        f(np.ones((3, 2), "float32"), np.ones((4, 2), "float32"))


def test_a_negative_axis_and_a_position_name_the_same_axis():
    f = mlc.jit(lambda x: x + 1, dynamic=(0, -1))
    f(np.ones((2, 3), "float32"))
    np.testing.assert_array_equal(f(np.ones((2, 5), "float32")), np.full((2, 5), 2, "float32"))
    assert f.trace_count == 1


def test_bad_dynamic_specs_are_trace_errors_that_say_what_to_write():
    with pytest.raises(TraceError, match=r"dynamic must be an \(argument, axis\) pair"):
        mlc.jit(lambda x: x, dynamic="x")
    with pytest.raises(TraceError, match="names argument position 3, but the function has 1"):
        mlc.jit(lambda x: x, dynamic=(3, 0))
    f = mlc.jit(lambda x: x + 1, dynamic=("x", 2))
    with pytest.raises(TraceError, match=r"axis 2 is marked dynamic, but the array has 2 dimension"):
        f(np.ones((2, 3), "float32"))
    g = mlc.jit(lambda x, y: x + y, dynamic=("z", 0))
    with pytest.raises(TraceError, match="marks argument 'z', which is not an array argument"):
        g(np.ones(2, "float32"), np.ones(2, "float32"))


def test_many_sizes_keep_the_fast_path_table_bounded():
    from mlc.tracer.jit import MAX_FAST_KEYS
    f = mlc.jit(lambda x: x * 2, dynamic=("x", 0))
    for rows in range(MAX_FAST_KEYS + 10):
        assert f(np.ones((rows, 2), "float32")).shape == (rows, 2)
    assert len(f._runs) <= MAX_FAST_KEYS + 1 and f.trace_count == 1


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_both_targets_run_a_dynamic_graph_with_several_outputs(target):
    @mlc.jit(dynamic=("x", 0), target=target)
    def f(x):
        return {"twice": x * 2, "rows": (x + 1).sum(axis=(1, 2)), "x": x}
    for rows in (1, 4, 9):
        x = np.arange(rows * 6, dtype="float32").reshape(rows, 2, 3)
        out = f(x)
        np.testing.assert_array_equal(out["twice"], x * 2)
        np.testing.assert_array_equal(out["rows"], (x + 1).sum(axis=(1, 2)))
        np.testing.assert_array_equal(out["x"], x)
        assert out["x"] is not x
    assert f.trace_count == 1


def test_an_op_that_cannot_take_a_dynamic_axis_is_a_trace_error_naming_it():
    f = mlc.jit(lambda x: np.split(x, 2, axis=0)[0], dynamic=("x", 0))
    with pytest.raises(TraceError, match=r"split does not support these dynamic axes \(operand shapes "
                                         r"\(x_dim0, 2, 3\)\)"):
        f(np.ones((4, 2, 3), "float32"))


def test_a_numpy_function_that_needs_a_dynamic_size_as_an_int_is_a_trace_error_naming_it():
    """np.tril of a 1-D array makes a square matrix of its size, before any op is emitted."""
    f = mlc.jit(lambda x: np.tril(x[:, 0]), dynamic=("x", 0))
    with pytest.raises(TraceError, match=r"np\.tril does not support these dynamic axes \(operand shapes "
                                         r"\(x_dim0, 3\)\): .*Mark fewer axes dynamic.*\n  at File"):
        f(np.ones((4, 2, 3), "float32"))
