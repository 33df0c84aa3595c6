"""The MLC course's chapter 9, graph optimization: patterns, rewrites, fusion, TensorIR calls.

1. ``multiply`` + ``add`` -> one ``ewise_fma`` op: a pattern
   (``is_op("add")(is_op("multiply")(wildcard(), wildcard()), wildcard())``)
   and a rewrite whose callback returns the new call; ``ewise_fma`` is a
   custom op written once in ``te`` (``@mlc.op``).
2. An MLP written with graph ops (``nn.dense``, ``add``, ``nn.relu``) and
   trained on Fisher's Iris data (examples/data/iris.csv) in NumPy.
3. Fuse ``dense + add`` by hand: rewrite every match into a call of a
   primitive graph function ``fused_dense_add`` (the course's DenseAddFusor).
4. Map each op to a TensorIR call with a GraphMutator and ``emit_te`` (the
   course's LowerToTensorIR), inside the fused functions too; then FuseTIR
   merges each fused function's PrimFuncs into one PrimFunc.
5. The automatic route: FuseOps, then FuseTIR, each callable on its own.

Every module is built with ``mlc.build`` and checked against NumPy.

    python examples/ch9_graph_optimization.py [--steps 400]
"""
from __future__ import annotations

import argparse

import numpy as np

import mlc
from mlc import te
from mlc.graph import (BlockBuilder, FuseOps, FuseTIR, GraphMutator, Tensor, Var, call_fused, call_te,
                       is_op, op, rewrite, wildcard)

try:  # run as a script (examples/ on sys.path) or imported as examples.ch9_graph_optimization
    from mlp_end_to_end import load_iris, split, train
except ImportError:
    from examples.mlp_end_to_end import load_iris, split, train


# ------------------------------------------------------- 1. multiply + add -> ewise_fma

@mlc.op
def ewise_fma(a: te.Tensor, b: te.Tensor, c: te.Tensor):
    """``a * b + c`` in one op."""
    return te.compute(a.shape, lambda *i: a[i] * b[i] + c[i], name="ewise_fma")


def mul_add_module(shape=(3, 4)):
    """The course's ``main(x, y)``: ``lv0 = x * y; gv0 = lv0 + y``."""
    bb = BlockBuilder()
    x, y = Var("x", Tensor(shape, "float32")), Var("y", Tensor(shape, "float32"))
    with bb.function("main", [x, y]):
        with bb.dataflow():
            lv0 = bb.emit(op("multiply", x, y))
            gv0 = bb.emit_output(op("add", lv0, y))
        bb.emit_func_output(gv0)
    return bb.get()


def fuse_multiply_add(mod):
    a, b, c = wildcard(), wildcard(), wildcard()
    pattern = is_op("add")(is_op("multiply")(a, b), c)
    return rewrite(pattern, lambda binding, m: op(ewise_fma.op.name, m[a], m[b], m[c]), mod)


# ----------------------------------------------------------------------- 2. the MLP

def mlp_module(n, n_in, hidden, n_out):
    """``dense -> add -> relu -> dense -> add``, weights (out_features, in_features)."""
    bb = BlockBuilder()
    x = Var("x", Tensor((n, n_in), "float32"))
    w0, b0 = Var("w0", Tensor((hidden, n_in), "float32")), Var("b0", Tensor((hidden,), "float32"))
    w1, b1 = Var("w1", Tensor((n_out, hidden), "float32")), Var("b1", Tensor((n_out,), "float32"))
    with bb.function("main", [x, w0, b0, w1, b1]):
        with bb.dataflow():
            lv0 = bb.emit(op("nn.dense", x, w0))
            lv1 = bb.emit(op("add", lv0, b0))
            lv2 = bb.emit(op("nn.relu", lv1))
            lv3 = bb.emit(op("nn.dense", lv2, w1))
            gv = bb.emit_output(op("add", lv3, b1))
        bb.emit_func_output(gv)
    return bb.get()


def numpy_mlp(x, w0, b0, w1, b1):
    return np.maximum(x @ w0.T + b0, 0) @ w1.T + b1


# ------------------------------------------------------------ 3. dense + add fusion

