"""mlc.frontend.from_onnx: each op against onnx's ReferenceEvaluator, small models, every refusal."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.frontend import UnsupportedAttributeError, UnsupportedOpError, from_onnx
from mlc.frontend.common import FrontendError
from mlc.graph import bind_params

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

F32 = TensorProto.FLOAT


def model_of(nodes, inputs, outputs, initializers=(), opset=18):
    """A model of ``nodes``; ``inputs``/``outputs`` map names to shapes (float32)."""
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, F32, list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, F32, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), n) for n, v in dict(initializers).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def check(model, feeds, rtol=1e-5, atol=1e-5, **kwargs):
    """Import, build and run ``model``; compare every output with the ReferenceEvaluator."""
    expected = ReferenceEvaluator(model).run(None, feeds)
    mod = from_onnx(model, **kwargs)
    got = mlc.build(mod, "llvm")["main"](*feeds.values())
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return mod


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def one_node(op_type, shapes, attrs=None, n_out=1, opset=18, initializers=(), extra_inputs=()):
    names = [f"x{i}" for i in range(len(shapes))]
    node = helper.make_node(op_type, names + list(extra_inputs), [f"y{i}" for i in range(n_out)],
                            **(attrs or {}))
    return model_of([node], dict(zip(names, shapes)), [f"y{i}" for i in range(n_out)], initializers,
                    opset), {n: rand(*s, seed=i) for i, (n, s) in enumerate(zip(names, shapes))}


# ------------------------------------------------------------------ elementwise

@pytest.mark.parametrize("op_type", ["Relu", "Tanh", "Sigmoid", "Erf", "Exp", "Neg", "Abs", "Identity"])
def test_unary(op_type):
    check(*one_node(op_type, [(3, 5)]))


@pytest.mark.parametrize("op_type", ["Sqrt", "Log", "Reciprocal"])
def test_unary_on_positive_inputs(op_type):
    model, feeds = one_node(op_type, [(7,)])
    check(model, {k: np.abs(v) + 0.5 for k, v in feeds.items()})


shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@settings(max_examples=10, deadline=None)
@given(op_type=st.sampled_from(["Add", "Sub", "Mul", "Div", "Pow"]), a=shapes, drop=st.integers(0, 3),
       ones=st.lists(st.booleans(), min_size=3, max_size=3))
def test_binary_broadcasting(op_type, a, drop, ones):
    b = tuple(1 if one else d for d, one in zip(a[drop:], ones))  # ONNX's multidirectional broadcasting
    model, feeds = one_node(op_type, [a, b])
    if op_type == "Pow":
        feeds["x0"] = np.abs(feeds["x0"]) + 0.5
    check(model, feeds, rtol=1e-5)


# ------------------------------------------------------------------ matmul / gemm

@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("alpha,beta,c_shape", [(1.0, 1.0, (5,)), (0.5, 2.0, (3, 5)), (1.0, 1.0, None),
                                                (2.0, 0.25, (1, 5))])
def test_gemm(trans_a, trans_b, alpha, beta, c_shape):
    a_shape = (4, 3) if trans_a else (3, 4)
    b_shape = (5, 4) if trans_b else (4, 5)
    inputs = ["A", "B"] + (["C"] if c_shape else [])
    inits = {"B": rand(*b_shape, seed=1)} | ({"C": rand(*c_shape, seed=2)} if c_shape else {})
    node = helper.make_node("Gemm", inputs, ["Y"], alpha=alpha, beta=beta, transA=trans_a, transB=trans_b)
    mod = check(model_of([node], {"A": a_shape}, ["Y"], inits), {"A": rand(*a_shape)})
    assert ("nn.dense" in mod["main"].ops()) == bool(trans_b)  # Gemm with transB is the course's linear


@settings(max_examples=10, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2).map(tuple), m=st.integers(1, 5), k=st.integers(1, 6),
       n=st.integers(1, 5), b_batched=st.booleans())
def test_matmul(batch, m, k, n, b_batched):
    check(*one_node("MatMul", [batch + (m, k), (batch if b_batched else ()) + (k, n)]), rtol=1e-4, atol=1e-5)


def test_matmul_of_vectors():
    check(*one_node("MatMul", [(4,), (4, 3)]))
    check(*one_node("MatMul", [(2, 4), (4,)]))


# ------------------------------------------------------------------ conv / pool

@pytest.mark.parametrize("attrs,bias", [
    ({}, False),
    ({"pads": [1, 1, 1, 1]}, True),
    ({"pads": [0, 1, 2, 0], "strides": [2, 1]}, True),
    ({"dilations": [2, 1], "strides": [1, 2]}, False),
    ({"auto_pad": "SAME_UPPER", "strides": [2, 2]}, True),
    ({"auto_pad": "SAME_LOWER", "strides": [2, 2]}, False),
    ({"auto_pad": "VALID", "kernel_shape": [3, 2]}, False),
    ({"group": 2, "pads": [1, 0, 1, 0]}, True),
])
def test_conv(attrs, bias):
    groups = attrs.get("group", 1)
    w = rand(6, 4 // groups, 3, 2, seed=1)
    inits = {"W": w} | ({"B": rand(6, seed=2)} if bias else {})
    node = helper.make_node("Conv", ["X", "W"] + (["B"] if bias else []), ["Y"], **attrs)
    check(model_of([node], {"X": (2, 4, 7, 6)}, ["Y"], inits), {"X": rand(2, 4, 7, 6)}, rtol=1e-4, atol=1e-4)


@st.composite
def window_geometry(draw, max_kernel=3):
    """(input h, w), kernel, strides, dilations, pads (h_begin, w_begin, h_end, w_end) that fit."""
    kernel = [draw(st.integers(1, max_kernel)) for _ in range(2)]
    strides = [draw(st.integers(1, 3)) for _ in range(2)]
    dilations = [draw(st.integers(1, 2)) for _ in range(2)]
    pads = [draw(st.integers(0, k // 2)) for k in kernel * 2]
    sizes = [(k - 1) * d + 1 + draw(st.integers(0, 4)) for k, d in zip(kernel, dilations)]
    return sizes, kernel, strides, dilations, pads


@settings(max_examples=10, deadline=None)
@given(geometry=window_geometry(), channels=st.integers(1, 3), groups=st.sampled_from([1, 2]),
       bias=st.booleans())
def test_conv_over_drawn_geometry(geometry, channels, groups, bias):
    sizes, kernel, strides, dilations, pads = geometry
    c_in, c_out = channels * groups, 2 * groups
    inits = {"W": rand(c_out, channels, *kernel, seed=1)} | ({"B": rand(c_out, seed=2)} if bias else {})
    node = helper.make_node("Conv", ["X", "W"] + (["B"] if bias else []), ["Y"], strides=strides,
                            dilations=dilations, pads=pads, group=groups)
    check(model_of([node], {"X": (1, c_in, *sizes)}, ["Y"], inits), {"X": rand(1, c_in, *sizes)},
          rtol=1e-4, atol=1e-4)


def max_pool_numpy(x, kernel, strides, dilations, pads):
    """MaxPool of an NCHW array in NumPy: -inf padding, every window's max."""
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=-np.inf)
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    h, w = [(n - span) // s + 1 for n, span, s in zip(xp.shape[2:], spans, strides)]
    out = np.empty(x.shape[:2] + (h, w), x.dtype)
    for i in range(h):
        for j in range(w):
            r, c = i * strides[0], j * strides[1]
            out[:, :, i, j] = xp[:, :, r:r + spans[0]:dilations[0], c:c + spans[1]:dilations[1]].max(axis=(2, 3))
    return out


@settings(max_examples=10, deadline=None)
@given(geometry=window_geometry())
def test_max_pool_over_drawn_geometry(geometry):
    """Against a NumPy max pool: ONNX's ReferenceEvaluator fails on some of these geometries
    (sizes (2, 1), kernel (2, 1), end padding (1, 0): a zero-size max inside it)."""
    sizes, kernel, strides, dilations, pads = geometry
    model, feeds = one_node("MaxPool", [(2, 2, *sizes)], {"kernel_shape": kernel, "strides": strides,
                                                          "dilations": dilations, "pads": pads})
    got = mlc.build(from_onnx(model), "llvm")["main"](feeds["x0"])
    np.testing.assert_array_equal(got, max_pool_numpy(feeds["x0"], kernel, strides, dilations, pads))


def test_max_pool_where_the_reference_evaluator_fails():
    model, feeds = one_node("MaxPool", [(2, 2, 2, 1)], {"kernel_shape": [2, 1], "pads": [0, 0, 1, 0]})
    got = mlc.build(from_onnx(model), "llvm")["main"](feeds["x0"])
    np.testing.assert_array_equal(got, max_pool_numpy(feeds["x0"], [2, 1], [1, 1], [1, 1], [0, 0, 1, 0]))


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [2, 2]},
    {"kernel_shape": [2, 2], "strides": [2, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 1], "pads": [1, 1, 1, 0]},
    {"kernel_shape": [2, 3], "dilations": [2, 1]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"},
    {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1},  # 6x8: the windows tile exactly
])
def test_max_pool(attrs):
    check(*one_node("MaxPool", [(2, 3, 6, 8)], attrs))


