"""The ``cuda`` and ``cuda-emulator`` target kinds: ``-arch=sm_XY`` names the GPU architecture.

``Target.from_str("cuda -arch=sm_90")`` compiles for compute capability 9.0; without
``-arch=`` kernels are compiled for sm_80. The emulator takes the same option, so a
program is emulated exactly as it would be compiled.
"""
from __future__ import annotations

import re

from ...errors import MLCError
from ...target import Target, TargetKind

__all__ = ["CUDA_KIND", "CUDA_EMULATOR_KIND"]


def _validate(target: Target) -> None:
    if target.arch and not re.fullmatch(r"sm_[0-9]{2,3}a?", target.arch):
        raise MLCError(f"target {target.kind}: -arch={target.arch} is not a CUDA architecture; write it "
                       "like -arch=sm_80 (A100) or -arch=sm_90 (H100)")


CUDA_KIND = TargetKind("cuda", options=("arch",), validate=_validate)
CUDA_EMULATOR_KIND = TargetKind("cuda-emulator", options=("arch",), validate=_validate)
