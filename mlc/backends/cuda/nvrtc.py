"""CUDA C -> cubin (or PTX) with NVRTC from ``cuda-python``: no GPU and no driver needed.

>>> cubin = compile_cuda('extern "C" __global__ void k(float* a) { a[threadIdx.x] += 1.0f; }', "sm_80")  # doctest: +SKIP
"""
from __future__ import annotations

import functools
import json
import os

from ...errors import CompileError
from ...runtime import disk_cache
from ...version import __version__

__all__ = ["compile_cuda", "compile_log", "nvrtc_version", "nvrtc_unavailable_reason", "cuda_include_dir",
           "cuda_include_dirs"]


@functools.cache
def _nvrtc():
    try:
        from cuda.bindings import nvrtc
    except ImportError:
        try:
            from cuda import nvrtc  # cuda-python before 12.6 named the module so
        except ImportError:
            return None
    return nvrtc


@functools.cache
def cuda_include_dirs() -> tuple[str, ...]:
    """The folders of the CUDA headers the generated code may include: the runtime's
    (``cuda_fp16.h``, ``mma.h``, from a wheel or a toolkit) and, where that folder lacks
    the ``crt/`` headers ``mma.h`` includes (CUDA 13's wheels ship them apart), a folder
    that has them (the ``nvcc`` headers, ``CUDA_HOME``/``CUDA_PATH``, ``/usr/local/cuda``).
    Empty when none is found."""
    try:
        from cuda import pathfinder
    except ImportError:
        return ()
    dirs: list[str] = []

    def found(name):
        try:
            return pathfinder.find_nvidia_header_directory(name)
        except Exception:  # noqa: BLE001 - not found is reported by the caller
            return None
    runtime = found("cudart")
    if runtime is None:
        return ()
    dirs.append(runtime)
    if not os.path.exists(os.path.join(runtime, "crt", "mma.h")):
        home = getattr(pathfinder, "get_cuda_path_or_home", lambda: None)()
        for d in (found("nvcc"), home and os.path.join(home, "include"), "/usr/local/cuda/include"):
            if d and os.path.exists(os.path.join(d, "crt", "mma.h")):
                dirs.append(d)
                break
    return tuple(dirs)


def cuda_include_dir() -> str | None:
    """The folder of the CUDA runtime headers (``cuda_fp16.h``); None when there is none."""
    dirs = cuda_include_dirs()
    return dirs[0] if dirs else None


def _header_options(source: str) -> list[bytes]:
    return [f"-I{d}".encode() for d in cuda_include_dirs()] if "#include <" in source else []


def nvrtc_unavailable_reason() -> str | None:
    """None when NVRTC can compile here; else what to install."""
    if _nvrtc() is None:
        return ("NVRTC is not installed: pip install 'mlc[cuda]' (cuda-python and "
                "nvidia-cuda-nvrtc-cu12) to compile CUDA kernels")
    return None


def nvrtc_version() -> tuple[int, int]:
    nvrtc = _nvrtc()
    if nvrtc is None:
        raise CompileError(nvrtc_unavailable_reason())
    _, major, minor = nvrtc.nvrtcVersion()
    return major, minor


def compile_cuda(source: str, arch: str = "sm_80", ptx: bool = False, options: tuple[str, ...] = (),
                 name: str = "mlc_kernels.cu", cache: bool = True) -> bytes:
    """Compile ``source`` for ``arch`` ("sm_80", "sm_90", ...): cubin bytes, or PTX text
    (as bytes) with ``ptx=True``. A compile error is a CompileError with NVRTC's log and
    the source. The same source compiled again is NVRTC's first result, kept in this
    process (the last :data:`COMPILED` compiles) and on disk (``MLC_CACHE_DIR/cuda``, keyed
    by the source, the architecture, the options and the NVRTC and mlc versions; trusted
    as :mod:`mlc.runtime.disk_cache` says), unless ``cache`` is False."""
    if not cache:
        return _nvrtc_compile(source, arch, ptx, tuple(options), name)
    return _compile(source, arch, ptx, tuple(options), name)


#: How many compiles :func:`compile_cuda` keeps.
COMPILED = 256


_MAGIC = b"mlc-cuda-cache 1\n"


