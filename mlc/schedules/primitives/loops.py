"""Loop primitives: split, fuse, reorder, merge, parallel, vectorize, unroll, bind, annotate.

The mixin resolves handles and arguments and records the call; the IR work
and its legality checks live in pure functions (:mod:`.loop_transforms`,
:mod:`.loop_kinds`), which raise :class:`~mlc.ScheduleError` before anything
changes.

>>> import mlc
>>> from mlc import te
>>> A = te.placeholder((10,), "float32", "A")
>>> B = te.compute((10,), lambda j: A[j] * 2, "B")
>>> sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
>>> (j,) = sch.get_loops(sch.get_block("B"))
>>> j0, j1 = sch.split(j, factors=[None, 4])
>>> sch.vectorize(j1)
>>> print(sch.mod["main"].script())  # doctest: +NORMALIZE_WHITESPACE
@T.prim_func
def main(A: T.Buffer((10,), "float32"), B: T.Buffer((10,), "float32")):
    T.func_attr({"global_symbol": "main", "tir.noalias": True})
    for j_0 in range(3):
        for j_1 in T.vectorized(4):
            with T.block("B"):
                vj = T.axis.spatial(10, j_0 * 4 + j_1)
                T.where(j_0 * 4 + j_1 < 10)
                T.reads(A[vj])
                T.writes(B[vj])
                B[vj] = A[vj] * T.float32(2)
"""
from __future__ import annotations

import functools
import math
from dataclasses import replace as dc_replace

from ...errors import ScheduleError
from ...ir.expr import IntImm, const, floordiv
from ...ir.tir import BlockRealize, For, PrimFunc
from ..base import BlockRV, LoopRV, ScheduleBase, instruction, schedule_error
from ..state import replace
from .loop_kinds import THREAD_AXES, set_loop_kind
from .loop_merge import merge_loops
from .loop_transforms import const_extent, fuse_loops, reorder_loops, split_loop

__all__ = ["LoopPrimitives", "set_annotation", "THREAD_AXES"]

_ANN_SCALARS = (str, int, float, bool)


def _loops_positional(method):
    """Let an instruction taking ``loops: list`` also take the loops positionally.

    ``sch.fuse(i, j)`` and ``sch.fuse(loops=[i, j])`` (what the trace prints)
    are the same call.
    """
    @functools.wraps(method)
    def wrapper(self, *loops, **kwargs):
        if loops:
            if "loops" in kwargs:
                raise ScheduleError(f"{method.__name__}: pass the loops positionally or as "
                                    "loops=[...], not both")
            if len(loops) == 1 and isinstance(loops[0], (list, tuple)):
                loops = tuple(loops[0])
            kwargs["loops"] = list(loops)
        kwargs.setdefault("loops", [])
        return method(self, **kwargs)

    wrapper.is_instruction = True
    return wrapper


