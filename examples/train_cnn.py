"""Train a small CNN on scikit-learn's digits (8x8 images) with mlc.grad and AdamW.

conv 3x3 (8) -> batch norm -> relu -> max pool 2 -> conv 3x3 (16) -> relu ->
average pool 2 -> dense 64 -> 10, written with ``mlc.nn``'s functions (NCHW,
OIHW weights). In training batch norm normalises with the batch's statistics
and the loss returns the updated running statistics as its auxiliary value
(``value_and_grad(has_aux=True)``); evaluation normalises with those. Forward,
backward, the AdamW update and the running statistics compile into one program.

    python examples/train_cnn.py [--epochs 15] [--target llvm|cuda] [--plot train_cnn.png]
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

MOMENTUM = 0.1  # how far each batch moves the running statistics, as PyTorch's BatchNorm


def init(key):
    """The trained parameters, and the model state (batch norm's running statistics)."""
    k1, k2, k3 = mr.split(key, 3)
    params = {
        "conv1": mlc.nn.init.kaiming_uniform(k1, (8, 1, 3, 3)), "gamma": np.ones(8, "float32"),
        "beta": mlc.nn.init.zeros((8,)),
        "conv2": mlc.nn.init.kaiming_uniform(k2, (16, 8, 3, 3)), "b2": mlc.nn.init.zeros((16,)),
        "dense": mlc.nn.init.kaiming_uniform(k3, (64, 10)), "b3": mlc.nn.init.zeros((10,)),
    }
    return params, {"mean": np.zeros(8, "float32"), "var": np.ones(8, "float32")}


def logits(params, model_state, x, training: bool):
    """The network; in training also the new running statistics."""
    images = x.reshape(x.shape[0], 1, 8, 8)
    h = mlc.nn.conv2d(images, params["conv1"], padding=1)                      # (n, 8, 8, 8)
    if training:
        mean, var = mlc.nn.batch_stats(h)
        n = h.size // h.shape[1]  # values per channel: the running variance is unbiased, as PyTorch's
        model_state = {"mean": (1 - MOMENTUM) * model_state["mean"] + MOMENTUM * mlc.stop_gradient(mean),
                       "var": (1 - MOMENTUM) * model_state["var"] + MOMENTUM * mlc.stop_gradient(var) * (n / (n - 1))}
        h = mlc.nn.batch_norm(h, params["gamma"], params["beta"])
    else:
        h = mlc.nn.batch_norm(h, params["gamma"], params["beta"], model_state["mean"], model_state["var"])
    h = mlc.nn.max_pool2d(np.maximum(h, 0), 2)                                 # (n, 8, 4, 4)
    h = mlc.nn.conv2d(h, params["conv2"], padding=1) + params["b2"].reshape(1, 16, 1, 1)
    h = mlc.nn.avg_pool2d(np.maximum(h, 0), 2)                                 # (n, 16, 2, 2)
    return h.reshape(x.shape[0], 64) @ params["dense"] + params["b3"], model_state


def loss(params, model_state, x, y):
    z, model_state = logits(params, model_state, x, training=True)
    return mlc.nn.cross_entropy(z, y), model_state


def predict(params, model_state, x):
    return np.argmax(logits(params, model_state, x, training=False)[0], axis=1)


def main(epochs=15, batch_size=128, learning_rate=1e-2, seed=0, target=None, plot="train_cnn.png", log=print):
    data = digits.load(seed=seed)
    params, model_state = init(mr.key(seed))
    optimizer = mlc.optim.adamw(learning_rate, weight_decay=1e-4)
    params, history = digits.fit(loss, predict, params, model_state, optimizer, data, epochs, batch_size, seed,
                                 target, log)
    digits.report("small CNN on the digits", history, plot)
    return history


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--target", default=None, help="llvm (default) or cuda")
    parser.add_argument("--plot", default="train_cnn.png", help="where to save the loss curve ('' for none)")
    args = parser.parse_args()
    main(args.epochs, args.batch_size, args.lr, target=args.target, plot=args.plot)
