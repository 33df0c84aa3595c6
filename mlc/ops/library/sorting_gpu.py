"""The GPU kernel of ``sort`` and ``argsort``: a bitonic sorting network over (key, position) pairs.

Each element is a pair: its key (:mod:`._sort_keys`, the unsigned integer whose order is
the CPU radix sort's order) and its position in the row. Pairs compare by key, then by
position; no two are equal, so their one sorted order is the stable sort: ties keep their
input order, NaN comes last (first when ``descending``, the order the CPU op gives) and
-0.0 ties 0.0. ``sort`` of ints and bool carries the keys alone: equal keys are equal
values there, and a key decodes back to its value (:func:`._sort_keys.int_value`).

A row of ``n`` elements is sorted as a row of ``P = 2**ceil(log2(n))`` whose positions
``n..P-1`` hold +infinity. The network runs stages ``k = 2, 4, ..., P``: stage ``k`` first
compares, in every block of ``k`` positions, the ``o``-th with the ``o``-th from the end
(the *flip*), then, for ``j = k/4, ..., 1``, position ``o`` with ``o + j`` in every block
of ``2j`` (the *half-cleaners*). A comparator puts the smaller pair at its lower position.
Its sub-stages ``(k, j)`` for ``n = 6``, ``P = 8`` (pairs of positions, padding 6 and 7):

    (2, 1) flip:  (0 1) (2 3) (4 5) (6 7)
    (4, 2) flip:  (0 3) (1 2) (4 7) (5 6)
    (4, 1) half:  (0 1) (2 3) (4 5) (6 7)
    (8, 4) flip:  (0 7) (1 6) (2 5) (3 4)
    (8, 2) half:  (0 2) (1 3) (4 6) (5 7)
    (8, 1) half:  (0 1) (2 3) (4 5) (6 7)

>>> network(8)
[(2, 1), (4, 2), (4, 1), (8, 4), (8, 2), (8, 1)]

The lower position of a comparator is the smaller, so one whose upper position is padding
never swaps (+infinity is already there): padding never moves. It is never stored in
global memory (a tile in shared memory makes up its padding as (+infinity, position)),
and the kernels working on global memory skip the comparators that reach it.

Kernels. All rows, padded to ``P`` each, are one sequence of ``rows * P`` positions cut
into tiles of ``TILE = 2 * TILE_THREADS`` (or fewer, for a small input): a sub-stage
whose comparators stay inside a tile (a flip of ``k <= TILE``, a half-cleaner of
``2j <= TILE``) runs in a block's shared memory, one comparator per thread, and
consecutive such sub-stages share one kernel (a barrier between them). The first kernel
reads ``x`` and builds the pairs, the last writes ``out``: the sorted values (decoded from
the keys, or read from ``x`` at the positions) or the positions. A row longer than a tile
needs the sub-stages that span tiles: one kernel each, over the rows' pairs (the
``blockIdx.x``/``threadIdx.x`` grid covers ``rows * P/2`` comparators), with the pairs in
a per-call global workspace (``keys``, ``pos``: ``rows * n`` each) between kernels. The
kernels for a 16-position row and tiles of 4:

>>> for kind, stages in kernel_plan(16, 4):
...     print(kind, stages)
tile ((2, 1), (4, 2), (4, 1))
global ((8, 4),)
tile ((8, 2), (8, 1))
global ((16, 8),)
global ((16, 4),)
tile ((16, 2), (16, 1))

A row of up to ``TILE`` elements is sorted by one kernel, a block per tile of rows.
"""
from __future__ import annotations

from ...errors import ShapeError
from ...ir import dtype as dt
from ...ir.buffer import Buffer, decl_buffer
from ...ir.expr import PrimExpr, Var, cast, const, select
from ...ir.tir import Allocate, BufferStore, Evaluate, For, IfThenElse, PrimFunc, Stmt, seq
from ..registry import TensorType
from ._common import hand_written_func, shape_size
from ._sort_keys import check_sortable, int_value, key_dtype, sort_key

__all__ = ["bitonic_sort_func", "network", "comparators", "kernel_plan", "TILE_THREADS", "GLOBAL_THREADS"]

#: Threads of a block of the tile kernels: a tile is twice as many positions (at most).
TILE_THREADS = 512

#: Threads of a block of the kernels of one sub-stage spanning tiles.
GLOBAL_THREADS = 256

