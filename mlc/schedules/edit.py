"""Small rewrites shared by block-level primitives: remove a block, insert a statement,
allocate or drop a buffer, rename, make fresh loops.

Each function takes IR and returns new IR; nothing is modified in place.
"""
from __future__ import annotations

from dataclasses import replace as dc_replace

from ..errors import IRError, ScheduleError
from ..ir import dtype as dt
from ..ir.buffer import Buffer
from ..ir.expr import IntImm, PrimExpr, Var, const
from ..ir.functor import Mutator
from ..ir.names import unique_name
from ..ir.tir import Block, BlockRealize, Evaluate, For, PrimFunc, SeqStmt, Stmt, seq
from .state import Location, all_blocks, replace

__all__ = [
    "remove_block", "insert_at", "unique_block_name", "unique_buffer_name", "add_alloc",
    "remove_alloc", "replace_buffers", "make_loops", "allocated_buffers", "body_items", "on_params",
]


def remove_block(func: PrimFunc, loc: Location) -> PrimFunc:
    """``func`` without the block at ``loc`` and the loops that held only it.

    Before::

        for i in range(8):
            for j in range(8):
                with T.block("B"): ...
            for j in range(8):
                with T.block("C"): ...

    ``remove_block(func, <B>)`` leaves only the ``C`` nest under ``i``.
    """
    node: Stmt = loc.node
    parent: Stmt | None = None
    for anc in reversed(loc.path):
        if isinstance(anc, For) and anc.body is node:
            node = anc
            continue
        parent = anc
        break
    return replace(func, node, None if isinstance(parent, SeqStmt) else Evaluate(const(0)))


def body_items(stmt: Stmt) -> list[Stmt]:
    """The statements of a sequence (one statement is a sequence of one)."""
    return list(stmt.seq) if isinstance(stmt, SeqStmt) else [stmt]


def insert_at(loop: For, stmt: Stmt, index: int) -> For:
    """``loop`` with ``stmt`` inserted before item ``index`` of its body sequence."""
    items = body_items(loop.body)
    if isinstance(loop.body, Evaluate):
        items = []
        index = 0
    return dc_replace(loop, body=seq(*items[:index], stmt, *items[index:]))


def _names(func: PrimFunc) -> tuple[set[str], set[str]]:
    blocks = {loc.node.block.name_hint for loc in all_blocks(func)}
    buffers = {b.name for b in func.params} | {b.name for b in allocated_buffers(func)}
    return blocks, buffers


def unique_block_name(func: PrimFunc, base: str) -> str:
    """``base``, or ``base_1``, ``base_2``... if a block already has that name."""
    return unique_name(base, _names(func)[0])


def unique_buffer_name(func: PrimFunc, base: str) -> str:
    return unique_name(base, _names(func)[1])


def allocated_buffers(func: PrimFunc) -> list[Buffer]:
    """Buffers allocated by any block of ``func`` (the root included)."""
    out = list(func.root_block.alloc_buffers) if func.root_block is not None else []
    for loc in all_blocks(func):
        out.extend(loc.node.block.alloc_buffers)
    return out


def add_alloc(func: PrimFunc, buffer: Buffer) -> PrimFunc:
    """``func`` with ``buffer`` allocated by the root block."""
    root_realize = func.body
    if not isinstance(root_realize, BlockRealize) or func.root_block is None:
        raise ScheduleError("the function has no root block to allocate a buffer in")
    root = root_realize.block
    block = dc_replace(root, alloc_buffers=root.alloc_buffers + (buffer,))
    return func.with_body(dc_replace(root_realize, block=block))


class _DropAlloc(Mutator):
    def __init__(self, buffer: Buffer):
        self.buffer = buffer

    def visit_Block(self, node: Block):
        node = self.generic_visit(node)
        if any(b is self.buffer for b in node.alloc_buffers):
            node = dc_replace(node, alloc_buffers=tuple(b for b in node.alloc_buffers if b is not self.buffer))
        return node

    def visit_BufferStore(self, node):  # expressions hold no blocks
        return node


def remove_alloc(func: PrimFunc, buffer: Buffer) -> PrimFunc:
    """``func`` without the allocation of ``buffer`` (wherever a block allocates it)."""
    return func.with_body(_DropAlloc(buffer).visit(func.body))


class _ReplaceBuffers(Mutator):
    def __init__(self, bmap: dict[int, Buffer]):
        self.bmap = bmap

    def visit_buffer(self, buffer: Buffer) -> Buffer:
        return self.bmap.get(id(buffer), buffer)


def replace_buffers(node, bmap: dict[int, Buffer]):
    """``node`` with every use of a buffer (by ``id``) replaced per ``bmap``."""
    return _ReplaceBuffers(bmap).visit(node) if bmap else node


def on_params(kernel: PrimFunc, func: PrimFunc, at: tuple[int, ...]) -> PrimFunc:
    """``kernel``'s body on ``func``'s parameters (``kernel``'s parameter ``k`` is ``func``'s
    ``at[k]``), with ``func``'s parameters and attributes: an op's kernel for a target (its
    ``gpu_prim_func``, or a CPU's own) put in place of its hand-written PrimFunc ``func``."""
    name = func.attr("global_symbol", "main")
    if len(kernel.params) != len(at):
        raise IRError(f"{name}: the target's kernel of op {func.attr('mlc.op')} takes {len(kernel.params)} "
                      f"parameters, its hand-written PrimFunc {len(at)}; a target's kernel takes the "
                      "prim_func's parameters")
    mapping = {}
    for p, k in zip(kernel.params, at):
        q = func.params[k]
        if p.static_shape() != q.static_shape() or p.dtype != q.dtype:
            raise IRError(f"{name}: the target's kernel of op {func.attr('mlc.op')} takes {p.name} as "
                          f"{p.dtype}{list(p.static_shape())}, its hand-written PrimFunc as "
                          f"{q.dtype}{list(q.static_shape())}; a target's kernel takes the prim_func's parameters")
        mapping[id(p)] = q
    return PrimFunc(func.params, replace_buffers(kernel.body, mapping), func.attrs)


def make_loops(loops: list[tuple[Var, PrimExpr, PrimExpr]], body: Stmt) -> Stmt:
    """Nest ``body`` in serial loops ``(var, min, extent)``, the first outermost."""
    for var, lo, extent in reversed(loops):
        body = For(var, lo, extent, "serial", body)
    return body


def index_var(name: str) -> Var:
    return Var(name, dt.INDEX)


def is_const(e: PrimExpr, value: int) -> bool:
    return isinstance(e, IntImm) and e.value == value
