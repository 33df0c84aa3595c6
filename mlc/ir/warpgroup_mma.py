"""The calls of a warpgroup MMA (Hopper's ``wgmma.mma_async``): what a schedule writes into a
kernel and a GPU backend renders and emulates, named once for both.

A warpgroup is :data:`WARPGROUP` consecutive threads. ``mma_name(n)`` multiplies a 64 x 16
float16 tile by a 16 x ``n`` one into float32 (``m64nNk16``, ``n`` in :data:`WGMMA_N`); the
other calls order the MMAs: :data:`FENCE` before a batch, :data:`COMMIT` after it,
:data:`WAIT` for all but a number of batches, :data:`PROXY_FENCE` between the threads'
writes of shared memory and the MMAs' reads of it.

>>> mma_name(128)
'mlc_wgmma_m64n128k16_f32f16'
"""
from __future__ import annotations

__all__ = ["WARPGROUP", "WGMMA_N", "mma_name", "FENCE", "COMMIT", "WAIT", "PROXY_FENCE"]

#: Threads of a warpgroup: four warps.
WARPGROUP = 128
#: The N of the MMAs there are (m64nNk16, float32 += float16 x float16).
WGMMA_N = (64, 128, 256)
FENCE, COMMIT, WAIT, PROXY_FENCE = "mlc_wgmma_fence", "mlc_wgmma_commit", "mlc_wgmma_wait", "mlc_fence_proxy_async"


def mma_name(n: int) -> str:
    """The external function of ``wgmma ... m64n{n}k16.f32.f16.f16``."""
    return f"mlc_wgmma_m64n{n}k16_f32f16"