# ------------------------------------------------------------------ shapes

@pytest.mark.parametrize("axis", range(-3, 4))
def test_flatten(axis):
    check(*one_node("Flatten", [(2, 3, 4)], {"axis": axis}))


@pytest.mark.parametrize("target,allowzero", [((0, -1), 0), ((-1,), 0), ((4, 0, 2, 1), 0), ((2, 3, 4), 1),
                                              ((6, -1), 1), ((0, 0, 4), 0)])
def test_reshape(target, allowzero):
    node = helper.make_node("Reshape", ["x", "shape"], ["y"], **({"allowzero": 1} if allowzero else {}))
    model = model_of([node], {"x": (2, 3, 4)}, ["y"], {"shape": np.array(target, np.int64)})
    check(model, {"x": rand(2, 3, 4)})


def test_reshape_of_a_constant_node_shape():
    nodes = [helper.make_node("Constant", [], ["shape"], value=numpy_helper.from_array(np.array([3, -1], np.int64))),
             helper.make_node("Reshape", ["x", "shape"], ["y"])]
    mod = check(model_of(nodes, {"x": (2, 3, 4)}, ["y"]), {"x": rand(2, 3, 4)})
    assert mod["main"].ops() == ["reshape"]


@pytest.mark.parametrize("perm", [None, (1, 0, 2), (2, 0, 1), (0, 2, 1)])
def test_transpose(perm):
    check(*one_node("Transpose", [(2, 3, 4)], {} if perm is None else {"perm": list(perm)}))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_concat(axis):
    shapes = [tuple(k + 1 if d == axis % 3 else s for d, s in enumerate((2, 3, 4))) for k in range(3)]
    check(*one_node("Concat", shapes, {"axis": axis}))


