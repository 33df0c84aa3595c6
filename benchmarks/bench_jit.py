"""@mlc.jit against the same NumPy code: call overhead, fusion, the course's MLP."""
import numpy as np

import mlc

from . import Row, median_time


def _row(name, fn, args, number, repeat, note="", flops=0.0) -> Row:
    jitted = mlc.jit(fn)
    np.testing.assert_allclose(jitted(*args), fn(*args), rtol=1e-4, atol=1e-4)
    t_mlc = median_time(lambda: jitted(*args), number, repeat)
    t_np = median_time(lambda: fn(*args), number, repeat)
    return Row(name, t_mlc, t_np, flops=flops, note=note)


def call_overhead() -> Row:
    a = np.ones(4, "float32")
    return _row("jit cache hit: a + b, 4 elements", lambda x, y: x + y, (a, a), 20000, 7,
                note="per-call overhead")


def fused_elementwise() -> Row:
    x = np.random.default_rng(0).standard_normal(1 << 20).astype("float32")
    return _row("jit tanh(exp(x)*2-1)+x, 1M float32", lambda v: np.tanh(np.exp(v) * 2 - 1) + v, (x,),
                10, 5, note="1 fused kernel vs 5 NumPy passes")


def mlp() -> Row:
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((64, 784)).astype("float32"),
            (rng.standard_normal((784, 128)) / 28).astype("float32"), np.zeros(128, "float32"),
            (rng.standard_normal((128, 10)) / 11).astype("float32"), np.zeros(10, "float32"))

    def model(x, w1, b1, w2, b2):
        return np.maximum(x @ w1 + b1, 0) @ w2 + b2

    return _row("jit MLP 64x784x128x10 (course model)", model, args, 20, 7,
                flops=2.0 * 64 * (784 * 128 + 128 * 10), note="2 kernels, default schedule")


BENCHMARKS = [call_overhead, fused_elementwise, mlp]