class LoopPrimitives(ScheduleBase):
    """Primitives that restructure loops or change how they run."""

    # ------------------------------------------------------------ structure
    @instruction
    def split(self, loop: LoopRV, factors) -> list[LoopRV]:
        """Split ``loop`` into nested loops of extents ``factors`` (outermost first); returns them.

        At most one factor may be None: it is inferred as the ceiling of the extent
        divided by the others. When the product exceeds the extent, the blocks
        inside get a predicate ``T.where(...)``. A loop of symbolic extent ``n``
        splits with one None factor: ``[None, 8]`` gives an outer loop of
        ``(n + 7) // 8`` iterations and the guard ``i_0 * 8 + i_1 < n`` (a ragged
        tail). Factors that are not positive ints, two Nones, a product below the
        extent, or constant factors for a symbolic extent are a
        :class:`~mlc.ScheduleError`. The handle ``loop`` is invalid afterwards.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(8))
        >>> (i,) = sch.get_loops(sch.get_block("B"))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(8):
                with T.block("B"):
                    vi = T.axis.spatial(8, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        >>> i0, i1 = sch.split(i, factors=[None, 4])
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i_0, i_1 in T.grid(2, 4):
                with T.block("B"):
                    vi = T.axis.spatial(8, i_0 * 4 + i_1)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        """
        fname, func, loc = self._loop(loop, "split")
        ints = _resolve_factors(func, loc.node, factors)
        new_func, new_vars = split_loop(func, loc.node.loop_var, ints)
        self._commit(fname, new_func)
        return [self._loop_rv(fname, v) for v in new_vars]

    @_loops_positional
    @instruction
    def fuse(self, loops: list[LoopRV]) -> LoopRV:
        """Fuse directly nested loops (outermost first, passed as a list or positionally)
        into one loop named ``a_b_fused``; returns it.

        Loops that are not a perfectly nested chain in that order, or a loop whose
        range depends on another of them, are a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.scale_2d(2, 4))
        >>> i, j = sch.get_loops(sch.get_block("B"))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((2, 4), "float32"), B: T.Buffer((2, 4), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i, j in T.grid(2, 4):
                with T.block("B"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    T.reads(A[vi, vj])
                    T.writes(B[vi, vj])
                    B[vi, vj] = A[vi, vj] * T.float32(2)
        >>> ij = sch.fuse(i, j)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((2, 4), "float32"), B: T.Buffer((2, 4), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i_j_fused in range(8):
                with T.block("B"):
                    vi = T.axis.spatial(2, i_j_fused // 4)
                    vj = T.axis.spatial(4, i_j_fused % 4)
                    T.reads(A[vi, vj])
                    T.writes(B[vi, vj])
                    B[vi, vj] = A[vi, vj] * T.float32(2)
        """
        fname, func, vars_ = self._loop_vars(loops, "fuse")
        new_func, fused = fuse_loops(func, vars_)
        self._commit(fname, new_func)
        return self._loop_rv(fname, fused)

    @_loops_positional
    @instruction
    def reorder(self, loops: list[LoopRV]) -> None:
        """Put loops of one perfectly nested chain in the given order (outermost first;
        a list or positional).

        Loops listed twice, loops not nested in one chain, a loop whose range
        depends on a loop moved inside it, and a new order the blocks may depend on
        are a :class:`~mlc.ScheduleError`: a loop bound to an opaque iterator keeps
        its place, and a loop whose order changes must have independent iterations
        (the proof ``parallel`` asks for) unless it drives only reduce iterators of
        blocks with an init.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.scale_2d(2, 4))
        >>> i, j = sch.get_loops(sch.get_block("B"))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((2, 4), "float32"), B: T.Buffer((2, 4), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i, j in T.grid(2, 4):
                with T.block("B"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    T.reads(A[vi, vj])
                    T.writes(B[vi, vj])
                    B[vi, vj] = A[vi, vj] * T.float32(2)
        >>> sch.reorder(j, i)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((2, 4), "float32"), B: T.Buffer((2, 4), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for j, i in T.grid(4, 2):
                with T.block("B"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    T.reads(A[vi, vj])
                    T.writes(B[vi, vj])
                    B[vi, vj] = A[vi, vj] * T.float32(2)
        """
        fname, func, vars_ = self._loop_vars(loops, "reorder")
        self._commit(fname, reorder_loops(func, vars_))

    @_loops_positional
    @instruction
    def merge(self, loops: list[LoopRV]) -> LoopRV:
        """Merge sibling loops (statements of one sequence with one range and kind, passed as a
        list or positionally) into the first of them; returns it. Iteration ``k`` of the merged
        loop runs iteration ``k`` of each loop's body in their order, and statements that were
        between the loops follow it (or precede it, where a later loop needs them): two
        reductions over the same rows read them once.

        Loops that are not siblings, of different ranges, kinds or annotations, bound to
        threads, a later loop that reads a buffer an earlier loop or a statement left after
        writes (or writes one they access), and a statement a later loop needs that needs an
        earlier loop are a :class:`~mlc.ScheduleError`: the merged loop would change what
        some access sees.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_sums(4))
        >>> (i, k), (j, r) = sch.get_loops(sch.get_block("S")), sch.get_loops(sch.get_block("Q"))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), S: T.Buffer((1,), "float32"), Q: T.Buffer((1,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i, k in T.grid(1, 4):
                with T.block("S"):
                    vi, vk = T.axis.remap("SR", [i, k])
                    T.reads(A[vk])
                    T.writes(S[vi])
                    with T.init():
                        S[vi] = T.float32(0)
                    S[vi] = S[vi] + A[vk]
            for i, r in T.grid(1, 4):
                with T.block("Q"):
                    vi, vr = T.axis.remap("SR", [i, r])
                    T.reads(A[vr])
                    T.writes(Q[vi])
                    with T.init():
                        Q[vi] = T.float32(0)
                    Q[vi] = Q[vi] + A[vr] * A[vr]
        >>> i = sch.merge(i, j)
        >>> k = sch.merge(k, r)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), S: T.Buffer((1,), "float32"), Q: T.Buffer((1,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i, k in T.grid(1, 4):
                with T.block("S"):
                    vi, vk = T.axis.remap("SR", [i, k])
                    T.reads(A[vk])
                    T.writes(S[vi])
                    with T.init():
                        S[vi] = T.float32(0)
                    S[vi] = S[vi] + A[vk]
                with T.block("Q"):
                    vi, vr = T.axis.remap("SR", [i, k])
                    T.reads(A[vr])
                    T.writes(Q[vi])
                    with T.init():
                        Q[vi] = T.float32(0)
                    Q[vi] = Q[vi] + A[vr] * A[vr]
        """
        fname, func, vars_ = self._loop_vars(loops, "merge")
        new_func, merged = merge_loops(func, vars_)
        self._commit(fname, new_func)
        return self._loop_rv(fname, merged)

    # ------------------------------------------------------------------ kind
    @instruction
    def parallel(self, loop: LoopRV) -> None:
        """Run the iterations of ``loop`` on a thread pool.

        The iterations must be independent: a loop that carries a reduction or a
        dependence between its iterations, or that is already of another kind, is a
        :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(4))
        >>> (i,) = sch.get_loops(sch.get_block("B"))
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
        >>> sch.parallel(i)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in T.parallel(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        """
        self._set_kind(loop, "parallel")

    @instruction
    def vectorize(self, loop: LoopRV) -> None:
        """Run ``loop`` as vector instructions.

        The iterations must be independent: a loop that carries a reduction or a
        dependence between its iterations, or that is already of another kind, is a
        :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(4))
        >>> (i,) = sch.get_loops(sch.get_block("B"))
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
        >>> sch.vectorize(i)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in T.vectorized(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        """
        self._set_kind(loop, "vectorized")

    @instruction
    def unroll(self, loop: LoopRV) -> None:
        """Unroll ``loop``.

        Always legal for a serial loop, as the order of iterations is kept; a loop
        already of another kind is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(4))
        >>> (i,) = sch.get_loops(sch.get_block("B"))
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
        >>> sch.unroll(i)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in T.unroll(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        """
        self._set_kind(loop, "unrolled")

    @instruction
    def bind(self, loop: LoopRV, thread_axis: str) -> None:
        """Bind ``loop`` to a GPU thread axis: ``blockIdx.x/y/z``, ``threadIdx.x/y/z`` or
        ``vthread.x/y/z``.

        An unknown axis, a loop whose iterations are not independent, a loop already
        of another kind, or an axis already bound with another extent is a
        :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(8))
        >>> (i,) = sch.get_loops(sch.get_block("B"))
        >>> i0, i1 = sch.split(i, factors=[2, 4])
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i_0, i_1 in T.grid(2, 4):
                with T.block("B"):
                    vi = T.axis.spatial(8, i_0 * 4 + i_1)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        >>> sch.bind(i0, "blockIdx.x")
        >>> sch.bind(i1, "threadIdx.x")
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i_0 in T.thread_binding(2, thread="blockIdx.x"):
                for i_1 in T.thread_binding(4, thread="threadIdx.x"):
                    with T.block("B"):
                        vi = T.axis.spatial(8, i_0 * 4 + i_1)
                        T.reads(A[vi])
                        T.writes(B[vi])
                        B[vi] = A[vi] + T.float32(1)
        """
        self._set_kind(loop, "thread_binding", thread_axis)

    # ----------------------------------------------------------- annotations
    @instruction
    def annotate(self, block_or_loop, ann_key: str, ann_val) -> None:
        """Attach the annotation ``ann_key: ann_val`` to a block or loop, replacing an
        earlier value of the same key.

        An empty key, or a value that is not a str, int, float, bool or a list of
        those, is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(4))
        >>> block = sch.get_block("B")
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
        >>> sch.annotate(block, "note", "hot")
        >>> sch.annotate(sch.get_loops(block)[0], "pragma_unroll", 2)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in T.serial(4, annotations={"pragma_unroll": 2}):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    T.block_attr({"note": "hot"})
                    B[vi] = A[vi] + T.float32(1)
        """
        fname, func, node = self._annotatable(block_or_loop, "annotate")
        value = _annotation_value(ann_val, func, node)
        if not isinstance(ann_key, str) or not ann_key:
            raise schedule_error("annotate", f"ann_key must be a non-empty string, got {ann_key!r}",
                                 func, node)
        self._commit(fname, set_annotation(func, node, ann_key, value))

    @instruction
    def unannotate(self, block_or_loop, ann_key: str) -> None:
        """Remove the annotation ``ann_key`` from a block or loop.

        A key the block or loop does not carry is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(4))
        >>> block = sch.get_block("B")
        >>> sch.annotate(block, "note", "hot")
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    T.block_attr({"note": "hot"})
                    B[vi] = A[vi] + T.float32(1)
        >>> sch.unannotate(block, "note")
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
        """
        fname, func, node = self._annotatable(block_or_loop, "unannotate")
        owner = node.block if isinstance(node, BlockRealize) else node
        if all(k != ann_key for k, _ in owner.annotations):
            keys = [k for k, _ in owner.annotations]
            raise schedule_error("unannotate", f"no annotation {ann_key!r} here; it has {keys}",
                                 func, node)
        self._commit(fname, set_annotation(func, node, ann_key, None))

    # --------------------------------------------------------------- helpers
    def _loop_vars(self, loops, primitive: str):
        if not isinstance(loops, (list, tuple)) or not loops:
            raise ScheduleError(f"{primitive}: expected one or more LoopRVs, got {loops!r}")
        resolved = [self._loop(rv, primitive) for rv in loops]
        names = {fname for fname, _, _ in resolved}
        if len(names) > 1:
            raise ScheduleError(f"{primitive}: the loops belong to different functions {sorted(names)}")
        fname, func, _ = resolved[0]
        return fname, func, [loc.node.loop_var for _, _, loc in resolved]

    def _set_kind(self, loop: LoopRV, kind: str, thread: str | None = None) -> None:
        primitive = {"parallel": "parallel", "vectorized": "vectorize", "unrolled": "unroll",
                     "thread_binding": "bind"}[kind]
        fname, func, loc = self._loop(loop, primitive)
        self._commit(fname, set_loop_kind(func, loc.node.loop_var, kind, thread))

    def _annotatable(self, rv, primitive: str):
        if isinstance(rv, LoopRV):
            fname, func, loc = self._loop(rv, primitive)
        elif isinstance(rv, BlockRV):
            fname, func, loc = self._block(rv, primitive)
        else:
            raise ScheduleError(f"{primitive}: expected a BlockRV or LoopRV, got {rv!r}")
        return fname, func, loc.node


