"""Running CUDA kernels through CuPy: load the generated source as a ``RawModule``,
check CuPy arguments, allocate workspace from CuPy's pool and launch on the current
stream. Only this module imports CuPy, and only when a CUDA module is loaded.
"""
from __future__ import annotations

import functools

import numpy as np

from ...errors import DeviceError, DTypeError, MLCError
from ...ir.buffer import Buffer
from ...ir.expr import IntImm
from ...ir.tir import PrimFunc
from ...runtime.arguments import ArgumentChecker, ArrayKind, written_params
from ...runtime.module import Module
from ...runtime.memory import dlpack_memory_kind
from ...runtime.ndarray import FAST_DEVICE_ARRAYS
from ...runtime.timing import TimeResult
from ...runtime.graph_main import GraphMainProgram
from .codegen import CudaSource
from .export import export_bundle

__all__ = ["cupy_or_none", "device_unavailable_reason", "device_arch", "load_cubin", "CudaFunction",
           "CudaGraphMain", "CudaModule", "NO_DEVICE", "cupy_arrays", "device_view"]

NO_DEVICE = ("no CUDA device was found (CuPy sees none); target='cuda-emulator' runs the same "
             "kernels on the CPU with NumPy arrays")


@functools.cache
def cupy_or_none():
    try:
        import cupy
    except ImportError:
        return None
    FAST_DEVICE_ARRAYS.add(cupy.ndarray)
    return cupy


@functools.cache
def device_unavailable_reason() -> str | None:
    """None when CuPy can launch kernels here; else why not, said for the user."""
    cupy = cupy_or_none()
    if cupy is None:
        return ("CuPy is not installed: pip install 'mlc[cuda]' (cupy-cuda12x) to run CUDA kernels; "
                "target='cuda-emulator' runs the same kernels on the CPU with NumPy arrays")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no driver, no device: CuPy raises its own runtime errors
        return NO_DEVICE
    return None if count > 0 else NO_DEVICE


@functools.cache
def device_arch() -> str | None:
    """The current GPU's architecture ("sm_90") where CuPy sees one, else None."""
    if device_unavailable_reason() is not None:
        return None
    return "sm_" + cupy_or_none().cuda.Device().compute_capability


def load_cubin(cubin: bytes, code: str):
    """The kernels of ``cubin`` (compiled for the current GPU by NVRTC) loaded through
    CuPy; where the driver refuses the cubin (one from an NVRTC newer than the driver),
    CuPy compiles ``code`` itself. ``get_function(name)`` of either launches a kernel as
    ``f(grid, block, args)``."""
    cupy = cupy_or_none()
    try:
        module = cupy.cuda.function.Module()
        module.load(cubin)
        return module
    except cupy.cuda.driver.CUDADriverError:
        return cupy.RawModule(code=code, options=("-std=c++17",))


#: CUDA's CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.
_MAX_DYNAMIC_SHARED_ATTRIBUTE = 8


def _with_shared(kernel, shared_bytes: int):
    """``kernel`` (a CuPy function) launched with ``shared_bytes`` of dynamic shared memory,
    opted in above the 48 KiB default; as it is where the kernel needs none. A
    ``cupy.cuda.function.Function`` (a loaded cubin) is opted in through the driver
    (``cuFuncSetAttribute`` on its ``ptr``), a ``RawKernel`` through its property."""
    if not shared_bytes:
        return kernel
    ptr = getattr(kernel, "ptr", None)
    if isinstance(ptr, int) and ptr:
        cupy_or_none().cuda.driver.funcSetAttribute(ptr, _MAX_DYNAMIC_SHARED_ATTRIBUTE, shared_bytes)
    else:
        kernel.max_dynamic_shared_size_bytes = shared_bytes
    return lambda grid, block, args: kernel(grid, block, args, shared_mem=shared_bytes)


def _shape(b: Buffer) -> tuple[int, ...]:
    return tuple(e.value if isinstance(e, IntImm) else -1 for e in b.shape)


