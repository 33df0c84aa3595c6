"""IR-building helpers shared by the intrinsic modules: regions and the PrimFunc around a body."""
from __future__ import annotations

from ...ir.buffer import BufferRegion
from ...ir.expr import Range, const
from ...ir.tir import Block, BlockRealize, PrimFunc

__all__ = ["point_region", "whole_region", "intrin_func"]


def point_region(buf, *idx) -> BufferRegion:
    return BufferRegion(buf, tuple(Range(i, const(1)) for i in idx))


def whole_region(buf) -> BufferRegion:
    return BufferRegion(buf, tuple(Range(const(0), e) for e in buf.shape))


def intrin_func(params, body, reads=(), writes=()) -> PrimFunc:
    root = Block("root", (), tuple(reads), tuple(writes), body)
    return PrimFunc(tuple(params), BlockRealize((), const(True, "bool"), root), (("tir.noalias", True),))
