"""Tensor intrinsics shipped with mlc, registered on import (target-neutral registry,
:class:`~mlc.schedules.TensorIntrin`); each module names the targets it serves.

* :mod:`.x86` — AVX-512 VNNI int8 dot products (``vpdpbusd``), the CPU's
  float32 register-tile update;
* :mod:`.cuda` — WMMA tensor-core fill, load, mma and store (16x16x16, float16
  inputs, float32 accumulators).
"""
from . import cuda, x86
from .x86 import VNNI_FEATURE, VNNI_S8S8, VNNI_U8S8, MAC_F32, has_vnni

__all__ = ["cuda", "x86", "VNNI_FEATURE", "VNNI_S8S8", "VNNI_U8S8", "MAC_F32", "has_vnni"]
