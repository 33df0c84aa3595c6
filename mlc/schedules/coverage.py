"""Does a block write every element of the region it writes, and does it read it first?

``cache_write`` gives a block a fresh, empty cache and copies the whole region
the block writes back to the buffer. That is right only for a block that sets
every element of that region and reads none of them before setting it:

* :func:`uncovered_write` finds why a block may leave elements of a region
  unset: a store under an ``if``, a predicate other than the guard of a split's
  extra iterations, or an index with gaps (``B[vi * 2]``, ``B[vi, vi]``);
* :func:`reads_before_init` finds a block that reads the buffer it updates
  with no ``T.init()`` to set it first (``B[vi] = B[vi] + A[vi, vk]``).

An index that is not affine in the loops (``f // 4`` of a fused loop) is taken
to fill its hull, the region every primitive derives for it.

>>> import mlc
>>> from mlc.schedules.state import find_block
>>> from mlc.schedules.primitives.loop_transforms import outer_ranges
>>> func = mlc.parse('''
... @T.prim_func
... def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
...     for i in range(8):
...         with T.block("B"):
...             vi = T.axis.spatial(8, i)
...             if vi % 2 == 0:
...                 B[vi] = A[vi]
... ''')
>>> loc = find_block(func, "B")
>>> uncovered_write(loc, func.params[1], outer_ranges(loc))[1]
'writes B only where `vi % 2 == 0`'
>>> reads_before_init(loc.node, func.params[1]) is None
True
"""
from __future__ import annotations

from ..ir.analysis import stmt_children
from ..ir.arith import Analyzer, expr_key, linear
from ..ir.buffer import Buffer
from ..ir.expr import Binary, BufferLoad, IntImm, PrimExpr, Range, Var
from ..ir.functor import pre_order_nodes
from ..ir.tir import BlockRealize, BufferStore, Evaluate, For, IfThenElse, Stmt
from .analysis import conjuncts, is_true, regions_in_loops
from .state import Location, loops_above

__all__ = ["uncovered_write", "reads_before_init", "is_domain_guard"]


def uncovered_write(loc: Location, buf: Buffer, ranges: dict) -> tuple[Stmt, str] | None:
    """(node, why) when the block at ``loc`` may leave elements of the region of ``buf``
    it writes over its loops unset; None when it writes all of them. ``ranges`` holds the
    ranges of every loop and block iterator around the block."""
    for node in reversed(loc.path):
        if isinstance(node, BlockRealize):
            break
        if isinstance(node, IfThenElse):
            return node, f"runs only where `{node.condition!r}`"
    found = _partial_inside(loc.node, buf, ranges)
    if found is not None:
        return found
    relaxed = {id(f.loop_var) for f in loops_above(loc)}
    for region in regions_in_loops(loc.node, loc.node.block.writes):
        if region.buffer is buf and not _dense(region.region, relaxed, ranges):
            return loc.node, f"writes {buf.name} at `{_show(region)}`, with gaps between the elements"
    return None


def reads_before_init(realize: BlockRealize, buf: Buffer) -> BlockRealize | None:
    """The block under ``realize`` (itself included) that reads ``buf`` where no
    ``T.init()`` of it or of a block around it sets ``buf`` first; None if there is none."""
    stack: list[tuple[Stmt, bool, BlockRealize]] = [(realize, False, realize)]
    while stack:
        node, has_init, owner = stack.pop()
        if isinstance(node, BlockRealize):
            owner, has_init = node, has_init or node.block.init is not None
            if not has_init and any(r.buffer is buf for r in node.block.reads):
                return node
        elif not has_init and _loads(node, buf):
            return owner
        stack.extend((child, has_init, owner) for child in stmt_children(node))
    return None


def is_domain_guard(cond: PrimExpr, realize: BlockRealize, buf: Buffer, ranges) -> bool:
    """True when ``cond`` holds wherever the block's iterators are inside their domains and
    its writes of ``buf`` inside the buffer: the ``T.where(i_0 * 4 + i_1 < 10)`` a split
    adds, which skips only iterations that write nothing of the region."""
    bounds = []  # expressions that are <= -1 in every iteration that writes the region
    for iv, value in zip(realize.block.iter_vars, realize.iter_values):
        bounds += [value - (iv.dom.min + iv.dom.extent), iv.dom.min - value - 1]
    for region in regions_in_loops(realize, realize.block.writes):
        if region.buffer is buf:
            for r, size in zip(region.region, buf.shape):
                bounds += [r.min + r.extent - 1 - size, -r.min - 1]
    ana = Analyzer(ranges)
    for part in conjuncts(cond):
        negative = _as_negative(part)  # part holds iff negative < 0
        if negative is None or not (ana.can_prove(part) or
                                    any(ana.can_prove(negative - b <= 0) for b in bounds)):
            return False
    return True


