"""Load a CUDA bundle ``lib.export`` wrote for a ``cuda`` module, with NumPy and CuPy only.

No compiler runs: neither mlc's nor NVRTC. The bundle (:mod:`mlc.backends.cuda.export`)
holds cubins, a PTX fallback, the launches of each function and this file, which
:mod:`mlc.runtime.bundle` runs after it has checked every file against its SHA-256.
:func:`load` picks the cubin for this GPU (the same architecture, or an older minor one
of the same major; else the PTX, which the driver compiles), loads it through CuPy
(``cuModuleLoadData``) and launches the kernels in the order and geometry the metadata
says:

* ``lib[name](*cupy_arrays)`` for a function of ``mlc.build``: destination passing,
  arguments checked as the in-process CUDA module checks them;
* ``lib(x)`` (or ``lib["main"](x)``) for a jitted function: inputs CuPy arrays (NumPy
  arrays and host DLPack objects are copied to the GPU), outputs allocated per call
  on the GPU, Python numbers, random keys, checks of traced ints and write-back as the
  jitted call does them (:class:`~mlc.runtime.loader._Around`).

This module imports only the standard library and NumPy (CuPy when a bundle is
loaded): a bundle carries it, and a process without mlc runs that copy, with the
host loader's names as ``HOST_LOADER``.
"""
from __future__ import annotations

import io
import os

import numpy as np

try:
    from ...runtime import loader as _loader
    from ...errors import DeviceError
except ImportError:  # run from a bundle's own copy, outside the mlc package
    _loader = HOST_LOADER  # noqa: F821 - set by mlc.runtime.bundle before this file runs

    class DeviceError(_loader.MLCError):
        """No GPU, or an array on the wrong device."""

LoadError, ShapeError, DTypeError = _loader.LoadError, _loader.ShapeError, _loader.DTypeError

__all__ = ["load", "pick_image", "Bundle"]


def _cupy():
    try:
        import cupy
    except ImportError:
        raise LoadError("a CUDA bundle needs CuPy to load (pip install cupy-cuda12x or cupy-cuda13x); "
                        "NVRTC and mlc's compiler are not needed") from None
    return cupy


def pick_image(metadata: dict, files: dict, arch: str) -> tuple[str, bytes]:
    """(member, image) to load on a GPU of architecture ``arch`` ("sm_86"): the cubin of that
    architecture, else of the newest older minor one of its major, else the PTX where its
    architecture is not newer than the GPU's."""
    major, minor = divmod(int(arch[3:]), 10)
    best = None
    for a in metadata.get("archs", ()):
        m, n = divmod(int(a[3:]), 10)
        if m == major and n <= minor and (best is None or int(a[3:]) > int(best[3:])):
            best = a
    if best is not None:
        member = f"kernels.{best}.cubin"
        return member, files[member]
    ptx = metadata.get("ptx")
    if ptx and int(ptx.split("_")[1]) <= int(arch[3:]):
        member = f"kernels.{ptx}.ptx"
        return member, files[member] + b"\0"
    raise LoadError(f"the bundle holds code for {', '.join(metadata.get('archs', ()))} (and PTX for {ptx}); this "
                    f"GPU is {arch}, which none of them runs on: export it with archs=['{arch}']")


def load(path: str, metadata: dict, files: dict, cupy=None) -> Bundle:
    """The CUDA bundle at ``path`` (its checked ``metadata`` and ``files``), loaded on the
    current GPU."""
    if metadata.get("kind") != "cuda-bundle":
        raise LoadError(f"{path} is not a CUDA bundle exported by mlc (its metadata says otherwise)")
    cupy = cupy or _cupy()
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no driver or no device: CuPy raises its own errors
        count = 0
    if not count:
        raise DeviceError(f"cannot load {path}: no CUDA device was found (CuPy sees none)")
    arch = "sm_" + str(cupy.cuda.Device().compute_capability)
    member, image = pick_image(metadata, files, arch)
    module = cupy.cuda.function.Module()
    try:
        module.load(image)
    except cupy.cuda.driver.CUDADriverError as err:
        raise LoadError(f"the CUDA driver refused {member} of {path} on this {arch} GPU ({err}); a driver "
                        "older than the NVRTC that compiled it refuses its code: update the driver, or export "
                        "the module with this machine's mlc") from None
    return Bundle(os.fspath(path), metadata, files, module, cupy, member)


