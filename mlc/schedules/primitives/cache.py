"""cache_read and cache_write: stage a buffer through a copy in another memory scope.

``cache_read(block, i, "shared")`` copies the ``i``-th buffer ``block`` reads
into ``{A}_shared`` right before its first reader and makes every reader use
the copy::

    for i, j in T.grid(8, 8):                     A_shared = T.alloc_buffer((8, 8), scope="shared")
        with T.block("B"):                        for ax0, ax1 in T.grid(8, 8):
            B[vi, vj] = A[vi, vj] + 1       ->        with T.block("A_shared"):
                                                          A_shared[v0, v1] = A[v0, v1]
                                                  for i, j in T.grid(8, 8):
                                                      with T.block("B"):
                                                          B[vi, vj] = A_shared[vi, vj] + 1

``cache_write(block, i, "local")`` makes ``block`` write ``{B}_local`` and adds a
block ``{B}_local`` right after it that copies the written region back to ``B``.
Both return the new block. Loops of the copy are named ``ax0, ax1, ...``.

``set_scope(block, i, "shared")`` moves the ``i``-th buffer ``block`` writes, an
intermediate of the function, to another memory without a copy (TVM's ``set_scope``):
a row's maximum computed by the threads of a block and read by all of them.
"""
from __future__ import annotations

from dataclasses import replace as dc_replace

from ...ir.buffer import SCOPES, Buffer, BufferRegion, is_storage_scope
from ...ir.expr import IntImm, IterVar, Range, Var, const
from ...ir.arith import Analyzer, IntSet, canonical, relax_region
from ...ir.tir import Block, BlockRealize, BufferStore, PrimFunc, seq
from ..analysis import and_all, clip_to_shape, loop_dom, regions_in_loops, stmt_blocks
from ..coverage import reads_before_init, uncovered_write
from ..base import BlockRV, ScheduleBase, instruction, schedule_error
from ..edit import body_items, index_var, make_loops, replace_buffers, unique_block_name, unique_buffer_name
from ..state import find_block, loops_above, parent_block, replace
from .loop_transforms import outer_ranges

__all__ = ["CachePrimitives", "cache_read_ir", "cache_write_ir"]


def _check(prim, func, realize, regions, index, scope, what) -> Buffer:
    name = realize.block.name_hint
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(regions):
        listed = ", ".join(r.buffer.name for r in regions) or "none"
        raise schedule_error(prim, f"block {name!r}: {what}_buffer_index {index!r} is out of range; the "
                             f"block {what}s {len(regions)} buffer(s) ({listed})", func, realize)
    if not is_storage_scope(scope):
        raise schedule_error(prim, f"unknown storage scope {scope!r}; expected one of {', '.join(SCOPES)}, "
                             "or global, local, shared with a tag (\"global.A_reg\")")
    return regions[index].buffer


def _cache_name(buf: Buffer, scope: str) -> str:
    """``A_shared``; a tagged scope's dot becomes ``_`` so the name stays an identifier."""
    return f"{buf.name}_{scope.replace('.', '_')}"


def _copy_nest(name: str, src: Buffer, dst: Buffer, region: list[tuple], ranges) -> object:
    """``dst[v] = src[v]`` for v in ``region`` (pairs of (min, extent)), loops ``ax0...``.

    ``ranges`` bounds the variables of the region's minimums; where the copy
    cannot be proven inside the buffer, a predicate keeps it there.
    """
    loops, iters, values, conds = [], [], [], []
    ranges = dict(ranges)
    for d, ((lo, extent), size) in enumerate(zip(region, src.shape)):
        ax = index_var(f"ax{d}")
        loops.append((ax, const(0), extent))
        ranges[ax] = Range(const(0), extent)
        iters.append(IterVar(Var(f"v{d}"), Range(const(0), size), "spatial"))
        value = canonical(lo + ax)
        values.append(value)
        ana = Analyzer(ranges)
        # (ax runs over [0, extent): with a symbolic extent the bounds follow from lo alone)
        inside = (ana.can_prove(value >= 0) or _nonnegative(ana, lo),
                  ana.can_prove(value < size) or _nonnegative(ana, size - lo - extent))
        conds += [c for c, ok in zip((value >= 0, value < size), inside) if not ok]
    idx = tuple(iv.var for iv in iters)
    point = lambda buf: BufferRegion(buf, tuple(Range(i, const(1)) for i in idx))  # noqa: E731
    block = Block(name, tuple(iters), (point(src),), (point(dst),), BufferStore(dst, src[idx], idx))
    return make_loops(loops, BlockRealize(tuple(values), and_all(conds), block))


