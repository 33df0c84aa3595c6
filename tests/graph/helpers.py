"""Small modules the graph tests share."""
import numpy as np

from mlc import te
from mlc.graph import BlockBuilder, Tensor, Var, call_fused, op

from examples.ch9_graph_optimization import mlp_module, numpy_mlp  # noqa: F401 (numpy_mlp: shared)


def te_linear(x, w, b):
    k = te.reduce_axis((0, x.shape[1]), name="k")
    y = te.compute((x.shape[0], w.shape[0]), lambda i, j: te.sum(x[i, k] * w[j, k], axis=k), name="Y")
    return te.compute(y.shape, lambda i, j: y[i, j] + b[j], name="Z")


def te_relu(x):
    return te.compute(x.shape, lambda *i: te.max(x[i], te.const(0, x.dtype)), name="R")


def mlp_vars(n=2, d=3, h=4, o=2, dtype="float32"):
    return [Var("x", Tensor((n, d), dtype)), Var("w0", Tensor((h, d), dtype)), Var("b0", Tensor((h,), dtype)),
            Var("w1", Tensor((o, h), dtype)), Var("b1", Tensor((o,), dtype))]


def emit_te_mlp(n=2, d=3, h=4, o=2):
    bb = BlockBuilder()
    x, w0, b0, w1, b1 = params = mlp_vars(n, d, h, o)
    with bb.function("main", params):
        with bb.dataflow():
            lv0 = bb.emit_te(te_linear, x, w0, b0)
            lv1 = bb.emit_te(te_relu, lv0)
            gv = bb.emit_output(bb.emit_te(te_linear, lv1, w1, b1))
        bb.emit_func_output(gv)
    return bb.get()


def mlp_inputs(n=2, d=3, h=4, o=2, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(n, d), (h, d), (h,), (o, h), (o,)]
    return [rng.standard_normal(s).astype("float32") for s in shapes]


def op_mlp(n=2, d=3, h=4, o=2):
    """dense -> add -> relu -> dense -> add, with graph ops (chapter 9's MLP)."""
    return mlp_module(n, d, h, o)


def relu_then_library(name):
    """relu in TensorIR, then library function ``name``, then a registry op; no dataflow block."""
    bb = BlockBuilder()
    x = Var("x", Tensor((2, 4), "float32"))
    with bb.function("main", [x]):
        lv0 = bb.emit_te(te_relu, x)
        lv1 = bb.call_dps_packed(name, (lv0,), Tensor((2, 4), "float32"))
        bb.emit_func_output(bb.emit(op("negative", lv1)))
    return bb.get()


def fused_call(body_fn):
    """``main`` calls graph function ``f`` (written by ``body_fn(builder, p)``) as one fused group."""
    sub = BlockBuilder()
    p = Var("p", Tensor((4,), "float32"))
    with sub.function("f", [p]):
        sub.emit_func_output(body_fn(sub, p))
    bb = BlockBuilder(sub.get().without("f"))
    x = Var("x", Tensor((4,), "float32"))
    with bb.function("main", [x]):
        bb.emit_func_output(bb.emit(call_fused(sub.get()["f"], (x,))))
    return bb.get()
