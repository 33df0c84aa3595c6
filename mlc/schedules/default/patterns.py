"""What the default rules ask about a block: its kind, its loops, the matmul pattern.

These are read-only questions on the IR of a block in a :class:`Schedule`;
the rules in :mod:`.cpu` and :mod:`.matmul` decide what to do with the
answers.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir.expr import Binary, BufferLoad, Call, Cast, FloatImm, IntImm, PrimExpr, Var
from ...ir.functor import pre_order_nodes
from ...ir.tir import Block, BlockRealize, BufferStore, For
from ..state import find_block, loops_above

__all__ = ["BlockView", "view", "MatmulPattern", "match_matmul", "is_injective", "is_data_movement",
           "contiguous_along", "loop_extents", "constant_extent", "is_canonical"]


@dataclass(frozen=True)
class BlockView:
    """A block with the loops above it (outermost first) and its function."""
    func: object
    realize: BlockRealize
    loops: tuple[For, ...]

    @property
    def block(self) -> Block:
        return self.realize.block

    @property
    def name(self) -> str:
        return self.block.name_hint


def view(sch, block_rv) -> BlockView:
    """The IR behind a block handle of ``sch``."""
    _, func, loc = sch._block(block_rv, "default schedule")
    return BlockView(func, loc.node, tuple(loops_above(loc)))


def view_by_name(func, name: str) -> BlockView:
    loc = find_block(func, name)
    return BlockView(func, loc.node, tuple(loops_above(loc)))


def constant_extent(loop: For) -> int | None:
    """The loop's extent as an int, or None when it is symbolic."""
    return loop.extent.value if isinstance(loop.extent, IntImm) else None


def loop_extents(v: BlockView) -> list[int | None]:
    return [constant_extent(f) for f in v.loops]


def is_canonical(v: BlockView) -> bool:
    """One loop per iterator of the block, each binding its iterator directly (te's form, as
    ``inline_injective`` leaves it)."""
    return len(v.loops) == len(v.block.iter_vars) and all(
        val is f.loop_var for val, f in zip(v.realize.iter_values, v.loops))


def is_injective(v: BlockView) -> bool:
    """A spatial block computing one value per point with a single store."""
    blk = v.block
    return not blk.is_reduction and blk.init is None and isinstance(blk.body, BufferStore)


def is_data_movement(value: PrimExpr) -> bool:
    """A value that only moves data: loads, casts, constants and selects between them
    (transpose, broadcast, padding), with integer index arithmetic in conditions."""
    for node in pre_order_nodes(value):
        if isinstance(node, Call):
            return False
        if isinstance(node, Binary) and node.dtype.startswith("float"):
            return False
    return True


def contiguous_along(var: Var, regions) -> bool:
    """True when each region either does not use ``var`` or uses it as a point in its
    last dimension only (so consecutive ``var`` values touch consecutive elements)."""
    for r in regions:
        dims = r.region
        for d, rng in enumerate(dims):
            used = any(n is var for n in pre_order_nodes(rng.min))
            if not used:
                continue
            last = d == len(dims) - 1
            if not (last and rng.min is var and isinstance(rng.extent, IntImm) and rng.extent.value == 1):
                return False
    return True


@dataclass(frozen=True)
class MatmulPattern:
    """``C[...] += A[...] * B[...]`` with one reduce iterator ``k``.

    Fields are positions in the block's iterators: ``j`` indexes C's last
    dimension and only B; ``i`` (None for a matrix-vector product) indexes A
    and not B; ``batch`` holds the other spatial iterators. ``a_read`` and
    ``b_read`` are the positions of A and B in the block's read regions.
    """
    i: int | None
    j: int
    k: int
    batch: tuple[int, ...]
    a_read: int
    b_read: int
    a_dims: tuple[int, ...]  # for each dimension of A, the iterator position indexing it
    b_dims: tuple[int, ...]  # ... and of B

    def b_contiguous(self) -> bool:
        return self.b_dims[-1] == self.j


def _strip_cast(e: PrimExpr) -> PrimExpr:
    return e.value if isinstance(e, Cast) else e


def _iter_positions(load: BufferLoad, ids: dict[int, int]) -> tuple[int, ...] | None:
    out = []
    for idx in load.indices:
        if not isinstance(idx, Var) or id(idx) not in ids:
            return None
        out.append(ids[id(idx)])
    return tuple(out) if len(set(out)) == len(out) else None


def _is_zero(e: PrimExpr) -> bool:
    e = _strip_cast(e)
    return isinstance(e, (IntImm, FloatImm)) and e.value == 0


def _extent_one(iv) -> bool:
    return isinstance(iv.dom.extent, IntImm) and iv.dom.extent.value == 1


def match_matmul(v: BlockView) -> MatmulPattern | None:
    """The matmul pattern of the block, or None when it does not have that shape."""
    blk = v.block
    body, init = blk.body, blk.init
    if not (blk.is_reduction and isinstance(body, BufferStore) and isinstance(init, BufferStore)):
        return None
    if init.buffer is not body.buffer or not _is_zero(init.value):
        return None
    ids = {id(iv.var): n for n, iv in enumerate(blk.iter_vars)}
    kinds = [iv.iter_type for iv in blk.iter_vars]
    reduce = [n for n, kind in enumerate(kinds) if kind == "reduce"]
    out = _iter_positions(BufferLoad(body.buffer, body.indices, body.buffer.dtype), ids)
    if len(reduce) != 1 or out is None or not out or any(kinds[n] != "spatial" for n in out):
        return None
    k = reduce[0]
    value = body.value
    if not (isinstance(value, Binary) and value.op == "add"):
        return None
    acc, prod = value.a, _strip_cast(value.b)
    if not (isinstance(acc, BufferLoad) and acc.buffer is body.buffer and _iter_positions(acc, ids) == out):
        return None
    if not (isinstance(prod, Binary) and prod.op == "mul"):
        return None
    x, y = _strip_cast(prod.a), _strip_cast(prod.b)
    if not (isinstance(x, BufferLoad) and isinstance(y, BufferLoad)):
        return None
    px, py = _iter_positions(x, ids), _iter_positions(y, ids)
    if px is None or py is None or k not in px or k not in py:
        return None
    j = out[-1]
    if (j in px) == (j in py):
        return None
    (a, pa), (b, pb) = ((x, px), (y, py)) if j in py else ((y, py), (x, px))
    i_candidates = [n for n in out[:-1] if n in pa and n not in pb]
    # the rows: the innermost such axis, passing over one of a single row (a stack of
    # vector-matrix products, (b, 1, k) @ (k, n), has its rows in the batch axis B lacks)
    longer = [n for n in i_candidates if not _extent_one(blk.iter_vars[n])]
    i = (longer or i_candidates)[-1] if i_candidates else None
    batch = tuple(n for n in out if n not in (i, j))
    reads = [r.buffer for r in blk.reads]
    if a.buffer not in reads or b.buffer not in reads or a.buffer is b.buffer:
        return None
    return MatmulPattern(i, j, k, batch, reads.index(a.buffer), reads.index(b.buffer), pa, pb)