def _nonnegative(ana: Analyzer, e) -> bool:
    lo = ana.const_int_bound(canonical(e)).min
    return lo is not None and lo >= 0


def _with_scope_body(func: PrimFunc, scope: BlockRealize, items, alloc: Buffer) -> PrimFunc:
    blk = scope.block
    new = dc_replace(scope, block=dc_replace(blk, body=seq(*items), alloc_buffers=blk.alloc_buffers + (alloc,)))
    return replace(func, scope, new)


def cache_read_ir(func: PrimFunc, block: str, read_buffer_index: int, storage_scope: str) -> tuple[PrimFunc, str]:
    """Copy the buffer ``block`` reads into a ``storage_scope`` cache; returns (func, copy block)."""
    prim = "cache_read"
    loc = find_block(func, block, prim)
    buf = _check(prim, func, loc.node, loc.node.block.reads, read_buffer_index, storage_scope, "read")
    scope = parent_block(loc)
    items = body_items(scope.block.body)
    readers = [k for k, item in enumerate(items)
               if any(r.buffer is buf for b in stmt_blocks(item) for r in b.block.reads)]
    first = readers[0]
    for item in items[first:]:
        for b in stmt_blocks(item):
            if any(w.buffer is buf for w in b.block.writes):
                raise schedule_error(prim, f"block {block!r}: block {b.block.name_hint!r} writes "
                                     f"{buf.name} at or after its first read, so a copy made before "
                                     "the readers would be stale", func, b)
    cache = Buffer(unique_buffer_name(func, _cache_name(buf, storage_scope)), buf.shape, buf.dtype, storage_scope)
    name = unique_block_name(func, f"{buf.name}_{storage_scope}")
    nest = _copy_nest(name, buf, cache, [(const(0), e) for e in buf.shape], {})
    rest = [replace_buffers(item, {id(buf): cache}) for item in items[first:]]
    return _with_scope_body(func, scope, items[:first] + [nest] + rest, cache), name


def set_scope_ir(func: PrimFunc, block: str, buffer_index: int, storage_scope: str) -> PrimFunc:
    """``func`` with the ``buffer_index``-th buffer ``block`` writes in ``storage_scope``."""
    prim = "set_scope"
    loc = find_block(func, block, prim)
    buf = _check(prim, func, loc.node, loc.node.block.writes, buffer_index, storage_scope, "write")
    if any(p is buf for p in func.params):
        raise schedule_error(prim, f"block {block!r}: {buf.name} is a parameter of the function, in the "
                             "caller's memory; cache_write it into another scope instead", func, loc.node)
    if buf.scope == storage_scope:
        return func
    new = Buffer(buf.name, buf.shape, buf.dtype, storage_scope, buf.strides)
    return func.with_body(replace_buffers(func.body, {id(buf): new}))