# ------------------------------------------------------------------ nn

@pytest.mark.parametrize("axis", [None, 0, 1, -1, -2])
def test_softmax(axis):
    check(*one_node("Softmax", [(2, 3, 4)], {} if axis is None else {"axis": axis}, opset=13))


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, -2])
def test_softmax_before_opset_13_normalises_all_axes_from_axis_on(axis):
    """Opsets 1-12 see the input as 2-D, ``[:axis]`` by ``[axis:]`` (default axis 1). onnx's
    ReferenceEvaluator applies opset 13's one-axis rule to every opset, so the oracle here
    is the spec's own 2-D coercion in NumPy."""
    model, feeds = one_node("Softmax", [(2, 3, 4)], {} if axis is None else {"axis": axis}, opset=11)
    x = feeds["x0"].astype("float64")
    k = (1 if axis is None else axis) % 3
    flat = x.reshape(int(np.prod(x.shape[:k])), -1)
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    expected = (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)
    got = mlc.build(from_onnx(model), "llvm")["main"](feeds["x0"])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis,epsilon,bias", [(-1, 1e-5, True), (1, 1e-3, True), (-2, 1e-5, False),
                                               (0, 0.1, True)])
def test_layer_normalization(axis, epsilon, bias):
    shape = (2, 3, 5)
    norm = shape[axis:]
    inits = {"scale": rand(*norm, seed=3)} | ({"bias": rand(*norm, seed=4)} if bias else {})
    node = helper.make_node("LayerNormalization", ["x", "scale"] + (["bias"] if bias else []), ["y"],
                            axis=axis, epsilon=epsilon)
    check(model_of([node], {"x": shape}, ["y"], inits, opset=17), {"x": rand(*shape)}, rtol=1e-4, atol=1e-5)


