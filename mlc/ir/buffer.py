"""Buffer: a named, typed, multi-dimensional array that tensor programs read and write.

Indexing a buffer builds IR: ``A[i, k]`` is a :class:`BufferLoad`; with slices,
``A[i, 0:128]`` is a :class:`BufferRegion` (used in block read/write regions).
"""
from __future__ import annotations


from ..errors import IRError, ShapeError
from . import dtype as dt
from .expr import BufferLoad, IntImm, PrimExpr, Range, convert, ExprOp
from .node import node

__all__ = ["Buffer", "BufferRegion", "decl_buffer", "SCOPES", "FRAGMENT_SCOPES", "is_storage_scope",
           "aligned_strides", "DIM_ALIGN"]

#: Tensor-core fragments: per-warp registers, read and written only by warp-wide intrinsics.
FRAGMENT_SCOPES = ("wmma.matrix_a", "wmma.matrix_b", "wmma.accumulator")
SCOPES = ("global", "local", "shared") + FRAGMENT_SCOPES


def is_storage_scope(scope) -> bool:
    """One of SCOPES, or a tagged one like ``"global.A_reg"`` (same memory, a name for intrinsics)."""
    if not isinstance(scope, str):
        return False
    base, _, tag = scope.partition(".")
    return scope in SCOPES or (base in ("global", "local", "shared") and tag.isidentifier())


@node
class Buffer:
    """A buffer of ``shape`` and ``dtype`` living in memory ``scope``.

    ``strides`` is empty for a compact row-major layout, else one stride (in
    elements) per dimension.
    """
    name: str
    shape: tuple[PrimExpr, ...]
    dtype: str = "float32"
    scope: str = "global"
    strides: tuple[PrimExpr, ...] = ()

    __hash__ = object.__hash__

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def static_shape(self) -> tuple[int, ...]:
        """The shape as Python ints; raises if any extent is symbolic."""
        out = []
        for extent in self.shape:
            if not isinstance(extent, IntImm):
                raise ShapeError(f"buffer {self.name} has a symbolic extent {extent!r}")
            out.append(extent.value)
        return tuple(out)

    def __getitem__(self, indices):
        if not isinstance(indices, tuple):
            indices = (indices,)
        if len(indices) != len(self.shape):
            raise ShapeError(f"buffer {self.name} has {len(self.shape)} dimension(s), "
                             f"indexed with {len(indices)}")
        if any(isinstance(x, slice) for x in indices):
            return BufferRegion(self, tuple(_to_range(x, extent) for x, extent in zip(indices, self.shape)))
        return BufferLoad(self, tuple(_index(x) for x in indices), self.dtype)

    def __repr__(self) -> str:
        return f"Buffer({self.name}, {tuple(self.shape)!r}, {self.dtype!r})"


def _index(x) -> PrimExpr:
    if not isinstance(x, (PrimExpr, ExprOp, int)):
        raise IRError(f"buffer index must be an integer expression, got {x!r}")
    e = convert(x, dt.INDEX)
    if not dt.is_int(e.dtype):
        raise IRError(f"buffer index must be an integer expression, got {e.dtype} `{e!r}`")
    return e


def _to_range(x, extent) -> Range:
    if isinstance(x, slice):
        if x.step not in (None, 1):
            raise IRError("buffer regions take unit-stride slices only")
        lo = _index(0 if x.start is None else x.start)
        hi = extent if x.stop is None else _index(x.stop)
        from .arith.rewrite import difference
        return Range(lo, difference(lo, hi))
    return Range(_index(x), convert(1, dt.INDEX))


@node
class BufferRegion:
    """A rectangular region of a buffer: one Range per dimension."""
    buffer: Buffer
    region: tuple[Range, ...]

    @staticmethod
    def full(buffer: Buffer) -> BufferRegion:
        return BufferRegion(buffer, tuple(Range.from_extent(e) for e in buffer.shape))

    def __repr__(self) -> str:
        from .printer import region_to_str
        return region_to_str(self)


#: The block annotation storage_align records its requests in: (write index, axis, factor,
#: offset) entries; the GPU's buffer compaction keeps them for the compacted buffer.
DIM_ALIGN = "buffer_dim_align"


def aligned_strides(shape: tuple[int, ...], aligns: dict[int, tuple[int, int]]) -> tuple[int, ...]:
    """Row-major strides where ``stride[axis] % factor == offset`` for each
    ``axis -> (factor, offset)``, each padded as little as possible (storage_align).

    >>> aligned_strides((64, 64), {0: (32, 8)})
    (72, 1)
    """
    strides = [0] * len(shape)
    for d in reversed(range(len(shape))):
        stride = 1 if d == len(shape) - 1 else strides[d + 1] * shape[d + 1]
        if d in aligns:
            factor, offset = aligns[d]
            stride += (offset - stride) % factor
        strides[d] = stride
    return tuple(strides)


def decl_buffer(shape, dtype="float32", name="buffer", scope="global") -> Buffer:
    """Declare a buffer; ``shape`` is a tuple of ints (or integer expressions)."""
    if isinstance(shape, int):
        shape = (shape,)
    if not is_storage_scope(scope):
        raise IRError(f"unknown buffer scope {scope!r}; expected one of {', '.join(SCOPES)}, or one of "
                      "global, local, shared with a tag (\"global.A_reg\")")
    dims = []
    for extent in shape:
        if isinstance(extent, bool) or not isinstance(extent, (int, PrimExpr)):
            raise ShapeError(f"buffer {name}: shape entries must be ints, got {extent!r}")
        if isinstance(extent, int) and extent < 0:
            raise ShapeError(f"buffer {name}: negative extent {extent} in shape {tuple(shape)}")
        if isinstance(extent, int) and extent >= 2**31:
            raise ShapeError(f"buffer {name}: extent {extent} in shape {tuple(shape)} does not fit the "
                             f"{dt.INDEX} index type; each dimension must be below 2**31 (reshape the "
                             "data into more dimensions, or process it in chunks)")
        dims.append(convert(extent, dt.INDEX))
    return Buffer(name, tuple(dims), dt.canonical(dtype), scope)