def cache_write_ir(func: PrimFunc, block: str, write_buffer_index: int, storage_scope: str) -> tuple[PrimFunc, str]:
    """Make ``block`` write a ``storage_scope`` cache copied back after it; returns (func, copy block)."""
    prim = "cache_write"
    loc = find_block(func, block, prim)
    realize = loc.node
    buf = _check(prim, func, realize, realize.block.writes, write_buffer_index, storage_scope, "write")
    scope = parent_block(loc)
    carried = [iv.var.name for iv in scope.block.iter_vars if iv.iter_type != "spatial"]
    if carried:
        raise schedule_error(prim, f"block {block!r}: the cache would live in block "
                             f"{scope.block.name_hint!r}, one instance per step of its reduction "
                             f"iterator(s) {carried}, and lose what {block!r} accumulated across "
                             "them; cache the outer block instead", func, scope)
    items = body_items(scope.block.body)
    pos = next(k for k, item in enumerate(items) if any(b is realize for b in stmt_blocks(item)))
    inside = {id(b) for b in stmt_blocks(realize)}  # a blockized block's inner blocks write through it
    for b in stmt_blocks(scope.block.body):
        if id(b) in inside or b is scope:
            continue
        if any(w.buffer is buf for w in b.block.writes):
            raise schedule_error(prim, f"block {block!r}: block {b.block.name_hint!r} also writes "
                                 f"{buf.name}; the copy back would overwrite it", func, b)
    for b in stmt_blocks(items[pos]):
        if id(b) not in inside and any(r.buffer is buf for r in b.block.reads):
            raise schedule_error(prim, f"block {block!r}: block {b.block.name_hint!r} reads {buf.name} "
                                 "in the same loop nest, before the copy back could run", func, b)
    _check_complete_writer(prim, func, loc, buf)
    cache = Buffer(unique_buffer_name(func, _cache_name(buf, storage_scope)), buf.shape, buf.dtype, storage_scope)
    name = unique_block_name(func, f"{buf.name}_{storage_scope}")
    region = _written_region(loc, buf)
    nest = _copy_nest(name, cache, buf, region, outer_ranges(loc))
    item = replace_buffers(items[pos], {id(buf): cache})
    return _with_scope_body(func, scope, items[:pos] + [item, nest] + items[pos + 1:], cache), name


def _check_complete_writer(prim: str, func: PrimFunc, loc, buf: Buffer) -> None:
    """The cache starts empty and all of the written region is copied back, so ``loc``'s
    block must not read ``buf`` (unless a reduction's init sets it first) and must write
    every element of the region: no store under an ``if``, no predicate but the guards
    of a split's extra iterations, no gaps between the elements it writes."""
    realize = loc.node
    block = realize.block.name_hint
    found = uncovered_write(loc, buf, outer_ranges(loc))
    if found is not None:
        node, why = found
        raise schedule_error(prim, f"block {block!r} {why}, so the cache would copy back elements it "
                             f"never set; cache_write needs a block that writes all of the region of "
                             f"{buf.name} it writes to", func, node)
    reader = reads_before_init(realize, buf)
    if reader is not None:
        who = "it" if reader is realize else f"its inner block {reader.block.name_hint!r}"
        raise schedule_error(prim, f"block {block!r} updates {buf.name} in place ({who} reads "
                             f"{buf.name} with no T.init() to set it first), but the cache starts "
                             f"empty; give the reduction a T.init() that sets {buf.name}, or leave "
                             f"{buf.name} uncached", func, reader)


def _written_region(loc, buf: Buffer) -> list[tuple]:
    """(min, extent) per dimension of what the block writes to ``buf`` over all its loops."""
    dom = loop_dom(loops_above(loc))
    out = None
    for r in regions_in_loops(loc.node, loc.node.block.writes):
        if r.buffer is buf:
            sets = relax_region(r.region, dom)
            out = sets if out is None else [a.union(b) for a, b in zip(out, sets)]
    out = _within_domain(out, loc.node, buf)
    dims = []
    for s, size in zip(clip_to_shape(out, buf.shape), buf.shape):
        e = s.extent()
        dims.append((s.min, e) if isinstance(e, IntImm) and s.min is not None else (const(0), size))
    return dims


def _within_domain(sets: list, realize: BlockRealize, buf: Buffer) -> list:
    """``sets`` cut to what the block writes with its iterators inside their domains (a split's
    extra iterations, which its predicate skips, write nothing), where both are constant."""
    dom = {iv.var: IntSet.from_range(iv.dom) for iv in realize.block.iter_vars}
    inside = None
    for r in realize.block.writes:
        if r.buffer is buf:
            region = relax_region(r.region, dom)
            inside = region if inside is None else [a.union(b) for a, b in zip(inside, region)]
    return [s.intersect(d) if _constant(s) and _constant(d) else s for s, d in zip(sets, inside)]


def _constant(s: IntSet) -> bool:
    return isinstance(s.min, IntImm) and isinstance(s.max, IntImm)


