"""The cuda and cuda-emulator backends through the registry, called in the order the
compile driver calls them: the default rules of the target's keys, TIR passes, codegen, load."""
import numpy as np
import pytest

import mlc
from mlc import te
from mlc.backends import cuda  # noqa: F401 - registers the backends
from mlc.backends.registry import Backend, BuildOptions, get_backend
from mlc.driver.schedule import default_rules
from mlc.errors import DeviceError
from mlc.ir.tir import IRModule
from mlc.passes.tir.pipeline import run_passes

from .conftest import DEVICE_MISSING, NVRTC_MISSING, TARGETS


def _driver(kind, mod, target, options=BuildOptions()):
    backend = cuda.CUDA if kind == "cuda" else get_backend(kind)
    sch = mlc.Schedule(mod)
    target = mlc.Target.from_str(target)  # parsed once, as the driver does
    rules = default_rules(target, backend)
    for name in mod:
        rules(sch, name, target)
    passes = backend.tir_passes(target, options)
    lowered = IRModule({name: run_passes(func, passes) for name, func in sch.mod.items()})
    return backend, backend.codegen(lowered, target, options)


def _gelu(n=3000):
    X = te.placeholder((3, n // 3), "float32", "X")
    Y = te.compute((3, n // 3), lambda i, j: 0.5 * X[i, j] * (1 + te.tanh(0.79788456 * (X[i, j] + 0.044715 *
                                                                                   X[i, j] ** 3))), "Y")
    return mlc.IRModule({"gelu": te.create_prim_func([X, Y])})


def test_both_backends_follow_the_protocol():
    for kind in ("cuda", "cuda-emulator"):
        backend = cuda.CUDA if kind == "cuda" else get_backend(kind)
        assert isinstance(backend, Backend) and backend.target_kinds == (kind,)
    assert get_backend("cuda-emulator").array_types == (np.ndarray,)


def test_cuda_emulator_target_runs_the_default_gpu_schedule():
    backend, artifact = _driver("cuda-emulator", _gelu(), "cuda-emulator")
    lib = backend.load(artifact, artifact, "cuda-emulator", BuildOptions())
    x = np.random.default_rng(0).standard_normal((3, 1000)).astype("float32")
    y = np.zeros_like(x)
    lib["gelu"](x, y)
    want = 0.5 * x * (1 + np.tanh(0.79788456 * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(mlc.ShapeError, match=r"argument X must have shape \(3, 1000\), got \(3000,\)"):
        lib["gelu"](x.reshape(-1), y)


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_cuda_codegen_compiles_for_the_targets_arch():
    for arch, target in TARGETS.items():
        _, artifact = _driver("cuda", _gelu(), target)
        assert artifact.arch == arch and artifact.cubin[:4] == b"\x7fELF"
        # (GELU's 0.5 x (1 + tanh(z)) is written as x / (1 + e^(-2z)), which keeps its digits near -1)
        assert "tanhf(" not in artifact.code and "__launch_bounds__(256)" in artifact.code


@pytest.mark.skipif(DEVICE_MISSING is None, reason="a CUDA device is present")
@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_without_a_device_cuda_builds_and_says_what_runs_instead_when_called():
    lib = mlc.build(_gelu(), "cuda -arch=sm_90")           # generated and compiled: NVRTC needs no GPU
    assert "__global__" in lib.get_source("cuda") and ".target sm_90" in lib.get_source("ptx")
    x = np.zeros((3, 1000), "float32")
    # no device here: either CuPy sees none, or CuPy is not installed (CI)
    with pytest.raises(DeviceError, match="(no CUDA device was found|CuPy is not installed).*target='cuda-emulator' "
                                          "runs the same kernels on the CPU"):
        lib["gelu"](x, np.empty_like(x))


def test_the_cuda_target_kinds_take_an_architecture():
    assert mlc.Target.from_str("cuda -arch=sm_90").arch == "sm_90"
    assert str(mlc.Target.from_str("cuda-emulator")) == "cuda-emulator"
    with pytest.raises(mlc.MLCError, match="-arch=sm80 is not a CUDA architecture"):
        mlc.Target.from_str("cuda -arch=sm80")


def test_mlc_build_runs_the_cuda_emulator_through_the_driver():
    lib = mlc.build(_gelu(), "cuda-emulator")
    x = np.random.default_rng(1).standard_normal((3, 1000)).astype("float32")
    y = np.zeros_like(x)
    lib["gelu"](x, y)
    np.testing.assert_allclose(y, 0.5 * x * (1 + np.tanh(0.79788456 * (x + 0.044715 * x ** 3))), rtol=1e-5,
                               atol=1e-6)