def _resolve_factors(func: PrimFunc, loop: For, factors) -> list:
    """Check split factors and infer the None one; returns positive ints (the inferred
    factor of a symbolic extent is an expression)."""
    if not isinstance(factors, (list, tuple)) or not factors:
        raise schedule_error("split", f"factors must be a non-empty list, got {factors!r}", func, loop)
    for f in factors:
        if f is not None and (isinstance(f, bool) or not isinstance(f, int)):
            raise schedule_error("split", f"factors must be ints (or one None), got {f!r} in "
                                 f"{list(factors)}", func, loop)
        if f is not None and f < 1:
            raise schedule_error("split", f"factor {f} in {list(factors)} is less than 1; every "
                                 "factor must be a positive int", func, loop)
    nones = sum(f is None for f in factors)
    if nones > 1:
        raise schedule_error("split", f"at most one factor may be None, got {list(factors)}",
                             func, loop)
    if nones == 0:
        return [int(f) for f in factors]
    known = math.prod(int(f) for f in factors if f is not None)
    if not isinstance(loop.extent, IntImm):  # symbolic: the None factor is ceil(extent / known)
        ext = loop.extent
        inferred = ext if known == 1 else floordiv(ext + (known - 1), const(known, ext.dtype))
        return [inferred if f is None else int(f) for f in factors]
    extent = const_extent(loop, "split", func)
    inferred = max(1, -(-extent // known))
    return [inferred if f is None else int(f) for f in factors]


def _annotation_value(value, func, node):
    """Annotation values: str, int, float, bool, or a list of those (stored as a tuple)."""
    if isinstance(value, _ANN_SCALARS):
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(value, (list, tuple)) and all(isinstance(v, _ANN_SCALARS) for v in value):
        return tuple(value)
    raise schedule_error("annotate", f"annotation values must be str, int, float, bool or a list "
                         f"of them, got {value!r}", func, node)


def set_annotation(func: PrimFunc, node, key: str, value) -> PrimFunc:
    """``func`` with annotation ``key`` of a For or BlockRealize set (None removes it).

    A new key goes last; an existing key keeps its place.
    """
    owner = node.block if isinstance(node, BlockRealize) else node
    pairs = [(k, v) for k, v in owner.annotations if k != key or value is not None]
    if value is not None:
        if any(k == key for k, _ in pairs):
            pairs = [(k, value if k == key else v) for k, v in pairs]
        else:
            pairs.append((key, value))
    new_owner = dc_replace(owner, annotations=tuple(pairs))
    new_node = dc_replace(node, block=new_owner) if isinstance(node, BlockRealize) else new_owner
    return replace(func, node, new_node)
