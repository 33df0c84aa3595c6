"""from_onnx's elementwise, reduction and data-movement converters against onnx's ReferenceEvaluator,
on Hypothesis-drawn shapes (sizes 1 and odd included), and the backend interface."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.frontend import from_onnx

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from mlc.frontend import onnx_backend  # noqa: E402

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


def _model(nodes, inputs, outputs, initializers=(), opset=18):
    infos = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
             for n, a in inputs.items()]
    graph = helper.make_graph(nodes, "g", infos, [helper.make_tensor_value_info(n, 0, None) for n in outputs],
                              [numpy_helper.from_array(np.asarray(v), n) for n, v in dict(initializers).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _check(model, feeds, rtol=1e-5, atol=1e-6):
    expected = ReferenceEvaluator(model).run(None, feeds)
    got = mlc.build(from_onnx(model), "llvm")["main"](*feeds.values())
    got = got if isinstance(got, tuple) else (got,)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype, e.dtype)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def _x(shape, seed=0, scale=2.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype("float32")


@settings(max_examples=8, deadline=None)
@given(op_type=st.sampled_from(["Cos", "Sin", "Tan", "Atan", "Sinh", "Floor", "Ceil", "Round", "Sign", "Softplus",
                                "Softsign", "Elu", "Selu", "LeakyRelu", "HardSigmoid", "HardSwish", "Mish",
                                "IsNaN", "Celu", "ThresholdedRelu"]), shape=shapes)
def test_unary(op_type, shape):
    x = _x(shape)
    _check(_model([helper.make_node(op_type, ["x"], ["y"])], {"x": x}, ["y"]), {"x": x})


@settings(max_examples=8, deadline=None)
@given(op_type=st.sampled_from(["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                                "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare"]),
       shape=shapes, keep=st.booleans(), data=st.data(), dtype=st.sampled_from(["float32", "int32"]))
def test_reductions_keep_the_dtype(op_type, shape, keep, data, dtype):
    if dtype == "int32" and op_type not in ("ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1"):
        dtype = "float32"  # (onnx's reference widens some integer reductions to int64; ONNX keeps the type)
    axes = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), unique_by=lambda a: a % len(shape),
                              max_size=len(shape)))
    x = (_x(shape, scale=1.0) * (3 if dtype == "int32" else 1)).astype(dtype)
    node = helper.make_node(op_type, ["x", "axes"] if axes else ["x"], ["y"], keepdims=int(keep))
    model = _model([node], {"x": x}, ["y"], {"axes": np.array(axes, np.int64)} if axes else ())
    _check(model, {"x": x}, rtol=1e-4, atol=1e-5)


@settings(max_examples=8, deadline=None)
@given(shape=shapes, data=st.data())
def test_slice(shape, data):
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1, max_size=len(shape)))
    starts, ends, steps = [], [], []
    for a in axes:
        n = shape[a]
        starts.append(data.draw(st.integers(-n - 2, n + 2)))
        ends.append(data.draw(st.sampled_from([-2 ** 63, 2 ** 63 - 1, -n - 1, 0, n, n // 2, -1])))
        steps.append(data.draw(st.sampled_from([1, 2, -1, -3])))
    x = _x(shape)
    inits = {"s": np.array(starts, np.int64), "e": np.array(ends, np.int64), "a": np.array(axes, np.int64),
             "t": np.array(steps, np.int64)}
    model = _model([helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"])], {"x": x}, ["y"], inits)
    if not any(lo < -shape[a] and step < 0 for a, lo, step in zip(axes, starts, steps)):
        _check(model, {"x": x})
    # ONNX's own reference evaluator slices as NumPy does, which empties x[-n-1::-1]; the
    # specification clamps that start to 0 (onnxruntime too): checked against it here
    index = [slice(None)] * len(shape)
    for a, lo, hi, step in zip(axes, starts, ends, steps):
        n = shape[a]
        lo, hi = lo + n if lo < 0 else lo, hi + n if hi < 0 else hi
        lo, hi = (min(max(lo, 0), n), min(max(hi, 0), n)) if step > 0 else (min(max(lo, 0), n - 1), min(max(hi, -1), n - 1))
        index[a] = slice(lo, None if hi < 0 else hi, step)
    np.testing.assert_array_equal(mlc.build(from_onnx(model), "llvm")["main"](x), x[tuple(index)])


def test_slice_clamps_a_start_before_the_axis_for_a_negative_step():
    """The specification's example of its clamping rule, where NumPy's slice would be empty."""
    x = np.arange(3, dtype="float32")
    inits = {"s": np.array([-5], np.int64), "e": np.array([-2 ** 63], np.int64), "a": np.array([0], np.int64),
             "t": np.array([-1], np.int64)}
    model = _model([helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"])], {"x": x}, ["y"], inits)
    np.testing.assert_array_equal(mlc.build(from_onnx(model), "llvm")["main"](x), [0.0])


@settings(max_examples=6, deadline=None)
@given(shape=shapes, idx_shape=st.lists(st.integers(1, 3), max_size=2).map(tuple), data=st.data())
def test_gather_with_negative_indices(shape, idx_shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(idx_shape)),
                                      max_size=int(np.prod(idx_shape)))), np.int64).reshape(idx_shape)
    x = _x(shape)
    model = _model([helper.make_node("Gather", ["x", "i"], ["y"], axis=axis)], {"x": x, "i": idx}, ["y"])
    _check(model, {"x": x, "i": idx})


@settings(max_examples=6, deadline=None)
@given(shape=shapes, data=st.data())
def test_expand_broadcasts_both_ways(shape, data):
    target = tuple(data.draw(st.sampled_from([1, d])) if d > 1 else data.draw(st.integers(1, 3)) for d in shape)
    x = _x(shape)
    model = _model([helper.make_node("Expand", ["x", "s"], ["y"])], {"x": x}, ["y"], {"s": np.array(target, np.int64)})
    _check(model, {"x": x})


@settings(max_examples=6, deadline=None)
@given(h=st.integers(1, 5), w=st.integers(1, 5), mode=st.sampled_from(["nearest", "linear", "cubic"]),
       coords=st.sampled_from(["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"]),
       scale=st.sampled_from([0.5, 0.6, 1.5, 2.0, 3.0]))
def test_resize(h, w, mode, coords, scale):
    x = _x((1, 2, h, w))
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode=mode, coordinate_transformation_mode=coords)
    model = _model([node], {"x": x}, ["y"], {"s": np.array([1, 1, scale, scale], np.float32)})
    if min(int(h * scale), int(w * scale)) < 1:
        return
    _check(model, {"x": x}, rtol=1e-4, atol=1e-5)


def test_backend_runs_the_suite_interface():
    x = _x((2, 3))
    node = helper.make_node("Reshape", ["x", "shape"], ["y"])
    model = _model([node], {"x": x, "shape": np.array([3, 2], np.int64)}, ["y"])
    assert onnx_backend.MLCBackend.supports_device("CPU") and not onnx_backend.MLCBackend.supports_device("TPU")
    rep = onnx_backend.prepare(model)  # the shape is an input: fixed from each run's value
    np.testing.assert_array_equal(rep.run([x, np.array([3, 2], np.int64)])[0], x.reshape(3, 2))
    np.testing.assert_array_equal(rep.run([x, np.array([6, 1], np.int64)])[0], x.reshape(6, 1))
    out = onnx_backend.run_node(helper.make_node("Cos", ["a"], ["b"]), [x])
    np.testing.assert_allclose(out[0], np.cos(x), rtol=1e-6)
    assert issubclass(onnx_backend.MLCBackend, onnx.backend.base.Backend)


@settings(max_examples=6, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data(),
       reduction=st.sampled_from(["none", "add", "mul", "max", "min"]))
def test_scatter_elements(shape, data, reduction):
    axis = data.draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    ishape = tuple(data.draw(st.integers(1, d)) if b != axis else data.draw(st.integers(1, n))
                   for b, d in enumerate(shape))
    # distinct targets along the axis (ONNX leaves duplicates unspecified without a reduction)
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    perm = np.argsort(rng.random(ishape[:axis] + (n,) + ishape[axis + 1:]), axis=axis)
    idx = np.take(perm, np.arange(ishape[axis]), axis=axis).astype(np.int64) - rng.integers(0, 2) * n
    x, upd = _x(shape, seed=1), _x(ishape, seed=2)
    node = helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=axis, reduction=reduction)
    _check(_model([node], {"x": x, "i": idx, "u": upd}, ["y"]), {"x": x, "i": idx, "u": upd})


def test_scatter_nd():
    x, upd = _x((4, 3, 2)), _x((2, 3, 2), seed=1)
    idx = np.array([[2], [-1]], np.int64)
    for reduction in ("none", "add", "max"):
        node = helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction=reduction)
        _check(_model([node], {"x": x, "i": idx, "u": upd}, ["y"]), {"x": x, "i": idx, "u": upd})


@pytest.mark.parametrize("batch_axis,time_axis", [(0, 1), (1, 0)])
def test_reverse_sequence_and_compress_and_lrn(batch_axis, time_axis):
    x = _x((3, 4, 2))
    lens = np.minimum(np.array([1, 3, 2, 4, 2][:x.shape[batch_axis]], np.int64), x.shape[time_axis])
    node = helper.make_node("ReverseSequence", ["x", "l"], ["y"], batch_axis=batch_axis, time_axis=time_axis)
    _check(_model([node], {"x": x}, ["y"], {"l": lens}), {"x": x})
    node = helper.make_node("Compress", ["x", "c"], ["y"], axis=time_axis)
    _check(_model([node], {"x": x}, ["y"], {"c": np.array([1, 0, 1, 1][:x.shape[time_axis]], bool)}), {"x": x})
    # LRN against the spec's formula (onnx's reference sums channels only up to the batch size)
    size = 3 + batch_axis
    x4 = _x((2, 5, 3, 3), seed=3)
    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=0.1, beta=0.6, bias=1.5)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    squares = np.pad(x4.astype(np.float64) ** 2, ((0, 0), (lo, hi), (0, 0), (0, 0)))
    window = sum(squares[:, k:k + 5] for k in range(size))
    got = mlc.build(from_onnx(_model([node], {"x": x4}, ["y"])), "llvm")["main"](x4)
    np.testing.assert_allclose(got, x4 / (1.5 + 0.1 / size * window) ** 0.6, rtol=1e-5, atol=1e-6)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 9), dtype=st.sampled_from(["uint8", "int8", "int16"]), scale=st.sampled_from([0.02, 0.5, 3.0]),
       seed=st.integers(0, 9))
def test_quantize_round_trip_and_dynamic_quantize(n, dtype, scale, seed):
    x = _x((n, 3), seed=seed, scale=4.0)
    x.flat[0] = 2.5 * scale  # a tie: rounded to even
    zero = np.array(3 if dtype == "uint8" else -2, dtype)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"]),
             helper.make_node("DynamicQuantizeLinear", ["x"], ["dq", "ds", "dz"])]
    model = _model(nodes, {"x": x}, ["q", "y", "dq", "ds", "dz"], {"s": np.array(scale, np.float32), "z": zero},
                   opset=21)
    _check(model, {"x": x})


def test_conv_integer_and_matmul_integer():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (1, 2, 5, 5)).astype(np.uint8)
    w = rng.integers(0, 255, (3, 2, 2, 2)).astype(np.uint8)
    node = helper.make_node("ConvInteger", ["x", "w", "zx", "zw"], ["y"], pads=[1, 0, 1, 0])
    _check(_model([node], {"x": x, "w": w}, ["y"], {"zx": np.array(7, np.uint8),
                                                  "zw": np.array([1, 2, 3], np.uint8)}, opset=10), {"x": x, "w": w})
    a, b = rng.integers(0, 255, (4, 3)).astype(np.uint8), rng.integers(0, 255, (3, 2)).astype(np.uint8)
    node = helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])
    _check(_model([node], {"a": a, "b": b}, ["y"], {"za": np.array(12, np.uint8), "zb": np.array(200, np.uint8)},
                  opset=10), {"a": a, "b": b})
