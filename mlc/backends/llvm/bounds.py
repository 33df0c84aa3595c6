"""Run-time bounds checks: every buffer access compared with its buffer's extent.

Built with ``mlc.build(..., check_bounds=True)`` (or with ``MLC_DEBUG`` set),
each kernel takes one more argument, a pointer to a :class:`BoundsRecord`,
and every load and store checks its element index first::

    %ok = icmp ult i64 %index, %extent        ; a negative index is huge unsigned
    br i1 %ok, label %access, label %violation
  violation:
    call void @__mlc_bounds_fail(ptr %record, i32 <site>, i64 %index, i64 %extent)
    br label %done                            ; the access is skipped (a load gives 0)

``__mlc_bounds_fail`` keeps the first violation (``cmpxchg`` on ``failed``,
so threads of a parallel loop, which receive the same record, never race
on it). Nothing aborts: the kernel finishes without touching memory outside
its buffers, and the Python wrapper raises :class:`~mlc.errors.BoundsError`
naming the function, the buffer, the index expression, its value and the
extent (:func:`raise_violation`). The same mechanism stands in for TVM's
``instrument_bound_checkers``, and like it checks the flattened index against
the buffer's element count: an index that leaves one dimension but stays
inside the buffer's memory is not reported (the reference interpreter, which
checks every dimension, is the tool for that).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

from llvmlite import ir

from ...errors import BoundsError
from .types import I32, I64, PTR

__all__ = ["BoundsRecord", "Site", "SiteTable", "emit_violation", "raise_violation"]

_FAIL = "__mlc_bounds_fail"
_RECORD = ir.LiteralStructType([I32, I32, I64, I64])


class BoundsRecord(ctypes.Structure):
    """``{i32 failed; i32 site; i64 index; i64 extent}``: the first violation of a call."""
    _fields_ = [("failed", ctypes.c_int32), ("site", ctypes.c_int32),
                ("index", ctypes.c_int64), ("extent", ctypes.c_int64)]


@dataclass(frozen=True)
class Site:
    """One checked access in the generated code."""
    function: str
    buffer: str
    kind: str  # "load from" or "store to"
    index: str  # the (flattened) index expression, as text


class SiteTable:
    """The checked accesses of one build, numbered in the order the codegen met them."""

    def __init__(self):
        self.sites: list[Site] = []

    def add(self, site: Site) -> int:
        self.sites.append(site)
        return len(self.sites) - 1


def emit_violation(builder: ir.IRBuilder, record: ir.Value, site: int, index: ir.Value,
                   extent: ir.Value) -> None:
    """Record that access ``site`` used ``index`` (i64) outside ``[0, extent)``."""
    builder.call(_fail_function(builder.module), [record, ir.Constant(I32, site), index, extent])


def _fail_function(module: ir.Module) -> ir.Function:
    fn = module.globals.get(_FAIL)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, I32, I64, I64]), name=_FAIL)
    fn.linkage = "internal"
    for attr in ("nounwind", "noinline", "cold"):
        fn.attributes.add(attr)
    record, site, index, extent = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    first, done = fn.append_basic_block("first"), fn.append_basic_block("done")

    def field(n):
        return b.gep(record, [ir.Constant(I32, 0), ir.Constant(I32, n)], inbounds=True,
                     source_etype=_RECORD)
    won = b.extract_value(b.cmpxchg(field(0), ir.Constant(I32, 0), ir.Constant(I32, 1),
                                    "monotonic", "monotonic"), 1)
    b.cbranch(won, first, done)
    b.position_at_end(first)
    for n, value in ((1, site), (2, index), (3, extent)):
        b.store(value, field(n))
    b.branch(done)
    b.position_at_end(done)
    b.ret_void()
    return fn


def raise_violation(record: BoundsRecord, sites: list[Site]) -> None:
    """Raise BoundsError for ``record`` if the call recorded a violation."""
    if not record.failed:
        return
    site = sites[record.site]
    raise BoundsError(
        f"{site.function}(): {site.kind} buffer {site.buffer} at element {record.index} "
        f"(index {site.index}) is outside [0, {record.extent}); the access was skipped, so "
        "the outputs are not valid. Fix the index (or the index data the function reads), "
        "or guard the access (te.if_then_else, T.where)")
