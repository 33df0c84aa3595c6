"""The course's GPU chapter (examples/ch7_gpu_acceleration.py) at small sizes: each program
scheduled as the course does, compiled by NVRTC, run (GPU or emulator) and checked."""
import importlib

import pytest

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