def _refusal(name: str, pname: str, pdtype: str, arg) -> MLCError | None:
    if isinstance(arg, np.ndarray):
        return DeviceError(f"{name}(): argument {pname} is a NumPy array in host memory; "
                           f"this CUDA function takes CuPy arrays: pass cupy.asarray(x) (or build "
                           "with target='cuda-emulator' to run on NumPy arrays)")
    if not isinstance(arg, cupy_or_none().ndarray):
        return DTypeError(f"{name}(): argument {pname} must be a cupy.ndarray of {pdtype}, "
                          f"got {type(arg).__name__}")
    return None


def _device_error(name: str, pname: str, arg) -> MLCError | None:
    current = cupy_or_none().cuda.Device().id
    if arg.device.id == current:
        return None
    return DeviceError(f"{name}(): argument {pname} lives on GPU {arg.device.id}, not on "
                       f"the current device {current}")


def _plain(specs, written: frozenset[int], noalias: bool):
    """``ok(args)``: every argument a contiguous CuPy array of its parameter's dtype and shape
    on the current device (None for a function with symbolic shapes)."""
    if any(None in shape for _, _, _, shape in specs):
        return None
    expected = tuple((dtype, shape) for _, _, dtype, shape in specs)
    cupy = cupy_or_none()

    def ok(args) -> bool:
        if len(args) != len(expected):
            return False
        ndarray, device = cupy.ndarray, cupy.cuda.runtime.getDevice()
        for a, (dtype, shape) in zip(args, expected):
            if not (type(a) is ndarray and a.dtype == dtype and a.shape == shape and a.flags.c_contiguous
                    and a.device.id == device):
                return False
        return True
    return ok


def device_view(a):
    """A GPU array of another library (``__cuda_array_interface__`` or ``__dlpack__`` on a
    CUDA device: a torch.Tensor on the GPU) as a CuPy array of the same memory (no copy);
    anything else as it is."""
    cupy = cupy_or_none()
    if isinstance(a, (np.ndarray, cupy.ndarray)):
        return a
    if hasattr(a, "__cuda_array_interface__"):
        return cupy.asarray(a)
    if hasattr(a, "__dlpack__") and dlpack_memory_kind(a) == "cuda":
        return cupy.from_dlpack(a)
    return a


def cupy_arrays() -> ArrayKind:
    """CuPy arrays on the current device: what a CUDA function takes (CuPy imported); other
    libraries' GPU arrays are taken as views (:func:`device_view`)."""
    return ArrayKind(cupy_or_none().ndarray, _refusal, "cupy", host=False, device_error=_device_error,
                     plain=_plain, convert=device_view)


class CudaGraphMain:
    """A graph's ``main`` (:mod:`mlc.ir.calls`) on the GPU: ``f(*cupy_arrays)`` launches the
    kernels it calls in order, on the current stream, each call's workspace taken from
    CuPy's memory pool (``cupy.empty``) and given back when the call returns. It has the
    attributes :class:`~mlc.runtime.entry.MainEntry` reads of a Function."""

    __slots__ = ("name", "func", "kernel", "written", "noalias", "specs", "native", "_check")

    def __init__(self, name: str, func: PrimFunc, functions: dict):
        self.name, self.func = name, func
        # the calls main makes pass its checked arguments and the arrays it allocates: unchecked
        launches = {n: (f.launch_arrays if isinstance(f, CudaFunction) else f) for n, f in functions.items()}
        self.kernel = GraphMainProgram(func, launches, name, empty=cupy_or_none().empty).run
        self.written = written_params(func)
        self.noalias = True
        self._check = ArgumentChecker(name, func.params, self.written, kind=cupy_arrays())
        self.specs = self._check.specs
        self.native = None

    def __call__(self, *args) -> None:
        self.kernel(self._check.checked(args))

    def __repr__(self) -> str:
        return f"<mlc cuda graph main {self.name}({', '.join(b.name for b in self.func.params)})>"


