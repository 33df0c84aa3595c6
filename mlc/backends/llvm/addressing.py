"""Memory in the llvm codegen (mixed into it as :class:`AddressCodegen`): allocations,
indices as i64, int32 index arithmetic computed exactly in i64, element pointers, and the
run-time bounds checks around an access (:mod:`.bounds`).

>>> from mlc.ir.expr import Var
>>> i = Var("i", "int32")
>>> is_index_arith(i * 4 + 3), is_index_arith(i)
(True, False)
"""
from __future__ import annotations

from llvmlite import ir

from ...errors import CompileError
from ...ir import dtype as dt
from ...ir.buffer import Buffer
from ...ir.expr import Binary, IntImm, PrimExpr, Var
from ...ir.tir import Allocate
from ...ir.printer import expr_to_str
from . import arith
from .bounds import Site, SiteTable, emit_violation
from .types import I64, int_constant, itemsize, mem_type

__all__ = ["AddressCodegen", "Checks", "sext64", "is_index_arith", "INDEX_OPS"]


def sext64(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """Signed integer ``v`` widened to i64; a constant is written as the i64 constant
    (``i64 4096``, not an instruction ``sext i32 4096 to i64`` for LLVM to fold)."""
    value = int_constant(v)
    return b.sext(v, I64) if value is None else ir.Constant(I64, value)


#: Operations :meth:`AddressCodegen._index64` computes in i64 (the divisions by a positive constant).
INDEX_OPS = ("add", "sub", "mul", "floordiv", "floormod")

class AddressCodegen:
    """The addressing part of the function codegen (mixed into it): ``expr``, ``builder``,
    ``buffers``, ``wide``, ``extents``, ``checks``, ``allocator`` and ``stmt`` are the codegen's."""

    def _allocate(self, s: Allocate) -> None:
        """A chain of nested allocations (a graph's main allocates each intermediate around the
        rest) in a loop, not a recursion: a long program's chain is deeper than Python's stack."""
        held = []
        while isinstance(s, Allocate):
            buf = s.buffer
            count = self._index(buf.shape[0]) if buf.shape else ir.Constant(I64, 1)
            static = buf.shape[0].value if buf.shape and isinstance(buf.shape[0], IntImm) else None
            ptr, release = self.allocator.allocate(buf.name, mem_type(buf.dtype), itemsize(buf.dtype),
                                                   count, static)
            self.buffers[buf] = ptr
            self.extents[buf] = count
            held.append((buf, release))
            s = s.body
        self.stmt(s)
        for buf, release in reversed(held):
            del self.buffers[buf]
            del self.extents[buf]
            release()

    def _index(self, e: PrimExpr) -> ir.Value:
        """An integer expression as i64 (sign-extended: offsets are computed in i64).

        int32 index arithmetic is computed in i64 from sign-extended operands
        (:meth:`_index64`), so LLVM folds constant terms into the addressing mode
        and its loop passes see the address arithmetic (an i32 sum, which may wrap,
        would need its own add and sign extension per load)."""
        if is_index_arith(e) or (isinstance(e, Var) and e in self.wide):
            return self._index64(e)
        if not dt.is_int(e.dtype):
            raise CompileError(f"buffer index of dtype {e.dtype}; indices must be integers")
        v = self.expr(e)
        if v.type.width < 64:
            v = sext64(self.builder, v) if dt.is_signed(e.dtype) else self.builder.zext(v, I64)
        return v

    def _index64(self, e: PrimExpr) -> ir.Value:
        """An index expression accepted by :func:`is_index_arith`, computed in i64.

        Its int32 operands are sign-extended first, so no step can overflow (the
        ``nsw`` flags say so), and LLVM's loop passes see the address arithmetic
        directly rather than through a sign extension of every index.
        """
        if isinstance(e, IntImm):
            return ir.Constant(I64, e.value)
        if not (isinstance(e, Binary) and e.op in INDEX_OPS):
            wide = self.wide.get(e) if isinstance(e, Var) else None
            if wide is not None:
                return wide
            return sext64(self.builder, self.expr(e))  # a variable, a load, a clamped tile start, ...
        a, b = self._index64(e.a), self._index64(e.b)
        if e.op in ("floordiv", "floormod"):
            return arith.binary(self.builder, e.op, a, b, "int64")
        op = {"add": self.builder.add, "sub": self.builder.sub, "mul": self.builder.mul}[e.op]
        return op(a, b, flags=("nsw",))

    def _access(self, buffer: Buffer, indices, kind: str, access):
        """``access(element pointer)``, behind a bounds check when the build checks them:
        then an index outside the buffer records a violation and skips the access (a
        load gives zero). Returns what ``access`` returns."""
        extent = self._extent(buffer) if self.checks is not None else None
        if extent is None:
            return access(self._element_ptr(buffer, indices))
        b = self.builder
        index = self._index(indices[0])
        ok = b.icmp_unsigned("<", index, extent)
        with b.if_else(ok, likely=True) as (then, otherwise):
            with then:
                value, value_block = access(self._element_ptr(buffer, indices, index)), b.block
            with otherwise:
                self.checks.violation(b, buffer, indices[0], kind, index, extent)
                skipped_block = b.block
        if kind != "load from":
            return value
        phi = b.phi(value.type)
        phi.add_incoming(value, value_block)
        phi.add_incoming(ir.Constant(value.type, None), skipped_block)
        return phi

    def _extent(self, buffer: Buffer) -> ir.Value | None:
        """The element count of a flattened buffer as i64, or None when not known here."""
        if len(buffer.shape) != 1:
            return None
        if isinstance(buffer.shape[0], IntImm):
            return ir.Constant(I64, buffer.shape[0].value)
        return self.extents.get(buffer)

    def _element_ptr(self, buffer: Buffer, indices, index: ir.Value | None = None) -> ir.Value:
        base = self.buffers.get(buffer)
        if base is None:
            raise CompileError(f"buffer {buffer.name} is accessed outside the Allocate or "
                               "parameter list that defines it")
        if len(indices) != 1:
            raise CompileError(f"buffer {buffer.name} is accessed with {len(indices)} indices; "
                               "the llvm backend needs flattened buffers (mlc.passes.tir.lower)")
        if index is None:
            index = self._index(indices[0])
        return self.builder.gep(base, [index], inbounds=True, source_etype=mem_type(buffer.dtype))


class Checks:
    """The bounds checks of one kernel: its record pointer and the build's site table."""

    def __init__(self, function: str, sites: SiteTable, record: ir.Value):
        self.function, self.sites, self.record = function, sites, record

    def with_record(self, record: ir.Value) -> Checks:
        """The same checks in an outlined body, which receives the record as ``record``."""
        return Checks(self.function, self.sites, record)

    def violation(self, builder: ir.IRBuilder, buffer: Buffer, index: PrimExpr, kind: str,
                  value: ir.Value, extent: ir.Value) -> None:
        site = self.sites.add(Site(self.function, buffer.name, kind, expr_to_str(index)))
        emit_violation(builder, self.record, site, value, extent)


def is_index_arith(e: PrimExpr) -> bool:
    """Whether ``e`` is int32 index arithmetic that is exact when computed in i64: any
    int32 values combined by +, -, * and floordiv/floormod by a positive constant, with
    every intermediate value bounded below 2**62 in magnitude."""
    if not (isinstance(e, Binary) and e.op in INDEX_OPS):
        return False
    bound = _index_bound(e)
    return bound is not None and bound < 1 << 62


def _index_bound(e: PrimExpr) -> int | None:
    """A bound on ``|e|`` for all int32 values of its leaves (None: not int32 index arithmetic)."""
    if e.dtype != "int32":
        return None
    if isinstance(e, IntImm):
        return abs(e.value)
    if not (isinstance(e, Binary) and e.op in INDEX_OPS):
        return 1 << 31  # a leaf: any int32 value
    if e.op in ("floordiv", "floormod"):
        if not (isinstance(e.b, IntImm) and e.b.value > 0):
            return None
        a = _index_bound(e.a)
        return None if a is None else a if e.op == "floordiv" else e.b.value
    a, b = _index_bound(e.a), _index_bound(e.b)
    if a is None or b is None:
        return None
    return a * b if e.op == "mul" else a + b
