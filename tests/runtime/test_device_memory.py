"""A device memory registered from outside mlc (host memory posing as a device's) is used by
``mlc.nd``, ``mlc.numpy``'s ``device=``, DLPack and the jit's argument checks, with no file of
mlc naming it: the runtime knows device memories only through :mod:`mlc.runtime.memory`."""
import sys
import types

import numpy as np
import pytest

import mlc
import mlc.numpy as mnp
from mlc.errors import DeviceError
from mlc.runtime import memory as registry
from mlc.runtime import ndarray as nd
from mlc.tracer.arguments import leaf_signature


class ToyArray:
    """An array in the toy device's memory: it shows itself by its array interface only."""

    def __init__(self, data):
        self.data = np.ascontiguousarray(data)

    @property
    def __toy_array_interface__(self):
        return {"shape": self.data.shape, "typestr": self.data.dtype.str}

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype


class ToyMemory(registry.DeviceMemory):
    def __init__(self, devices=1):
        self.devices = devices

    def count(self):
        return self.devices

    def array_type(self, dev):
        return ToyArray

    def allocator(self, dev):
        return lambda shape, dtype: ToyArray(np.empty(shape, dtype))

    def to_device(self, x, dev):
        if dev.index >= self.devices:
            raise DeviceError(f"arrays on {dev}: this machine has {self.devices} toy device(s)")
        return x if isinstance(x, ToyArray) else ToyArray(np.asarray(x))

    def to_host(self, x):
        return x.data.copy()

    def shape_dtype(self, x):
        return x.shape, x.dtype


@pytest.fixture
def toy(monkeypatch):
    provider = types.ModuleType("toy_provider")
    monkeypatch.setitem(sys.modules, "toy_provider", provider)
    kind = registry.MemoryKind("toy", "__toy_array_interface__", (99,), ("toylib",), "toy_provider",
                               requirement="a toy accelerator")
    registry.register_memory_kind(kind)
    nd._device_count.cache_clear()
    implementation = ToyMemory()
    registry.register_memory("toy", implementation)
    yield implementation
    registry.unregister_memory_kind("toy")
    nd._device_count.cache_clear()


def test_arrays_on_a_registered_device_go_there_and_back(toy):
    dev = mlc.device("toy", 0)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    a = mlc.nd.array(x, dev)
    assert type(a.data) is ToyArray and a.device == dev and a.shape == (2, 3)
    np.testing.assert_array_equal(a.numpy(), x)
    assert hasattr(a, "__toy_array_interface__")  # libraries of that device take the wrapper
    assert mlc.nd.empty((4,), "int32", dev).dtype == np.dtype("int32")
    assert nd.device_array_type(dev) is ToyArray and nd.in_device_memory(a.data)
    np.testing.assert_array_equal(nd.to_device(a, mlc.cpu()), x)  # back to the host


def test_mlc_numpy_places_arrays_on_it_by_name(toy):
    from mlc.numpy.devices import device_of, devices, on_device, place
    assert devices() == ["cpu", "toy"]
    z = mnp.zeros(3, device="toy")
    assert device_of(z) == "toy" and on_device((np.ones(1), [z])) == "toy"
    np.testing.assert_array_equal(place(z, "cpu"), np.zeros(3))


def test_a_kind_without_a_device_here_says_what_it_needs(toy):
    toy.devices = 0
    nd._device_count.cache_clear()
    with pytest.raises(DeviceError, match="needs a toy accelerator, and this machine has none"):
        mnp.zeros(3, device="toy")


def test_the_jit_recognises_its_arrays_and_refuses_them_on_a_host_target(toy):
    key, passed, weak = leaf_signature(ToyArray(np.ones((2, 5), "float64")), lambda: "argument 'x'")
    assert key == ((2, 5), "float64", "gpu") and not weak and isinstance(passed, ToyArray)
    with pytest.raises(DeviceError, match="in toy device memory.*runs on the host"):
        mlc.jit(target="llvm")(lambda x: x + 1)(ToyArray(np.ones(3, "float32")))


def test_unknown_kinds_and_unregistered_implementations_are_named():
    with pytest.raises(mlc.MLCError, match="unknown device kind 'toy'"):
        mlc.device("toy")
    with pytest.raises(DeviceError, match="no device memory kind 'nope'"):
        registry.memory("nope")
    with pytest.raises(mlc.MLCError, match="register its MemoryKind first"):
        registry.register_memory("nope", ToyMemory())


def test_cuda_is_one_registered_kind_among_any():
    assert "cuda" in registry.memory_kinds() and mlc.cuda(1) == mlc.device("cuda", 1)
    assert registry.memory_requirement("cuda") == "a CUDA GPU with CuPy"
