"""Warp shuffles: the lanes of a warp exchanging registers without shared memory.

A warp is 32 consecutive threads of a block (the linear thread index
``threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)``, x
fastest). ``shfl_down(value, offset, width)`` is CUDA's
``__shfl_down_sync(__activemask(), value, offset, width)`` (of both parts of a complex
``value``): the lanes of a warp
form groups of ``width`` (a power of two dividing 32); lane ``l`` of a group
gets ``value`` of lane ``l + offset`` of its group, and its own ``value`` when
``l + offset`` falls outside the group. Every lane of the group whose value
is read must execute the shuffle (the emulator checks it).

>>> from mlc.ir.expr import Var
>>> shfl_down(Var("v", "float32"), 16)
T.shfl_down(v, 16, 32)
"""
from __future__ import annotations

from ...errors import CompileError
from ...ir.expr import Call, const

__all__ = ["SHFL_DOWN", "WARP_SIZE", "shfl_down", "shfl_args"]

#: The Call op of a shuffle down a warp.
SHFL_DOWN = "shfl_down"
#: Threads per warp.
WARP_SIZE = 32


def shfl_down(value, offset: int, width: int = WARP_SIZE) -> Call:
    """``value`` of the lane ``offset`` above, within groups of ``width`` lanes."""
    if not (0 < width <= WARP_SIZE and width & (width - 1) == 0) or not 0 < offset < width:
        raise CompileError(f"shfl_down: width must be a power of two up to {WARP_SIZE} and offset in "
                           f"[1, width), got width {width} and offset {offset}")
    return Call(SHFL_DOWN, (value, const(offset), const(width)), value.dtype)


def shfl_args(call: Call) -> tuple[object, int, int]:
    """(value, offset, width) of a :func:`shfl_down` call."""
    value, offset, width = call.args
    return value, offset.value, width.value
