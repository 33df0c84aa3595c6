"""``@mlc.jit`` on the GPU targets: the jitted graph's ``main`` runs as a sequence of kernel
launches, on the emulator (NumPy in, NumPy out) here and through CuPy on a GPU.

The emulator runs are differential against NumPy; the ``cuda`` target builds (NVRTC)
without a GPU and its calls raise DeviceError there; on a GPU the same functions take
and return CuPy arrays."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.numpy as mnp
from mlc.backends import cuda  # noqa: F401 - registers the backends
from mlc import te
from mlc.errors import DeviceError, DTypeError, ShapeError
from mlc.backends import cuda_device
from mlc.runtime.ndarray import cpu

from .conftest import DEVICE_MISSING, NVRTC_MISSING, needs_gpu
from .fake_cupy import FakeArray, FakeCuPy


def gelu(x):
    return 0.5 * x * (1 + mnp.tanh(0.79788456 * (x + 0.044715 * x * x * x)))


def softmax(x):
    e = mnp.exp(x - mnp.max(x, axis=-1, keepdims=True))
    return e / mnp.sum(e, axis=-1, keepdims=True)


def mlp(x, w1, b1, w2, b2):
    h = mnp.maximum(x @ w1 + b1, 0)
    return h @ w2 + b2


def layer_norm(x, gamma, beta):
    mean = mnp.mean(x, axis=-1, keepdims=True)
    var = mnp.mean((x - mean) ** 2, axis=-1, keepdims=True)
    return (x - mean) / mnp.sqrt(var + 1e-5) * gamma + beta


def _np_gelu(x):
    return 0.5 * x * (1 + np.tanh(0.79788456 * (x + 0.044715 * x * x * x)))


def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _np_mlp(x, w1, b1, w2, b2):
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def _np_layer_norm(x, gamma, beta):
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True) + 1e-5) * gamma + beta


def _arrays(rng, *shapes):
    return [rng.standard_normal(s).astype("float32") for s in shapes]


@settings(max_examples=6, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 300), seed=st.integers(0, 2**16))
def test_row_programs_on_the_emulator_match_numpy(rows, cols, seed):
    (x,) = _arrays(np.random.default_rng(seed), (rows, cols))
    for fn, ref in ((gelu, _np_gelu), (softmax, _np_softmax)):
        y = mlc.jit(target="cuda-emulator")(fn)(x)
        assert type(y) is np.ndarray and y.dtype == np.float32 and y.shape == x.shape
        np.testing.assert_allclose(y, ref(x), rtol=2e-5, atol=2e-6)


@settings(max_examples=4, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(1, 130), seed=st.integers(0, 2**16))
def test_layer_norm_on_the_emulator_matches_numpy(rows, cols, seed):
    x, gamma, beta = _arrays(np.random.default_rng(seed), (rows, cols), (cols,), (cols,))
    y = mlc.jit(target="cuda-emulator")(layer_norm)(x, gamma, beta)
    np.testing.assert_allclose(y, _np_layer_norm(x, gamma, beta), rtol=1e-4, atol=1e-4)


def test_mlp_on_the_emulator_matches_numpy():
    args = _arrays(np.random.default_rng(1), (4, 32), (32, 48), (48,), (48, 10), (10,))
    f = mlc.jit(target="cuda-emulator")(mlp)
    np.testing.assert_allclose(f(*args), _np_mlp(*args), rtol=1e-4, atol=1e-4)
    lib = f.lower(*args).compile().lib
    assert lib.device == cpu()
    assert len(lib.function_names) > 2  # the kernels and the main that launches them


def test_plain_numpy_calls_trace_on_the_emulator_too():
    x = np.linspace(-3, 3, 1000, dtype="float32").reshape(10, 100)
    f = mlc.jit(target="cuda-emulator")(lambda x: np.tanh(x) * 2 + np.exp(-x * x))
    np.testing.assert_allclose(f(x), np.tanh(x) * 2 + np.exp(-x * x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 2), (3, 1, 4, 2), (12,)])
@pytest.mark.parametrize("dtype", ["int8", "int32", "bool"])
def test_integer_power_of_every_rank_gets_threads_on_the_emulator(shape, dtype):
    # a tuple-valued stage (result, running square) per exponent bit; vectorize cannot prove
    # the 4 lanes of a fused 2 x 3 x 2 loop independent, and the block was left without
    # threads (a compile error) instead of one element a thread
    rng = np.random.default_rng(0)
    a = rng.integers(-3, 4, shape).astype(dtype)
    b = rng.integers(0, 5, shape).astype(dtype)
    f = mlc.jit(target="cuda-emulator")(lambda x, y: np.power(x, y))
    np.testing.assert_array_equal(f(a, b), np.power(a, b))
    kernels = f.lower(a, b).compile().lib.get_source()
    assert "threadIdx.x" in kernels


class _HostDLPack:
    """A foreign host array known only through the DLPack protocol."""

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


def test_objects_with_dlpack_are_accepted():
    (x,) = _arrays(np.random.default_rng(2), (5, 40))
    f = mlc.jit(target="cuda-emulator")(softmax)
    np.testing.assert_allclose(f(_HostDLPack(x)), _np_softmax(x), rtol=2e-5, atol=2e-6)


def test_gpu_arrays_are_refused_by_host_targets_with_a_device_error():
    class FakeDeviceArray:  # what a CuPy array shows of itself: GPU memory
        shape, dtype = (3,), np.dtype("float32")
        __cuda_array_interface__ = {"shape": (3,), "typestr": "<f4", "data": (0, False), "version": 3}

    for target in ("cuda-emulator", "llvm"):
        with pytest.raises(DeviceError, match="in cuda device memory.*runs on the host.*target='cuda'"):
            mlc.jit(target=target)(gelu)(FakeDeviceArray())
    host = mlc.jit(target="llvm")(gelu)
    host(np.zeros(3, "float32"))             # built and cached for a NumPy array of that signature
    with pytest.raises(DeviceError, match="in cuda device memory"):
        host(FakeDeviceArray())              # a GPU array of the same shape and dtype is another key


def test_the_cuda_target_builds_without_a_gpu_and_its_module_runs_on_the_gpu():
    (x,) = _arrays(np.random.default_rng(3), (4, 64))
    f = mlc.jit(target="cuda")(softmax)
    lib = f.lower(x).compile().lib  # NVRTC: no GPU needed
    assert lib.device == cuda_device()
    assert "__global__" in lib.get_source("cuda")


@pytest.mark.skipif(DEVICE_MISSING is None, reason="a CUDA device is present")
def test_without_a_gpu_a_cuda_jit_call_says_no_device_and_names_the_emulator():
    (x,) = _arrays(np.random.default_rng(4), (4, 64))
    with pytest.raises(DeviceError, match="cuda-emulator"):
        mlc.jit(target="cuda")(softmax)(x)


@needs_gpu
def test_cuda_jit_takes_and_returns_cupy_arrays():
    import cupy

    args = _arrays(np.random.default_rng(5), (4, 32), (32, 48), (48,), (48, 10), (10,))
    f = mlc.jit(target="cuda")(mlp)
    y = f(*[cupy.asarray(a) for a in args])
    assert isinstance(y, cupy.ndarray)
    np.testing.assert_allclose(y.get(), _np_mlp(*args), rtol=1e-4, atol=1e-4)
    y_host_inputs = f(*args)  # NumPy inputs are copied to the device
    assert isinstance(y_host_inputs, cupy.ndarray)
    np.testing.assert_allclose(y_host_inputs.get(), y.get())
    (x,) = _arrays(np.random.default_rng(6), (3, 70))
    z = mlc.jit(target="cuda")(softmax)(cupy.from_dlpack(cupy.asarray(x)))
    np.testing.assert_allclose(z.get(), _np_softmax(x), rtol=2e-5, atol=2e-6)


@needs_gpu
def test_a_cuda_jit_mlp_whose_hidden_layer_is_square_runs_tiled_on_the_gpu():
    import cupy

    # x @ w1 with K == N: tiled with bias and relu in the write-back, not a block per row
    args = _arrays(np.random.default_rng(8), (256, 128), (128, 128), (128,), (128, 64), (64,))
    f = mlc.jit(target="cuda")(mlp)
    y = f(*[cupy.asarray(a) for a in args])
    np.testing.assert_allclose(y.get(), _np_mlp(*args), rtol=1e-4, atol=1e-4)
    assert "blockIdx.y" in f.lower(*args).compile().as_text()


@needs_gpu
def test_a_cuda_jit_batched_matmul_runs_tiled_on_the_gpu():
    import cupy

    a, b = _arrays(np.random.default_rng(9), (6, 96, 64), (6, 64, 80))
    f = mlc.jit(target="cuda")(lambda a, b: a @ b)
    np.testing.assert_allclose(f(cupy.asarray(a), cupy.asarray(b)).get(), a @ b, rtol=1e-4, atol=1e-4)
    assert "blockIdx.z" in f.lower(a, b).compile().as_text()


@needs_gpu
def test_any_and_all_reduce_across_threads_on_the_gpu():
    import cupy

    for shape, axis in (((70000,), None), ((5, 4000), 1), ((3, 70), 1)):
        for op in ("any", "all"):
            for flip in (0, 33, -1):
                x = np.zeros(shape, bool) if op == "any" else np.ones(shape, bool)
                x.flat[flip] = not x.flat[flip]
                f = mlc.jit(target="cuda")(lambda v: getattr(mnp, op)(v, axis=axis))
                np.testing.assert_array_equal(f(cupy.asarray(x)).get(), getattr(np, op)(x, axis=axis))


@needs_gpu
def test_a_cuda_jit_finds_a_known_call_of_cupy_arrays_without_its_signature(monkeypatch):
    import cupy

    f = mlc.jit(target="cuda")(lambda a, b: a * b + a)
    x, y = (cupy.asarray(a) for a in _arrays(np.random.default_rng(7), (3, 100), (3, 100)))
    np.testing.assert_allclose(f(x, y).get(), (x * y + x).get(), rtol=1e-5, atol=1e-6)  # (an fma)
    general = []
    signature = f._signature
    monkeypatch.setattr(f, "_signature", lambda *a: general.append(a) or signature(*a))
    x2 = x * 2
    np.testing.assert_allclose(f(x2, y).get(), (x2 * y + x2).get(), rtol=1e-5, atol=1e-6)
    strided = cupy.asarray(np.arange(600, dtype="float32").reshape(3, 200))[:, ::2]  # copied, then run
    np.testing.assert_allclose(f(strided, y).get(), (strided * y + strided).get(), rtol=1e-5, atol=1e-3)
    assert general == []
    f(x.get(), y.get())  # NumPy arrays of the same shapes: a signature of their own (copied in)
    f(x.astype("float64"), y)  # another dtype: another signature
    assert len(general) == 2


@needs_gpu
def test_cuda_functions_check_their_arguments_after_the_fast_test_fails():
    import cupy

    A = te.placeholder((8,), "float32", "A")
    B = te.compute((8,), lambda i: A[i] * 2, "B")
    lib = mlc.build(mlc.IRModule({"main": te.create_prim_func([A, B])}), "cuda")
    a, b = cupy.arange(8, dtype=cupy.float32), cupy.empty(8, cupy.float32)
    lib["main"](a, b)
    np.testing.assert_array_equal(b.get(), np.arange(8) * 2)
    with pytest.raises(DTypeError, match="argument A must have dtype float32, got float64"):
        lib["main"](a.astype("float64"), b)
    with pytest.raises(ShapeError, match=r"argument B must have shape \(8,\), got \(9,\)"):
        lib["main"](a, cupy.empty(9, cupy.float32))
    with pytest.raises(ShapeError, match="C-contiguous"):
        lib["main"](cupy.arange(16, dtype=cupy.float32)[::2], b)
    with pytest.raises(DeviceError, match="NumPy array in host memory"):
        lib["main"](np.arange(8, dtype="float32"), b)
    with pytest.raises(ShapeError, match="takes 2 arrays"):
        lib["main"](a)


# ------------------------------------------------------------------ the entry on a CUDA device,
# with a stand-in for CuPy (host memory posing as device memory) so that it runs without a GPU

def test_the_entry_on_a_cuda_device_copies_inputs_and_constants_there_and_allocates_outputs_there(monkeypatch):
    from mlc.ir.expr import const
    from mlc.ir.tir import Evaluate, PrimFunc
    from mlc.ir.buffer import decl_buffer
    from mlc.backends.cuda import memory as cuda_memory
    from mlc.runtime.entry import MainEntry
    from mlc.runtime.module import Function

    monkeypatch.setattr(cuda_memory, "_cupy", lambda dev: FakeCuPy)
    seen = []

    def kernel(arrays):
        seen.append([type(a) for a in arrays])
        x, c, out = arrays
        assert all(a.flags.c_contiguous for a in arrays)
        out.data[...] = x.data + c.data

    params = tuple(decl_buffer((4,), "float32", name) for name in ("x", "c", "out"))
    fn = Function("main", PrimFunc(params, Evaluate(const(0))), kernel)
    entry = MainEntry(fn, 1, [np.full(4, 10, "float32")], device=cuda_device(), single=True)
    host = np.arange(8, dtype="float32")[::2]  # not contiguous: made so on the device
    y = entry([host])
    assert type(y) is FakeArray
    np.testing.assert_array_equal(y.data, host + 10)
    assert seen == [[FakeArray] * 3]
    allocated = FakeCuPy.allocated
    entry([FakeCuPy.asarray(np.ones(4, "float32"))])  # device arrays pass as they are
    assert FakeCuPy.allocated == allocated + 1  # one output per call, from the device allocator


_START_VALUES_AND_INDEX_ARRAYS = [
    lambda x, i: x.max(axis=1, initial=0.5), lambda x, i: np.sum(x, initial=3),
    lambda x, i: x.min(axis=0, initial=-0.25), lambda x, i: x[:, [3, 0]], lambda x, i: x[i],
    lambda x, i: x[:, i] * 2,
]


@pytest.mark.parametrize("n", range(len(_START_VALUES_AND_INDEX_ARRAYS)))
def test_start_values_and_index_arrays_run_on_the_emulator_and_compile_with_nvrtc(n):
    """A reduction's start value (a stage after it) and a gather by an index array, constant or
    traced, on the emulator against NumPy, and built for sm_80 by NVRTC where it is installed."""
    fn = _START_VALUES_AND_INDEX_ARRAYS[n]
    x = np.random.default_rng(n).standard_normal((37, 5)).astype("float32")
    i = np.array([4, 0, -1, 2])
    np.testing.assert_allclose(mlc.jit(fn, target="cuda-emulator")(x, i), fn(x, i), rtol=1e-5, atol=1e-5)
    if NVRTC_MISSING is None:
        mlc.jit(fn, target="cuda -arch=sm_80").lower(x, i).compile()


@pytest.mark.parametrize("target", ["cuda-emulator", "cuda"])
def test_a_dynamic_axis_on_a_cuda_target_is_a_compile_error_saying_what_to_do(target):
    """It was a bare AttributeError ('Var' object has no attribute 'value') from the backend."""
    f = mlc.jit(lambda a: a * 2, dynamic=("a", 0), target=target)
    with pytest.raises(mlc.CompileError, match=r"static shapes only: parameter a .*without dynamic="):
        f.lower(np.ones((3, 2), "float32")).compile()


@needs_gpu
def test_a_cuda_jit_writing_its_numpy_argument_writes_back_into_it():
    def scale(x):
        x *= 2
        return x.sum()

    x = np.arange(6, dtype="float32")
    total = mlc.jit(scale, target="cuda")(x)
    np.testing.assert_array_equal(x, np.arange(6, dtype="float32") * 2)
    assert float(total) == 30.0
