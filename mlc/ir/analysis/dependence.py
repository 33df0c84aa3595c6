"""Can a loop's iterations run at once? The checks behind parallel, vectorize and bind.

Two questions, both answered conservatively (a "no" may be too cautious,
a "yes" is always right):

* :func:`reduction_binding`: is a block iterator of kind reduce (or opaque)
  bound to an expression of the loop variable? Running those iterations
  together would race on the accumulator.
* :func:`iteration_conflict`: may one iteration touch a buffer element
  another iteration writes? For every buffer written under the loop we look
  for one index space -- a dimension, or the row-major address of the whole
  element -- in which every access (read or write) starts at
  ``c * loop_var + offset`` with one step ``c`` and offsets that, together
  with the region extents, stay inside a window of ``|c|``. Then iteration
  ``t`` only touches ``[c*t + lo, c*t + hi]`` and iterations are disjoint.
  Buffers allocated under the loop are private to an iteration.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..arith import Analyzer, same_expr
from ..buffer import Buffer
from ..expr import Binary, BufferLoad, IntImm, IterVar, PrimExpr, Range, Var, const
from ..ops import BINARY_OPS
from ..functor import pre_order_nodes, substitute
from ..tir import Allocate, BlockRealize, BufferStore, For, IfThenElse, SeqStmt, Stmt

__all__ = ["reduction_binding", "iteration_conflict", "Access", "loop_accesses", "stmt_children",
           "evaluate_index", "ENUMERATION_LIMIT"]


def _uses_any(expr, ids: set[int]) -> bool:
    return any(isinstance(n, Var) and id(n) in ids for n in pre_order_nodes(expr))


def stmt_children(node: Stmt) -> list[Stmt]:
    """The statements directly inside ``node`` (a block's init before its body)."""
    if isinstance(node, SeqStmt):
        return list(node.seq)
    if isinstance(node, IfThenElse):
        return [s for s in (node.then_case, node.else_case) if s is not None]
    if isinstance(node, BlockRealize):
        return [s for s in (node.block.init, node.block.body) if s is not None]
    body = getattr(node, "body", None)
    return [body] if isinstance(body, Stmt) else []


def blocks_under(stmt: Stmt) -> list[BlockRealize]:
    """The BlockRealizes under ``stmt`` that no other block encloses, in program order."""
    out, stack = [], [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, BlockRealize):
            out.append(node)
        else:
            stack.extend(reversed(stmt_children(node)))
    return out


def reduction_binding(loop: For) -> tuple[BlockRealize, IterVar] | None:
    """The first (block, iterator) under ``loop`` whose non-spatial iterator depends on it.

    Dependence follows nested blocks: an inner block bound to an outer
    block's iterator that the loop drives depends on the loop too.
    """
    stack: list[tuple[Stmt, frozenset[int]]] = [(loop.body, frozenset({id(loop.loop_var)}))]
    while stack:
        node, dependent = stack.pop()
        if isinstance(node, BlockRealize):
            inner = set(dependent)
            for iv, value in zip(node.block.iter_vars, node.iter_values):
                if _uses_any(value, dependent):
                    if iv.iter_type != "spatial":
                        return node, iv
                    inner.add(id(iv.var))
            dependent = frozenset(inner)
        stack.extend((child, dependent) for child in reversed(stmt_children(node)))
    return None


@dataclass(frozen=True)
class Access:
    """A read or write of ``region`` (expressed in loop variables) by ``realize``."""
    buffer: Buffer
    region: tuple[Range, ...]
    is_write: bool
    realize: BlockRealize | None


def loop_accesses(loop: For) -> tuple[list[Access], dict[Var, Range], set[int]]:
    """Every buffer access under ``loop``, the ranges of the loops inside it, and the
    ids of buffers allocated under it (private to an iteration).

    Block regions are rewritten from block iterators to loop variables through
    the bindings; stores outside blocks count as point accesses.
    """
    accesses: list[Access] = []
    ranges: dict[Var, Range] = {}
    private: set[int] = set()
    stack: list[tuple[Stmt, dict, bool]] = [(loop.body, {}, False)]
    while stack:
        node, vmap, in_block = stack.pop()
        if isinstance(node, For):
            ranges[node.loop_var] = Range(substitute(node.min, vmap), substitute(node.extent, vmap))
        elif isinstance(node, Allocate):
            private.add(id(node.buffer))
        elif isinstance(node, BlockRealize):
            block = node.block
            vmap = {**vmap, **{iv.var: substitute(v, vmap) for iv, v in
                               zip(block.iter_vars, node.iter_values)}}
            private.update(id(b) for b in block.alloc_buffers)
            for regions, is_write in ((block.reads, False), (block.writes, True)):
                for r in regions:
                    region = tuple(Range(substitute(x.min, vmap), substitute(x.extent, vmap))
                                   for x in r.region)
                    accesses.append(Access(r.buffer, region, is_write, node))
            in_block = True
        elif isinstance(node, BufferStore) and not in_block:
            accesses.append(_point(node.buffer, node.indices, vmap, True))
            accesses.extend(_point(n.buffer, n.indices, vmap, False) for n in
                            pre_order_nodes(node.value) if isinstance(n, BufferLoad))
        stack.extend((child, vmap, in_block) for child in reversed(stmt_children(node)))
    return accesses, ranges, private


def _point(buffer, indices, vmap, is_write) -> Access:
    one = const(1, "int32")
    return Access(buffer, tuple(Range(substitute(i, vmap), one) for i in indices), is_write, None)


def iteration_conflict(loop: For, skip_scopes: Iterable[str] = ()) -> tuple[Buffer, Access] | None:
    """A (buffer, access) that may make iterations of ``loop`` depend on each other, or None.

    Buffers whose scope is in ``skip_scopes`` are not checked (``bind`` skips
    GPU scopes, whose sharing follows thread semantics).
    """
    accesses, ranges, private = loop_accesses(loop)
    skip = set(skip_scopes)
    written: dict[int, Buffer] = {}
    for a in accesses:
        if a.is_write and id(a.buffer) not in private and a.buffer.scope not in skip:
            written.setdefault(id(a.buffer), a.buffer)
    for buf in written.values():
        mine = [a for a in accesses if a.buffer is buf]
        if not _iterations_disjoint(_index_spaces(buf, mine), loop, ranges):
            culprit = next((a for a in mine if not a.is_write), mine[0])
            return buf, culprit
    return None


def _index_spaces(buf: Buffer, accesses: list[Access]):
    """The index spaces of ``buf`` in which iterations may separate, each a list of
    (start, extent) windows, one per access: its dimensions, then (built only when asked
    for, as the dimensions usually decide) its flattened addresses."""
    for d in range(buf.ndim):
        yield [(a.region[d].min, a.region[d].extent) for a in accesses]
    flat = _flattened(buf, accesses)
    if flat is not None:
        yield flat


def _flattened(buf: Buffer, accesses: list[Access]):
    """Each access as one window of row-major addresses (its bounding hull), or None.

    In-bounds index tuples map one-to-one onto addresses, so disjoint address
    windows mean disjoint elements; this sees through fused loops, whose
    ``f // n`` and ``f % n`` indices recombine into ``f``.
    """
    if not all(isinstance(e, IntImm) for e in buf.shape[1:]):  # (the first extent sets no stride)
        return None
    strides, stride = [], 1
    for extent in reversed(buf.shape[1:]):
        strides.append(stride)
        stride *= extent.value
    if buf.shape:
        strides.append(stride)
    strides.reverse()
    windows = []
    for a in accesses:
        lo: PrimExpr = const(0, "int32")
        span: PrimExpr = const(1, "int32")
        for r, st in zip(a.region, strides):
            lo = lo + r.min * st
            span = span + (r.extent - 1) * st
        windows.append((lo, span))
    return windows


#: Loops longer than this are not enumerated by the numeric fallback.
ENUMERATION_LIMIT = 1 << 20


def _iterations_disjoint(spaces, loop: For, ranges: dict[Var, Range]) -> bool:
    """True when two different iterations of ``loop`` never touch one element.

    Each space is a list of (start, extent) windows, one per access, in one
    index space (a dimension, or flattened addresses). A space is usable when
    every start is ``g(var) + offset`` with one ``g`` and offsets bounded
    inside the loop; it then separates iterations whose ``g`` differ by at
    least the window span. Linear ``g`` is decided symbolically; otherwise
    (fused and tiled indices such as ``f // 8 * 4``) the ``g`` of every
    usable space is enumerated over the loop's range.
    """
    if isinstance(loop.extent, IntImm) and loop.extent.value <= 1:
        return True
    var = loop.loop_var
    usable = []
    for windows in spaces:
        separated = _separate(windows, loop, ranges)
        if separated is None:
            continue
        g, span = separated
        step = Analyzer().simplify(substitute(g, {var: var + 1}) - g)
        if isinstance(step, IntImm) and abs(step.value) >= span:
            return True
        usable.append((g, span))
    return _enumerated_disjoint(usable, loop)


def _separate(windows, loop: For, ranges: dict[Var, Range]) -> tuple[PrimExpr, int] | None:
    """(g, span): every window starts at ``g(var) + offset`` (``var`` the loop's variable),
    offsets and extents in ``span``. The starts are first simplified under the ranges of the
    loop and of the loops inside it (``ranges``): a fused index split off the grid of its
    dimensions, ``(f0 * 256 + f1) % 6144``, recombines only where ``f1 < 256`` is known."""
    var = loop.loop_var
    g = None
    rests = []
    zero = {var: const(0, var.dtype)}
    plain, ana = Analyzer(), Analyzer({**ranges, var: Range(loop.min, loop.extent)})
    for lo, extent in windows:
        lo = ana.simplify(lo)
        rest = plain.simplify(substitute(lo, zero))
        part = plain.simplify(lo - rest)
        if any(isinstance(n, Var) and n is not var for n in pre_order_nodes(part)):
            return None  # the loop variable is entangled with other variables
        if g is None:
            g = part
        elif not same_expr(g, part):
            return None
        bounds = ana.const_int_bound(ana.simplify(extent))
        if not bounds.is_known():
            return None
        rests.append((rest, bounds[1]))
    # The part of the offsets that does not change inside the loop cancels against a base.
    base = substitute(rests[0][0], {v: r.min for v, r in ranges.items()})
    window_lo = window_hi = None
    for rest, extent_hi in rests:
        bounds = ana.const_int_bound(ana.simplify(rest - base))
        if not bounds.is_known():
            return None
        lo, hi = bounds[0], bounds[1] + max(extent_hi, 1) - 1
        window_lo = lo if window_lo is None else min(window_lo, lo)
        window_hi = hi if window_hi is None else max(window_hi, hi)
    return g, window_hi - window_lo + 1


def _enumerated_disjoint(usable, loop: For) -> bool:
    """Enumerate ``g`` of each usable space over the loop: iterations must differ, in some
    space whose values are all congruent modulo its span, by a whole window."""
    if not usable or not isinstance(loop.min, IntImm) or not isinstance(loop.extent, IntImm) \
            or loop.extent.value > ENUMERATION_LIMIT:
        return False
    points = np.arange(loop.min.value, loop.min.value + loop.extent.value, dtype=np.int64)
    columns = []
    for g, span in usable:
        values = evaluate_index(g, {loop.loop_var: points})
        if values is None:
            continue
        values = np.broadcast_to(values, points.shape)
        if np.any((values - values[0]) % span):
            continue  # values closer than a window apart: this space cannot separate
        columns.append(values)
    if not columns:
        return False
    keys = np.stack(columns, axis=1)
    ordered = keys[np.lexsort(keys.T)]  # equal key rows end up next to each other
    return not np.any(np.all(ordered[1:] == ordered[:-1], axis=1))


_NUMPY_OPS = {name: BINARY_OPS[name].numpy
              for name in ("add", "sub", "mul", "floordiv", "floormod", "min", "max")}


def evaluate_index(expr, env: dict[Var, np.ndarray]) -> np.ndarray | None:
    """Evaluate an integer index expression on arrays (Python floor semantics), or None
    when it uses something other than constants, ``env``'s variables and + - * // % min max."""
    if isinstance(expr, IntImm):
        return np.int64(expr.value)
    if isinstance(expr, Var):
        return env.get(expr)
    if isinstance(expr, Binary) and expr.op in _NUMPY_OPS:
        a, b = evaluate_index(expr.a, env), evaluate_index(expr.b, env)
        if a is None or b is None:
            return None
        if expr.op in ("floordiv", "floormod") and np.any(b == 0):
            return None
        return _NUMPY_OPS[expr.op](a, b)
    return None
