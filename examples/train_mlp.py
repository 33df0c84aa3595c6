"""Train a 64-256-10 MLP on scikit-learn's digits with mlc.grad and Adam, compiled end to end.

The model and its loss are NumPy code. ``mlc.value_and_grad`` differentiates
the loss, ``mlc.optim.adam`` updates the parameters, and ``@mlc.jit`` makes the
whole training step (forward, backward, update) one compiled program. The
parameters are drawn from a key (``mlc.random``, ``mlc.nn.init``).

    python examples/train_mlp.py [--epochs 30] [--target llvm|cuda] [--plot train_mlp.png]
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

import mlc
import mlc.random as mr

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import digits  # noqa: E402  (the examples' shared data and loop, beside this file)


def init(key, sizes=(64, 256, 10)):
    """Weights as ``x @ w`` takes them, drawn as PyTorch's Linear does; zero biases."""
    params = {}
    for n, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        key, sub = mr.split(key)
        params[f"w{n}"] = mlc.nn.init.kaiming_uniform(sub, (fan_in, fan_out))
        params[f"b{n}"] = mlc.nn.init.zeros((fan_out,))
    return params


def logits(params, x):
    h = np.maximum(x @ params["w1"] + params["b1"], 0)
    return h @ params["w2"] + params["b2"]


def loss(params, model_state, x, y):
    return mlc.nn.cross_entropy(logits(params, x), y), model_state   # an MLP has no state: {}


def predict(params, model_state, x):
    return np.argmax(logits(params, x), axis=1)


def main(epochs=30, batch_size=128, learning_rate=3e-3, seed=0, target=None, plot="train_mlp.png", log=print):
    data = digits.load(seed=seed)
    params = init(mr.key(seed))
    params, history = digits.fit(loss, predict, params, {}, mlc.optim.adam(learning_rate), data, epochs,
                                 batch_size, seed, target, log)
    digits.report("MLP 64-256-10 on the digits", history, plot)
    return history


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--target", default=None, help="llvm (default) or cuda")
    parser.add_argument("--plot", default="train_mlp.png", help="where to save the loss curve ('' for none)")
    args = parser.parse_args()
    main(args.epochs, args.batch_size, args.lr, target=args.target, plot=args.plot)