def test_layer_normalization_broadcasts_its_scale():
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=1)
    inits = {"scale": rand(1, 4, seed=3), "bias": rand(4, seed=4)}
    check(model_of([node], {"x": (2, 3, 4)}, ["y"], inits, opset=17), {"x": rand(2, 3, 4)}, atol=1e-5)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    check(*one_node("Gelu", [(4, 6)], {"approximate": approximate}, opset=20), atol=1e-6)


def test_dropout_and_constant_are_identities_at_inference():
    nodes = [helper.make_node("Dropout", ["x"], ["d"], seed=1),
             helper.make_node("Constant", [], ["c"], value_floats=[1.0, 2.0, 3.0]),
             helper.make_node("Constant", [], ["s"], value_float=0.5),
             helper.make_node("Add", ["d", "c"], ["t"]),
             helper.make_node("Mul", ["t", "s"], ["y"])]
    mod = check(model_of(nodes, {"x": (2, 3)}, ["y"]), {"x": rand(2, 3)})
    assert mod["main"].ops() == ["add", "multiply"]


# ------------------------------------------------------------------ models

def cnn(x_shape=(2, 1, 8, 8)):
    """Conv -> Relu -> MaxPool -> Flatten -> Gemm -> Softmax."""
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "w1", "b1"], ["g"], transB=1),
             helper.make_node("Softmax", ["g"], ["y"], axis=-1)]
    inits = {"w0": rand(4, 1, 3, 3, seed=1), "b0": rand(4, seed=2), "w1": rand(10, 4 * 4 * 4, seed=3) * 0.1,
             "b1": rand(10, seed=4)}
    return model_of(nodes, {"x": x_shape}, ["y"], inits, opset=13)


def test_small_cnn():
    mod = check(cnn(), {"x": rand(2, 1, 8, 8)}, rtol=1e-4, atol=1e-6)
    assert mod["main"].ops() == ["nn.conv2d", "reshape", "add", "nn.relu", "nn.max_pool2d", "reshape",
                                 "nn.dense", "add", "nn.softmax"]
    assert [v.name for v in mod["main"].inputs] == ["x"]  # the initializers are bound constants


def mlp(n=5, n_in=4, hidden=16, n_out=3, seed=0):
    """The course's MLP, in its export form: Gemm(transB) -> Relu -> Gemm(transB)."""
    nodes = [helper.make_node("Gemm", ["x", "w0", "b0"], ["lv0"], transB=1),
             helper.make_node("Relu", ["lv0"], ["lv1"]),
             helper.make_node("Gemm", ["lv1", "w1", "b1"], ["y"], transB=1)]
    inits = {"w0": rand(hidden, n_in, seed=seed + 1), "b0": rand(hidden, seed=seed + 2),
             "w1": rand(n_out, hidden, seed=seed + 3), "b1": rand(n_out, seed=seed + 4)}
    return model_of(nodes, {"x": (n, n_in)}, ["y"], inits), inits


@settings(max_examples=5, deadline=None)
@given(n=st.integers(1, 9), n_in=st.integers(1, 20), hidden=st.integers(1, 33), n_out=st.integers(1, 11))
def test_course_mlp_at_ragged_sizes(n, n_in, hidden, n_out):
    model, _ = mlp(n, n_in, hidden, n_out)
    check(model, {"x": rand(n, n_in)}, rtol=1e-4, atol=1e-4)