class Bundle(_loader.Entries):
    """A loaded CUDA bundle: ``lib[name]`` is an entry; ``lib(*args)`` calls the one entry
    of a bundle that has a single one (a jitted function's)."""

    def __init__(self, path: str, metadata: dict, files: dict, module, cupy, image: str):
        self.path, self.metadata, self.image = path, metadata, image
        functions: dict = {}
        for name, meta in metadata["functions"].items():
            if meta["kind"] == "kernels":
                functions[name] = KernelFunction(meta, module, cupy)
        for name, meta in metadata["functions"].items():
            if meta["kind"] == "main":
                functions[name] = MainFunction(meta, functions, cupy)
        self.functions: dict = {}
        for entry in metadata["entries"]:
            target = functions[entry["function"]]
            if entry["kind"] == "graph":
                consts = [cupy.asarray(np.load(io.BytesIO(files[m]), allow_pickle=False))
                          for m in entry.get("constants", ())]
                self.functions[entry["name"]] = GraphEntry(entry, target, consts, cupy)
            else:
                self.functions[entry["name"]] = target
        self._only = self._sole()

    def __call__(self, *args):
        if self._only is None:
            raise self._not_sole()
        return self._only(*args)

    def __repr__(self) -> str:
        return f"<mlc CUDA Bundle {self.path}: {', '.join(self.functions)} ({self.image})>"


#: DLPack's device types of GPU memory (kDLCUDA, kDLCUDAManaged).
_DLPACK_CUDA = (2, 13)


def device_view(cupy, a):
    """A GPU array of another library (``__cuda_array_interface__``, or ``__dlpack__`` on a
    CUDA device: a torch.Tensor on the GPU) as a CuPy array of its memory; anything else as
    it is."""
    if isinstance(a, (np.ndarray, cupy.ndarray)):
        return a
    if hasattr(a, "__cuda_array_interface__"):
        return cupy.asarray(a)
    if hasattr(a, "__dlpack__") and hasattr(a, "__dlpack_device__") and a.__dlpack_device__()[0] in _DLPACK_CUDA:
        return cupy.from_dlpack(a)
    return a


def _check_array(name: str, pname: str, dtype: np.dtype, shape: tuple, a, cupy, expected: str) -> None:
    """Raise unless ``a``, for parameter ``pname`` of ``name``, is a CuPy array (``expected``
    says what the function takes) of ``dtype`` and ``shape``."""
    if not isinstance(a, cupy.ndarray):
        raise DTypeError(f"{name}(): argument {pname} must be {expected}, got {type(a).__name__}")
    _loader.check_dtype(name, pname, dtype, a)
    if a.shape != shape:
        raise _loader.wrong_shape(name, pname, shape, a)


