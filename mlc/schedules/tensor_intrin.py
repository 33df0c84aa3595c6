"""Tensor intrinsics: a description of a small computation and its fast implementation.

``TensorIntrin.register(name, description, implementation)`` stores a pair of
PrimFuncs with the same parameters (in order, shapes and dtypes). The
description is a loop nest over one block, e.g. a 4-element dot product::

    for k in range(4):
        with T.block("update"):
            vk = T.axis.reduce(4, k)
            C[0] = C[0] + A[vk] * B[vk]

``sch.tensorize(block_or_loop, name)`` matches a (blockized) part of a
schedule against the description and swaps in the implementation with the
parameters bound to the matched buffer regions.

Descriptions and implementations are written in TVMScript (``T.match_buffer``
parameters, an explicit ``with T.block("root")`` is looked through), in ``te``
(a list of tensors, or ``te.create_prim_func``), or from IR nodes; loop
extents may be ints or ``const``. An implementation may call a function the
backend provides: ``T.evaluate(T.call_extern("int32", name, T.address_of(C[0]), ...))``.

A description written in ``te`` (``te.sum``) has a ``T.init()``: it
overwrites its output with a fresh reduction at every call. It matches only
a block whose init is its own (a tile that covers the block's whole
reduction). To accumulate tile by tile, ``decompose_reduction`` first and
register the update with ``init=False`` (``C += ...``); the init block then
gets an intrinsic of its own. The intrinsics mlc ships per target live in
:mod:`mlc.schedules.intrinsics`.

Registered by default (CPU, float32):

* ``"dot_4_f32"``: ``C[0] += sum(A[0:4] * B[0:4])``, implemented with an
  unrolled loop;
* ``"mac_1x4_f32"``: ``C[0, 0:4] += A[0, 0] * B[0, 0:4]`` (one row of a
  matmul micro-kernel), implemented with a vectorized loop.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from typing import ClassVar

from ..errors import ScheduleError
from ..ir import te
from ..ir.buffer import Buffer, BufferRegion, decl_buffer
from ..ir.expr import IterVar, Range, Var, const
from ..ir.structural import structural_equal
from ..ir.tir import Block, BlockRealize, BufferStore, For, PrimFunc, Stmt

__all__ = ["TensorIntrin", "unit_of", "body_of"]


def body_of(func: PrimFunc) -> Stmt:
    """The statement under a PrimFunc's root block (or its body when it has none)."""
    root = func.root_block
    stmt = root.body if root is not None else func.body
    # TVMScript's explicit ``with T.block("root"):`` (reads/writes only) is looked through
    while isinstance(stmt, BlockRealize) and not stmt.block.iter_vars and not stmt.block.alloc_buffers \
            and stmt.block.init is None:
        stmt = stmt.block.body
    return stmt


def unit_of(stmt: Stmt) -> tuple[list[For], BlockRealize] | None:
    """``stmt`` as (loops, block) when it is a chain of loops around one block."""
    loops = []
    while isinstance(stmt, For):
        loops.append(stmt)
        stmt = stmt.body
    return (loops, stmt) if isinstance(stmt, BlockRealize) else None


_PROVIDING = threading.RLock()  # (a provider's register() asks for its own name again)


