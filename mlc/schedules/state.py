"""Finding and replacing nodes in a PrimFunc: the tree helpers every primitive uses.

IR is immutable, so a primitive computes a new subtree and :func:`replace`
rebuilds the path from the root to the replaced node (everything else is
shared). Loops are identified by their ``loop_var`` object, blocks by their
name, which is unique in a function.
"""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

from ..errors import ScheduleError
from ..ir.analysis import blocks_under
from ..ir.expr import Var
from ..ir.functor import Mutator, node_fields
from ..ir.tir import BlockRealize, For, IfThenElse, PrimFunc, SeqStmt, Stmt, seq

__all__ = ["Location", "find_block", "find_loop", "all_blocks", "all_loops", "replace",
           "loops_above", "blocks_under", "child_blocks", "parent_block"]


@dataclass(frozen=True)
class Location:
    """A node and its ancestors, outermost first (the root BlockRealize included)."""
    node: Stmt
    path: tuple[Stmt, ...]


def _walk(func: PrimFunc):
    """Yield (node, ancestors) for every statement, parents first (explicit stack)."""
    stack = [(func.body, ())]
    while stack:
        node, path = stack.pop()
        yield node, path
        inner = path + (node,)
        if isinstance(node, SeqStmt):
            stack.extend((s, inner) for s in reversed(node.seq))
        elif isinstance(node, For):
            stack.append((node.body, inner))
        elif isinstance(node, BlockRealize):
            block = node.block
            stack.append((block.body, inner))
            if block.init is not None:
                stack.append((block.init, inner))
        elif isinstance(node, IfThenElse):
            if node.else_case is not None:
                stack.append((node.else_case, inner))
            stack.append((node.then_case, inner))
        elif hasattr(node, "body") and isinstance(getattr(node, "body"), Stmt):
            stack.append((node.body, inner))


@dataclass(frozen=True)
class _Index:
    """The blocks (root excluded) and loops of one function, in program order, with the
    first block of each name and the first loop of each loop variable."""
    blocks: tuple[Location, ...]
    loops: tuple[Location, ...]
    block_named: dict[str, Location]
    loop_of: dict[int, Location]      # id(loop_var) ->


#: The index of the functions looked at last, by id: (function, index). A function is
#: immutable, so its index never changes; a primitive asks for it several times (its
#: handles, its checks) and the next primitive again, so a few entries serve a schedule.
_INDEXES: dict[int, tuple[PrimFunc, _Index]] = {}
_INDEXES_KEPT = 8
_INDEX_LOCK = threading.Lock()


def _index(func: PrimFunc) -> _Index:
    key = id(func)
    with _INDEX_LOCK:
        entry = _INDEXES.get(key)
        if entry is not None and entry[0] is func:
            return entry[1]
    blocks, loops, block_named, loop_of = [], [], {}, {}
    for node, path in _walk(func):
        if isinstance(node, BlockRealize) and path:
            loc = Location(node, path)
            blocks.append(loc)
            block_named.setdefault(node.block.name_hint, loc)
        elif isinstance(node, For):
            loc = Location(node, path)
            loops.append(loc)
            loop_of.setdefault(id(node.loop_var), loc)
    index = _Index(tuple(blocks), tuple(loops), block_named, loop_of)
    with _INDEX_LOCK:
        _INDEXES.pop(key, None)
        _INDEXES[key] = (func, index)  # the function is kept alive, so its id is not reused
        while len(_INDEXES) > _INDEXES_KEPT:
            del _INDEXES[next(iter(_INDEXES))]
    return index


def all_blocks(func: PrimFunc) -> list[Location]:
    """Every BlockRealize except the root, in program order."""
    return list(_index(func).blocks)


def all_loops(func: PrimFunc) -> list[Location]:
    return list(_index(func).loops)


def find_block(func: PrimFunc, name: str, primitive: str = "get_block") -> Location:
    loc = _index(func).block_named.get(name)
    if loc is not None:
        return loc
    names = [loc.node.block.name_hint for loc in all_blocks(func)]
    raise ScheduleError(f"{primitive}: no block named {name!r}; the function has blocks {names}")


