"""The MLC course's chapter 6, integration with ML frameworks: build the MLP, or import it.

1. Train the course's MLP (4 -> 16 -> 3) on Fisher's Iris data
   (examples/data/iris.csv) in NumPy; weights in the course's layout,
   ``w0: (hidden, features)``, so a layer is ``x @ w.T + b``.
2. ``BlockBuilder`` + ``emit_te``: te functions for the layers, ``bb.emit_te``
   turns each call into a PrimFunc and an ``R.call_tir``; the parameters are
   given last, to ``emit_func_output``, as in the course. Print ``mod.script()``.
3. The same MLP as an ONNX model written with ``onnx.helper`` (Gemm with
   ``transB=1``, Relu, Gemm; the trained weights as initializers), imported
   with ``mlc.frontend.from_onnx``: ``main(x)`` of registry ops with the
   weights bound as constants.
4. Where PyTorch is installed, the same MLP as a ``torch.nn.Module`` traced by
   ``torch.fx`` and imported with ``mlc.frontend.from_fx``.

Each module is built with ``mlc.build(mod, "llvm")``; its logits are checked
against NumPy (and the ONNX model's against onnx's ReferenceEvaluator), and
every accuracy is the NumPy one.

    python examples/ch6_framework_integration.py [--steps 400]
"""
from __future__ import annotations

import argparse
import importlib.util

import numpy as np

import mlc
from mlc.graph import BlockBuilder, Tensor, Var

try:  # run as a script (examples/ on sys.path) or imported as examples.ch6_framework_integration
    from ch4_end_to_end import linear as te_linear, numpy_mlp, relu as te_relu
    from mlp_end_to_end import load_iris, split, train
except ImportError:
    from examples.ch4_end_to_end import linear as te_linear, numpy_mlp, relu as te_relu
    from examples.mlp_end_to_end import load_iris, split, train


# ------------------------------------------------------------------ 1. BlockBuilder + emit_te
# te_linear: ``Z[i, j] = sum_k X[i, k] * W[j, k] + B[j]``; te_relu: ``max(X, 0)`` (chapter 4's)

def emit_te_mlp(n, n_in, hidden, n_out):
    """``main(x, w0, b0, w1, b1)``: the course's chapter 6 BlockBuilder code."""
    x = Var("x", Tensor((n, n_in), "float32"))
    w0, b0 = Var("w0", Tensor((hidden, n_in), "float32")), Var("b0", Tensor((hidden,), "float32"))
    w1, b1 = Var("w1", Tensor((n_out, hidden), "float32")), Var("b1", Tensor((n_out,), "float32"))
    bb = BlockBuilder()
    with bb.function("main"):
        with bb.dataflow():
            lv0 = bb.emit_te(te_linear, x, w0, b0, primfunc_name_hint="linear0")
            lv1 = bb.emit_te(te_relu, lv0, primfunc_name_hint="relu0")
            gv = bb.emit_output(bb.emit_te(te_linear, lv1, w1, b1, primfunc_name_hint="linear1"))
        bb.emit_func_output(gv, [x, w0, b0, w1, b1])
    return bb.get()


# ------------------------------------------------------------------ 2. ONNX

def onnx_mlp(weights: dict, n: int):
    """The MLP as PyTorch exports it to ONNX: Gemm(transB=1) -> Relu -> Gemm(transB=1)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n_in, n_out = weights["w0"].shape[1], weights["w1"].shape[0]
    nodes = [helper.make_node("Gemm", ["x", "w0", "b0"], ["lv0"], transB=1, name="linear0"),
             helper.make_node("Relu", ["lv0"], ["lv1"], name="relu0"),
             helper.make_node("Gemm", ["lv1", "w1", "b1"], ["logits"], transB=1, name="linear1")]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n_in])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [n, n_out])],
        [numpy_helper.from_array(v, name) for name, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


# ------------------------------------------------------------------ 3. torch.fx

def torch_mlp(weights: dict):
    """The course's ``torch.nn.Module`` MLP carrying the trained weights, traced by torch.fx."""
    import torch

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear0 = torch.nn.Linear(*weights["w0"].shape[::-1])
            self.relu = torch.nn.ReLU()
            self.linear1 = torch.nn.Linear(*weights["w1"].shape[::-1])

        def forward(self, x):
            return self.linear1(self.relu(self.linear0(torch.flatten(x, 1))))

    model = MLP()
    with torch.no_grad():
        for layer, w, b in ((model.linear0, "w0", "b0"), (model.linear1, "w1", "b1")):
            layer.weight.copy_(torch.from_numpy(weights[w]))
            layer.bias.copy_(torch.from_numpy(weights[b]))
    return torch.fx.symbolic_trace(model)


def main(steps: int = 400, verbose: bool = True) -> dict:
    x, y, species = load_iris()
    x_train, y_train, x_test, y_test = split(x, y)
    w0, b0, w1, b1 = train(x_train, y_train, steps=steps)
    weights = {"w0": np.ascontiguousarray(w0.T), "b0": b0, "w1": np.ascontiguousarray(w1.T), "b1": b1}
    n, n_in = x_test.shape
    hidden, n_out = weights["w0"].shape[0], weights["w1"].shape[0]
    expected = numpy_mlp(x_test, *weights.values())
    results = {"NumPy": float((expected.argmax(1) == y_test).mean())}

    def run(name, mod, *args):
        logits = mlc.build(mod, "llvm")["main"](*args)
        np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
        results[name] = float((logits.argmax(1) == y_test).mean())
        if verbose:
            print(f"=== {name} ===\n{mod.script()}\n")
        return logits

    run("BlockBuilder + emit_te", emit_te_mlp(n, n_in, hidden, n_out), x_test, *weights.values())

    from onnx.reference import ReferenceEvaluator
    model = onnx_mlp(weights, n)
    logits = run("ONNX import (mlc.frontend.from_onnx)", mlc.frontend.from_onnx(model), x_test)
    np.testing.assert_allclose(logits, ReferenceEvaluator(model).run(None, {"x": x_test})[0], rtol=1e-4,
                               atol=1e-4)

    if importlib.util.find_spec("torch") is not None:
        run("torch.fx import (mlc.frontend.from_fx)",
            mlc.frontend.from_fx(torch_mlp(weights), [((n, n_in), "float32")]), x_test)
    elif verbose:
        print("=== torch.fx import: PyTorch is not installed (pip install torch), skipped ===\n")

    if verbose:
        print(f"Iris: {len(x_train)} training, {len(x_test)} test flowers, classes {species}")
        for name, accuracy in results.items():
            print(f"test accuracy {accuracy:.3f}  {name}" + ("" if name == "NumPy" else
                                                            "  (logits match NumPy)"))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="gradient descent steps")
    main(parser.parse_args().steps)