@dataclass(frozen=True, eq=False)
class TensorIntrin:
    """A registered (description, implementation) pair."""
    name: str
    desc: PrimFunc
    impl: PrimFunc

    _registry: ClassVar[dict[str, TensorIntrin]] = {}
    #: name -> the function that registers it: the intrinsics mlc ships, built the first time
    #: one is asked for (:meth:`provide`).
    _pending: ClassVar[dict[str, Callable[[], object]]] = {}

    @staticmethod
    def provide(name: str, register: Callable[[], object]) -> None:
        """Let ``register()`` register ``name`` when it is first needed: by :meth:`get`,
        :meth:`names`, or a :meth:`register` of the same name (which then meets it as it
        would have, had it been registered at once). The intrinsics mlc ships come this way,
        so that importing the schedules does not build every one of them (some 5 ms for
        the CUDA and x86 ones together)."""
        TensorIntrin._pending[name] = register

    @staticmethod
    def _provided(name: str | None = None) -> None:
        """Register ``name`` (or, with None, every intrinsic) still pending. One thread at a
        time: another asking meanwhile waits until the intrinsic is there."""
        with _PROVIDING:
            for pending in ([name] if name is not None else list(TensorIntrin._pending)):
                register = TensorIntrin._pending.pop(pending, None)
                if register is not None:
                    register()

    @staticmethod
    def register(name: str, description, implementation, override: bool = False, *,
                 init: bool = True) -> TensorIntrin:
        """Check and store an intrinsic under ``name``; returns it.

        ``description`` and ``implementation`` are PrimFuncs (written in TVMScript,
        built from IR nodes, or made by ``te.create_prim_func``) or lists of te
        tensors (parameters in order, as ``te.create_prim_func`` takes them).
        ``init=False`` drops the ``T.init()`` a ``te.sum`` gives them: the
        intrinsic then accumulates into its output (``C += ...``), which is what a
        reduction tiled across calls is tensorized with, after ``decompose_reduction``
        (the init gets an intrinsic of its own, or stays a loop nest).
        """
        if isinstance(name, str):
            TensorIntrin._provided(name)  # (a shipped intrinsic of that name is registered first)
        description = _as_prim_func(name, "description", description, init)
        implementation = _as_prim_func(name, "implementation", implementation, init)
        if not isinstance(name, str) or not name:
            raise ScheduleError(f"TensorIntrin.register: the name must be a non-empty string, got {name!r}")
        if name in TensorIntrin._registry and not override:
            raise ScheduleError(f"TensorIntrin.register: {name!r} is already registered; pass "
                                "override=True to replace it")
        for label, f in (("description", description), ("implementation", implementation)):
            if not isinstance(f, PrimFunc):
                raise ScheduleError(f"TensorIntrin.register({name!r}): the {label} must be a PrimFunc, "
                                    f"got {type(f).__name__}")
        if unit_of(body_of(description)) is None:
            raise ScheduleError(f"TensorIntrin.register({name!r}): the description must be loops "
                                "around exactly one block")
        if len(description.params) != len(implementation.params):
            raise ScheduleError(f"TensorIntrin.register({name!r}): the description has "
                                f"{len(description.params)} parameters, the implementation "
                                f"{len(implementation.params)}")
        for d, i in zip(description.params, implementation.params):
            if d.dtype != i.dtype or not structural_equal(d.shape, i.shape):
                raise ScheduleError(f"TensorIntrin.register({name!r}): parameter {d.name} is "
                                    f"{d.dtype}{tuple(d.shape)!r} in the description but "
                                    f"{i.dtype}{tuple(i.shape)!r} in the implementation")
        intrin = TensorIntrin(name, description, implementation)
        TensorIntrin._registry[name] = intrin
        return intrin

    @staticmethod
    def get(name: str) -> TensorIntrin:
        """The intrinsic registered under ``name``."""
        TensorIntrin._provided(name)
        if name not in TensorIntrin._registry:
            TensorIntrin._provided()  # (for the list of names below)
        try:
            return TensorIntrin._registry[name]
        except KeyError:
            raise ScheduleError(f"no tensor intrinsic named {name!r}; registered: "
                                f"{sorted(TensorIntrin._registry)}") from None

    @staticmethod
    def names() -> list[str]:
        TensorIntrin._provided()
        return sorted(TensorIntrin._registry)


