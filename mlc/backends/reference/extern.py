"""What the external functions of tensor intrinsics compute, in NumPy, for the interpreter.

A tensor intrinsic's implementation may call a function by name with element
addresses (``T.call_extern``, :mod:`mlc.ir.extern`); the llvm backend defines
those functions as micro-kernels (:mod:`mlc.backends.llvm.extern`). Here each
has its meaning on flat arrays, so a tensorized program runs on the reference
interpreter too and is compared with NumPy on any host.

Each function takes, per address argument, (flat array, flat element index).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...ir.extern import PREFETCH_FOR_LATER, PREFETCH_FOR_READ, PREFETCH_FOR_WRITE

__all__ = ["REFERENCE_EXTERNS"]

_LANES, _GROUP = 16, 4


def _vnni_dot_16x4(c, a, b) -> None:
    """``C[l] += sum(A[t] * B[4 l + t])`` for 16 int32 lanes, wrapping (vpdpbusd): A's
    signedness is its buffer's dtype (uint8 for ``_u8s8``, int8 for ``_s8s8``)."""
    (c_arr, c_at), (a_arr, a_at), (b_arr, b_at) = c, a, b
    av = a_arr[a_at:a_at + _GROUP].astype(np.int64)
    bv = b_arr[b_at:b_at + _LANES * _GROUP].astype(np.int64).reshape(_LANES, _GROUP)
    total = c_arr[c_at:c_at + _LANES].astype(np.int64) + bv @ av
    c_arr[c_at:c_at + _LANES] = ((total + 2**31) % 2**32 - 2**31).astype(np.int32)


def _prefetch(_) -> None:
    """A cache hint: nothing to compute."""


#: name -> (number of address arguments, elements each reads or writes, function).
REFERENCE_EXTERNS: dict[str, tuple[tuple[int, ...], Callable]] = {
    "mlc_x86_vnni_dot_16x4_u8s8": ((_LANES, _GROUP, _LANES * _GROUP), _vnni_dot_16x4),
    "mlc_x86_vnni_dot_16x4_s8s8": ((_LANES, _GROUP, _LANES * _GROUP), _vnni_dot_16x4),
    PREFETCH_FOR_WRITE: ((1,), _prefetch),
    PREFETCH_FOR_READ: ((1,), _prefetch),
    PREFETCH_FOR_LATER: ((1,), _prefetch),
}