def test_keep_params_in_input_returns_the_parameters_to_bind():
    model, inits = mlp()
    mod, params = from_onnx(model, keep_params_in_input=True)
    assert [v.name for v in mod["main"].inputs] == ["x", "w0", "b0", "w1", "b1"]
    assert list(params) == ["w0", "b0", "w1", "b1"]
    x = rand(5, 4, seed=9)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    lib = mlc.build(mod, "llvm")
    np.testing.assert_allclose(lib["main"](x, *params.values()), expected, rtol=1e-5, atol=1e-5)
    bound = mlc.build(bind_params(mod, params), "llvm")["main"](x)
    np.testing.assert_allclose(bound, expected, rtol=1e-5, atol=1e-5)


def test_the_import_prints_as_the_course_module_and_round_trips():
    model, _ = mlp(n=1, n_in=784, hidden=128, n_out=10)
    mod, _ = from_onnx(model, keep_params_in_input=True)
    text = mod.script()
    assert 'def main(x: R.Tensor((1, 784), "float32"), w0: R.Tensor((128, 784), "float32")' in text
    assert "R.nn.dense(x, w0)" in text and "R.nn.relu(" in text
    mlc.assert_structural_equal(mlc.parse(text), mod)


def transformer_block():
    """Self-attention with one head, then a GELU MLP, each with a residual and LayerNorm."""
    s, d = 4, 8
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"]), helper.make_node("MatMul", ["x", "wk"], ["k"]),
        helper.make_node("MatMul", ["x", "wv"], ["v"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[1, 0]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"]),
        helper.make_node("Mul", ["scores", "scale"], ["scaled"]),
        helper.make_node("Softmax", ["scaled"], ["attn"], axis=-1),
        helper.make_node("MatMul", ["attn", "v"], ["ctx"]),
        helper.make_node("Concat", ["ctx", "x"], ["cat"], axis=-1),
        helper.make_node("MatMul", ["cat", "wo"], ["proj"]),
        helper.make_node("Add", ["proj", "x"], ["res0"]),
        helper.make_node("LayerNormalization", ["res0", "g0", "b0"], ["ln0"], axis=-1, epsilon=1e-5),
        helper.make_node("MatMul", ["ln0", "w1"], ["h"]), helper.make_node("Add", ["h", "bias1"], ["hb"]),
        helper.make_node("Gelu", ["hb"], ["act"]),
        helper.make_node("Div", ["hb", "sqrt2"], ["hs"]), helper.make_node("Erf", ["hs"], ["erf"]),
        helper.make_node("MatMul", ["act", "w2"], ["m"]),
        helper.make_node("Add", ["m", "ln0"], ["res1"]),
        helper.make_node("LayerNormalization", ["res1", "g1", "b1"], ["y"], axis=-1),
    ]
    inits = {"wq": rand(d, d, seed=1), "wk": rand(d, d, seed=2), "wv": rand(d, d, seed=3),
             "scale": np.array(1 / np.sqrt(d), np.float32), "wo": rand(2 * d, d, seed=4) * 0.3,
             "g0": rand(d, seed=5), "b0": rand(d, seed=6), "w1": rand(d, 2 * d, seed=7),
             "bias1": rand(2 * d, seed=8), "sqrt2": np.array(np.sqrt(2), np.float32),
             "w2": rand(2 * d, d, seed=9) * 0.3, "g1": rand(d, seed=10), "b1": rand(d, seed=11)}
    return model_of(nodes, {"x": (s, d)}, ["y", "erf"], inits, opset=20)


def test_transformer_block():
    mod = check(transformer_block(), {"x": rand(4, 8)}, rtol=1e-4, atol=1e-4)
    assert {"matmul", "transpose", "nn.softmax", "concatenate", "nn.layer_norm", "nn.gelu",
            "erf"} <= set(mod["main"].ops())


def test_the_imported_module_takes_graph_passes():
    """FuseOps + FuseTIR group the imported dense + add + relu like any BlockBuilder module's."""
    from mlc.graph import FuseOps, FuseTIR
    model, _ = mlp(n=3, n_in=6, hidden=8, n_out=2)
    mod = from_onnx(model)
    fused = FuseTIR(FuseOps(mod))
    assert set(fused["main"].ops()) == {"call_tir"} and len(fused["main"].ops()) < len(mod["main"].ops())
    x = rand(3, 6)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    np.testing.assert_allclose(mlc.build(fused, "llvm")["main"](x), expected, rtol=1e-5, atol=1e-5)


def test_dtype_types_the_inputs_that_declare_none():
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UNDEFINED, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.UNDEFINED, [3])])
    model = helper.make_model(graph)
    assert from_onnx(model, dtype="float64")["main"].inputs[0].type.dtype == "float64"
    assert from_onnx(model, dtype={"x": "float16"})["main"].inputs[0].type.dtype == "float16"
    with pytest.raises(FrontendError, match=r"input 'x' has no element type; give it with dtype="):
        from_onnx(model, dtype={})


