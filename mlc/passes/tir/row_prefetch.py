"""prefetch_row_streams: a row kernel's passes ask the cache for the lines they will read.

A row kernel (:mod:`mlc.schedules.default.rows`) makes several passes over each row: layer_norm
sums ``x``, then the squares of ``x - mean``, then writes the output; its gradient sums ``x``,
then ``ct * gamma * (x - mean)``, the squares and ``ct * gamma`` in a second pass, the first to
read ``ct``. Only the first pass reads a row from memory, and it waits for its lines (a row of
1024 floats is one page: each row starts the hardware prefetchers anew); the later passes find
the row in the cache and memory idles meanwhile. The row rules mark two loops, and here each
step of them asks, with one ``mlc_prefetch_for_read`` a cache line, for:

- :data:`ROW_PREFETCH` (the first pass): the lines the same step of a later pass beside it
  reads of a buffer the first pass does not read (the gradient's ``ct``)::

    for k_0 in range(16):   # ROW_PREFETCH               for k_0 in range(16):
        for k_1 in range(64):                                prefetch(ct[i * 1024 + k_0 * 64])
            s[0] = s[0] + x[i * 1024 + k_0 * 64 + k_1]  ->   prefetch(ct[i * 1024 + k_0 * 64 + 16])
    ...                                                      ...   (4 lines of 16 floats)
    for k_0 in range(16):                                    for k_1 in range(64): ...
        for k_1 in range(64):
            d[0] = d[0] + ct[i * 1024 + k_0 * 64 + k_1] * ...

- :data:`ROW_PREFETCH_NEXT` (the last pass): the lines the step reads, in the next iteration
  of the loop around it (the next row, or group of rows; the last asks for itself), so that
  the next row's first pass finds them in the cache: ``prefetch_for_later(x[min(i + 1, 4095) *
  1024 + j_0 * 32])`` and ``+ 16`` before the step writing ``out[i, j_0 * 32:j_0 * 32 + 32]``.
  Asked for into the outer caches (:data:`~mlc.ir.extern.PREFETCH_FOR_LATER`: the L2), not
  the L1, where they would evict the lines of the rows the pass still reads. The step also
  asks for the lines it writes :data:`WRITE_AHEAD` steps on in the same row (the last step's
  for the last ones: ``prefetch_for_write(out[i * 1024 + min(j_0 + 4, 31) * 32])``): a row is
  a page or so, where the hardware prefetchers start anew, and without the hint each store
  waits for its line to be read from memory before it is written (write-allocate).

Only the function's buffers whose elements move with the row (not gamma, which every row
reads alike, nor a part's column sums) are asked for, through loads (stores) no condition
guards (a ragged step's are), affine in the step's inner loops: the lines of what the step
reads (writes) and nothing else, so no address outside the buffer. A hint changes no value;
backends without the instruction drop it.
"""
from __future__ import annotations

import math
from dataclasses import replace

from ...ir import dtype as dt
from ...ir.arith import canonical, expr_key, free_vars, linear
from ...ir.analysis.census import annotated
from ...ir.expr import BufferLoad, IntImm, Let, Select, Var
from ...ir.expr import min as min_expr
from ...ir.extern import PREFETCH_FOR_LATER, PREFETCH_FOR_READ, PREFETCH_FOR_WRITE, address_of, call_extern
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.tir import Allocate, BufferStore, Evaluate, For, IfThenElse, PrimFunc, SeqStmt, seq

__all__ = ["prefetch_row_streams", "ROW_PREFETCH", "ROW_PREFETCH_NEXT", "LINE_BYTES", "MAX_LINES", "WRITE_AHEAD"]

#: The annotation of a row's first pass over it (set by the row rules).
ROW_PREFETCH = "row_prefetch"
#: The annotation of a row's last pass over it (set by the row rules): each step asks for
#: what it reads, for the next iteration of the loop around it (the next row, or group of rows).
ROW_PREFETCH_NEXT = "row_prefetch_next"
#: The cache line asked for by one hint.
LINE_BYTES = 64
#: The most lines one step asks for of one buffer (a longer step is left to the prefetchers).
MAX_LINES = 16
#: The most combinations of a step's inner loop values whose lines are listed.
MAX_LANES = 4096
#: How many steps ahead of its stores a last pass asks for the lines it writes (a step of
#: layer_norm's gradient writes a line of each of its group's rows of dx: 2, 4, 6 and 8 steps
#: measured alike, 12 and 16 worse: benchmarks/results/decisions.md).
WRITE_AHEAD = 4