class CudaFunction:
    """One function of a CUDA module: ``f(*cupy_arrays)`` launches its kernels in order on
    the current CuPy stream (destination passing, like every mlc function)."""

    def __init__(self, name: str, signature: tuple[Buffer, ...], workspace: tuple[Buffer, ...],
                 source: CudaSource, raw_module):
        self.name, self.signature, self.workspace, self.source = name, signature, workspace, source
        self._kernels = [(_with_shared(raw_module.get_function(l.kernel), l.shared_bytes), l.grid, l.block, l.args)
                         for l in source.launches]
        self._workspace = tuple((_shape(b), b.dtype) for b in workspace)
        self._check = ArgumentChecker(name, signature, kind=cupy_arrays())

    def __call__(self, *args) -> None:
        self.launch(self._check.checked(args))

    def launch(self, args) -> None:
        """Launch every kernel on checked arguments (no checks: ``time_evaluator`` calls this)."""
        if self._workspace:
            empty = cupy_or_none().empty
            args = list(args) + [empty(shape, dtype) for shape, dtype in self._workspace]
        for kernel, grid, block, params in self._kernels:
            kernel(grid, block, tuple([args[n] for n in params]))

    def launch_arrays(self, *args) -> None:
        """:meth:`launch` with the arrays as arguments (a graph main's calls)."""
        self.launch(args)

    def __repr__(self) -> str:
        return f"<mlc cuda function {self.name}({', '.join(b.name for b in self.signature)})>"


class CudaModule(Module):
    """The result of building for ``cuda``: ``lib["f"](*cupy_arrays)``, ``get_source("cuda")``,
    ``time_evaluator`` timed with CUDA events, and :meth:`export` (built without a GPU too,
    whose functions then say when called that no device was found)."""

    SOURCE_FORMAT = "cuda"
    #: what the backend's codegen made (a :class:`~.backend.CudaArtifact`), for :meth:`export`
    artifact = None

    def export(self, path, *, cc=None, format: str = "bundle", entries=None, constants=(), archs=None):
        """Write this module as a CUDA bundle (:mod:`.export`) that ``mlc.runtime.load``
        loads with NumPy and CuPy only, without NVRTC: a zip file at ``path`` (say
        ``model.cubin-bundle``), or a directory where ``path`` is one or ends with ``/``.
        It holds cubins for ``archs`` (default: the build's, sm_80 and sm_90) and the PTX of
        the lowest. ``entries``/``constants``: what a jitted function's export passes
        (default: every function, destination passing). Returns ``path``."""
        if format not in ("bundle", "so"):
            raise MLCError(f"export: a module built for cuda exports as a bundle of cubins (format='bundle'), "
                           f"got format={format!r}; for a portable or CPU form build it for 'llvm'")
        if cc is not None:
            raise MLCError("export: cc= names a C compiler for CPU libraries; a CUDA bundle needs none")
        if self.artifact is None:
            raise MLCError("export: this CUDA module has no compiled code to export")
        return export_bundle(self.artifact, self.get_source("cuda"), self.target, path, entries=entries,
                             constants=constants, archs=archs)

    def time_evaluator(self, name: str, dev=None, number: int = 10, repeat: int = 3, warmup: int = 1):
        """A timer of ``self[name]`` measured with CUDA events on the current stream."""
        fn = self[name]
        reason = device_unavailable_reason()
        if reason is not None:
            raise DeviceError(f"cannot time {name!r}: {reason}")
        cupy = cupy_or_none()

        def evaluate(*args) -> TimeResult:
            args = fn._check.checked(args)
            for _ in range(warmup):
                fn.launch(args)
            results = []
            for _ in range(repeat):
                start, stop = cupy.cuda.Event(), cupy.cuda.Event()
                start.record()
                for _ in range(number):
                    fn.launch(args)
                stop.record()
                stop.synchronize()
                results.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3 / number)
            return TimeResult(tuple(results))
        return evaluate
