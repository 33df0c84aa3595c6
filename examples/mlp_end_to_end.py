"""The MLC course's end-to-end model: a two-layer MLP, first in NumPy, then with @mlc.jit.

1. Load Fisher's Iris data (examples/data/iris.csv), standardise it, split it.
2. Train a tiny MLP (4 -> 16 -> 3) with plain full-batch gradient descent in NumPy.
3. Run inference with the NumPy forward function and with the same function
   under ``@mlc.jit``: traced, fused into two kernels, compiled with LLVM.
4. Compare outputs and accuracy, print the compiled program, time both.

    python examples/mlp_end_to_end.py [--steps 400]
"""
from __future__ import annotations

import argparse
import csv
import pathlib
import time

import numpy as np

import mlc
from mlc.runtime import time_function
from mlc.ir.calls import is_graph_main

DATA = pathlib.Path(__file__).parent / "data" / "iris.csv"


def load_iris(path=DATA):
    """Features (150, 4) float32 and integer labels (150,)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    species = sorted({r["species"] for r in rows})
    x = np.array([[float(r[k]) for k in ("sepal_length", "sepal_width", "petal_length", "petal_width")]
                  for r in rows], dtype="float32")
    y = np.array([species.index(r["species"]) for r in rows])
    return x, y, species


def split(x, y, test_fraction=0.3, seed=0):
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    norm = (x - mean) / std
    return norm[train], y[train], norm[test], y[test]


def mlp(x, w1, b1, w2, b2):
    """The model: NumPy code, used as is by NumPy and by @mlc.jit."""
    h = np.maximum(x @ w1 + b1, 0)
    return h @ w2 + b2


def train(x, y, hidden=16, steps=400, lr=0.1, seed=0):
    """Full-batch gradient descent on softmax cross-entropy, in NumPy."""
    rng = np.random.default_rng(seed)
    n_in, n_out = x.shape[1], int(y.max()) + 1
    params = [rng.standard_normal((n_in, hidden)).astype("float32") * np.float32(np.sqrt(2 / n_in)),
              np.zeros(hidden, "float32"),
              rng.standard_normal((hidden, n_out)).astype("float32") * np.float32(np.sqrt(1 / hidden)),
              np.zeros(n_out, "float32")]
    onehot = np.eye(n_out, dtype="float32")[y]
    for _ in range(steps):
        w1, b1, w2, b2 = params
        pre = x @ w1 + b1
        h = np.maximum(pre, 0)
        logits = h @ w2 + b2
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        d_logits = (p - onehot) / len(x)
        d_h = d_logits @ w2.T * (pre > 0)
        grads = [x.T @ d_h, d_h.sum(axis=0), h.T @ d_logits, d_logits.sum(axis=0)]
        params = [w - np.float32(lr) * g for w, g in zip(params, grads)]
    return params


def main(steps: int = 400, verbose: bool = True) -> dict:
    x, y, species = load_iris()
    x_train, y_train, x_test, y_test = split(x, y)
    params = train(x_train, y_train, steps=steps)

    logits_numpy = mlp(x_test, *params)
    mlp_jit = mlc.jit(mlp)
    start = time.perf_counter()
    logits_mlc = mlp_jit(x_test, *params)
    first_call = time.perf_counter() - start

    np.testing.assert_allclose(logits_mlc, logits_numpy, rtol=1e-5, atol=1e-5)
    result = {
        "train_accuracy": float((mlp(x_train, *params).argmax(1) == y_train).mean()),
        "test_accuracy_numpy": float((logits_numpy.argmax(1) == y_test).mean()),
        "test_accuracy_mlc": float((logits_mlc.argmax(1) == y_test).mean()),
        "max_abs_difference": float(np.abs(logits_mlc - logits_numpy).max()),
        "first_call_seconds": first_call,
        "kernels": sum(not is_graph_main(f) for f in mlp_jit.lower(x_test, *params).mod.values()),
    }
    if verbose:
        print(f"Iris: {len(x_train)} training and {len(x_test)} test flowers, classes {species}")
        print(f"trained {steps} steps: train accuracy {result['train_accuracy']:.3f}")
        print(f"test accuracy  NumPy {result['test_accuracy_numpy']:.3f}   "
              f"mlc.jit {result['test_accuracy_mlc']:.3f}   "
              f"max |difference| {result['max_abs_difference']:.2e}")
        print(f"first mlc.jit call (trace, fuse, compile, run): {first_call * 1e3:.1f} ms\n")
        print(mlp_jit.lower(x_test, *params).as_text())
        t_np = time_function(lambda: mlp(x_test, *params), number=200, repeat=5).median
        t_mlc = time_function(lambda: mlp_jit(x_test, *params), number=200, repeat=5).median
        print(f"\ninference on {len(x_test)} flowers: NumPy {t_np * 1e6:.1f} us, "
              f"mlc.jit {t_mlc * 1e6:.1f} us ({t_np / t_mlc:.2f}x)")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="gradient descent steps")
    main(parser.parse_args().steps)