def prefetch_row_streams(func: PrimFunc) -> PrimFunc:
    """Each loop annotated :data:`ROW_PREFETCH` asks, at the start of each step, for the cache
    lines the same step of its later sibling loops (same constant extent) reads of each buffer
    it does not read itself; each loop annotated :data:`ROW_PREFETCH_NEXT` asks for the lines
    a step reads in the next iteration of the loop around it (module docstring)."""
    if not (annotated(func.body, ROW_PREFETCH) or annotated(func.body, ROW_PREFETCH_NEXT)) or \
            not any(isinstance(n, For) and _marked(n, (ROW_PREFETCH, ROW_PREFETCH_NEXT)) for n in pre_order_nodes(func.body)):
        return func
    body = _Unmark().visit(_Prefetch({p.name for p in func.params}).visit(func.body))
    return func if body is func.body else func.with_body(body)


def _marked(loop: For, keys) -> bool:
    return any(key in keys and value for key, value in loop.annotations)


def _unmarked(loop: For, hints: list[Evaluate]) -> For:
    annotations = tuple((k, v) for k, v in loop.annotations if k not in (ROW_PREFETCH, ROW_PREFETCH_NEXT))
    return replace(loop, body=seq(*hints, loop.body) if hints else loop.body, annotations=annotations)


class _Unmark(Mutator):
    """Drops the marks no hint was made for (a marked loop the passes above did not reach)."""

    def visit_For(self, node: For):
        node = self.generic_visit(node)
        return _unmarked(node, []) if _marked(node, (ROW_PREFETCH, ROW_PREFETCH_NEXT)) else node


class _Prefetch(Mutator):
    def __init__(self, params: set[str]):
        super().__init__()
        self.params = params  # the names of the function's buffers (its inputs and outputs)

    def visit_SeqStmt(self, node: SeqStmt):
        node = self.generic_visit(node)
        items = list(node.seq)
        changed = False
        for n, item in enumerate(items):
            if isinstance(item, For) and _marked(item, (ROW_PREFETCH,)):
                later = [s for s in items[n + 1:] if isinstance(s, For) and _same_range(s, item)]
                own = {load.buffer.name for load in pre_order_nodes(item.body) if isinstance(load, BufferLoad)}
                hints = []
                for other in later:
                    hints += _hints(other, {other.loop_var: item.loop_var}, self.params - own, item.loop_var)
                items[n] = _unmarked(item, _unique(hints))
                changed = True
        return seq(*items) if changed else node

    def visit_For(self, node: For):
        node = self.generic_visit(node)
        return replace(node, body=self._next(node, node.body))

    def _next(self, loop: For, stmt):
        """``stmt`` (the body of ``loop``, under any Allocates) with each loop of it annotated
        :data:`ROW_PREFETCH_NEXT` asking for its lines of the next iteration of ``loop``."""
        if isinstance(stmt, Allocate):
            body = self._next(loop, stmt.body)
            return stmt if body is stmt.body else replace(stmt, body=body)
        items = list(stmt.seq) if isinstance(stmt, SeqStmt) else [stmt]
        if not any(isinstance(s, For) and _marked(s, (ROW_PREFETCH_NEXT,)) for s in items):
            return stmt
        after = {loop.loop_var: min_expr(loop.loop_var + 1, loop.min + loop.extent - 1)}
        for n, item in enumerate(items):
            if isinstance(item, For) and _marked(item, (ROW_PREFETCH_NEXT,)):
                hints = _hints(item, after, self.params, item.loop_var, moving=loop.loop_var, extern=PREFETCH_FOR_LATER)
                if _constant(item) and item.extent.value > 1:
                    ahead = {item.loop_var: min_expr(item.loop_var + WRITE_AHEAD, item.min + item.extent - 1)}
                    hints += _hints(item, ahead, self.params, item.loop_var, moving=loop.loop_var,
                                    extern=PREFETCH_FOR_WRITE, stores=True)
                items[n] = _unmarked(item, _unique(hints))
        return seq(*items)


