"""LLVM renderings of vector IR (:func:`mlc.passes.tir.vectorize_loops` decides what
is a vector; this module only says how its values look in LLVM).

A ``float32x16`` value is a ``<16 x float>``; ``T.Broadcast(x, 16)`` is an
insertelement and a zero shufflevector (LLVM's splat idiom); ``T.Ramp(b, s,
16)`` is the splat of ``b`` plus the constant ``<0, s, 2s, ...>`` (of a constant,
a constant: ``splat (float 0.5)``, ``<i64 8, i64 9, ...>``). Loads and stores
(:class:`VectorCodegen`, a part of the function codegen of :mod:`.codegen`): a
stride-1 Ramp index is one vector load or store, another Ramp a gather or
scatter from one base pointer, any other vector index (and every access of a
bounds-checked build) one scalar access per lane; a ``vector_window`` of two loads
(:mod:`mlc.passes.tir.vector_windows`) one shufflevector of them. Vector casts, math calls and
selects whose sides load are computed lane by lane (scalar expressions of
:func:`mlc.ir.analysis.lane_of`): the vectorize pass makes them only inside gather
indices (libm's sin, cos and tan of double, which the trig routines call on rare lanes,
are called on each lane of their computed operand: :mod:`.codegen`).

Example: the register-tile update of the default matmul schedule::

    C_local[T.Ramp(i * 16, 1, 16)] = C_local[T.Ramp(i * 16, 1, 16)]
        + T.Broadcast(A[k], 16) * B[T.Ramp(k * 16, 1, 16)]

is one ``<16 x float>`` load of ``C_local`` and of ``B``, a broadcast of
``A[k]``, one ``fmul``/``fadd`` pair LLVM contracts into an FMA, and one
vector store.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from llvmlite import ir

from ...ir import dtype as dt
from ...ir.analysis import lane_of
from ...ir.buffer import Buffer
from ...ir.expr import Broadcast, BufferLoad, Call, PrimExpr, Ramp
from ...ir.tir import BufferStore
from ...passes.tir.horizontal import HORIZONTAL_OPS, lane_tree
from . import arith
from .arith import REDUCTION_FLAGS
from .types import I32, I64, compute_dtype, int_constant, itemsize, mem_type, reg_type, signed
from .streaming import aligned_to, mark_nontemporal, streaming_alignment

__all__ = ["VectorCodegen", "scalar_of", "store_pieces", "vector_type", "undef_vector", "splat", "ramp", "build_vector", "vector_pointer",
           "lane", "shuffle_mask"]


def vector_type(dtype: str) -> ir.Type:
    """The register type of ``dtype``: ``<N x T>`` for a vector dtype, else the scalar type."""
    n = dt.lanes(dtype)
    scalar = reg_type(dt.element(dtype))
    return scalar if n == 1 else ir.VectorType(scalar, n)


class _WholeVector(ir.Constant):
    """A vector constant written as one word, ``undef`` or ``zeroinitializer``, where
    llvmlite writes every lane (``<float undef, float undef, ...>``: for 64 lanes, some
    1,500 characters to build, print and parse). ``lanes`` is its value lane by lane,
    which llvmlite reads as constants of the lanes' type where ``wrap`` (a shuffle mask's
    indices); without it the values stay as they are (a splat's: wrapping 64 lanes made
    64 Constants, a tenth of a matmul kernel's IR generation)."""

    def __init__(self, ty: ir.VectorType, word: str, lanes, wrap: bool = True):
        if wrap:
            super().__init__(ty, lanes)
        else:
            self.type, self.constant = ty, lanes
        self.word = word

    def _get_reference(self) -> str:
        return self.word


def undef_vector(ty: ir.VectorType) -> ir.Constant:
    """The ``undef`` vector of type ``ty``."""
    return _WholeVector(ty, "undef", ir.Undefined)


def splat(b: ir.IRBuilder, v: ir.Value, lanes: int) -> ir.Value:
    """``v`` in every one of ``lanes`` lanes (a vector is returned as it is)."""
    if isinstance(v.type, ir.VectorType):
        return v
    vec = ir.VectorType(v.type, lanes)
    if type(v) is ir.Constant and v.constant is not ir.Undefined:  # a constant: no instruction
        return _WholeVector(vec, f"splat ({v.type} {v.get_reference()})", [v.constant] * lanes, wrap=False)
    one = b.insert_element(undef_vector(vec), v, ir.Constant(I32, 0))
    return b.shuffle_vector(one, undef_vector(vec), _zero_mask(lanes))


@lru_cache(maxsize=None)
def shuffle_mask(start: int, stop: int) -> ir.Constant:
    """The shuffle mask ``<i32 start, ..., i32 stop - 1>`` (lanes ``start`` to ``stop - 1`` of
    a vector), its text written once: a constant vector's is otherwise built lane by lane
    wherever it is used."""
    lanes = list(range(start, stop))
    return _WholeVector(ir.VectorType(I32, len(lanes)), "<" + ", ".join(f"i32 {k}" for k in lanes) + ">", lanes)


@lru_cache(maxsize=None)
def window_mask(offset: int, span: int, lanes: int) -> ir.Constant:
    """The shuffle mask taking, from vectors ``lo = x[b : b + lanes]`` and
    ``hi = x[b + span : b + span + lanes]`` (``0 < offset < span <= lanes``), the vector
    ``x[b + offset : b + offset + lanes]``: lanes ``offset..`` of ``lo``, then of ``hi`` the
    lanes from ``lanes - span`` on.

    >>> [c.constant for c in window_mask(1, 2, 4).constant]
    [1, 2, 3, 6]
    """
    picks = [offset + j if offset + j < lanes else lanes + offset + j - span for j in range(lanes)]
    return _WholeVector(ir.VectorType(I32, lanes), "<" + ", ".join(f"i32 {k}" for k in picks) + ">", picks)


@lru_cache(maxsize=None)
def _zero_mask(lanes: int) -> ir.Constant:
    """The ``<lanes x i32> zeroinitializer`` shuffle mask (a constant: built once, shared)."""
    return _WholeVector(ir.VectorType(I32, lanes), "zeroinitializer", [0] * lanes)


def ramp(b: ir.IRBuilder, base: ir.Value, stride: int, lanes: int) -> ir.Value:
    """``[base, base + stride, ...]`` of integer scalar ``base`` (no lane overflows: ``nsw``)."""
    steps = ir.Constant(ir.VectorType(base.type, lanes), [k * stride for k in range(lanes)])
    first = int_constant(base)
    if first is not None:  # a constant ramp
        return ir.Constant(steps.type, [signed(first + k * stride, base.type.width) for k in range(lanes)])
    return b.add(splat(b, base, lanes), steps, flags=("nsw",))


def build_vector(b: ir.IRBuilder, values: Sequence[ir.Value]) -> ir.Value:
    """The vector of scalar ``values``, one per lane, in order."""
    out = undef_vector(ir.VectorType(values[0].type, len(values)))
    for k, v in enumerate(values):
        out = b.insert_element(out, v, ir.Constant(I32, k))
    return out


def lane(b: ir.IRBuilder, v: ir.Value, k: int) -> ir.Value:
    """Lane ``k`` of vector ``v``."""
    return b.extract_element(v, ir.Constant(I32, k))


def vector_pointer(b: ir.IRBuilder, ptr: ir.Value, ty: ir.VectorType) -> ir.Value:
    """``ptr`` as a pointer to ``ty`` (a no-op with opaque pointers)."""
    return ptr if not ptr.type.is_pointer or ptr.type.is_opaque else b.bitcast(ptr, ty.as_pointer())


def store_pieces(lanes: int, size: int, vector_bytes: int) -> list[tuple[int, int]]:
    """(first lane, lanes) of each piece a contiguous store of ``lanes`` elements of
    ``size`` bytes is split into for a target whose vector registers hold
    ``vector_bytes``: whole registers, in ascending address order, where the vector
    is a multiple of them; else the vector as one piece (``vector_bytes`` 0: always).

    LLVM splits a store wider than a register itself, but orders the pieces freely
    (often the last first): storing the second half of two lines before the first
    defeats the CPU's store combining, and a stream of such stores (the window sum,
    every elementwise kernel vectorized two registers wide) ran 10-25% slower than
    the same stores in order.

    >>> store_pieces(32, 4, 64)
    [(0, 16), (16, 16)]
    >>> store_pieces(8, 4, 64)
    [(0, 8)]
    """
    width = vector_bytes // size if vector_bytes else 0
    if not width or lanes <= width or lanes % width:
        return [(0, lanes)]
    return [(first, width) for first in range(0, lanes, width)]


class VectorCodegen:
    """The vector IR part of the function codegen (mixed into it; ``horizontal_<op>`` and
    ``vector_window`` calls too): ``expr``,
    ``_element_ptr``, ``_access``, ``_load``, ``_stored_value``, ``builder``, ``checks``,
    ``module``, ``streaming``, ``streamed``, ``made_nontemporal`` and ``vector_bytes`` are the codegen's."""

    def _kept_whole(self, buffer) -> bool:
        """Whether a wide store to ``buffer`` stays one store: a register tile's
        accumulators (``local`` scope, or any stack slot) are loaded and stored whole, and
        LLVM keeps them in registers across a loop (SROA, LICM's promotion) only where
        every load and store of them has the same address and type. Split into
        pieces, the accumulators of a matmul whose reduction is blocked (in a heap buffer
        of the column panel's accumulators) went to memory and back at every step: 1024^3
        in blocks of 128 on one AVX-512 core: 46 GFLOP/s, 158 with the stores whole."""
        return buffer.scope.partition(".")[0] == "local" or isinstance(self.buffers.get(buffer), ir.AllocaInstr)

    def _horizontal(self, e: Call) -> ir.Value:
        """``horizontal_<op>(v)`` (:mod:`mlc.passes.tir.horizontal`): shufflevector halves
        combined by ``op`` (float add/mul with REDUCTION_FLAGS), then the last two lanes."""
        b, op, dtype = self.builder, HORIZONTAL_OPS[e.op], e.dtype
        flags = REDUCTION_FLAGS if op in ("add", "mul") and dt.is_float(dtype) else ()
        vector = self.expr(e.args[0])
        return lane_tree(vector, vector.type.count,
                         lambda v, half, width: (b.shuffle_vector(v, v, shuffle_mask(0, half)),
                                                 b.shuffle_vector(v, v, shuffle_mask(half, width))),
                         lambda v, k: b.extract_element(v, ir.Constant(ir.IntType(32), k)),
                         lambda x, y: arith.binary(b, op, x, y, compute_dtype(dtype), flags))

    def _ramp(self, e: Ramp) -> ir.Value:
        return ramp(self.builder, self.expr(e.base), e.stride, e.lanes)

    def _broadcast(self, e: Broadcast) -> ir.Value:
        return splat(self.builder, self.expr(e.value), e.lanes)

    def _lane_by_lane(self, e: PrimExpr) -> ir.Value:
        """Vector ``e`` computed as one scalar expression per lane."""
        return build_vector(self.builder, [self.expr(lane_of(e, k)) for k in range(dt.lanes(e.dtype))])

    def _ramp_access(self, buffer: Buffer, index: PrimExpr) -> bool:
        """Whether an access at vector ``index`` is rendered from one base pointer."""
        return isinstance(index, Ramp) and self.checks is None and buffer.dtype != "bool"

    def _lane_pointers(self, buffer: Buffer, index: PrimExpr) -> list[ir.Value] | None:
        """The element pointer of each lane of vector ``index``: for a Ramp, lane 0's plus a
        constant step, else each lane's index computed as a scalar. None where each access
        must be checked or converted (bounds-checked builds, bool buffers)."""
        if self._ramp_access(buffer, index):
            base, ty = self._element_ptr(buffer, (index.base,)), mem_type(buffer.dtype)
            return [base] + [self.builder.gep(base, [ir.Constant(I64, k * index.stride)], inbounds=True,
                                              source_etype=ty) for k in range(1, index.lanes)]
        if self.checks is not None or buffer.dtype == "bool":
            return None
        return [self._element_ptr(buffer, (lane_of(index, k),)) for k in range(dt.lanes(index.dtype))]

    def _window(self, e: Call) -> ir.Value:
        """``vector_window(lo, hi, offset, span)`` (:mod:`mlc.passes.tir.vector_windows`): a
        shuffle of the two vectors."""
        lo, hi = self.expr(e.args[0]), self.expr(e.args[1])
        offset, span = e.args[2].value, e.args[3].value
        return self.builder.shuffle_vector(lo, hi, window_mask(offset, span, lo.type.count))

    def _vector_load(self, e: BufferLoad) -> ir.Value:
        """A contiguous vector load at a stride-1 Ramp, else a gather of the lanes."""
        b, index, align, ty = self.builder, e.indices[0], itemsize(e.buffer.dtype), mem_type(e.buffer.dtype)
        if self._ramp_access(e.buffer, index) and index.stride == 1:
            vec = ir.VectorType(ty, index.lanes)
            return b.load(vector_pointer(b, self._element_ptr(e.buffer, (index.base,)), vec), typ=vec, align=align)
        ptrs = self._lane_pointers(e.buffer, index)
        if ptrs is None:
            return build_vector(b, [self._load(lane_of(e, k)) for k in range(dt.lanes(e.dtype))])
        out = undef_vector(ir.VectorType(ty, len(ptrs)))
        for k, ptr in enumerate(ptrs):
            out = b.insert_element(out, b.load(ptr, typ=ty, align=align), ir.Constant(I32, k))
        return out

    def _contiguous_store(self, value: ir.Value, base: ir.Value, dtype: str, line: int | None = None,
                          whole: bool = False) -> None:
        """Store vector ``value`` to the consecutive elements of ``dtype`` from ``base``: as
        pieces of the target's vector width (``self.vector_bytes``) in ascending address
        order where it is wider (:func:`store_pieces`), each non-temporal (aligned to
        ``line`` bytes, up to its own size) when ``line`` is given; ``whole``: one store,
        whatever its width (see :meth:`_kept_whole`)."""
        b, size = self.builder, itemsize(dtype)
        for first, lanes in store_pieces(value.type.count, size, 0 if whole else self.vector_bytes):
            part = value if lanes == value.type.count else b.shuffle_vector(
                value, value, shuffle_mask(first, first + lanes))
            ptr = base if first == 0 else b.gep(base, [ir.Constant(I64, first)], inbounds=True,
                                                source_etype=mem_type(dtype))
            store = b.store(part, vector_pointer(b, ptr, part.type),
                            align=size if line is None else min(line, lanes * size))
            if line is not None:
                mark_nontemporal(self.module, store)

    def streams_now(self, buffer: Buffer) -> bool:
        """Whether the stores to ``buffer`` emitted now are non-temporal: it streams, and the
        code is a loop's version for outputs clear of the loaded streams (``streamed``)."""
        return self.streamed is True and buffer in self.streaming

    def _vector_store(self, s: BufferStore) -> None:
        """A contiguous vector store at a stride-1 Ramp, else a scatter of the lanes, in order.

        The lanes of a vector store are a loop's iterations: a reduction update
        ``X[r] = X[r] + v`` gets the flags a reduction loop's update gets."""
        b, index, align = self.builder, s.indices[0], itemsize(s.buffer.dtype)
        value = self._stored_value(s, in_loop=True)
        if self._ramp_access(s.buffer, index) and index.stride == 1:
            base = self._element_ptr(s.buffer, (index.base,))
            line = streaming_alignment(s.buffer.dtype, index.lanes) if self.streams_now(s.buffer) else None
            if line is None:
                self._contiguous_store(value, base, s.buffer.dtype, whole=self._kept_whole(s.buffer))
                return
            with b.if_else(aligned_to(b, base, line)) as (aligned, unaligned):
                with aligned:
                    self._contiguous_store(value, base, s.buffer.dtype, line)
                with unaligned:
                    self._contiguous_store(value, base, s.buffer.dtype)
            self.made_nontemporal = True
            return
        ptrs = self._lane_pointers(s.buffer, index)
        if ptrs is not None:
            for k, ptr in enumerate(ptrs):
                b.store(lane(b, value, k), ptr, align=align)
            return
        for k in range(dt.lanes(s.value.dtype)):  # checked (or bool) accesses, one lane at a time
            v = lane(b, value, k)
            if s.buffer.dtype == "bool":
                v = b.zext(v, mem_type("bool"))
            self._access(s.buffer, (lane_of(index, k),), "store to", lambda ptr, v=v: b.store(v, ptr, align=align))


def scalar_of(e: PrimExpr) -> PrimExpr:
    """The value ``e`` broadcasts (``e`` itself when it is no Broadcast): an operation on
    vectors computes its broadcast operands as scalars and splats them last."""
    return e.value if isinstance(e, Broadcast) else e