def fuse_dense_add(mod):
    """Every ``add(nn.dense(x, w), b)`` becomes a call of a primitive function ``fused_dense_add``."""
    x, w, b = wildcard(), wildcard(), wildcard()
    pattern = is_op("add")(is_op("nn.dense")(x, w), b)

    def fuse(binding, m):
        params = [Var("x", m[x].type), Var("w", m[w].type), Var("b", m[b].type)]
        sub = BlockBuilder()
        with sub.function("fused_dense_add", params):
            with sub.dataflow():
                lv0 = sub.emit(op("nn.dense", params[0], params[1]))
                gv = sub.emit_output(op("add", lv0, params[2]))
            sub.emit_func_output(gv)
        return call_fused(sub.get()["fused_dense_add"], (m[x], m[w], m[b]))
    return rewrite(pattern, fuse, mod)


# ------------------------------------------------------ 4. each op -> a TensorIR call

def te_dense(x, w):
    k = te.reduce_axis((0, x.shape[1]), name="k")
    return te.compute((x.shape[0], w.shape[0]), lambda i, j: te.sum(x[i, k] * w[j, k], axis=k),
                      name="T_dense")


def te_add(a, b):
    return te.compute(a.shape, lambda i, j: a[i, j] + b[j], name="T_add")


def te_relu(x):
    return te.compute(x.shape, lambda *i: te.max(x[i], te.const(0, x.dtype)), name="T_relu")


class LowerToTensorIR(GraphMutator):
    """The course's LowerToTensorIR: a table from op to te function, emitted with emit_te."""

    op_map = {"nn.dense": te_dense, "add": te_add, "nn.relu": te_relu}

    def rewrite_binding(self, binding):
        fn = self.op_map.get(binding.op)
        if fn is None:
            return None
        return call_te(fn, *binding.args, primfunc_name_hint=binding.op.split(".")[-1])


def check(mod, args, expected, name, verbose):
    lib = mlc.build(mod, target="llvm")
    result = lib["main"](*args)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4)
    if verbose:
        print(f"=== {name} ===\n{mod.script()}\n-> {name}: matches NumPy\n")
    return result


def main(steps: int = 400, verbose: bool = True) -> dict:
    rng = np.random.default_rng(0)
    results = {}

    mod = mul_add_module()
    fused = fuse_multiply_add(mod)
    a, b = rng.standard_normal((2, 3, 4)).astype("float32")
    check(mod, (a, b), a * b + b, "multiply + add", verbose)
    check(fused, (a, b), a * b + b, "rewritten to ewise_fma", verbose)
    results["ewise_fma ops"] = fused["main"].ops()

    x, y, _ = load_iris()
    x_train, y_train, x_test, y_test = split(x, y)
    w0, b0, w1, b1 = train(x_train, y_train, steps=steps)
    weights = (np.ascontiguousarray(w0.T), b0, np.ascontiguousarray(w1.T), b1)
    args = (x_test,) + weights
    expected = numpy_mlp(*args)
    n, n_in = x_test.shape
    mlp = mlp_module(n, n_in, weights[0].shape[0], weights[2].shape[0])

    per_op = LowerToTensorIR().visit_module(mlp)
    results["each op a call_tir"] = per_op["main"].ops()
    check(per_op, args, expected, "each op a TensorIR call (emit_te)", verbose)

    dense_add = fuse_dense_add(mlp)
    results["dense+add fused ops"] = dense_add["main"].ops()
    check(dense_add, args, expected, "dense + add fused by a rewrite", verbose)

    mapped = LowerToTensorIR().visit_module(dense_add)
    results["mapped fused body ops"] = mapped["main"].bindings[0].attr("body").ops()
    check(mapped, args, expected, "dense + add fused, each op a TensorIR call", verbose)
    lowered = FuseTIR(mapped)
    results["lowered ops"] = lowered["main"].ops()
    logits = check(lowered, args, expected, "FuseTIR: one PrimFunc per fused function", verbose)

    auto = FuseTIR(FuseOps(mlp))
    results["FuseOps + FuseTIR ops"] = auto["main"].ops()
    check(auto, args, expected, "FuseOps, then FuseTIR", verbose)

    results["test accuracy NumPy"] = float((expected.argmax(1) == y_test).mean())
    results["test accuracy mlc"] = float((logits.argmax(1) == y_test).mean())
    if verbose:
        print(f"Iris test accuracy: NumPy {results['test accuracy NumPy']:.3f}, "
              f"mlc {results['test accuracy mlc']:.3f}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="gradient descent steps")
    main(parser.parse_args().steps)