#: The largest grid of a kernel (CUDA's blockIdx.x).
_MAX_BLOCKS = (1 << 31) - 1


def network(size: int) -> list[tuple[int, int]]:
    """The sub-stages ``(k, j)`` of the bitonic network sorting ``size`` positions (a power of
    two), in order: ``j == k // 2`` is stage ``k``'s flip, smaller ``j`` its half-cleaners."""
    out, k = [], 2
    while k <= size:
        j = k // 2
        while j:
            out.append((k, j))
            j //= 2
        k *= 2
    return out


def _span(k: int, j: int) -> int:
    """The positions one block of sub-stage ``(k, j)``'s comparators covers."""
    return k if j == k // 2 else 2 * j


def kernel_plan(size: int, tile: int) -> list[tuple[str, tuple[tuple[int, int], ...]]]:
    """The kernels sorting rows of ``size`` positions with tiles of ``tile``: ``("tile",
    sub-stages)`` run in shared memory (the first and the last kernel are such, the first
    with no sub-stage for ``size == 1``), ``("global", (sub-stage,))`` span tiles."""
    plan: list[tuple[str, tuple[tuple[int, int], ...]]] = []
    for k, j in network(size):
        kind = "tile" if _span(k, j) <= tile else "global"
        if kind == "tile" and plan and plan[-1][0] == "tile":
            plan[-1] = ("tile", plan[-1][1] + ((k, j),))
        else:
            plan.append((kind, ((k, j),)))
    return plan or [("tile", ())]


def _log2(value: int) -> int:
    return value.bit_length() - 1


