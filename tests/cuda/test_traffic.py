"""Global-memory traffic per kernel, as the emulator counts it (``EmulatorModule.kernel_stats``):
the figures the project can check on every run without a GPU."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.driver import schedule_module
import mlc.numpy as mnp
from mlc.backends.cuda import emulate
from mlc.errors import MLCError

from .conftest import NVRTC_MISSING
from .programs import matmul, schedule_matmul_shared


def _nvrtc_compiles(fn, *args):
    """``fn`` jitted for sm_80 and compiled by NVRTC (no GPU needed), where NVRTC is installed."""
    if NVRTC_MISSING is None:
        mlc.jit(target="cuda -arch=sm_80")(fn).lower(*args).compile()

_UNARY = [mnp.tanh, mnp.exp, lambda v: v * v, lambda v: -v, lambda v: v * 0.5 + 1]
_BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b * 2, mnp.maximum]


def _chain(steps):
    """An elementwise function of (x, y) that reads each input several times."""
    def f(x, y):
        v = x
        for kind, k in steps:
            v = _UNARY[k](v) if kind == "u" else _BINARY[k](v, y if len(steps) % 2 else x)
        return v + x * y
    return f


@settings(max_examples=8, deadline=None)
@given(steps=st.lists(st.one_of(st.tuples(st.just("u"), st.integers(0, len(_UNARY) - 1)),
                                st.tuples(st.just("b"), st.integers(0, len(_BINARY) - 1))), min_size=1, max_size=5),
       n=st.integers(1, 5000))
def test_fused_elementwise_chains_move_at_most_1_1_times_the_minimal_bytes(steps, n):
    rng = np.random.default_rng(n)
    x, y = rng.random(n).astype("float32"), rng.random(n).astype("float32")
    compiled = mlc.jit(target="cuda-emulator")(_chain(steps)).lower(x, y).compile()
    compiled(x, y)
    stats = compiled.lib.kernel_stats()
    assert stats  # the chain ran on the emulator
    reads = sum(s.global_reads for s in stats)
    writes = sum(s.global_writes for s in stats)
    assert reads <= 1.1 * 2 * n, stats  # x and y read once each
    assert writes <= 1.1 * n, stats     # the result written once


def test_a_load_repeated_in_one_statement_counts_once_and_distinct_elements_each():
    from mlc import te
    A = te.placeholder((64,), "float32", "A")
    B = te.compute((62,), lambda i: A[i] * A[i] + A[i + 1] + A[i + 2], "B")
    lib = emulate(schedule_module(mlc.IRModule({"main": te.create_prim_func([A, B])}), "cuda"))
    lib["main"](np.ones(64, "float32"), np.zeros(62, "float32"))
    (stats,) = lib.kernel_stats("main")
    assert (stats.global_reads, stats.global_writes) == (3 * 62, 62)


def test_the_shared_tiled_matmul_reads_each_input_element_at_most_n_over_tile_times():
    n, tile = 128, 32  # 32 x 32 output tiles per block: A's rows and B's columns fetched once per tile
    lib = emulate(schedule_matmul_shared(matmul(n)).mod)
    a, b = np.random.rand(n, n).astype("float32"), np.random.rand(n, n).astype("float32")
    c = np.zeros((n, n), "float32")
    lib["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4)
    (stats,) = lib.kernel_stats("main")
    assert stats.global_reads <= 2 * n * n * (n // tile)
    assert stats.global_writes == n * n


def test_kernel_stats_name_a_function_of_the_module():
    lib = emulate(schedule_matmul_shared(matmul(64)).mod)
    with pytest.raises(MLCError, match="'nope' is not an emulated kernel function; this module has"):
        lib.kernel_stats("nope")


def _softmax(x):
    e = mnp.exp(x - mnp.max(x, axis=-1, keepdims=True))
    return e / mnp.sum(e, axis=-1, keepdims=True)


@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(2, 700), seed=st.integers(0, 2**16))
def test_softmax_rows_run_as_one_kernel_that_reads_its_input_once(rows, cols, seed):
    """gpu_rows: a block per row, the row fetched into shared memory once, both reductions
    and the division reading it there: x read once, the result written once."""
    x = (np.random.default_rng(seed).standard_normal((rows, cols)) * 4).astype("float32")
    compiled = mlc.jit(target="cuda-emulator")(_softmax).lower(x).compile()
    y = compiled(x)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=-1, keepdims=True), rtol=2e-5, atol=2e-6)
    (stats,) = compiled.lib.kernel_stats()
    assert (stats.global_reads, stats.global_writes) == (x.size, x.size)


@settings(max_examples=6, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(2, 300), seed=st.integers(0, 2**16))
def test_layer_norm_rows_read_their_input_once_and_the_parameters_once_a_row(rows, cols, seed):
    rng = np.random.default_rng(seed)
    x, gamma, beta = (rng.standard_normal(s).astype("float32") for s in ((rows, cols), (cols,), (cols,)))

    def layer_norm(x, gamma, beta):
        mean = mnp.mean(x, axis=-1, keepdims=True)
        var = mnp.mean((x - mean) ** 2, axis=-1, keepdims=True)
        return (x - mean) / mnp.sqrt(var + 1e-5) * gamma + beta
    compiled = mlc.jit(target="cuda-emulator")(layer_norm).lower(x, gamma, beta).compile()
    y = compiled(x, gamma, beta)
    mean = x.mean(-1, keepdims=True)
    want = (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + 1e-5) * gamma + beta
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    (stats,) = compiled.lib.kernel_stats()
    assert (stats.global_reads, stats.global_writes) == (3 * x.size, x.size)  # gamma, beta: once a row


def test_a_matmul_whose_k_equals_its_n_is_tiled_not_run_a_row_per_block():
    """x @ w + b with K == N also reduces over a row's length, but has a value per row and
    column: the matmul rule tiles it (a block per row would fetch all of w for every row)."""
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype("float32") for s in ((128, 64), (64, 64), (64,)))
    def layer(x, w, b):
        return mnp.maximum(x @ w + b, 0)
    compiled = mlc.jit(target="cuda-emulator")(layer).lower(x, w, b).compile()
    _nvrtc_compiles(layer, x, w, b)
    np.testing.assert_allclose(compiled(x, w, b), np.maximum(x @ w + b, 0), rtol=1e-4, atol=1e-4)
    assert "blockIdx.y" in compiled.as_text()          # the CUDA source: a grid of tiles
    (stats,) = compiled.lib.kernel_stats()
    assert stats.global_reads < x.shape[0] * w.size  # not every row reading all of w


@pytest.mark.parametrize("shape", [(4, 64, 96), (2, 3, 2), (3, 5, 7, 11)])
def test_elementwise_kernels_of_three_and_more_dimensions_run_on_threads(shape):
    """Their loops fused and split by 256 off the grid of their extents still bind to
    threads (the default GPU schedule had left such kernels to one thread)."""
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    compiled = mlc.jit(target="cuda-emulator")(lambda x: x * 2 + 1).lower(x).compile()
    np.testing.assert_allclose(compiled(x), x * 2 + 1, rtol=1e-6)
    _nvrtc_compiles(lambda x: x * 2 + 1, x)
    assert "__launch_bounds__(1)" not in compiled.as_text()


@pytest.mark.parametrize("shapes", [((4, 64, 48), (4, 48, 96)), ((3, 40, 32), (32, 64)), ((2, 2, 32, 16), (2, 2, 16, 40))])
def test_batched_matmuls_get_shared_tiles_on_blockidx_z(shapes):
    """A batch of matmuls (or a batch times one matrix) is tiled like one matmul, the batch
    on blockIdx.z, a bias and relu in the write-back: each output element written once."""
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal(s).astype("float32") for s in shapes)
    bias = rng.standard_normal(shapes[1][-1]).astype("float32")
    def layer(a, b, c):
        return mnp.maximum(a @ b + c, 0)
    compiled = mlc.jit(target="cuda-emulator")(layer).lower(a, b, bias).compile()
    _nvrtc_compiles(layer, a, b, bias)
    want = np.maximum(a @ b + bias, 0)
    np.testing.assert_allclose(compiled(a, b, bias), want, rtol=1e-4, atol=1e-4)
    assert "blockIdx.z" in compiled.as_text()
    (stats,) = compiled.lib.kernel_stats()
    assert stats.global_writes == want.size
    assert stats.global_reads < want.size * a.shape[-1]  # not every output reading its row and column


def test_the_row_rule_leaves_a_function_without_reductions_untouched():
    """gpu_rows looks for a reduction before it inlines the elementwise blocks: inlining a long
    chain of them first (the unrolled steps of an ODE integrator, each reading the one before
    several times) grew the expression exponentially, and a first call took minutes."""
    from mlc import te
    from mlc.schedules import Schedule
    from mlc.schedules.gpu.default import gpu_rows
    A = te.placeholder((4, 8), "float32", name="A")
    B = te.compute((4, 8), lambda i, j: A[i, j] * 2.0, name="B")
    C = te.compute((4, 8), lambda i, j: B[i, j] + B[i, j] * B[i, j], name="C")
    D = te.compute((4, 8), lambda i, j: C[i, j] - C[i, j] * 0.5, name="D")
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, D])}))
    assert gpu_rows(sch, "main") is None
    inlined = [inst for inst in sch.trace.insts if inst.kind == "compute_inline"]
    assert not inlined, "inlined before it knew the function is not of its form"