def test_a_dynamic_batch_imports_once_and_runs_every_batch_size():
    model, _ = mlp()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    mod = from_onnx(model)
    assert "R.Tensor((batch, 4)" in mod["main"].script()
    lib = mlc.build(mod, "llvm")  # one build
    ref = ReferenceEvaluator(model)
    for n in (1, 7, 64):
        x = rand(n, 4, seed=n)
        np.testing.assert_allclose(lib["main"](x), ref.run(None, {"x": x})[0], rtol=1e-5, atol=1e-5)
    with pytest.raises(mlc.ShapeError, match=r"argument x must have shape \(batch, 4\), got \(3, 5\)"):
        lib["main"](rand(3, 5))
    check(model, {"x": rand(7, 4)}, shape_dict={"x": (7, 4)}, rtol=1e-5)  # shape_dict: static again


def test_a_dynamic_batch_through_conv_pool_and_flatten():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "d"], ["y"], transB=1)]
    model = model_of(nodes, {"x": ("N", 2, 6, 6)}, ["y"], {"w": rand(3, 2, 3, 3, seed=1), "d": rand(5, 27, seed=2)})
    lib = mlc.build(from_onnx(model), "llvm")
    ref = ReferenceEvaluator(model)
    for n in (1, 7, 64):
        x = rand(n, 2, 6, 6, seed=n)
        np.testing.assert_allclose(lib["main"](x), ref.run(None, {"x": x})[0], rtol=1e-4, atol=1e-4)


def test_a_model_from_a_file(tmp_path):
    model, _ = mlp()
    onnx.save(model, tmp_path / "mlp.onnx")
    check(onnx.load(tmp_path / "mlp.onnx"), {"x": rand(5, 4)})
    assert from_onnx(str(tmp_path / "mlp.onnx"))["main"].ops() == from_onnx(model)["main"].ops()


def test_onnx_names_become_identifiers():
    node = helper.make_node("Relu", ["input.1"], ["onnx::Relu_0"])
    mod = from_onnx(model_of([node], {"input.1": (2,)}, ["onnx::Relu_0"]))
    assert [v.name for v in mod["main"].inputs] == ["input_1"]
    mlc.assert_structural_equal(mlc.parse(mod.script()), mod)


def test_import_mlc_does_not_import_onnx():
    code = "import sys, mlc; mlc.frontend; assert 'onnx' not in sys.modules, 'onnx imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ refusals

def test_an_unsupported_op_names_the_node_and_the_supported_ops():
    node = helper.make_node("LSTM", ["x", "w", "r"], ["y"], name="rnn0")
    with pytest.raises(UnsupportedOpError, match=r"ONNX node 'rnn0' \(LSTM\): op 'LSTM' is not supported; "
                                                  r"supported ops: .*Conv.*Gemm"):
        from_onnx(model_of([node], {"x": (1, 2, 3), "w": (1, 4, 3), "r": (1, 4, 1)}, ["y"]))


def test_an_op_of_another_domain_is_refused():
    node = helper.make_node("Relu", ["x"], ["y"], domain="com.example", name="custom")
    with pytest.raises(UnsupportedOpError, match=r"'custom' \(Relu\): ops of domain 'com.example'"):
        from_onnx(model_of([node], {"x": (2,)}, ["y"]))


