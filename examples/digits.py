"""What the training examples share: scikit-learn's digits, mini-batches, the jitted
training step, evaluation, and the loss curve (printed; plotted when matplotlib is there).

The digits (1797 images of 8x8 pixels, 16 grey levels, 10 classes) ship inside
scikit-learn, so the examples train on real data without a download.
"""
from __future__ import annotations

import pathlib
import time
from dataclasses import dataclass, field

import numpy as np

import mlc


def load(test_fraction=0.2, seed=0):
    """Pixels scaled to [0, 1] (float32, (n, 64)) and labels (int32), split train/test."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("these examples train on scikit-learn's digits: pip install scikit-learn") from None
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def host(a):
    """A result as a NumPy array (CuPy's arrays on target="cuda" come back to the host)."""
    return a.get() if hasattr(a, "get") else np.asarray(a)


@dataclass
class History:
    """Per-epoch mean training loss, the test accuracy at the end, and the times."""
    losses: list = field(default_factory=list)
    accuracy: float = 0.0
    first_step_s: float = 0.0
    train_s: float = 0.0


def make_step(loss, optimizer, target=None):
    """One compiled program: forward, backward (mlc.value_and_grad) and the optimizer's update.

    ``loss(params, model_state, x, y) -> (scalar, new_model_state)``: the model state (what a
    model updates as it trains without a gradient, such as batch norm's running statistics)
    is the auxiliary result of ``value_and_grad(..., has_aux=True)``.
    """
    @mlc.jit(target=target)
    def step(params, model_state, opt_state, x, y):
        (l, model_state), g = mlc.value_and_grad(loss, has_aux=True)(params, model_state, x, y)
        params, opt_state = optimizer.update(g, opt_state, params)
        return params, model_state, opt_state, l

    return step


def fit(loss, predict, params, model_state, optimizer, data, epochs, batch_size=128, seed=0, target=None,
        log=print):
    """Train ``params`` with mini-batches of ``batch_size`` (the last, partial one dropped, so
    every step has one shape and compiles once), then measure the test accuracy of
    ``predict(params, model_state, x)``."""
    x_train, y_train, x_test, y_test = data
    step = make_step(loss, optimizer, target)
    opt_state = optimizer.init(params)
    rng = np.random.default_rng(seed)
    history = History()
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(len(x_train))
        total = []
        for b in range(len(x_train) // batch_size):
            idx = order[b * batch_size:(b + 1) * batch_size]
            params, model_state, opt_state, l = step(params, model_state, opt_state, x_train[idx], y_train[idx])
            total.append(float(host(l)))
            if not history.first_step_s:
                history.first_step_s = time.perf_counter() - start
        history.losses.append(float(np.mean(total)))
        log(f"epoch {epoch + 1:3d}  loss {history.losses[-1]:.4f}")
    history.train_s = time.perf_counter() - start
    predicted = host(mlc.jit(predict, target=target)(params, model_state, x_test))
    history.accuracy = float(np.mean(predicted == y_test))
    return params, history


def plot(history: History, path, title: str) -> str | None:
    """Save the loss curve as a PNG (no display); None when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(1, len(history.losses) + 1), history.losses, marker="o", markersize=3)
    ax.set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log",
           title=f"{title}: test accuracy {history.accuracy:.1%}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(pathlib.Path(path))


def report(name: str, history: History, plot_path) -> None:
    print(f"{name}: test accuracy {history.accuracy:.2%}; first step (trace, transform, compile) "
          f"{history.first_step_s:.2f} s; {len(history.losses)} epochs in {history.train_s:.2f} s")
    if plot_path:
        saved = plot(history, plot_path, name)
        print(f"loss curve saved to {saved}" if saved else "matplotlib is not installed: no plot")