class KernelFunction:
    """One kernel function: ``f(*cupy_arrays)`` launches its kernels on the current stream,
    destination passing, each argument checked (a contiguous CuPy array on the current
    device, of the parameter's dtype and shape)."""

    def __init__(self, meta: dict, module, cupy):
        self.name, self.cupy = meta["name"], cupy
        self.params = [(n, np.dtype(d), tuple(s)) for n, s, d in meta["params"]]
        self.workspace = [(tuple(s), np.dtype(d)) for s, d in meta["workspace"]]
        self.kernels = [(module.get_function(k), tuple(g), tuple(b), tuple(a)) for k, g, b, a in meta["launches"]]

    def check(self, args) -> None:
        cupy = self.cupy
        _loader.check_count(self.name, self.params, args)
        device = cupy.cuda.runtime.getDevice()
        for (pname, dtype, shape), a in zip(self.params, args):
            if isinstance(a, np.ndarray):
                raise DeviceError(f"{self.name}(): argument {pname} is a NumPy array in host memory; this CUDA "
                                  "function takes CuPy arrays: pass cupy.asarray(x)")
            _check_array(self.name, pname, dtype, shape, a, cupy, f"a cupy.ndarray of {dtype.name}")
            if not a.flags.c_contiguous:
                raise ShapeError(f"{self.name}(): argument {pname} must be C-contiguous; pass "
                                 "cupy.ascontiguousarray(x)")
            if a.device.id != device:
                raise DeviceError(f"{self.name}(): argument {pname} lives on GPU {a.device.id}, not on the "
                                  f"current device {device}")

    def __call__(self, *args) -> None:
        if any(type(a) is not self.cupy.ndarray for a in args):
            args = tuple(device_view(self.cupy, a) for a in args)
        self.check(args)
        self.launch(args)

    def launch(self, args) -> None:
        """Every kernel, on arguments already checked."""
        if self.workspace:
            args = list(args) + [self.cupy.empty(shape, dtype) for shape, dtype in self.workspace]
        for kernel, grid, block, params in self.kernels:
            kernel(grid, block, tuple([args[n] for n in params]))

    def __repr__(self) -> str:
        return f"<mlc CUDA bundle function {self.name}({', '.join(p[0] for p in self.params)})>"


class MainFunction(KernelFunction):
    """A graph's ``main``: its steps (:class:`~mlc.runtime.loader.MainSteps`) on the GPU, its
    workspace from CuPy's pool."""

    def __init__(self, meta: dict, functions: dict, cupy):
        self.name, self.cupy = meta["name"], cupy
        self.params = [(n, np.dtype(d), tuple(s)) for n, s, d in meta["params"]]
        self.launch = _loader.MainSteps(self.name, meta["steps"], functions, cupy.empty).run


class GraphEntry:
    """A jitted function's ``main`` as its callers call it: ``f(*inputs)`` -> one array or a
    tuple, the outputs allocated on the GPU per call."""

    def __init__(self, entry: dict, main: MainFunction, constants: list, cupy):
        self.name, self.main, self.constants, self.cupy = entry["name"], main, constants, cupy
        n_in = entry["n_inputs"]
        self.inputs = main.params[:n_in]
        self.outputs = main.params[n_in + len(constants):]
        self.order, self.single = tuple(entry["outputs"]), entry["single"]
        call = entry.get("call")
        self._around = None
        if call is not None:
            self._around = _loader._Around(self.name, call, [(n, d, s, "in") for n, d, s in self.inputs],
                                           convert=self._in_place)
            self.single = False
        self._single = entry["single"]

    def _in_place(self, a):
        """An argument as the array a write-back lands in: a CuPy or NumPy array as it is, a
        host DLPack object as the NumPy array of its memory."""
        if isinstance(a, (np.ndarray, self.cupy.ndarray)) or hasattr(a, "__cuda_array_interface__"):
            return a
        return _loader.host_array(a)

    def _to_device(self, a):
        cupy = self.cupy
        a = device_view(cupy, a)
        if isinstance(a, cupy.ndarray):
            return a
        if isinstance(a, np.ndarray):
            return cupy.asarray(a)
        host = _loader.host_array(a)
        return cupy.asarray(host) if isinstance(host, np.ndarray) else host

    def _run(self, args):
        _loader.check_count(self.name, self.inputs, args)
        arrays = []
        for (pname, dtype, shape), a in zip(self.inputs, args):
            a = self._to_device(a)
            _check_array(self.name, pname, dtype, shape, a, self.cupy,
                         f"an array of {dtype.name} (CuPy, or NumPy copied to the GPU)")
            arrays.append(a if a.flags.c_contiguous else self.cupy.ascontiguousarray(a))
        outs = [self.cupy.empty(shape, dtype) for _, dtype, shape in self.outputs]
        self.main.launch(arrays + list(self.constants) + outs)
        return _loader.returned(outs, self.order, self.single)

    def __call__(self, *args):
        if self._around is not None:
            return self._around(args, self._run, self._single)
        return self._run(args)

    def __repr__(self) -> str:
        return f"<mlc CUDA bundle entry {self.name}>"
