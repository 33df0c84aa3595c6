"""The ``cuda`` and ``cuda-emulator`` target kinds: ``-arch=sm_XY`` names the GPU architecture.

``Target.from_str("cuda -arch=sm_90")`` compiles for compute capability 9.0; without
``-arch=`` kernels are compiled for sm_80. The emulator takes the same option, so a
program is emulated exactly as it would be compiled. Both are GPU kinds (keys
``("gpu",)``) with the limits every architecture mlc compiles for (sm_70 and later)
shares: 1024 threads and 48 KiB of static shared memory per block, warps of 32.

>>> from mlc.target import Target
>>> Target.from_str("cuda-emulator").limits.max_shared_memory_per_block
49152
"""
from __future__ import annotations

import re

from ...errors import MLCError
from ...target import DeviceLimits, Target, TargetKind

__all__ = ["CUDA_KIND", "CUDA_EMULATOR_KIND", "CUDA_LIMITS"]

#: Static shared memory without opt-in, 1024 threads a block, warps of 32; with the opt-in, an
#: A100's 163 KiB, which every sm_80+ data-centre GPU has (an H100 227).
CUDA_LIMITS = DeviceLimits(max_threads_per_block=1024, max_shared_memory_per_block=48 * 1024, warp_size=32,
                           max_dynamic_shared_memory_per_block=163 * 1024,
                           max_block=(1024, 1024, 64), max_grid=((1 << 31) - 1, 65535, 65535))


def _validate(target: Target) -> None:
    if target.arch and not re.fullmatch(r"sm_[0-9]{2,3}a?", target.arch):
        raise MLCError(f"target {target.kind}: -arch={target.arch} is not a CUDA architecture; write it "
                       "like -arch=sm_80 (A100) or -arch=sm_90 (H100)")


def _compile_arch(target: Target) -> str:
    """The architecture a build for ``target`` compiles for: the one it names, else the present
    GPU's, else sm_80."""
    from .backend import arch_of  # deferred: keeps registering the kind fast (the backend is a build's)
    return arch_of(target)


CUDA_KIND = TargetKind("cuda", options=("arch",), validate=_validate, keys=("gpu", "wmma"), limits=CUDA_LIMITS,
                       device="cuda", emulator="cuda-emulator", properties={"compile_arch": _compile_arch})
#: The emulator runs what the architecture it names would run (none named: what every one runs).
CUDA_EMULATOR_KIND = TargetKind("cuda-emulator", options=("arch",), validate=_validate, keys=("gpu", "wmma"),
                                limits=CUDA_LIMITS, properties={"compile_arch": lambda target: target.arch})
