"""The MLC course's chapter 4, end to end: a NumPy MLP becomes a graph of TensorIR calls.

1. Train a two-layer MLP on Fisher's Iris data (examples/data/iris.csv) in
   NumPy; weights in the course's layout, ``w0: (hidden, features)``, so a
   layer is ``x @ w.T + b`` (the course's ``linear0``).
2. Write the course's IRModule: PrimFuncs ``linear0``, ``relu0``, ``linear1``
   (from ``te``) and a graph function ``main`` calling them with
   ``R.call_tir``, built with ``mlc.graph.BlockBuilder``; ``mlc.build`` it
   and run ``lib["main"]``.
3. The same model with ``bb.emit_te`` (te functions, PrimFuncs made for us).
4. Library calls: ``env.linear`` and ``env.relu`` registered with
   ``mlc.register_func`` (NumPy, destination passing), mixed with the
   ``relu0`` TensorIR kernel through ``R.call_dps_packed``; the compiled
   graph is one native program that calls the NumPy functions back.
5. ``bind_params``: the weights become constants; ``main`` takes ``x`` only.

Each variant's logits are checked against NumPy, and its accuracy printed.

    python examples/ch4_end_to_end.py [--steps 400]
"""
from __future__ import annotations

import argparse

import numpy as np

import mlc
from mlc import te
from mlc.graph import BlockBuilder, Tensor, Var, bind_params

try:  # run as a script (examples/ on sys.path) or imported as examples.ch4_end_to_end
    from mlp_end_to_end import load_iris, split, train
except ImportError:
    from examples.mlp_end_to_end import load_iris, split, train


def numpy_mlp(x, w0, b0, w1, b1):
    """The course's ``numpy_mlp``: weights (out_features, in_features)."""
    lv0 = x @ w0.T + b0
    lv1 = np.maximum(lv0, 0)
    return lv1 @ w1.T + b1


# ----------------------------------------------------------- tensor programs (te)

def linear(x, w, b):
    """``Z[i, j] = sum_k X[i, k] * W[j, k] + B[j]``: the course's linear0."""
    k = te.reduce_axis((0, x.shape[1]), name="k")
    y = te.compute((x.shape[0], w.shape[0]), lambda i, j: te.sum(x[i, k] * w[j, k], axis=k), name="Y")
    return te.compute(y.shape, lambda i, j: y[i, j] + b[j], name="Z")


def relu(x):
    return te.compute(x.shape, lambda i, j: te.max(x[i, j], te.const(0, x.dtype)), name="Y")


def prim_func(fn, *shapes):
    """The PrimFunc of te function ``fn`` on float32 inputs of ``shapes``."""
    args = [te.placeholder(s, "float32", name) for s, name in zip(shapes, "XWB")]
    return te.create_prim_func(args + [fn(*args)])


# ------------------------------------------------------------------ the modules

def params_of(n, n_in, hidden, n_out):
    return [Var("x", Tensor((n, n_in), "float32")), Var("w0", Tensor((hidden, n_in), "float32")),
            Var("b0", Tensor((hidden,), "float32")), Var("w1", Tensor((n_out, hidden), "float32")),
            Var("b1", Tensor((n_out,), "float32"))]


def call_tir_module(n, n_in, hidden, n_out):
    """The course's MyModule: three PrimFuncs and ``main`` calling them with call_tir."""
    bb = BlockBuilder()
    linear0 = bb.add_func(prim_func(linear, (n, n_in), (hidden, n_in), (hidden,)), "linear0")
    relu0 = bb.add_func(prim_func(relu, (n, hidden)), "relu0")
    linear1 = bb.add_func(prim_func(linear, (n, hidden), (n_out, hidden), (n_out,)), "linear1")
    x, w0, b0, w1, b1 = params = params_of(n, n_in, hidden, n_out)
    with bb.function("main", params):
        with bb.dataflow():
            lv0 = bb.call_tir(linear0, (x, w0, b0), Tensor((n, hidden), "float32"))
            lv1 = bb.call_tir(relu0, (lv0,), Tensor((n, hidden), "float32"))
            out = bb.call_tir(linear1, (lv1, w1, b1), Tensor((n, n_out), "float32"))
            gv = bb.emit_output(out)
        bb.emit_func_output(gv)
    return bb.get()


