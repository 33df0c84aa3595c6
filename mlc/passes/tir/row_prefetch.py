"""prefetch_row_streams: a row's first pass asks the cache for what only its later passes read.

A row kernel (:mod:`mlc.schedules.default.rows`) makes several passes over each row: layer_norm's
gradient sums ``x`` first, then ``ct * gamma * (x - mean)``, the squares and ``ct * gamma`` in
a second pass, which is the first to read ``ct``. The first pass then streams one input from
memory and the second waits for the other's lines (a row of 1024 floats is one page: each
row starts the hardware prefetchers anew). The row rules mark the first pass
(:data:`ROW_PREFETCH`); here each of its steps asks, with one ``mlc_prefetch_for_read`` a cache
line, for the lines the same step of a later pass of the row reads of a buffer the first pass
does not read::

    for k_0 in range(16):   # ROW_PREFETCH               for k_0 in range(16):
        for k_1 in range(64):                                prefetch(ct[i * 1024 + k_0 * 64])
            s[0] = s[0] + x[i * 1024 + k_0 * 64 + k_1]  ->   prefetch(ct[i * 1024 + k_0 * 64 + 16])
    ...                                                      ...   (4 lines of 16 floats)
    for k_0 in range(16):                                    for k_1 in range(64): ...
        for k_1 in range(64):
            d[0] = d[0] + ct[i * 1024 + k_0 * 64 + k_1] * ...

Only the function's buffers whose elements move with the row (not gamma, which every row
reads alike) are asked for, through loads no condition guards (a ragged step's are) whose
span over a step of the later pass is a constant, and only what that step reads: no address
outside the buffer. A hint changes no
value; backends without the instruction drop it.
"""
from __future__ import annotations

from dataclasses import replace

from ...ir import dtype as dt
from ...ir.arith import canonical, expr_key, free_vars
from ...ir.expr import BufferLoad, IntImm, Let, Select, Var
from ...ir.extern import PREFETCH_FOR_READ, address_of, call_extern
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.tir import Evaluate, For, IfThenElse, PrimFunc, SeqStmt, seq

__all__ = ["prefetch_row_streams", "ROW_PREFETCH", "LINE_BYTES", "MAX_LINES"]

#: The annotation of a row's first pass over it (set by the row rules).
ROW_PREFETCH = "row_prefetch"
#: The cache line asked for by one hint.
LINE_BYTES = 64
#: The most lines one step asks for of one buffer (a longer step is left to the prefetchers).
MAX_LINES = 16


def prefetch_row_streams(func: PrimFunc) -> PrimFunc:
    """Each loop annotated :data:`ROW_PREFETCH` asks, at the start of each step, for the cache
    lines the same step of its later sibling loops (same constant extent) reads of each buffer
    it does not read itself (module docstring)."""
    if not any(isinstance(n, For) and _marked(n) for n in pre_order_nodes(func.body)):
        return func
    body = _Prefetch({p.name for p in func.params}).visit(func.body)
    return func if body is func.body else func.with_body(body)


def _marked(loop: For) -> bool:
    return any(key == ROW_PREFETCH and value for key, value in loop.annotations)


class _Prefetch(Mutator):
    def __init__(self, params: set[str]):
        super().__init__()
        self.params = params  # the names of the function's buffers (its inputs and outputs)

    def visit_SeqStmt(self, node: SeqStmt):
        node = self.generic_visit(node)
        items = list(node.seq)
        changed = False
        for n, item in enumerate(items):
            if isinstance(item, For) and _marked(item):
                later = [s for s in items[n + 1:] if isinstance(s, For) and _same_range(s, item)]
                hints = _hints(item, later, self.params)
                annotations = tuple((k, v) for k, v in item.annotations if k != ROW_PREFETCH)
                items[n] = replace(item, body=seq(*hints, item.body) if hints else item.body, annotations=annotations)
                changed = True
        return seq(*items) if changed else node


def _same_range(a: For, b: For) -> bool:
    return (a.kind == b.kind == "serial" and isinstance(a.extent, IntImm) and isinstance(b.extent, IntImm)
            and a.extent.value == b.extent.value and isinstance(a.min, IntImm) and isinstance(b.min, IntImm)
            and a.min.value == b.min.value)


def _hints(first: For, later: list[For], params: set[str]) -> list[Evaluate]:
    """The prefetch statements of one step of ``first`` (its loop variable) for the function's
    buffers (``params``) the ``later`` passes read and it does not."""
    own = {load.buffer.name for load in pre_order_nodes(first.body) if isinstance(load, BufferLoad)}
    hints, seen = [], set()
    for other in later:
        nodes = list(pre_order_nodes(other.body))
        inner = {f.loop_var: f for f in nodes if isinstance(f, For)}
        bound = {id(n.var) for n in nodes if isinstance(n, Let)}
        guarded = {id(m) for n in nodes if isinstance(n, (IfThenElse, Select)) for m in pre_order_nodes(n)}
        for load in nodes:
            if not isinstance(load, BufferLoad) or id(load) in guarded or load.buffer.name in own \
                    or load.buffer.name not in params \
                    or len(load.indices) != 1 or any(id(v) in bound for v in free_vars(load.indices[0])):
                continue
            step = _step(load.indices[0], other.loop_var, first.loop_var, inner)
            if step is None:
                continue
            base, span = step
            if all(v is first.loop_var for v in free_vars(base)):
                continue  # the same elements for every row (gamma): in the cache after the first row
            per_line = max(1, LINE_BYTES * 8 // dt.bits(load.buffer.dtype))
            lines = -(-span // per_line)
            key = (load.buffer.name, expr_key(base))
            if key in seen or lines > MAX_LINES:
                continue
            seen.add(key)
            hints.extend(Evaluate(call_extern("int32", PREFETCH_FOR_READ, address_of(
                replace(load, indices=(canonical(base + k * per_line),))))) for k in range(lines))
    return hints


def _step(index, var: Var, first_var: Var, inner: dict[Var, For]) -> tuple[object, int] | None:
    """(the index of the first element a step of the loop of ``var`` reads through ``index``,
    written with ``first_var`` for ``var``; how many elements from it the step spans), where
    ``index`` moves with ``var`` and its span over the ``inner`` loops is a known constant;
    else None."""
    used = free_vars(index)
    if not any(v is var for v in used) or not all(v is var or v not in inner or _constant(inner[v]) for v in used):
        return None
    lows = {v: inner[v].min for v in used if v in inner}
    highs = {v: inner[v].min + inner[v].extent - 1 for v in used if v in inner}
    span = canonical(substitute(index, highs) - substitute(index, lows))
    if not isinstance(span, IntImm) or span.value < 0:
        return None
    return canonical(substitute(substitute(index, lows), {var: first_var})), span.value + 1


def _constant(loop: For) -> bool:
    return isinstance(loop.min, IntImm) and isinstance(loop.extent, IntImm) and loop.extent.value > 0