def find_loop(func: PrimFunc, loop_var: Var, primitive: str = "schedule") -> Location:
    loc = _index(func).loop_of.get(id(loop_var))
    if loc is not None:
        return loc
    raise ScheduleError(f"{primitive}: the loop {loop_var.name!r} no longer exists; a primitive "
                        "such as split, fuse or compute_at replaced it — use the handles it returned")


def loops_above(loc: Location) -> list[For]:
    """The loops enclosing a node, up to its parent block, outermost first."""
    loops: list[For] = []
    for node in reversed(loc.path):
        if isinstance(node, BlockRealize):
            break
        if isinstance(node, For):
            loops.append(node)
    return loops[::-1]


def parent_block(loc: Location) -> BlockRealize:
    for node in reversed(loc.path):
        if isinstance(node, BlockRealize):
            return node
    raise ScheduleError("node has no parent block")


def child_blocks(node: Stmt) -> list[BlockRealize]:
    """Direct child blocks of a block realize or loop."""
    body = node.block.body if isinstance(node, BlockRealize) else node.body if isinstance(node, For) else node
    return blocks_under(body)


class _Replace(Mutator):
    def __init__(self, old: Stmt, new: Stmt | None):
        self.old, self.new = old, new

    def visit(self, node):
        if node is self.old:
            return self.new
        return super().visit(node)

    def visit_SeqStmt(self, node: SeqStmt):
        items = [self.visit(s) for s in node.seq]
        if all(a is b for a, b in zip(items, node.seq)):
            return node
        return seq(*[s for s in items if s is not None])

    def generic_visit(self, node):
        """Rebuild through statement fields only: expressions never contain statements."""
        changes = {}
        for name, value in node_fields(node):
            if isinstance(value, Stmt):
                new = self.visit(value)
                if new is not value:
                    changes[name] = new
        return dataclasses.replace(node, **changes) if changes else node


def replace(func: PrimFunc, old: Stmt, new: Stmt | None) -> PrimFunc:
    """``func`` with the node ``old`` (found by identity) replaced by ``new``.

    ``new=None`` removes ``old`` from its enclosing sequence. A loop or block that occurs
    once is found through the function's index and only its ancestors are rebuilt; any
    other node is looked for in the whole tree (every occurrence is replaced).
    """
    path = _only_path(func, old)
    if path is not None:
        return func.with_body(_rebuild(path, old, new))
    body = _Replace(old, new).visit(func.body)
    if body is func.body:
        raise ScheduleError("internal: the node to replace is not in the function")
    return func.with_body(body)


def _only_path(func: PrimFunc, node: Stmt) -> tuple[Stmt, ...] | None:
    """The ancestors of loop or block ``node`` when it occurs exactly once in ``func``."""
    if isinstance(node, For):
        found = [loc for loc in _index(func).loops if loc.node is node]
    elif isinstance(node, BlockRealize):
        found = [loc for loc in _index(func).blocks if loc.node is node]
    else:
        return None
    return found[0].path if len(found) == 1 else None


def _rebuild(path: tuple[Stmt, ...], old: Stmt, new: Stmt | None) -> Stmt:
    """The outermost of ``path`` (ancestors of ``old``, outermost first) with ``old``
    replaced by ``new`` and each ancestor rebuilt around its new child."""
    for parent in reversed(path):
        old, new = parent, _with_child(parent, old, new)
    return new


def _with_child(parent: Stmt, old: Stmt, new: Stmt | None) -> Stmt:
    """``parent`` with its child statement ``old`` replaced by ``new`` (a block realize's
    children are its block's body and init, as :func:`_walk` sees them)."""
    if isinstance(parent, SeqStmt):
        return seq(*[s for s in ((new if s is old else s) for s in parent.seq) if s is not None])
    if isinstance(parent, BlockRealize):
        block = parent.block
        changes = {name: new for name in ("body", "init") if getattr(block, name) is old}
        return dataclasses.replace(parent, block=dataclasses.replace(block, **changes))
    changes = {name: new for name, value in node_fields(parent) if value is old}
    return dataclasses.replace(parent, **changes)
