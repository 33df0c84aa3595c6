"""@mlc.jit against the same NumPy code: call overhead, fused activations and
normalisations, conv2d against im2col + matmul, the course's MLP, compile and
import time."""
import subprocess
import sys
import time

import numpy as np

import mlc

from . import Row, median_time


def _row(name, fn, args, number, repeat, note="", flops=0.0, reference=None) -> Row:
    """Time ``mlc.jit(fn)`` against ``reference`` (default: ``fn`` itself run by NumPy)."""
    jitted = mlc.jit(fn)
    reference = reference or fn
    np.testing.assert_allclose(jitted(*args), reference(*args), rtol=1e-4, atol=1e-4)
    t_mlc = median_time(lambda: jitted(*args), number, repeat)
    t_np = median_time(lambda: reference(*args), number, repeat)
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


def gelu() -> Row:
    x = np.random.default_rng(0).standard_normal(1 << 22).astype("float32")
    return _row("jit GELU (tanh form), 2^22 float32",
                lambda v: 0.5 * v * (1 + np.tanh(0.7978845608 * (v + 0.044715 * v ** 3))), (x,), 5, 5,
                note="one vectorized, parallel kernel")


def softmax() -> Row:
    x = np.random.default_rng(0).standard_normal((4096, 1024)).astype("float32")

    def row_softmax(v):
        e = np.exp(v - v.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return _row("jit row softmax 4096x1024", row_softmax, (x,), 5, 5)


def layer_norm() -> Row:
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((4096, 1024)).astype("float32"),
            rng.standard_normal(1024).astype("float32"), rng.standard_normal(1024).astype("float32"))

    def norm(v, gamma, beta):
        mean = v.mean(axis=1, keepdims=True)
        var = ((v - mean) ** 2).mean(axis=1, keepdims=True)
        return (v - mean) / np.sqrt(var + 1e-5) * gamma + beta
    return _row("jit layer_norm 4096x1024", norm, args, 5, 5)


def _im2col_conv(x, w):
    """NumPy conv2d, stride 1, padding 1: im2col then one matmul (the usual NumPy way)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))  # n c h w kh kw
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * kh * kw)
    return (cols @ w.reshape(o, -1).T).reshape(n, h, wd, o).transpose(0, 3, 1, 2)


def conv2d() -> Row:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 64, 56, 56)).astype("float32")
    w = (rng.standard_normal((64, 64, 3, 3)) / 24).astype("float32")
    return _row("jit conv2d 1x64x56x56, 64x3x3, pad 1", lambda a, b: mlc.nn.conv2d(a, b, padding=1),
                (x, w), 5, 5, flops=2.0 * 56 * 56 * 64 * 64 * 9, note="NumPy: im2col + matmul",
                reference=_im2col_conv)


def mlp_first_call() -> Row:
    """Trace + fuse + schedule + compile of the MLP, in a fresh process with an empty object cache."""
    code = ("import time, numpy as np, mlc\n"
            "rng = np.random.default_rng(0)\n"
            "args = (rng.standard_normal((64, 784), dtype='float32'), rng.standard_normal((784, 128), dtype='float32'),"
            " np.zeros(128, 'float32'), rng.standard_normal((128, 10), dtype='float32'), np.zeros(10, 'float32'))\n"
            "f = mlc.jit(lambda x, w1, b1, w2, b2: np.maximum(x @ w1 + b1, 0) @ w2 + b2)\n"
            "t = time.perf_counter(); f(*args); print(time.perf_counter() - t)\n")
    import os
    import tempfile
    times = []
    with tempfile.TemporaryDirectory() as cache_dir:  # cold: empty object cache; warm: the cold run's
        env = {**os.environ, "MLC_CACHE_DIR": cache_dir}
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                 check=True)
            times.append(float(out.stdout.strip()))
    cold, warm = times
    return Row("MLP first call (trace+compile), cold", cold, cold,
               note=f"with a warm object cache: {warm * 1e3:.0f} ms")


def import_time() -> Row:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mlc"], check=True)
        runs.append(time.perf_counter() - start)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    interpreter = time.perf_counter() - start
    t = float(np.median(runs)) - interpreter
    numpy_runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy"], check=True)
        numpy_runs.append(time.perf_counter() - start)
    return Row("import mlc (vs import numpy)", t, float(np.median(numpy_runs)) - interpreter,
               note="interpreter start-up subtracted")


BENCHMARKS = [call_overhead, fused_elementwise, gelu, softmax, layer_norm, conv2d, mlp, mlp_first_call,
              import_time]