def _as_prim_func(name: str, label: str, f, init: bool):
    """``f`` as a PrimFunc: te tensors go through ``te.create_prim_func``; with ``init=False``
    the init of the block under the root is dropped."""
    if isinstance(f, (list, tuple)) and f and all(isinstance(t, te.Tensor) for t in f):
        f = te.create_prim_func(list(f))
    if not isinstance(f, PrimFunc):
        raise ScheduleError(f"TensorIntrin.register({name!r}): the {label} must be a PrimFunc or a "
                            f"list of te tensors, got {type(f).__name__}")
    if init:
        return f
    unit = unit_of(body_of(f))
    if unit is None or unit[1].block.init is None:
        return f
    loops, realize = unit
    stmt = dc_replace(realize, block=dc_replace(realize.block, init=None))
    for loop in reversed(loops):
        stmt = dc_replace(loop, body=stmt)
    root = f.root_block
    if root is None:
        return f.with_body(stmt)
    return f.with_body(dc_replace(f.body, block=dc_replace(root, body=stmt)))


# ------------------------------------------------------------- CPU examples

def _point(buf: Buffer, *idx) -> BufferRegion:
    return BufferRegion(buf, tuple(Range(i, const(1)) for i in idx))


def _func(params, body: Stmt) -> PrimFunc:
    root = Block("root", (), (), (), body)
    return PrimFunc(tuple(params), BlockRealize((), const(True, "bool"), root), (("tir.noalias", True),))


def _dot_4_f32() -> tuple[PrimFunc, PrimFunc]:
    A, B, C = (decl_buffer(s, "float32", n) for n, s in (("A", (4,)), ("B", (4,)), ("C", (1,))))
    k = Var("k")
    vk = IterVar(Var("vk"), Range.from_extent(4), "reduce")
    zero = const(0)
    update = Block("update", (vk,), (_point(C, zero), _point(A, vk.var), _point(B, vk.var)),
                   (_point(C, zero),),
                   BufferStore(C, C[0] + A[vk.var] * B[vk.var], (zero,)))
    desc = _func((A, B, C), For(k, const(0), const(4), "serial",
                                BlockRealize((k,), const(True, "bool"), update)))
    Ai, Bi, Ci = (decl_buffer(b.shape, "float32", b.name) for b in (A, B, C))
    ki = Var("k")
    impl = _func((Ai, Bi, Ci), For(ki, const(0), const(4), "unrolled",
                                   BufferStore(Ci, Ci[0] + Ai[ki] * Bi[ki], (zero,))))
    return desc, impl


def _mac_1x4_f32() -> tuple[PrimFunc, PrimFunc]:
    A, B, C = (decl_buffer(s, "float32", n) for n, s in (("A", (1, 1)), ("B", (1, 4)), ("C", (1, 4))))
    j = Var("j")
    vi = IterVar(Var("vi"), Range.from_extent(1), "spatial")
    vj = IterVar(Var("vj"), Range.from_extent(4), "spatial")
    vk = IterVar(Var("vk"), Range.from_extent(1), "reduce")
    i_, j_, k_ = vi.var, vj.var, vk.var
    update = Block("update", (vi, vj, vk), (_point(C, i_, j_), _point(A, i_, k_), _point(B, k_, j_)),
                   (_point(C, i_, j_),),
                   BufferStore(C, C[i_, j_] + A[i_, k_] * B[k_, j_], (i_, j_)))
    zero = const(0)
    desc = _func((A, B, C), For(j, zero, const(4), "serial",
                                BlockRealize((zero, j, zero), const(True, "bool"), update)))
    Ai, Bi, Ci = (decl_buffer(b.shape, "float32", b.name) for b in (A, B, C))
    ji = Var("j")
    impl = _func((Ai, Bi, Ci), For(ji, zero, const(4), "vectorized",
                                   BufferStore(Ci, Ci[0, ji] + Ai[0, 0] * Bi[0, ji], (zero, ji))))
    return desc, impl


TensorIntrin.register("dot_4_f32", *_dot_4_f32())
TensorIntrin.register("mac_1x4_f32", *_mac_1x4_f32())