@pytest.mark.parametrize("op_type,inputs,attrs,message", [
    ("Relu", [(2,)], {"alpha": 0.1}, r"attribute\(s\) \['alpha'\] are not supported; Relu supports no attr"),
    ("Conv", [(1, 1, 4, 4), (1, 1, 2, 2)], {"auto_pad": "FOO"}, r"auto_pad='FOO' is not supported"),
    ("AveragePool", [(1, 1, 5, 5)], {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1,
                                     "count_include_pad": 1}, r"ceil_mode=1 is not supported"),
    ("MaxPool", [(1, 1, 4, 4)], {"kernel_shape": [2, 2], "storage_order": 1}, r"storage_order=1"),
    ("Gelu", [(2,)], {"approximate": "erf"}, r"approximate='erf' is not supported; supported: 'none', 'tanh'"),
    ("Conv", [(1, 2, 3, 3, 3), (1, 2, 3, 3, 3)], {},
     r"X has shape \(1, 2, 3, 3, 3\) \(rank 5\); Conv is supported for rank 4 only"),
])
def test_an_unsupported_attribute_names_node_op_and_what_is_supported(op_type, inputs, attrs, message):
    model, _ = one_node(op_type, inputs, attrs, opset=20)
    with pytest.raises(UnsupportedAttributeError, match=rf"ONNX node '{op_type}_0' \({op_type}\): .*{message}"):
        from_onnx(model)


def test_reshape_needs_its_shape_at_import_time():
    node = helper.make_node("Reshape", ["x", "s"], ["y"], name="r")
    model = model_of([node], {"x": (2, 3), "s": (2,)}, ["y"])
    with pytest.raises(UnsupportedAttributeError, match=r"'r' \(Reshape\): its shape input is the model input "
                                                        r"'s', whose value must be known when the model is "
                                                        r"imported; give it with from_onnx\(\.\.\., input_values"):
        from_onnx(model)
    mod = from_onnx(model, input_values={"s": np.array([3, 2], np.int64)})
    x = rand(2, 3)
    np.testing.assert_array_equal(mlc.build(mod, "llvm")["main"](x), x.reshape(3, 2))


def test_extra_outputs_are_refused():
    pool = helper.make_node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2], name="p")
    with pytest.raises(UnsupportedAttributeError, match=r"'p' \(MaxPool\): its Indices output 'idx'"):
        from_onnx(model_of([pool], {"x": (1, 1, 4, 4)}, ["y"]))
    ln = helper.make_node("LayerNormalization", ["x", "g"], ["y", "mean", "inv"], name="ln")
    check(model_of([ln], {"x": (2, 3)}, ["y", "mean", "inv"], {"g": rand(3, seed=1)}, opset=17),
          {"x": rand(2, 3)})


def test_shape_errors_name_the_node():
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")
    with pytest.raises(mlc.ShapeError, match=r"ONNX node 'mm' \(MatMul\): .*matmul"):
        from_onnx(model_of([node], {"a": (2, 3), "b": (4, 5)}, ["y"]))
    flat = helper.make_node("Flatten", ["a"], ["y"], axis=4, name="f")
    with pytest.raises(mlc.ShapeError, match=r"'f' \(Flatten\): axis=4 is out of range"):
        from_onnx(model_of([flat], {"a": (2, 3)}, ["y"]))


@settings(max_examples=15, deadline=None)
@given(dtype=st.sampled_from(["int32", "int64", "uint8"]), n=st.integers(1, 7),
       data=st.data())
def test_integer_division_truncates_toward_zero(dtype, n, data):
    info = np.iinfo(dtype)
    lo = max(info.min, -(2 ** 62))
    hi = min(info.max, 2 ** 62)
    a = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)), dtype)
    b = np.array(data.draw(st.lists(st.integers(lo, hi).filter(bool), min_size=n, max_size=n)), dtype)
    ty = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = helper.make_node("Div", ["a", "b"], ["y"], name="d")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(k, ty, [n]) for k in "ab"],
                              [helper.make_tensor_value_info("y", ty, [n])])
    check(helper.make_model(graph), {"a": a, "b": b}, rtol=0, atol=0)


def test_a_node_with_too_few_inputs_is_refused():
    node = helper.make_node("Gemm", ["x"], ["y"], name="g")
    with pytest.raises(FrontendError, match=r"'g' \(Gemm\): expected 2 to 3 input\(s\), got \['x'\]"):
        from_onnx(model_of([node], {"x": (2, 2)}, ["y"]))