class CachePrimitives(ScheduleBase):

    @instruction
    def cache_read(self, block, read_buffer_index: int, storage_scope: str) -> BlockRV:
        """Read the ``read_buffer_index``-th input of ``block`` through a copy in
        ``storage_scope`` (a new block and buffer ``{buffer}_{scope}``, placed at the
        top of the block's scope); returns the copy block.

        An index out of range, an unknown scope, or a buffer written at or after
        its first read in the scope is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        >>> copy = sch.cache_read(sch.get_block("B"), 0, "local")
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            A_local = T.alloc_buffer((4,), scope="local")
            for ax0 in range(4):
                with T.block("A_local"):
                    v0 = T.axis.spatial(4, ax0)
                    T.reads(A[v0])
                    T.writes(A_local[v0])
                    A_local[v0] = A[v0]
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A_local[vi])
                    T.writes(B[vi])
                    B[vi] = A_local[vi] + T.float32(1)
        """
        fname, func, loc = self._block(block, "cache_read")
        new, name = cache_read_ir(func, loc.node.block.name_hint, read_buffer_index, storage_scope)
        self._commit(fname, new)
        return self._block_rv(fname, name)

    @instruction
    def set_scope(self, block, buffer_index: int, storage_scope: str) -> None:
        """Move the ``buffer_index``-th buffer ``block`` writes into ``storage_scope``
        (``"shared"``, ``"local"``, ...), every access of it included, without a copy.

        An index out of range, an unknown scope, or a parameter of the function (whose
        memory is the caller's: ``cache_write`` it instead) is a
        :class:`~mlc.ScheduleError`.

        >>> import mlc
        >>> from mlc import te
        >>> A = te.placeholder((2, 8), "float32", "A")
        >>> k = te.reduce_axis((0, 8), "k")
        >>> M = te.compute((2,), lambda i: te.max(A[i, k], axis=k), "M")
        >>> B = te.compute((2, 8), lambda i, j: A[i, j] / M[i], "B")
        >>> sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((2, 8), "float32"), B: T.Buffer((2, 8), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            M = T.alloc_buffer((2,))
            for i, k in T.grid(2, 8):
                with T.block("M"):
                    vi, vk = T.axis.remap("SR", [i, k])
                    T.reads(A[vi, vk])
                    T.writes(M[vi])
                    with T.init():
                        M[vi] = T.float32("-inf")
                    M[vi] = T.max(M[vi], A[vi, vk])
            for i, j in T.grid(2, 8):
                with T.block("B"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    T.reads(A[vi, vj], M[vi])
                    T.writes(B[vi, vj])
                    B[vi, vj] = A[vi, vj] / M[vi]
        >>> sch.set_scope(sch.get_block("M"), 0, "shared")
        >>> print(sch.mod["main"].script().splitlines()[3])  # the allocation; the rest is as before
            M = T.alloc_buffer((2,), scope="shared")
        """
        fname, func, loc = self._block(block, "set_scope")
        self._commit(fname, set_scope_ir(func, loc.node.block.name_hint, buffer_index, storage_scope))

    @instruction
    def cache_write(self, block, write_buffer_index: int, storage_scope: str) -> BlockRV:
        """Make ``block`` write its ``write_buffer_index``-th output to a copy in
        ``storage_scope``, copied back by a new block ``{buffer}_{scope}`` that is
        returned.

        An index out of range, an unknown scope, a block inside a reduction's
        scope, a buffer that another block of the scope also writes (or reads in
        the same loop nest), a block that reads the buffer with no ``T.init()`` (an
        in-place update: the cache starts empty), or one that may leave elements of
        the region it writes unset (a store under an ``if``, a predicate other than a
        split's guard, an index with gaps; see :mod:`mlc.schedules.coverage`) is a
        :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        >>> copy = sch.cache_write(sch.get_block("B"), 0, "local")
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B_local = T.alloc_buffer((4,), scope="local")
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B_local[vi])
                    B_local[vi] = A[vi] + T.float32(1)
            for ax0 in range(4):
                with T.block("B_local"):
                    v0 = T.axis.spatial(4, ax0)
                    T.reads(B_local[v0])
                    T.writes(B[v0])
                    B[v0] = B_local[v0]
        """
        fname, func, loc = self._block(block, "cache_write")
        new, name = cache_write_ir(func, loc.node.block.name_hint, write_buffer_index, storage_scope)
        self._commit(fname, new)
        return self._block_rv(fname, name)
