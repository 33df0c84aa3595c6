"""Every workload of the benchmark, at full size or (``tiny=True``) at a smoke-test size.

float32 throughout except Black–Scholes (float64). Elementwise and row-wise
workloads report the bytes they must move (inputs read once, outputs written
once) as GB/s against the measured copy bandwidth; matrix products and
convolutions report GFLOP/s against the measured fp32 FMA peak.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import programs as P
from .harness import FP32_FMA, FP32_FMA_8, Workload, unavailable
from .isa import host_runs_avx2
from .training import TRAINING_WORKLOADS
from .peers import (jax_contender, mlc_built, mlc_jit, numba_contender, numpy_contender, tvm_contender,
                    tvm_impractical)

_BLAS_ONLY = "Numba's matrix product is a call of NumPy's BLAS: no contender of its own"


def _rng():
    return np.random.default_rng(0)


def call_overhead(tiny: bool = False) -> Workload:
    a = np.ones(4, "float32")
    b = np.full(4, 2.0, "float32")
    return Workload(
        "add", "call overhead: a + b, 4 float32", reference=lambda: a + b,
        note="per-call cost of a compiled function on a cache hit (mlc: jit cache lookup + native call)",
        contenders=(
            numpy_contender("a + b", lambda x, y: x + y, (a, b)),
            mlc_jit(lambda x, y: x + y, (a, b)),
            numba_contender("add", (a, b), label="njit"),
            jax_contender(lambda jnp: lambda x, y: x + y, (a, b)),
            tvm_contender("add", (a, b), label="te, compiled function call"),
        ))


def gelu(tiny: bool = False) -> Workload:
    n = 1 << (10 if tiny else 22)
    x = _rng().standard_normal(n, dtype="float32")
    return Workload(
        "gelu", f"GELU (tanh form), 2^{n.bit_length() - 1} float32", bytes=2 * 4 * n,
        reference=lambda: P.gelu(x), rtol=1e-4, atol=1e-5,
        contenders=(
            numpy_contender("x * x * x", P.gelu, (x,)),
            mlc_jit(lambda v: P.gelu(v), (x,)),
            mlc_jit(lambda v: P.gelu(v), (x,), label="jit(fast_math=True)", fast_math=True),
            numba_contender("gelu", (x,)),
            jax_contender(lambda jnp: lambda v: P.gelu(v, jnp), (x,)),
            tvm_contender("gelu", (x,), label="te + hand schedule, fast_tanh"),
        ))


def softmax(tiny: bool = False) -> Workload:
    n, m = (64, 128) if tiny else (4096, 1024)
    x = _rng().standard_normal((n, m), dtype="float32")
    return Workload(
        "softmax", f"row softmax {n}x{m} float32", bytes=2 * 4 * n * m,
        reference=lambda: P.softmax(x), rtol=1e-4, atol=1e-6,
        contenders=(
            numpy_contender("in-place normalise", P.softmax_numpy, (x,)),
            mlc_jit(lambda v: P.softmax(v), (x,)),
            mlc_jit(lambda v: P.softmax(v), (x,), label="jit(fast_math=True)", fast_math=True),
            numba_contender("softmax", (x,)),
            jax_contender(lambda jnp: lambda v: P.softmax(v, jnp), (x,)),
            tvm_contender("softmax", (x,), label="te + hand schedule, fast_exp"),
        ))


def layer_norm(tiny: bool = False) -> Workload:
    n, m = (64, 128) if tiny else (4096, 1024)
    rng = _rng()
    x = rng.standard_normal((n, m), dtype="float32")
    gamma, beta = rng.standard_normal(m, dtype="float32"), rng.standard_normal(m, dtype="float32")
    args = (x, gamma, beta)
    return Workload(
        "layer_norm", f"layer_norm {n}x{m} float32", bytes=2 * 4 * n * m,
        reference=lambda: P.layer_norm(*args), rtol=1e-3, atol=1e-4,
        contenders=(
            numpy_contender("in-place scale/shift", P.layer_norm_numpy, args),
            mlc_jit(lambda v, g, b: P.layer_norm(v, g, b), args),
            numba_contender("layer_norm", args),
            jax_contender(lambda jnp: lambda v, g, b: P.layer_norm(v, g, b, jnp), args),
            tvm_contender("layer_norm", args),
        ))


def mm_relu(tiny: bool = False) -> Workload:
    from examples.ch2_tensor_program_transformations import (FAST_JFACTOR, mm_relu_module, transform,
                                                            with_vectors_and_threads)
    import mlc
    n = 32 if tiny else 128
    rng = _rng()
    a, b = rng.random((n, n), dtype="float32"), rng.random((n, n), dtype="float32")
    c = np.empty((n, n), "float32")
    tmp = np.empty((n, n), "float32")

    def numpy_mm_relu(x, y):
        np.matmul(x, y, out=tmp)
        return np.maximum(tmp, 0, out=tmp)

    def course_module():
        return with_vectors_and_threads(transform(mm_relu_module(n), min(FAST_JFACTOR, n))).mod

    return Workload(
        "mm_relu", f"mm_relu {n}^3 float32 (course program)", flops=2.0 * n ** 3,
        reference=lambda: np.maximum(a @ b, 0), rtol=1e-4, atol=1e-3,
        contenders=(
            numpy_contender("matmul + maximum, out=", numpy_mm_relu, (a, b)),
            mlc_built(lambda: mm_relu_module(n), None, (a, b), c, "te, default schedule", entry="mm_relu"),
            mlc_built(course_module, mlc.schedules.as_written, (a, b), np.empty_like(c),
                      "te, course schedule + vec/par", entry="mm_relu"),
            mlc_jit(lambda x, y: P.mm_relu(x, y), (a, b)),
            numba_contender("mm_relu", (a, b), label="njit(parallel, fastmath) loops"),
            jax_contender(lambda jnp: lambda x, y: P.mm_relu(x, y, jnp), (a, b)),
            tvm_contender("matmul", (a, b), relu=True),
        ))


def _window_module(n: int):
    """The window sum as TVM's contender writes it: ``B[i] = A[i] + A[i + 1] + A[i + 2]``."""
    import mlc
    from mlc import te
    A = te.placeholder((n,), "float32", name="A")
    B = te.compute((n - 2,), lambda i: A[i] + A[i + 1] + A[i + 2], name="B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def window_sum(tiny: bool = False) -> Workload:
    """The jit reads the NumPy array as given, 16 bytes past a cache line: all three of its
    64-byte loads a step straddle two lines, against two of three on an aligned array, which
    on an L3-resident 2^22 array costs 15-25% on a Zen 5. The te row runs the same kernel on
    mlc arrays, aligned as TVM's tensors are."""
    n = 1 << (10 if tiny else 22)
    a = _rng().standard_normal(n, dtype="float32")
    out = np.empty(n - 2, "float32")

    def numpy_window(x):
        np.add(x[:-2], x[1:-1], out=out)
        return np.add(out, x[2:], out=out)

    return Workload(
        "window_sum", f"window sum A[i]+A[i+1]+A[i+2], 2^{n.bit_length() - 1}",
        bytes=4 * (n + n - 2), reference=lambda: P.window_sum(a), rtol=1e-5, atol=1e-5,
        contenders=(
            numpy_contender("add, out= twice", numpy_window, (a,)),
            mlc_built(lambda: _window_module(n), None, (a,), out, "te, default schedule"),
            mlc_jit(lambda x: P.window_sum(x), (a,)),
            numba_contender("window_sum", (a,)),
            jax_contender(lambda jnp: lambda x: P.window_sum(x, jnp), (a,)),
            tvm_contender("window_sum", (a,)),
        ))


def conv2d(tiny: bool = False) -> Workload:
    import mlc
    c, hw = (8, 12) if tiny else (64, 56)
    rng = _rng()
    x = rng.standard_normal((1, c, hw, hw), dtype="float32")
    w = (rng.standard_normal((c, c, 3, 3)) / (3 * np.sqrt(c))).astype("float32")

    def jax_conv(jnp):
        import jax
        return lambda a, b: jax.lax.conv_general_dilated(a, b, (1, 1), ((1, 1), (1, 1)))

    return Workload(
        "conv2d", f"conv2d 1x{c}x{hw}x{hw}, {c}x3x3, pad 1", flops=2.0 * hw * hw * c * c * 9,
        reference=lambda: P.im2col_conv2d(x, w), rtol=1e-3, atol=1e-3,
        contenders=(
            numpy_contender("im2col + matmul", P.im2col_conv2d, (x, w)),
            mlc_jit(lambda a, b: mlc.nn.conv2d(a, b, padding=1), (x, w), label="jit (mlc.nn.conv2d)"),
            numba_contender("conv2d_pad1", (x, w), label="njit(parallel, fastmath) loops"),
            jax_contender(jax_conv, (x, w), label="jit (lax.conv_general_dilated)"),
            tvm_contender("conv2d_pad1", (x, w), label="te + hand schedule (direct)"),
        ))


def _sgemm(n: int, key: str) -> Callable[[bool], Workload]:
    def make(tiny: bool = False) -> Workload:
        from examples.fast_matmul import fast_schedule, matmul_module
        size = n // 16 if tiny else n
        rng = _rng()
        a, b = rng.random((size, size), dtype="float32"), rng.random((size, size), dtype="float32")
        out = np.empty((size, size), "float32")

        def numpy_matmul(x, y):
            return np.matmul(x, y, out=out)

        return Workload(
            key, f"sgemm {size}^3 float32", flops=2.0 * size ** 3,
            reference=lambda: a @ b, rtol=1e-4, atol=1e-3 * np.sqrt(size),
            contenders=(
                numpy_contender("matmul, out= (BLAS)", numpy_matmul, (a, b)),
                mlc_built(lambda: matmul_module(size, size, size), fast_schedule, (a, b), np.empty_like(out),
                          "te, hand schedule (fast_matmul)"),
                mlc_built(lambda: matmul_module(size, size, size), None, (a, b), np.empty_like(out),
                          "te, default schedule"),
                mlc_jit(lambda x, y: x @ y, (a, b)),
                unavailable("numba", _BLAS_ONLY),
                jax_contender(lambda jnp: lambda x, y: x @ y, (a, b)),
                tvm_contender("matmul", (a, b), label="te + tutorial schedule"),
            ))
    make.__name__ = key
    return make


sgemm_1024 = _sgemm(1024, "sgemm1024")
sgemm_2048 = _sgemm(2048, "sgemm2048")

#: An AVX2 CPU with its own features (the target string "llvm -mcpu=haswell" keeps this
#: host's features, AVX-512 included): its code runs on any x86-64 host with AVX2 and FMA
AVX2_CPU = "haswell"


def _sgemm_avx2(n: int, key: str) -> Callable[[bool], Workload]:
    """mlc's default sgemm schedule built for an AVX2 CPU (8-lane vectors, 16 registers)
    and run on this host, against the FMA peak of 8-lane vectors on the same cores: how
    the AVX2 tiles fare where no AVX2-only machine is at hand."""
    def make(tiny: bool = False) -> Workload:
        from examples.fast_matmul import matmul_module
        size = n // 16 if tiny else n
        rng = _rng()
        a, b = rng.random((size, size), dtype="float32"), rng.random((size, size), dtype="float32")
        out = np.empty((size, size), "float32")
        from mlc.target import Target
        avx2 = (mlc_built(lambda: matmul_module(size, size, size), None, (a, b), np.empty_like(out),
                          f"te default, cpu {AVX2_CPU}", target=Target("llvm", AVX2_CPU))
                if host_runs_avx2() else unavailable("mlc", "this CPU cannot run AVX2 code"))
        return Workload(
            key, f"sgemm {size}^3 float32, AVX2 code", flops=2.0 * size ** 3,
            reference=lambda: a @ b, rtol=1e-4, atol=1e-3 * np.sqrt(size), peak=FP32_FMA_8,
            note="% of the FMA peak of 8-lane (AVX2) vectors on this machine's cores",
            # NumPy's BLAS runs its own (16-lane on an AVX-512 CPU) kernel: a percentage of
            # the full peak, and no say in the 8-lane one
            contenders=(numpy_contender("matmul, out= (BLAS)", lambda x, y: np.matmul(x, y, out=out),
                                        (a, b), peak=FP32_FMA), avx2))
    make.__name__ = key
    return make


sgemm_1024_avx2 = _sgemm_avx2(1024, "sgemm1024_avx2")
sgemm_2048_avx2 = _sgemm_avx2(2048, "sgemm2048_avx2")


def _int8_module(n: int):
    from examples.ch8_tensorized_matmul import int8_module  # imports mlc: only when built
    return int8_module(n)


def igemm_1024(tiny: bool = False) -> Workload:
    """int8 x int8 -> int32 GEMM: mlc's default schedule tensorizes it with AVX-512 VNNI
    (``vpdpbusd``) where the CPU has it; compare with sgemm1024's float32 rows."""
    size = 64 if tiny else 1024
    rng = _rng()
    a, b = (rng.integers(-128, 128, (size, size)).astype("int8") for _ in range(2))
    out = np.empty((size, size), "int32")
    return Workload(
        "igemm1024", f"igemm {size}^3 int8 -> int32", flops=2.0 * size ** 3,
        reference=lambda: np.matmul(a, b, dtype="int32"), rtol=0, atol=0,
        note="integer multiply-adds counted as operations (GOP/s, not a % of the fp32 FMA peak); "
             "mlc uses vpdpbusd on AVX-512 VNNI CPUs", peak="",
        contenders=(
            numpy_contender("matmul(dtype=int32)", lambda x, y: np.matmul(x, y, dtype="int32"), (a, b)),
            mlc_built(lambda: _int8_module(size), None, (a, b), out, "te, default schedule"),
            unavailable("numba", "no int8 matrix product of its own"),
        ))


def mlp(tiny: bool = False) -> Workload:
    batch = 8 if tiny else 64
    rng = _rng()
    args = (rng.standard_normal((batch, 784), dtype="float32"),
            (rng.standard_normal((784, 128)) / 28).astype("float32"), np.zeros(128, "float32"),
            (rng.standard_normal((128, 10)) / 11).astype("float32"), np.zeros(10, "float32"))
    return Workload(
        "mlp", f"MLP forward, batch {batch} (784-128-10)", flops=2.0 * batch * (784 * 128 + 128 * 10),
        reference=lambda: P.mlp(*args), rtol=1e-4, atol=1e-4,
        contenders=(
            numpy_contender("@, +=, maximum out=", P.mlp_numpy, args),
            mlc_jit(lambda x, w1, b1, w2, b2: P.mlp(x, w1, b1, w2, b2), args),
            unavailable("numba", _BLAS_ONLY),
            jax_contender(lambda jnp: lambda *a: P.mlp(*a, xp=jnp), args),
            tvm_impractical("te", "a two-kernel graph is Relax's job in TVM 0.2x; "
                            "not scheduled by hand here (see sgemm and mm_relu for TVM's matmul)"),
        ))


def vecmat(tiny: bool = False) -> Workload:
    """A vector times a tall matrix, ``x @ A`` with a 1-d ``x`` (a layer on one sample):
    a reduction down the matrix's columns, which mlc's column rule splits by rows."""
    n = 64 if tiny else 1024
    rng = _rng()
    x, a = rng.standard_normal(n, dtype="float32"), rng.standard_normal((n, n), dtype="float32")
    out = np.empty(n, "float32")
    return Workload(
        "vecmat", f"vector x matrix {n}x{n} float32 (x @ A)", bytes=4.0 * n * (n + 2),
        reference=lambda: x @ a, rtol=1e-4, atol=1e-3,
        contenders=(
            numpy_contender("matmul, out= (BLAS)", lambda v, m: np.matmul(v, m, out=out), (x, a)),
            mlc_jit(lambda v, m: v @ m, (x, a)),
            unavailable("numba", _BLAS_ONLY),
            jax_contender(lambda jnp: lambda v, m: v @ m, (x, a)),
            tvm_impractical("te", "not scheduled by hand here"),
        ))


def rotary(tiny: bool = False) -> Workload:
    """Rotary position embedding: sin and cos of every position times every frequency,
    then a rotation of each row's halves (float32 sin and cos over angles up to 4096)."""
    n, d = (64, 32) if tiny else (4096, 128)
    x = _rng().standard_normal((n, d), dtype="float32")
    pos = np.arange(n, dtype="float32")
    inv_freq = (10000.0 ** (-np.arange(0, d, 2) / d)).astype("float32")
    args = (x, pos, inv_freq)
    return Workload(
        "rotary", f"rotary embedding {n}x{d} float32 (sin, cos)", bytes=2 * 4 * n * d,
        reference=lambda: P.rotary(*args), rtol=1e-4, atol=1e-4,
        contenders=(
            numpy_contender("cos, sin, concatenate", P.rotary, args),
            mlc_jit(lambda v, p, f: P.rotary(v, p, f), args),
            numba_contender("rotary", args, label="njit(parallel, fastmath) loops"),
            jax_contender(lambda jnp: lambda v, p, f: P.rotary(v, p, f, jnp), args),
            tvm_contender("rotary", args),
        ))


def black_scholes(tiny: bool = False) -> Workload:
    n = 1 << (10 if tiny else 22)
    rng = _rng()
    S, K, T = rng.uniform(10, 100, n), rng.uniform(10, 100, n), rng.uniform(0.1, 2.0, n)
    r, sigma = 0.02, 0.3
    return Workload(
        "black_scholes", f"Black-Scholes call, 2^{n.bit_length() - 1} float64", bytes=4 * 8 * n,
        reference=lambda: P.black_scholes(S, K, T, r, sigma), rtol=1e-9, atol=1e-9,
        note="float64; erf by Abramowitz & Stegun 7.1.26 (NumPy has no erf), the same formula for every peer",
        contenders=(
            numpy_contender("log, sqrt, exp, where", lambda s, k, t: P.black_scholes(s, k, t, r, sigma),
                            (S, K, T)),
            mlc_jit(lambda s, k, t: P.black_scholes(s, k, t, r, sigma), (S, K, T)),
            numba_contender("black_scholes", (S, K, T, r, sigma)),
            jax_contender(lambda jnp: lambda s, k, t: P.black_scholes(s, k, t, r, sigma, jnp), (S, K, T)),
            tvm_contender("black_scholes", (S, K, T, r, sigma)),
        ))


def sort(tiny: bool = False) -> Workload:
    import mlc.numpy as mnp
    n = 1 << (10 if tiny else 22)
    x = _rng().standard_normal(n, dtype="float32")
    return Workload(
        "sort", f"sort, 2^{n.bit_length() - 1} float32", bytes=2 * 4 * n,
        reference=lambda: np.sort(x), rtol=0, atol=0,
        note="the Array API's sort (ascending, stable); GB/s counts one read and one write",
        contenders=(
            numpy_contender("np.sort", np.sort, (x,)),
            mlc_jit(lambda v: mnp.sort(v), (x,)),
            numba_contender("sort", (x,), label="njit np.sort"),
            jax_contender(lambda jnp: lambda v: jnp.sort(v), (x,)),
            tvm_impractical("topi.sort", "TVM's CPU sort is a packed-function call into its runtime "
                            "(no te schedule to write)"),
        ))


def cumulative_sum(tiny: bool = False) -> Workload:
    import mlc.numpy as mnp
    n = 1 << (10 if tiny else 22)
    x = _rng().standard_normal(n, dtype="float32")
    out = np.empty(n, "float32")
    return Workload(
        "cumulative_sum", f"cumulative_sum, 2^{n.bit_length() - 1} float32", bytes=2 * 4 * n,
        reference=lambda: np.cumsum(x, dtype="float64"), rtol=0, atol=0.25,
        note="a float32 running sum (partial sums up to about 2600): checked against the float64 sum "
             "within 0.25, as float32 rounding accumulates (NumPy's own drifts by 0.05)",
        contenders=(
            numpy_contender("np.cumsum(out=)", lambda v: np.cumsum(v, out=out), (x,)),
            mlc_jit(lambda v: mnp.cumulative_sum(v), (x,)),
            numba_contender("cumsum", (x,), label="njit np.cumsum"),
            jax_contender(lambda jnp: lambda v: jnp.cumsum(v), (x,)),
            tvm_impractical("topi.cumsum", "not scheduled by hand here"),
        ))


#: Selection names (``python -m benchmarks gelu softmax``) -> workload factories, in table order.
WORKLOADS: dict[str, Callable[[bool], Workload]] = {
    "add": call_overhead, "gelu": gelu, "softmax": softmax, "layer_norm": layer_norm,
    "window_sum": window_sum, "rotary": rotary, "black_scholes": black_scholes, "mm_relu": mm_relu,
    "conv2d": conv2d,
    "sgemm1024": sgemm_1024, "sgemm2048": sgemm_2048, "sgemm1024_avx2": sgemm_1024_avx2,
    "sgemm2048_avx2": sgemm_2048_avx2, "igemm1024": igemm_1024, "mlp": mlp,
    "vecmat": vecmat, "sort": sort, "cumulative_sum": cumulative_sum,
    **TRAINING_WORKLOADS,
}