def test_bad_arguments():
    model, _ = mlp()
    with pytest.raises(FrontendError, match=r"shape_dict names \['y'\].*inputs are \['x'\]"):
        from_onnx(model, shape_dict={"y": (1, 4)})
    with pytest.raises(FrontendError, match=r"expected an onnx.ModelProto or a path, got int"):
        from_onnx(3)
    node = helper.make_node("Relu", ["later"], ["y"], name="early")
    with pytest.raises(FrontendError, match=r"'early' \(Relu\): its input 'later' is neither"):
        from_onnx(model_of([node], {"x": (2,)}, ["y"]))


# ------------------------------------------------------------------ types ONNX fixes itself

def _typed(node, inputs, out_type, initializers=()):
    """A one-node model whose inputs ``{name: (TensorProto type, shape)}`` and output ``y``
    have the given element types."""
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, t, list(s))
                                            for n, (t, s) in inputs.items()],
                              [helper.make_tensor_value_info("y", out_type, None)],
                              [numpy_helper.from_array(np.asarray(v), n) for n, v in dict(initializers).items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _same_as_reference(model, *feeds):
    names = [i.name for i in model.graph.input]
    (want,) = ReferenceEvaluator(model).run(None, dict(zip(names, feeds)))
    got = mlc.build(from_onnx(model), "llvm")["main"](*feeds)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_0d_initializer_and_a_0d_constant_stay_0d():
    add = helper.make_node("Add", ["x", "c"], ["y"])
    _same_as_reference(_typed(add, {"x": (F32, [])}, F32, {"c": np.array(3.0, np.float32)}),
                       np.array(2.0, np.float32))
    const = helper.make_node("Constant", [], ["y"], value_float=3.0)
    model = helper.make_model(helper.make_graph([const], "g", [], [helper.make_tensor_value_info("y", F32, None)]),
                              opset_imports=[helper.make_opsetid("", 17)])
    assert mlc.build(from_onnx(model), "llvm")["main"]().shape == ()


@pytest.mark.parametrize("base, exponent", [(TensorProto.FLOAT, np.array(2, np.int64)),
                                            (TensorProto.INT64, np.array(0.5, np.float32)),
                                            (TensorProto.INT32, np.array(2.0, np.float64))])
def test_pow_has_the_type_of_its_base(base, exponent):
    dtype = helper.tensor_dtype_to_np_dtype(base)
    model = _typed(helper.make_node("Pow", ["x", "e"], ["y"]), {"x": (base, [4])}, base, {"e": exponent})
    _same_as_reference(model, np.array([1, 2, 3, 9], dtype))


@settings(max_examples=10, deadline=None)
@given(alpha=st.sampled_from([0.5, 1.0, 2.0, -1.5, 0.25]), beta=st.sampled_from([0.5, 1.0, 3.0, -0.75]),
       seed=st.integers(0, 100))
def test_an_integer_gemm_scaled_by_fractions_truncates_once_as_onnx_does(alpha, beta, seed):
    i64 = TensorProto.INT64
    model = _typed(helper.make_node("Gemm", ["a", "b", "c"], ["y"], alpha=alpha, beta=beta),
                   {n: (i64, [3, 3]) for n in "abc"}, i64)
    a, b, c = np.random.default_rng(seed).integers(-9, 10, (3, 3, 3))
    _same_as_reference(model, a, b, c)


@pytest.mark.parametrize("op_type", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("size,kernel,stride,pad", [(5, 2, 2, 0), (6, 3, 2, 1), (7, 3, 3, 1), (4, 2, 3, 0)])
def test_ceil_mode_pooling(op_type, size, kernel, stride, pad):
    model, feeds = one_node(op_type, [(1, 2, size, size + 1)], {
        "kernel_shape": [kernel, kernel], "strides": [stride, stride], "pads": [pad] * 4, "ceil_mode": 1})
    if (size, kernel, stride, pad) == (6, 3, 2, 1):  # its last window needs 2 past a kernel of 3
        with pytest.raises(UnsupportedAttributeError, match=r"ceil_mode=1 is not supported.*at most half"):
            from_onnx(model)
        return
    check(model, feeds)
