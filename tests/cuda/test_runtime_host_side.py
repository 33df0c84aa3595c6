"""The host side of the ``cuda`` runtime without a GPU: CuPy replaced by a stand-in whose
kernels record their launches instead of running.

What a GPU run exercises besides the kernels themselves: loading the cubin, checking the
arguments, allocating outputs and workspace, launching each kernel of a graph's ``main``
in order with its grid, block and arrays, and the jit finding a known call of GPU arrays
again without its signature. The kernels' results are the GPU tests' (marked ``cuda``)."""
import numpy as np
import pytest

import mlc
import mlc.numpy as mnp
from mlc import te
from mlc.errors import DeviceError, DTypeError, ShapeError

from . import fake_cupy
from .conftest import NVRTC_MISSING
from .fake_cupy import FakeArray, OtherLibrarysGpuArray

pytestmark = pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))


@pytest.fixture
def fake_gpu(monkeypatch):
    """CuPy and an sm_90 device, stood in for; the launches are recorded."""
    yield fake_cupy.install(monkeypatch)
    fake_cupy.uninstall()


def _double(n: int):
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] * 2, "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def test_a_cuda_function_launches_its_kernel_on_checked_arguments(fake_gpu):
    lib = mlc.build(_double(1000), "cuda")
    assert lib.get_source("cuda").count("__global__") == 1
    a, b = FakeArray(np.ones(1000, "float32")), FakeArray(np.zeros(1000, "float32"))
    lib["main"](a, b)
    ((name, grid, block, args),) = fake_gpu
    assert name == "main_kernel" and args == (a, b)
    assert grid[0] * block[0] * 4 >= 1000 and block[0] <= 256  # float4 per thread
    with pytest.raises(DTypeError, match="argument A must have dtype float32, got float64"):
        lib["main"](FakeArray(np.ones(1000)), b)
    with pytest.raises(ShapeError, match=r"argument B must have shape \(1000,\), got \(999,\)"):
        lib["main"](a, FakeArray(np.zeros(999, "float32")))
    with pytest.raises(DeviceError, match="NumPy array in host memory"):
        lib["main"](np.ones(1000, "float32"), b)
    assert len(fake_gpu) == 1  # a refused call launches nothing


def test_get_source_ptx_is_compiled_when_asked_for(fake_gpu):
    lib = mlc.build(_double(64), "cuda")
    assert ".entry main_kernel" in lib.get_source("ptx")


def test_a_jitted_graph_launches_its_kernels_in_order_and_finds_the_call_again(fake_gpu, monkeypatch):
    def mlp(x, w):
        return mnp.maximum(x @ w, 0) @ w

    f = mlc.jit(target="cuda")(mlp)
    x, w = FakeArray(np.ones((4, 300), "float32")), FakeArray(np.ones((300, 300), "float32"))
    y = f(x, w)
    assert type(y) is FakeArray and y.shape == (4, 300) and y.dtype == np.float32
    kernels = [name for name, *_ in fake_gpu]
    assert len(kernels) >= 2  # the first matmul (with its relu), then the second
    first = list(fake_gpu)
    assert first[0][3][0] is x and first[0][3][1] is w  # main's first kernel reads them as they are
    general = []
    signature = f._signature
    monkeypatch.setattr(f, "_signature", lambda *a: general.append(a) or signature(*a))
    fake_gpu.clear()
    f(FakeArray(np.zeros((4, 300), "float32")), w)
    assert general == [] and [name for name, *_ in fake_gpu] == kernels
    f(FakeArray(np.zeros((5, 300), "float32")), w)  # another shape: the general path, a new build
    assert len(general) == 1


