"""mlc.numpy's devices: "cpu" always, "cuda" where a GPU is usable; computation follows the data.

Without a GPU, "cuda" is refused with a DeviceError that says so, and a call on a
GPU array (faked here: an object with ``__cuda_array_interface__``) goes to the
function built for ``target="cuda"``, whose missing device is the error. With a
GPU, the ``cuda`` test creates arrays there and checks results against NumPy.
"""
import numpy as np
import pytest

import mlc
import mlc.numpy as mnp
from mlc import DeviceError
from mlc.numpy.devices import device_of, normalize, on_device
from mlc.runtime.ndarray import device_count

from ..cuda.conftest import needs_gpu

HAS_GPU = device_count("cuda") > 0


class FakeGpuArray:
    """Just enough of a CuPy array for the dispatch to see GPU memory."""
    shape, ndim, dtype = (2,), 1, np.dtype("float32")
    __cuda_array_interface__ = {"shape": (2,), "typestr": "<f4", "data": (0, False), "version": 3,
                                "strides": None}


def test_devices_list_cuda_exactly_when_a_gpu_is_usable():
    assert mnp.__array_namespace_info__().devices() == (["cpu", "cuda"] if HAS_GPU else ["cpu"])


@pytest.mark.parametrize("device", [None, "cpu", mlc.cpu(), np.zeros(1).device])
def test_cpu_spellings(device):
    assert normalize("zeros", device) == "cpu"
    out = mnp.zeros((2,), "float32", device=device)
    assert type(out) is np.ndarray and out.dtype == np.float32


@pytest.mark.parametrize("device", ["tpu", 3, object()])
def test_unknown_devices_are_named(device):
    with pytest.raises(DeviceError, match=r"zeros: unknown device .*'cpu'"):
        mnp.zeros(2, device=device)


@pytest.mark.skipif(HAS_GPU, reason="checks the refusal on a machine without a GPU")
@pytest.mark.parametrize("make", [lambda d: mnp.zeros(2, device=d), lambda d: mnp.arange(3, device=d),
                                  lambda d: mnp.asarray([1.0], device=d), lambda d: mnp.linspace(0, 1, 3, device=d),
                                  lambda d: mnp.astype(np.ones(2), "int32", device=d),
                                  lambda d: mnp.__array_namespace_info__().dtypes(device=d)])
@pytest.mark.parametrize("device", ["cuda", mlc.cuda(0)])
def test_cuda_without_a_gpu_says_so(make, device):
    with pytest.raises(DeviceError, match="needs a CUDA GPU with CuPy, and this machine has none"):
        make(device)


def test_computation_follows_gpu_arrays():
    fake = FakeGpuArray()
    assert device_of(fake) == "cuda" and device_of(np.ones(1)) == "cpu"
    assert on_device((fake,)) == on_device(([np.ones(1), fake],)) == on_device((), {"x": fake}) == "cuda"
    assert on_device((np.ones(2), [np.ones(1)], 3.0)) is None
    if HAS_GPU:
        return
    # the call goes to the function built for target="cuda" (the host one would refuse a GPU
    # array as "built for llvm, which runs on the host"): here its missing device (or CuPy) is
    # the error
    with pytest.raises(DeviceError, match=r"arrays on cuda\(0\) need (a CUDA device|CuPy)"):
        mnp.exp(fake)


def test_like_functions_default_to_their_input_device():
    a = np.arange(3, dtype="int16")
    for out in (mnp.zeros_like(a), mnp.ones_like(a), mnp.empty_like(a), mnp.full_like(a, 7)):
        assert type(out) is np.ndarray and out.dtype == np.int16


@needs_gpu
def test_arrays_on_the_gpu_stay_there():
    import cupy
    x = mnp.asarray(np.linspace(-2, 2, 1001, dtype="float32"), device="cuda")
    assert isinstance(x, cupy.ndarray)
    y = mnp.exp(x)
    assert isinstance(y, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(y), np.exp(cupy.asnumpy(x)), rtol=1e-6)
    s = mnp.sum(mnp.multiply(x, x))
    assert isinstance(s, cupy.ndarray)
    np.testing.assert_allclose(float(s), float(np.sum(cupy.asnumpy(x) ** 2)), rtol=1e-5)
    z = mnp.zeros_like(x)
    assert isinstance(z, cupy.ndarray) and float(cupy.abs(z).max()) == 0.0
    back = mnp.asarray(y, device="cpu")
    assert type(back) is np.ndarray
    assert isinstance(mnp.astype(back, "float64", device=x.device), cupy.ndarray)
