"""Helpers of the CUDA tests: NVRTC compiles for sm_80 and sm_90 (no GPU needed);
tests that launch kernels are marked ``cuda`` and skip, visibly, without a GPU."""
import pytest

from mlc.backends.cuda.nvrtc import nvrtc_unavailable_reason
from mlc.backends.cuda.runtime import device_unavailable_reason
from mlc.target import Target

#: The architectures every generated kernel is compiled for.
ARCHS = ("sm_80", "sm_90")
TARGETS = {arch: Target.from_str(f"cuda -arch={arch}") for arch in ARCHS}

NVRTC_MISSING = nvrtc_unavailable_reason()
DEVICE_MISSING = device_unavailable_reason()


def needs_gpu(fn):
    """Marked ``cuda``; skipped, with the reason shown, where no CUDA device is present."""
    return pytest.mark.cuda(pytest.mark.skipif(DEVICE_MISSING is not None, reason=str(DEVICE_MISSING))(fn))