def _pair(t, k: int, j: int):
    """The positions ``(a, b)``, ``a < b``, of comparator ``t`` of sub-stage ``(k, j)``, counted
    from the start of a row or of a tile: ints for an int ``t``, index expressions for an
    expression."""
    lj = _log2(j)
    o = t & (j - 1) if j > 1 else 0                    # the offset in its block of 2j
    base = (t >> lj) << (lj + 1) if j > 1 else t << 1
    a = base + o
    return a, (base + (2 * j - 1) - o if j == k // 2 else a + j)


def comparators(size: int, k: int, j: int) -> list[tuple[int, int]]:
    """The comparators ``(a, b)`` of sub-stage ``(k, j)`` on ``size`` positions, as the kernels
    number them (the pairs of the table in the module docstring).

    >>> comparators(8, 8, 4), comparators(8, 8, 2)
    ([(0, 7), (1, 6), (2, 5), (3, 4)], [(0, 2), (1, 3), (4, 6), (5, 7)])
    """
    return [_pair(t, k, j) for t in range(size // 2)]


class _Bitonic:
    """The buffers and geometry of one sort (see the module docstring); :meth:`func` builds it."""

    def __init__(self, x: TensorType, descending: bool, indices: bool):
        self.dtype, self.descending, self.indices = x.dtype, descending, indices
        self.lead, self.n = tuple(x.shape[:-1]), x.shape[-1]
        self.rows = shape_size(self.lead)
        self.size = 1 << max(self.n - 1, 0).bit_length()  # P: n rounded up to a power of two
        self.total = self.rows * self.size                  # positions of all padded rows
        self.idx = "int64" if self.total >= 1 << 31 else "int32"
        self.kdt = key_dtype(x.dtype)
        self.pdt = "int32" if self.size <= 1 << 31 else "int64"
        self.carry_positions = indices or dt.is_float(x.dtype)
        self.tile = min(2 * TILE_THREADS, 1 << max(self.total - 1, 1).bit_length())
        self.plan = kernel_plan(self.size, self.tile)
        self.X = decl_buffer(x.shape, x.dtype, "x")
        self.OUT = decl_buffer(x.shape, "int64" if indices else x.dtype, "out")
        spans = any(kind == "global" for kind, _ in self.plan)
        length = (self.rows * self.n,)
        self.keys = decl_buffer(length, self.kdt, "keys") if spans else None
        self.pos = decl_buffer(length, self.pdt, "pos") if spans and self.carry_positions else None

    def c(self, value: int) -> PrimExpr:
        """An index constant."""
        return const(value, self.idx)

    # ------------------------------------------------------------ addressing

    def row_index(self, r: PrimExpr) -> tuple[PrimExpr, ...]:
        """The leading indices of ``x`` and ``out`` of row ``r`` (row-major)."""
        out, stride = [], 1
        for d, extent in reversed(list(enumerate(self.lead))):
            part = r if stride == 1 else r // self.c(stride)
            out.append(part if d == 0 else part % self.c(extent))
            stride *= extent
        return tuple(reversed(out))

    def element(self, r: PrimExpr, i: PrimExpr) -> PrimExpr:
        """Where element ``i`` of row ``r`` is in the workspace."""
        return r * self.c(self.n) + i

    def padding(self, r: PrimExpr, i: PrimExpr):
        """Whether position ``i`` of padded row ``r`` holds no element (None: never)."""
        cond = [i >= self.c(self.n)] if self.n < self.size else []
        if self.total % self.tile:
            cond.append(r >= self.c(self.rows))  # past the last row, in its last tile
        if not cond:
            return None
        return cond[0] if len(cond) == 1 else cond[0] | cond[1]

    # ------------------------------------------------------------ compare-exchange

    def exchange(self, keys: Buffer, pos: Buffer | None, a: PrimExpr, b: PrimExpr,
                 tmp_key: Buffer, tmp_pos: Buffer | None) -> Stmt:
        """Swap elements ``a < b`` of ``keys`` (and ``pos``) where the pair at ``a`` is larger."""
        zero = const(0, "int32")
        larger = keys[a] > keys[b]
        if pos is not None:
            larger = larger | ((keys[a] == keys[b]) & (pos[a] > pos[b]))
        swaps = []
        for buf, tmp in ((keys, tmp_key), (pos, tmp_pos)):
            if buf is not None:
                swaps += [BufferStore(tmp, buf[a], (zero,)), BufferStore(buf, buf[b], (a,)),
                          BufferStore(buf, tmp[zero], (b,))]
        return IfThenElse(larger, seq(*swaps))

    def temporaries(self) -> tuple[Buffer, Buffer | None]:
        """One thread's registers for a swap (new buffers: a kernel's own)."""
        tmp_key = decl_buffer((1,), self.kdt, "tmp_key", scope="local")
        tmp_pos = decl_buffer((1,), self.pdt, "tmp_pos", scope="local") if self.carry_positions else None
        return tmp_key, tmp_pos

    # ------------------------------------------------------------ kernels

    def launch(self, blocks: int, threads: int, body, allocs) -> For:
        """``body(bx, tx)`` under a ``blockIdx.x`` x ``threadIdx.x`` grid allocating ``allocs``."""
        if blocks > _MAX_BLOCKS:
            raise ShapeError(f"{'argsort' if self.indices else 'sort'}: {self.rows} rows of {self.n} elements "
                             f"need a grid of {blocks} blocks of {threads} threads, more than CUDA's "
                             f"{_MAX_BLOCKS}; sort fewer rows at a time")
        bx, tx = Var("bx", "int32"), Var("tx", "int32")
        inner: Stmt = For(tx, const(0, "int32"), const(threads, "int32"), "thread_binding", body(bx, tx),
                          "threadIdx.x")
        for buf in reversed([b for b in allocs if b is not None]):
            inner = Allocate(buf, inner)
        return For(bx, const(0, "int32"), const(blocks, "int32"), "thread_binding", inner, "blockIdx.x")

    def tile_kernel(self, stages, first: bool, last: bool) -> For:
        """Sub-stages ``stages`` in shared memory, a block per tile: the pairs come from ``x``
        (``first``) or the workspace, and go to ``out`` (``last``) or the workspace."""
        tile, threads = self.tile, self.tile // 2
        keys = decl_buffer((tile,), self.kdt, "keys_shared", scope="shared")
        pos = decl_buffer((tile,), self.pdt, "pos_shared", scope="shared") if self.carry_positions else None
        tmp_key, tmp_pos = self.temporaries()
        top = const((1 << dt.bits(self.kdt)) - 1, self.kdt)  # the padding's key: +infinity

        def slots(bx, tx, body):
            """``body(s, r, i, empty)`` for the thread's two positions ``s`` of the tile: row ``r``,
            position ``i`` in it, ``empty`` whether it is padding (one store each: no barrier
            between the two)."""
            c = Var("c", "int32")
            s = tx + c * threads  # in the tile (int32), the padded rows' position g (self.idx)
            g = cast(bx, self.idx) * self.c(tile) + cast(s, self.idx)
            r, i = g >> self.c(_log2(self.size)), g & self.c(self.size - 1)
            return For(c, const(0, "int32"), const(2, "int32"), "unrolled", body(s, r, i, self.padding(r, i)))

        def load(s, r, i, empty):
            def unless_empty(value, padded):
                return value if empty is None else select(empty, padded, value)
            if first:  # padding at position i holds (+infinity, i): it sorts after the row, in place
                key = sort_key(self.X[self.row_index(r) + (i,)], self.descending)
                stores = [BufferStore(keys, unless_empty(key, top), (s,))]
                return seq(*stores, *([BufferStore(pos, cast(i, self.pdt), (s,))] if pos is not None else []))
            at = self.element(r, i)
            stores = [BufferStore(keys, unless_empty(self.keys[at], top), (s,))]
            if pos is not None:
                stores.append(BufferStore(pos, unless_empty(self.pos[at], cast(i, self.pdt)), (s,)))
            return seq(*stores)

        def store(s, r, i, empty):
            if last:
                at = self.row_index(r) + (i,)
                if self.indices:
                    value = cast(pos[s], "int64")
                elif pos is not None:
                    value = self.X[self.row_index(r) + (cast(pos[s], self.idx),)]
                else:
                    value = int_value(keys[s], self.dtype, self.descending)
                stmt = BufferStore(self.OUT, value, at)
            else:
                stmt = seq(BufferStore(self.keys, keys[s], (self.element(r, i),)),
                           *([BufferStore(self.pos, pos[s], (self.element(r, i),))] if pos is not None else []))
            return stmt if empty is None else IfThenElse(~empty, stmt)

        def body(bx, tx):
            return seq(slots(bx, tx, load),
                       *(self.exchange(keys, pos, *_pair(tx, k, j), tmp_key, tmp_pos) for k, j in stages),
                       slots(bx, tx, store))
        return self.launch(-(-self.total // tile), threads, body, (keys, pos, tmp_key, tmp_pos))

    def global_kernel(self, k: int, j: int) -> For:
        """Sub-stage ``(k, j)`` on the workspace, a thread per comparator of every row."""
        pairs = self.total // 2
        threads = min(GLOBAL_THREADS, pairs)
        tmp_key, tmp_pos = self.temporaries()

        def body(bx, tx):
            f = cast(bx, self.idx) * self.c(threads) + cast(tx, self.idx)
            r, t = f >> self.c(_log2(self.size) - 1), f & self.c(self.size // 2 - 1)
            a, b = _pair(t, k, j)
            stmt = self.exchange(self.keys, self.pos, self.element(r, a), self.element(r, b), tmp_key, tmp_pos)
            guards = ([f < self.c(pairs)] if pairs % threads else []) + \
                ([b < self.c(self.n)] if self.n < self.size else [])
            for guard in reversed(guards):  # the comparators of padding never swap: skipped
                stmt = IfThenElse(guard, stmt)
            return stmt
        return self.launch(-(-pairs // threads), threads, body, (tmp_key, tmp_pos))

    def func(self) -> PrimFunc:
        if self.rows * self.n == 0:
            return hand_written_func((self.X, self.OUT), Evaluate(const(0)), gpu=True)
        launches = []
        for number, (kind, stages) in enumerate(self.plan):
            if kind == "global":
                launches.append(self.global_kernel(*stages[0]))
            else:
                launches.append(self.tile_kernel(stages, number == 0, number == len(self.plan) - 1))
        allocs = tuple(b for b in (self.keys, self.pos) if b is not None)
        return hand_written_func((self.X, self.OUT), seq(*launches), allocs, gpu=True)


def bitonic_sort_func(x: TensorType, *, descending: bool, indices: bool) -> PrimFunc:
    """The GPU PrimFunc ``(x, out)`` sorting ``x`` along its last axis into ``out`` (the values,
    or with ``indices`` their int64 positions), stably, in the CPU op's order: a bitonic
    network whose loops are bound to ``blockIdx.x``/``threadIdx.x`` (see the module docstring),
    marked already scheduled.

    >>> f = bitonic_sort_func(TensorType((3, 5), "float32"), descending=False, indices=True)
    >>> [(p.name, p.dtype) for p in f.params]
    [('x', 'float32'), ('out', 'int64')]
    """
    check_sortable("argsort" if indices else "sort", x)
    return _Bitonic(x, bool(descending), bool(indices)).func()