def _same_range(a: For, b: For) -> bool:
    return (a.kind == b.kind == "serial" and isinstance(a.extent, IntImm) and isinstance(b.extent, IntImm)
            and a.extent.value == b.extent.value and isinstance(a.min, IntImm) and isinstance(b.min, IntImm)
            and a.min.value == b.min.value)


def _unique(hints: list[Evaluate]) -> list[Evaluate]:
    seen, out = set(), []
    for h in hints:
        load = h.value.args[0].load
        key = (h.value.name, load.buffer.name, expr_key(load.indices[0]))
        if key not in seen:
            seen.add(key)
            out.append(h)
    return out


def _hints(loop: For, subst: dict, buffers: set[str], step_var: Var, moving: Var | None = None,
           extern: str = PREFETCH_FOR_READ, stores: bool = False) -> list[Evaluate]:
    """Hints (calls of ``extern``) for the lines a step of ``loop`` reads of ``buffers`` (writes,
    where ``stores``), its index written with ``subst`` (the step of another loop, the next row,
    a step ahead) and only where it moves with ``step_var`` (after ``subst``) and with a
    variable from outside ``loop`` (``moving`` where given: the row's), not only with the step
    (gamma)."""
    nodes = list(pre_order_nodes(loop.body))
    inner = {f.loop_var: f for f in nodes if isinstance(f, For)}
    bound = {id(n.var) for n in nodes if isinstance(n, Let)}
    guarded = {id(m) for n in nodes if isinstance(n, (IfThenElse, Select)) for m in pre_order_nodes(n)}
    hints = []
    for node in nodes:
        if not isinstance(node, BufferStore if stores else BufferLoad) or id(node) in guarded:
            continue
        load = BufferLoad(node.buffer, node.indices, node.buffer.dtype) if stores else node  # (an address)
        if load.buffer.name not in buffers \
                or len(load.indices) != 1 or any(id(v) in bound for v in free_vars(load.indices[0])):
            continue
        used = free_vars(load.indices[0])
        if not any(v is loop.loop_var for v in used) or (moving is not None and not any(v is moving for v in used)):
            continue
        lines = _lines(load.indices[0], inner, max(1, LINE_BYTES * 8 // dt.bits(load.buffer.dtype)))
        if lines is None:
            continue
        base, offsets = lines
        base = canonical(substitute(base, subst))
        if all(v is step_var for v in free_vars(base)):
            continue  # the same elements for every row (gamma): in the cache after the first row
        hints += [Evaluate(call_extern("int32", extern, address_of(replace(load, indices=(canonical(base + o),)))))
                  for o in offsets]
    return hints


def _lines(index, inner: dict[Var, For], per_line: int) -> tuple[object, list[int]] | None:
    """(``index`` with the ``inner`` loops at their first values; the offsets from it of the
    lines the inner loops read, a line's ``per_line`` elements apart) where ``index`` is affine
    in the inner loops, of constant ranges; else None."""
    lin = linear(index)
    coeffs = {}
    for atom, coef in lin.terms.values():
        if isinstance(atom, Var) and atom in inner:
            coeffs[atom] = coef
        elif any(v in inner for v in free_vars(atom)):
            return None  # not affine in the inner loops
    if not all(_constant(inner[v]) for v in coeffs) or math.prod(inner[v].extent.value for v in coeffs) > MAX_LANES:
        return None
    offsets = {0}
    for v, coef in coeffs.items():
        offsets = {o + coef * k for o in offsets for k in range(inner[v].extent.value)}
    lines = sorted({o // per_line * per_line for o in offsets})
    if len(lines) > MAX_LINES:
        return None
    return canonical(substitute(index, {v: inner[v].min for v in coeffs})), lines


def _constant(loop: For) -> bool:
    return isinstance(loop.min, IntImm) and isinstance(loop.extent, IntImm) and loop.extent.value > 0