def test_a_cubin_the_driver_refuses_is_compiled_by_cupy_instead(fake_gpu, monkeypatch):
    """NVRTC newer than the driver: its cubin does not load, CuPy's own compile of the
    source does (load_cubin's fallback)."""
    from mlc.backends.cuda.runtime import load_cubin
    compiled = []

    def refuse(self, cubin):
        raise fake_cupy.FakeCuPy.cuda.driver.CUDADriverError("CUDA_ERROR_UNSUPPORTED_PTX_VERSION")

    class RawModule(fake_cupy.FakeModule):
        def __init__(self, code, options):
            compiled.append((code, options))

    monkeypatch.setattr(fake_cupy.FakeModule, "load", refuse)
    monkeypatch.setattr(fake_cupy.FakeCuPy, "RawModule", RawModule, raising=False)
    module = load_cubin(b"\x7fELF...", "extern \"C\" __global__ void k() {}")
    assert isinstance(module, RawModule) and compiled == [('extern "C" __global__ void k() {}', ("-std=c++17",))]
    lib = mlc.build(_double(64), "cuda")  # a whole build takes the same way
    lib["main"](FakeArray(np.ones(64, "float32")), FakeArray(np.zeros(64, "float32")))
    assert len(compiled) == 2 and fake_gpu[-1][0] == "main_kernel"


def test_a_kernel_past_48_kib_of_shared_memory_is_opted_in_and_launched_with_it(fake_gpu):
    """A 3-stage cp.async pipeline of 128 x 128 x 64 tensor-core tiles: 105 KiB of shared memory."""
    from mlc.schedules.gpu.default import TensorCoreTile
    k = te.reduce_axis((0, 512), "k")
    A = te.placeholder((256, 512), "float16", "A")
    B = te.placeholder((512, 256), "float16", "B")
    C = te.compute((256, 256), lambda i, j: te.sum(A[i, k].astype("float32") * B[k, j].astype("float32"), axis=k),
                   "C")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B, C])}))
    TensorCoreTile((2, 2), (4, 4), 4, 3, True).schedule(sch, "C")
    lib = mlc.build(sch.mod, "cuda")
    args = [FakeArray(np.zeros(s, d)) for s, d in (((256, 512), "float16"), ((512, 256), "float16"),
                                                     ((256, 256), "float32"))]
    lib["main"](*args)
    assert len(fake_gpu) == 1 and fake_cupy.FakeCuPy.shared_mem == [3 * (128 * 72 + 64 * 136) * 2]


@pytest.mark.parametrize("interface", [True, False])
def test_cuda_functions_take_other_libraries_gpu_arrays_without_a_copy(fake_gpu, interface):
    lib = mlc.build(_double(64), "cuda")
    a, b = FakeArray(np.ones(64, "float32")), FakeArray(np.zeros(64, "float32"))
    lib["main"](OtherLibrarysGpuArray(a, interface), OtherLibrarysGpuArray(b, interface))
    ((_, _, _, args),) = fake_gpu
    assert args[0] is a and args[1] is b  # the same memory, as CuPy arrays
    with pytest.raises(DTypeError, match="argument A must have dtype float32, got float64"):
        lib["main"](OtherLibrarysGpuArray(FakeArray(np.ones(64)), interface), b)


def test_a_tuning_candidate_on_the_gpu_runs_on_device_copies_and_copies_the_result_back(fake_gpu, monkeypatch):
    from mlc.target import Target
    from mlc.tune.gpu_measure import GpuCandidate

    launch = fake_cupy.FakeFunction.__call__

    def doubling(self, grid, block, args, shared_mem=0):  # the stand-in GPU computes B = A * 2
        launch(self, grid, block, args, shared_mem)
        args[1].data[...] = args[0].data * 2
    monkeypatch.setattr(fake_cupy.FakeFunction, "__call__", doubling)
    candidate = GpuCandidate(_double(64), Target.from_str("cuda"), None)
    a, b = np.arange(64, dtype="float32"), np.zeros(64, "float32")
    before = fake_cupy.FakeCuPy.synchronized
    candidate(a, b)
    assert [name for name, *_ in fake_gpu] == ["main_kernel"]
    assert all(type(d) is FakeArray for d in candidate._device_args)  # device copies were launched on
    assert fake_cupy.FakeCuPy.synchronized == before + 1
    np.testing.assert_array_equal(b, np.arange(64, dtype="float32") * 2)  # copied back to the host
