"""flatten_buffers: every buffer becomes one-dimensional.

Each access ``A[i, j]`` of a buffer of shape ``(m, n)`` becomes
``A_flat[i * n + j]`` (row-major), or ``A_flat[i * s0 + j * s1]`` when the
buffer declares ``strides``. Parameters stay the function's arguments, in
order, as one-dimensional views of the same memory; ``Allocate`` nodes
allocate the flat buffer. The shape variables the parameters bind (symbolic
shapes, :mod:`mlc.ir.shape_vars`) are kept in the ``"mlc.size_params"`` attribute,
since the flat parameters no longer show them, and the parameter dimension each is read
from in ``"mlc.size_sources"`` (what a graph's ``main`` passes a call).

Before::

    Allocate(Y: float32[4, 8]):
        for i, j: Y[i, j] = A[i, j] + 1

After::

    Allocate(Y: float32[32]):
        for i, j: Y[i * 8 + j] = A[i * 8 + j] + 1

Offsets are int32 while the buffer has fewer than 2**31 elements, int64
beyond, so large buffers do not wrap around.
"""
from __future__ import annotations

from dataclasses import replace
from functools import reduce

from ...errors import IRError
from ...ir import dtype as dt
from ...ir.buffer import Buffer
from ...ir.expr import BufferLoad, IntImm, PrimExpr, cast, const, make_binary
from ...ir.functor import Mutator
from ...ir.shape_vars import SIZE_PARAMS_ATTR, SIZE_SOURCES_ATTR, size_params, size_sources
from ...ir.tir import Allocate, Block, BlockRealize, BufferStore, PrimFunc

__all__ = ["flatten_buffers", "flat_buffer", "flat_index"]

_INT32_MAX = 2**31 - 1


def _static(e: PrimExpr) -> int | None:
    return e.value if isinstance(e, IntImm) else None


def _flat_extent(buffer: Buffer) -> PrimExpr:
    """Number of elements the flat view needs."""
    if not buffer.strides:
        return reduce(lambda a, b: make_binary("mul", a, cast(b, a.dtype)), buffer.shape, const(1, _index_dtype(buffer)))
    if any(_static(e) == 0 for e in buffer.shape):
        return const(0, _index_dtype(buffer))
    one = const(1, _index_dtype(buffer))
    last = one
    for extent, stride in zip(buffer.shape, buffer.strides):
        last = make_binary("add", last, make_binary("mul", make_binary("sub", cast(extent, one.dtype), one),
                                                    cast(stride, one.dtype)))
    return last


def _index_dtype(buffer: Buffer) -> str:
    """int64 when the flat offset could exceed int32, else int32."""
    dims = list(buffer.shape) + list(buffer.strides)
    if any(_static(e) is None for e in dims):
        return "int64" if any(e.dtype == "int64" for e in dims) else dt.INDEX
    if buffer.strides:
        span = 1 + sum((_static(e) - 1) * _static(s) for e, s in zip(buffer.shape, buffer.strides))
    else:
        span = 1
        for e in buffer.shape:
            span *= _static(e)
    return "int64" if span > _INT32_MAX else dt.INDEX


def flat_buffer(buffer: Buffer) -> Buffer:
    """The one-dimensional buffer holding ``buffer``'s elements (itself when already flat)."""
    if buffer.ndim == 1 and not buffer.strides:
        return buffer
    return Buffer(buffer.name, (_flat_extent(buffer),), buffer.dtype, buffer.scope)


def flat_index(buffer: Buffer, indices: tuple[PrimExpr, ...]) -> PrimExpr:
    """The row-major (or strided) element offset of ``buffer[indices]``."""
    if len(indices) != buffer.ndim:
        raise IRError(f"buffer {buffer.name} has {buffer.ndim} dimension(s) but is accessed "
                      f"with {len(indices)} index(es)")
    if buffer.ndim == 1 and not buffer.strides and dt.is_vector(indices[0].dtype):
        return indices[0]  # a vector index (vectorize_loops' output) of a flat buffer
    dtype = _index_dtype(buffer)
    idx = [cast(i, dtype) for i in indices]
    if not idx:
        return const(0, dtype)
    if buffer.strides:
        terms = [make_binary("mul", i, cast(s, dtype)) for i, s in zip(idx, buffer.strides)]
        return reduce(lambda a, b: make_binary("add", a, b), terms)
    offset = idx[0]
    for i, extent in zip(idx[1:], buffer.shape[1:]):  # Horner: ((i0 * n1 + i1) * n2 + i2)
        offset = make_binary("add", make_binary("mul", offset, cast(extent, dtype)), i)
    return offset


class _Flatten(Mutator):
    def __init__(self):
        self.flat: dict[Buffer, Buffer] = {}

    def buffer(self, buffer: Buffer) -> Buffer:
        out = self.flat.get(buffer)
        if out is None:
            out = self.flat[buffer] = flat_buffer(buffer)
        return out

    def visit_BufferLoad(self, load: BufferLoad):
        indices = tuple(self.visit(i) for i in load.indices)
        return BufferLoad(self.buffer(load.buffer), (flat_index(load.buffer, indices),), load.dtype)

    def visit_BufferStore(self, store: BufferStore):
        indices = tuple(self.visit(i) for i in store.indices)
        value = self.visit(store.value)
        return BufferStore(self.buffer(store.buffer), value, (flat_index(store.buffer, indices),))

    def visit_Allocate(self, alloc: Allocate):
        return Allocate(self.buffer(alloc.buffer), self.visit(alloc.body))

    def visit_Block(self, block: Block):
        raise IRError(f"flatten_buffers: block {block.name_hint!r} is still present; "
                      "run convert_blocks_to_loops first")

    def visit_BlockRealize(self, realize: BlockRealize):
        return self.visit_Block(realize.block)


def flatten_buffers(func: PrimFunc) -> PrimFunc:
    """Make every buffer (parameters included) one-dimensional; see the module docstring."""
    sizes, sources = size_params(func), size_sources(func)
    mutator = _Flatten()
    params = tuple(mutator.buffer(p) for p in func.params)
    body = mutator.visit(func.body)
    out = replace(func, params=params, body=body)
    return out.with_attr(SIZE_PARAMS_ATTR, sizes).with_attr(SIZE_SOURCES_ATTR, sources) if sizes else out
