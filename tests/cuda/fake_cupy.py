"""A stand-in for CuPy: "device" arrays in host memory and kernels that record their
launches instead of running, so that the host side of the ``cuda`` runtime runs
without a GPU (tests/cuda/test_runtime_host_side.py, tests/cuda/test_jit.py). It imports
NumPy only, so a process without mlc may stand it in for ``cupy`` (tests/cuda/test_bundle.py)."""
import numpy as np


class DeviceResult:
    """A device array as a result reaches NumPy code: no implicit conversion to NumPy (CuPy
    refuses it), a ``get()`` copy to the host."""

    __cuda_array_interface__ = {}

    def __init__(self, data):
        self._data = np.asarray(data)

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed")

    def get(self):
        return self._data.copy()


class FakeArray:
    """A "device" array: NumPy memory behind CuPy's attributes (not an ndarray, as CuPy's is not)."""

    def __init__(self, data: np.ndarray):
        self.data = data

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    flags = property(lambda self: self.data.flags)
    size = property(lambda self: self.data.size)
    device = property(lambda self: FakeCuPy.cuda.Device(0))

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.data.shape, "typestr": self.data.dtype.str, "version": 3,
                "data": (self.data.ctypes.data, False), "strides": None}

    def reshape(self, *shape):
        return FakeArray(self.data.reshape(*shape))

    def view(self, dtype):
        return FakeArray(self.data.view(dtype))

    def __getitem__(self, key):
        return FakeArray(self.data[key])

    def __setitem__(self, key, value):
        self.data[key] = value.data if isinstance(value, FakeArray) else value

    def copy(self):
        return FakeArray(self.data.copy())

    def __int__(self):
        return int(self.data)

    def item(self):
        return self.data.item()

    def get(self):
        return self.data.copy()


class OtherLibrarysGpuArray:
    """A GPU array of another library (a torch.Tensor on the GPU): CUDA array interface and DLPack."""

    def __init__(self, fake: FakeArray, interface: bool):
        self.fake = fake
        if interface:
            self.__cuda_array_interface__ = fake.__cuda_array_interface__

    def __dlpack__(self, **kwargs):
        raise AssertionError("the stand-in's from_dlpack reads .fake")

    def __dlpack_device__(self):
        return (2, 0)  # kDLCUDA


class FakeModule:
    def load(self, cubin: bytes) -> None:
        assert cubin[:4] == b"\x7fELF"  # NVRTC's cubin for the "device's" architecture

    def get_function(self, name: str):
        return FakeFunction(name)


class FakeFunction:
    """A kernel of a loaded cubin (``cupy.cuda.function.Function``): records its launches;
    dynamic shared memory past 48 KiB must be opted into through the driver
    (``cuFuncSetAttribute`` on its ``ptr``) before a launch asks for it, as on a GPU."""

    def __init__(self, name: str):
        self.name, self.ptr = name, 0x1000 + len(FakeCuPy.opted_in)
        FakeCuPy.opted_in[self.ptr] = 0

    def __call__(self, grid, block, args, shared_mem=0):
        if shared_mem > max(FakeCuPy.opted_in[self.ptr], 48 * 1024):
            raise FakeCuPy.cuda.driver.CUDADriverError("CUDA_ERROR_INVALID_VALUE: too much shared memory")
        FakeCuPy.launches.append((self.name, grid, block, args))
        FakeCuPy.shared_mem.append(shared_mem)


class FakeCuPy:
    ndarray = FakeArray
    launches: list = []
    shared_mem: list = []  # the dynamic shared memory of each launch
    opted_in: dict = {}  # function ptr -> its CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    allocated = 0

    synchronized = 0  # how many times the current stream was waited for

    class cuda:
        class runtime:
            getDevice = staticmethod(lambda: 0)
            getDeviceCount = staticmethod(lambda: 1)

        @staticmethod
        def get_current_stream():
            class Stream:
                @staticmethod
                def synchronize():
                    FakeCuPy.synchronized += 1
            return Stream

        class Device:
            compute_capability = "90"

            def __init__(self, index=0):
                self.id = index

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        class function:
            Module = FakeModule

        class driver:
            class CUDADriverError(Exception):
                pass

            @staticmethod
            def funcSetAttribute(ptr: int, attribute: int, value: int) -> None:
                assert attribute == 8  # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
                FakeCuPy.opted_in[ptr] = value

    @classmethod
    def empty(cls, shape, dtype):
        cls.allocated += 1
        return FakeArray(np.zeros(shape, dtype))

    @staticmethod
    def asarray(x):
        if isinstance(x, FakeArray):
            return x
        if hasattr(x, "__cuda_array_interface__") and hasattr(x, "fake"):  # another library's GPU array
            return x.fake
        return FakeArray(np.array(x))

    @staticmethod
    def from_dlpack(x):
        return x.fake

    @staticmethod
    def ascontiguousarray(x):
        return FakeArray(np.ascontiguousarray(x.data))


def install(monkeypatch) -> list:
    """CuPy and an sm_90 device, stood in for; returns the list the launches are recorded in
    (undo ``FAST_DEVICE_ARRAYS`` with :func:`uninstall`)."""
    from mlc.backends.cuda import backend as cuda_backend, runtime as cuda_runtime
    from mlc.backends.cuda import memory as cuda_memory
    from mlc.runtime.ndarray import FAST_DEVICE_ARRAYS
    FakeCuPy.launches = []
    FakeCuPy.shared_mem = []
    FakeCuPy.opted_in = {}
    monkeypatch.setattr(cuda_runtime, "cupy_or_none", lambda: FakeCuPy)
    for module in (cuda_runtime, cuda_backend):
        monkeypatch.setattr(module, "device_unavailable_reason", lambda: None)
        monkeypatch.setattr(module, "device_arch", lambda: "sm_90")
    monkeypatch.setattr(cuda_memory, "_cupy", lambda dev: FakeCuPy)
    FAST_DEVICE_ARRAYS.add(FakeArray)
    return FakeCuPy.launches


def uninstall() -> None:
    from mlc.runtime.ndarray import FAST_DEVICE_ARRAYS
    FAST_DEVICE_ARRAYS.discard(FakeArray)