@functools.lru_cache(maxsize=COMPILED)
def _compile(source: str, arch: str, ptx: bool, options: tuple[str, ...], name: str) -> bytes:
    """NVRTC's result for these arguments: from the disk cache, else compiled and stored there."""
    if _nvrtc() is None:
        raise CompileError(nvrtc_unavailable_reason(), source)
    key = {"source": disk_cache.digest(source.encode()), "arch": arch, "ptx": ptx, "options": list(options),
           "name": name, "nvrtc": list(nvrtc_version()), "mlc": __version__,
           "headers": list(cuda_include_dirs()) if "#include <" in source else []}
    folder = disk_cache.cache_directory("cuda")
    path = None if folder is None else os.path.join(
        folder, disk_cache.digest(json.dumps(key, sort_keys=True).encode()) + disk_cache.ENTRY_SUFFIX)
    if path is not None and os.path.exists(path):
        found = disk_cache.read_entry(path, _MAGIC)
        if found is not None and found[0].get("key") == key:
            return found[1]
        disk_cache.remove(path)
    out = _nvrtc_compile(source, arch, ptx, options, name)
    if path is not None:
        disk_cache.write_entry(path, _MAGIC, {"key": key}, out)
    return out


def _nvrtc_compile(source: str, arch: str, ptx: bool, options: tuple[str, ...], name: str) -> bytes:
    nvrtc = _nvrtc()
    if nvrtc is None:
        raise CompileError(nvrtc_unavailable_reason(), source)
    if not (arch.startswith("sm_") and arch[3:].removesuffix("a").isdigit()):
        raise CompileError(f"compile_cuda: arch must look like 'sm_80' (or 'sm_90a', the architecture-specific "
                           f"features such as wgmma), got {arch!r}", source)
    target = arch if not ptx else "compute_" + arch[3:]
    err, prog = nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [], [])
    _check(nvrtc, err, "nvrtcCreateProgram", source)
    try:
        opts = [f"-arch={target}".encode(), b"-default-device", b"-std=c++17",
                *(o.encode() for o in options)]
        if "#include <cuda_fp16.h>" in source or "#include <mma.h>" in source:
            if not cuda_include_dirs():
                raise CompileError("the kernel uses float16 or tensor cores, whose <cuda_fp16.h> and <mma.h> "
                                   "NVRTC finds among the "
                                   "CUDA headers: install them (pip install nvidia-cuda-runtime-cu12, or a "
                                   "CUDA toolkit with CUDA_HOME set)", source)
            opts += _header_options(source)
            if "#include <mma.h>" in source and not any(
                    os.path.exists(os.path.join(d, "crt", "mma.h")) for d in cuda_include_dirs()):
                raise CompileError("the kernel uses tensor cores (WMMA), whose <mma.h> includes <crt/mma.h>, "
                                   f"which none of the CUDA header folders {list(cuda_include_dirs())} holds: "
                                   "install a CUDA toolkit (and set CUDA_HOME) or the wheel of the CUDA "
                                   "headers that holds crt/", source)
        (err,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise CompileError(f"NVRTC could not compile the generated CUDA C for {arch}:\n"
                               f"{_log(nvrtc, prog)}", source)
        if ptx:
            err, size = nvrtc.nvrtcGetPTXSize(prog)
            _check(nvrtc, err, "nvrtcGetPTXSize", source)
            out = b" " * size
            (err,) = nvrtc.nvrtcGetPTX(prog, out)
            _check(nvrtc, err, "nvrtcGetPTX", source)
            return out.rstrip(b"\0")
        err, size = nvrtc.nvrtcGetCUBINSize(prog)
        _check(nvrtc, err, "nvrtcGetCUBINSize", source)
        out = b" " * size
        (err,) = nvrtc.nvrtcGetCUBIN(prog, out)
        _check(nvrtc, err, "nvrtcGetCUBIN", source)
        return out
    finally:
        nvrtc.nvrtcDestroyProgram(prog)


def compile_log(source: str, arch: str = "sm_80", options: tuple[str, ...] = (),
                name: str = "mlc_kernels.cu") -> str:
    """NVRTC's log of compiling ``source`` to a cubin for ``arch`` with ``options`` (with
    ``("-Xptxas", "-v")``: ptxas's resource report per kernel). A compile error is a
    CompileError, as in :func:`compile_cuda`."""
    nvrtc = _nvrtc()
    if nvrtc is None:
        raise CompileError(nvrtc_unavailable_reason(), source)
    err, prog = nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [], [])
    _check(nvrtc, err, "nvrtcCreateProgram", source)
    try:
        opts = [f"-arch={arch}".encode(), b"-default-device", b"-std=c++17", *(o.encode() for o in options)]
        opts += _header_options(source)
        (err,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise CompileError(f"NVRTC could not compile the generated CUDA C for {arch}:\n"
                               f"{_log(nvrtc, prog)}", source)
        return _log(nvrtc, prog)
    finally:
        nvrtc.nvrtcDestroyProgram(prog)


def _log(nvrtc, prog) -> str:
    err, size = nvrtc.nvrtcGetProgramLogSize(prog)
    log = b" " * size
    nvrtc.nvrtcGetProgramLog(prog, log)
    return log.rstrip(b"\0").decode(errors="replace")


def _check(nvrtc, err, what: str, source: str) -> None:
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise CompileError(f"NVRTC: {what} failed ({err!r})", source)