def emit_te_module(n, n_in, hidden, n_out):
    """The same model with ``emit_te``: the builder makes the PrimFuncs."""
    bb = BlockBuilder()
    x, w0, b0, w1, b1 = params = params_of(n, n_in, hidden, n_out)
    with bb.function("main", params):
        with bb.dataflow():
            lv0 = bb.emit_te(linear, x, w0, b0)
            lv1 = bb.emit_te(relu, lv0)
            gv = bb.emit_output(bb.emit_te(linear, lv1, w1, b1))
        bb.emit_func_output(gv)
    return bb.get()


def env_linear(x, w, b, out):
    """The course's ``env.linear``, in NumPy: ``out = x @ w.T + b``, destination passing."""
    np.matmul(x, w.T, out=out)
    np.add(out, b, out=out)


def env_relu(x, out):
    np.maximum(x, 0, out=out)


def library_module(n, n_in, hidden, n_out):
    """``main`` with ``R.call_dps_packed("env.linear", ...)`` around the relu0 TensorIR kernel."""
    mlc.register_func("env.linear", env_linear, override=True)
    mlc.register_func("env.relu", env_relu, override=True)
    bb = BlockBuilder()
    relu0 = bb.add_func(prim_func(relu, (n, hidden)), "relu0")
    x, w0, b0, w1, b1 = params = params_of(n, n_in, hidden, n_out)
    with bb.function("main", params):
        with bb.dataflow():
            lv0 = bb.call_dps_packed("env.linear", (x, w0, b0), Tensor((n, hidden), "float32"))
            lv1 = bb.call_tir(relu0, (lv0,), Tensor((n, hidden), "float32"))
            out = bb.call_dps_packed("env.linear", (lv1, w1, b1), Tensor((n, n_out), "float32"))
            gv = bb.emit_output(out)
        bb.emit_func_output(gv)
    return bb.get()


def main(steps: int = 400, verbose: bool = True) -> dict:
    x, y, species = load_iris()
    x_train, y_train, x_test, y_test = split(x, y)
    w0, b0, w1, b1 = train(x_train, y_train, steps=steps)
    weights = {"w0": np.ascontiguousarray(w0.T), "b0": b0, "w1": np.ascontiguousarray(w1.T), "b1": b1}
    n, n_in = x_test.shape
    hidden, n_out = weights["w0"].shape[0], weights["w1"].shape[0]
    expected = numpy_mlp(x_test, *weights.values())
    results = {"NumPy": float((expected.argmax(1) == y_test).mean())}

    variants = {
        "call_tir (course's MyModule)": call_tir_module(n, n_in, hidden, n_out),
        "emit_te": emit_te_module(n, n_in, hidden, n_out),
        "env.linear library calls + relu0 TensorIR": library_module(n, n_in, hidden, n_out),
    }
    for name, mod in variants.items():
        lib = mlc.build(mod, target="llvm")
        logits = lib["main"](x_test, *weights.values())
        np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
        results[name] = float((logits.argmax(1) == y_test).mean())
        if verbose:
            print(f"=== {name} ===\n{mod.script()}\n")

    bound = bind_params(variants["call_tir (course's MyModule)"], weights)
    logits = mlc.build(bound, target="llvm")["main"](x_test)
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    results["bound parameters"] = float((logits.argmax(1) == y_test).mean())
    if verbose:
        print(f"=== bound parameters ===\n{bound['main'].script()}\n")
        print(f"Iris: {len(x_train)} training, {len(x_test)} test flowers, classes {species}")
        for name, accuracy in results.items():
            print(f"test accuracy {accuracy:.3f}  {name}" + ("" if name == "NumPy" else
                                                            "  (logits match NumPy)"))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="gradient descent steps")
    main(parser.parse_args().steps)