def _as_negative(cond: PrimExpr) -> PrimExpr | None:
    """``e`` with ``cond`` equivalent to ``e < 0``, for an integer comparison; else None."""
    if not isinstance(cond, Binary) or cond.op not in ("lt", "le", "gt", "ge"):
        return None
    a, b = cond.a, cond.b
    return {"lt": lambda: a - b, "le": lambda: a - b - 1, "gt": lambda: b - a, "ge": lambda: b - a - 1}[cond.op]()


def _partial_inside(realize: BlockRealize, buf: Buffer, ranges: dict) -> tuple[Stmt, str] | None:
    """A predicate or an ``if`` under ``realize`` (itself included) that may skip stores to ``buf``."""
    stack: list[tuple[Stmt, dict]] = [(realize, ranges)]
    while stack:
        node, scope = stack.pop()
        if isinstance(node, For):
            scope = {**scope, node.loop_var: Range(node.min, node.extent)}
        elif isinstance(node, BlockRealize):
            if not is_true(node.predicate) and not is_domain_guard(node.predicate, node, buf, scope):
                return node, f"runs only where `{node.predicate!r}`"
            scope = {**scope, **{iv.var: iv.dom for iv in node.block.iter_vars}}
        elif isinstance(node, IfThenElse) and _store_keys(node.then_case, buf) != \
                _store_keys(node.else_case, buf):
            return node, f"writes {buf.name} only where `{node.condition!r}`"
        stack.extend((child, scope) for child in stmt_children(node))
    return None


def _store_keys(stmt: Stmt | None, buf: Buffer) -> set:
    """The indices ``stmt`` stores ``buf`` at (in nested blocks too)."""
    if stmt is None:
        return set()
    return {tuple(expr_key(i) for i in node.indices) for node in pre_order_nodes(stmt)
            if isinstance(node, BufferStore) and node.buffer is buf}


def _loads(stmt: Stmt, buf: Buffer) -> bool:
    """Whether the expressions directly in ``stmt`` (not its child statements) load ``buf``."""
    if isinstance(stmt, BufferStore):
        exprs = (stmt.value, *stmt.indices)
    elif isinstance(stmt, IfThenElse):
        exprs = (stmt.condition,)
    elif isinstance(stmt, For):
        exprs = (stmt.min, stmt.extent)
    elif isinstance(stmt, Evaluate):
        exprs = (stmt.value,)
    else:
        exprs = ()
    return any(isinstance(n, BufferLoad) and n.buffer is buf for e in exprs for n in pre_order_nodes(e))


def _dense(region, relaxed: set[int], ranges: dict) -> bool:
    """Whether the points of ``region`` (in loop variables) fill its hull over the loops of
    ``relaxed``: each loop indexes one dimension, and in a dimension the loops' strides
    leave no gap (``i_0 * 4 + i_1`` with ``i_1`` in [0, 4) is dense, ``i * 2`` is not)."""
    seen: set[int] = set()
    for dim in region:
        if not isinstance(dim.extent, IntImm):
            continue
        terms = []
        for atom, coef in linear(dim.min).terms.values():
            if isinstance(atom, Var) and id(atom) in relaxed:
                extent = ranges[atom].extent
                if not isinstance(extent, IntImm):
                    return True  # a symbolic extent: unknown, counted as covered
                if extent.value > 1:
                    terms.append((abs(coef), extent.value, id(atom)))
            elif any(isinstance(n, Var) and id(n) in relaxed for n in pre_order_nodes(atom)):
                return True  # not affine in the loops (a fused index): unknown, counted as covered
        covered = dim.extent.value
        for stride, extent, key in sorted(terms):
            if key in seen or stride > covered:
                return False
            seen.add(key)
            covered += stride * (extent - 1)
    return True


def _show(region) -> str:
    return ", ".join(repr(r.min) if isinstance(r.extent, IntImm) and r.extent.value == 1
                     else f"{r.min!r}:{r.min!r} + {r.extent!r}" for r in region.region)
