"""@mlc.jit against the same NumPy code: call overhead, fused activations and
normalisations, conv2d against im2col + matmul, the course's MLP, compile and
import time."""
import os
import subprocess
import sys
import tempfile

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


_MLP_FIRST_CALL = """
import time, numpy as np, mlc
rng = np.random.default_rng(0)
args = (rng.standard_normal((64, 784), dtype='float32'), rng.standard_normal((784, 128), dtype='float32'),
        np.zeros(128, 'float32'), rng.standard_normal((128, 10), dtype='float32'), np.zeros(10, 'float32'))
f = mlc.jit(lambda x, w1, b1, w2, b2: np.maximum(x @ w1 + b1, 0) @ w2 + b2)
t = time.perf_counter(); f(*args); print(time.perf_counter() - t)
"""


def _child_env(**extra) -> dict:
    """The environment of a fresh Python as users run it: bytecode caching on."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **extra}


def _child_seconds(code: str, env: dict) -> float:
    """Run ``code`` in a fresh interpreter; it prints the seconds it measured itself."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def mlp_first_call() -> Row:
    """Trace + fuse + schedule + compile of the MLP, timed inside a fresh process after
    ``import mlc``. Cold: each run starts with an empty object cache; warm: the cache
    a cold run left behind."""
    cold, warm = [], []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as cache_dir:
            env = _child_env(MLC_CACHE_DIR=cache_dir)
            cold.append(_child_seconds(_MLP_FIRST_CALL, env))
            warm.append(_child_seconds(_MLP_FIRST_CALL, env))
    cold_s, warm_s = float(np.median(cold)), float(np.median(warm))
    return Row("MLP first call (trace+compile), cold", cold_s, cold_s,
               note=f"median of 3 fresh processes; with a warm object cache: {warm_s * 1e3:.0f} ms")


def import_time() -> Row:
    """``import mlc`` against ``import numpy``, each timed inside a fresh interpreter
    (interpreter start-up excluded); mlc's figure includes importing NumPy."""
    code = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"
    env = _child_env()
    _child_seconds(code.format("mlc"), env)  # writes the bytecode caches once
    runs = {name: float(np.median([_child_seconds(code.format(name), env) for _ in range(7)]))
            for name in ("mlc", "numpy")}
    return Row("import mlc (vs import numpy)", runs["mlc"], runs["numpy"],
               note="median of 7 fresh interpreters; mlc includes NumPy")


BENCHMARKS = [call_overhead, fused_elementwise, gelu, softmax, layer_norm, conv2d, mlp, mlp_first_call,
              import_time]
