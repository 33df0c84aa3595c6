"""The course's GPU chapter (examples/ch7_gpu_acceleration.py) at small sizes: each program
scheduled as the course does, compiled by NVRTC, run (GPU or emulator) and checked."""
import importlib

import pytest

import mlc
from mlc import te

from .conftest import NVRTC_MISSING


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_ch7_gpu_acceleration(capsys):
    results = importlib.import_module("examples.ch7_gpu_acceleration").main(n_vec=1000, n_window=1000, n_mm=72)
    out = capsys.readouterr().out
    assert len(results) == 4 and all(r["seconds"] >= 0 for r in results)
    assert out.count("matches NumPy") == 4
    # the course's window sum: the block's 130-element window, fetched by threadIdx.x
    assert "A_shared = T.alloc_buffer((1002,), scope=\"shared\")" in out
    assert "for ax0_0 in range(2):" in out and 'for ax0_1 in T.thread_binding(128, thread="threadIdx.x"):' in out
    assert "__shared__ float A_shared[130];" in results[1]["cuda"]
    assert "__shared__ float A_shared[256];" in results[3]["cuda"]
    assert all(r["where"] in ("GPU", "CUDA emulator (no GPU here)") for r in results)


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_the_course_reads_the_cuda_source_of_an_emulated_or_compiled_build():
    """Chapter 7 prints ``rt_mod.imported_modules[0].get_source()``: the CUDA C, also of an
    emulator build (rendered when asked for), the backend's own source by default."""
    A = te.placeholder((64,), "float32", "A")
    B = te.compute((64,), lambda i: A[i] + 1, "B")
    mod = mlc.IRModule({"main": te.create_prim_func([A, B])})
    sources = {t: mlc.build(mod, t).imported_modules[0].get_source() for t in ("cuda-emulator", "cuda", "llvm")}
    assert 'extern "C" __global__' in sources["cuda-emulator"] and sources["cuda-emulator"] == sources["cuda"]
    assert sources["llvm"].startswith("; ModuleID")
