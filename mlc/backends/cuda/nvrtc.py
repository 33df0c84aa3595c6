"""CUDA C -> cubin (or PTX) with NVRTC from ``cuda-python``: no GPU and no driver needed.

>>> cubin = compile_cuda('extern "C" __global__ void k(float* a) { a[threadIdx.x] += 1.0f; }', "sm_80")  # doctest: +SKIP
"""
from __future__ import annotations

import functools

from ...errors import CompileError

__all__ = ["compile_cuda", "compile_log", "nvrtc_version", "nvrtc_unavailable_reason", "cuda_include_dir"]


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
def cuda_include_dir() -> str | None:
    """The folder of the CUDA runtime headers (``cuda_fp16.h``), from a wheel or a toolkit;
    None when there is none."""
    try:
        from cuda.pathfinder import find_nvidia_header_directory
    except ImportError:
        return None
    try:
        return find_nvidia_header_directory("cudart")
    except Exception:  # noqa: BLE001 - not found is reported by the caller
        return None


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
                 name: str = "mlc_kernels.cu") -> bytes:
    """Compile ``source`` for ``arch`` ("sm_80", "sm_90", ...): cubin bytes, or PTX text
    (as bytes) with ``ptx=True``. A compile error is a CompileError with NVRTC's log and
    the source."""
    nvrtc = _nvrtc()
    if nvrtc is None:
        raise CompileError(nvrtc_unavailable_reason(), source)
    if not (arch.startswith("sm_") and arch[3:].isdigit()):
        raise CompileError(f"compile_cuda: arch must look like 'sm_80', got {arch!r}", source)
    target = arch if not ptx else "compute_" + arch[3:]
    err, prog = nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [], [])
    _check(nvrtc, err, "nvrtcCreateProgram", source)
    try:
        opts = [f"-arch={target}".encode(), b"-default-device", b"-std=c++17",
                *(o.encode() for o in options)]
        if "#include <cuda_fp16.h>" in source or "#include <mma.h>" in source:
            headers = cuda_include_dir()
            if headers is None:
                raise CompileError("the kernel uses float16 or tensor cores, whose <cuda_fp16.h> and <mma.h> "
                                   "NVRTC finds among the "
                                   "CUDA headers: install them (pip install nvidia-cuda-runtime-cu12, or a "
                                   "CUDA toolkit with CUDA_HOME set)", source)
            opts.append(f"-I{headers}".encode())
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
        if "#include <cuda_fp16.h>" in source and cuda_include_dir() is not None:
            opts.append(f"-I{cuda_include_dir()}".encode())
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
