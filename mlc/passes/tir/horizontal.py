"""fold_horizontal: a serial loop that folds a run of consecutive elements into one element
becomes one vector load whose lanes a ``horizontal_<op>`` call combines.

The last step of a row reduction combines the lanes of its vector accumulator
(:mod:`mlc.schedules.default.rows`, the rfactored matrix-vector product)::

    for k in range(16):
        if k == 0:                               Y[i] = T.float32(0)
            Y[i] = T.float32(0)          ->      Y[i] = Y[i] + T.horizontal_add(Y_rf[T.Ramp(0, 1, 16)])
        Y[i] = Y[i] + Y_rf[k]

As a loop, that is sixteen dependent scalar additions per row, 64 cycles of latency
at four cycles an add; LLVM unrolls it, and where it finds the rows around it, it may
vectorise *across* the rows instead, gathering each lane of sixteen accumulators from
the stack. :func:`match` recognises the loop (a constant trip count, one store updating
an element that no iteration index moves, from a load that moves by one element an
iteration; optionally the ``if k == first`` initialisation that lowering leaves there).

A ``horizontal_<op>`` call (:data:`HORIZONTAL_OPS`) combines its vector's lanes pairwise,
halving it each step (:func:`lane_tree`, four steps for sixteen lanes; the reference
interpreter and every backend combine in this order)::

    v = Y_rf[0:16]
    v = v[0:8] + v[8:16]
    v = v[0:4] + v[4:8] ...
    Y[i] = Y[i] + (v[0] + v[1])

The order of the operations changes: for integer operations and min/max that changes
nothing (min/max propagate NaN whatever the order; only which zero's sign a max of +0.0
and -0.0 keeps may differ, as between NumPy's own SIMD and scalar loops); a float add or
multiply is a reduction update, which a backend may reorder (the llvm one marks it
``reassoc``).

>>> from mlc.ir.buffer import Buffer
>>> from mlc.ir.expr import BufferLoad, Var, const
>>> X, Y = Buffer("X", (const(8),), "int32"), Buffer("Y", (const(1),), "int32")
>>> k = Var("k", "int32")
>>> y = BufferLoad(Y, (const(0),), "int32")
>>> loop = For(k, const(0), const(8), "serial", BufferStore(Y, y + BufferLoad(X, (k,), "int32"), (const(0),)))
>>> print(fold_horizontal(PrimFunc((X, Y), loop)).body.value)
Y[0] + T.horizontal_add(X[T.Ramp(0, 1, 8)])
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir import dtype as dt
from ...ir.analysis import lane_stride
from ...ir.analysis.census import contains
from ...ir.arith import same_expr
from ...ir.calls import MAY_ALIAS, DeclBuffer, is_graph_main
from ...ir.expr import Binary, BufferLoad, Call, IntImm, Ramp
from ...ir.functor import Mutator, pre_order_nodes, substitute, uses_var
from ...ir.tir import BufferStore, For, IfThenElse, PrimFunc, SeqStmt, seq

__all__ = ["fold_horizontal", "Fold", "match", "lane_tree", "HORIZONTAL_OPS", "MAX_LANES", "OPS"]

#: Folds of up to this many elements become one vector (longer loops stay loops).
MAX_LANES = 64
#: The operations folded, and the element types they are folded for.
OPS = {"add", "mul", "min", "max", "bitand", "bitor", "bitxor"}
_FLOAT_OPS = {"add", "mul", "min", "max"}
_DTYPES = {"float32", "float64", "int32", "int64"}
#: The Call op combining a vector's lanes with each binary op: ``horizontal_add`` ...
HORIZONTAL_OPS = {f"horizontal_{op}": op for op in sorted(OPS)}


def fold_horizontal(func: PrimFunc) -> PrimFunc:
    """Each loop :func:`match` accepts as its init (if any) and one update of the element
    by a ``horizontal_<op>`` call on one vector load (module docstring). Functions whose
    buffers may overlap (``tir.noalias`` false) and a graph's ``main`` are returned as they are."""
    if is_graph_main(func) or not func.attr("tir.noalias", True) or func.attr(MAY_ALIAS):
        return func
    if not (contains(func.body, For, "serial") or contains(func.body, For, "unrolled")):
        return func
    roots = {n.buffer: n.data for n in pre_order_nodes(func.body) if isinstance(n, DeclBuffer)} \
        if contains(func.body, DeclBuffer) else {}
    body = _Fold(roots).visit(func.body)
    return func if body is func.body else func.with_body(body)


class _Fold(Mutator):
    def __init__(self, roots: dict):
        self.roots = roots  # a declared buffer -> the buffer whose memory it names

    def root(self, buffer):
        while buffer in self.roots:
            buffer = self.roots[buffer]
        return buffer

    def visit_For(self, node: For):
        fold = match(node, True) if node.kind in ("serial", "unrolled") else None
        if fold is not None and self.root(fold.source.buffer) is self.root(fold.update.buffer):
            fold = None  # (a declared buffer naming the other's memory: the loop sees its own updates)
        if fold is None:
            return self.generic_visit(node)
        update, dtype = fold.update, fold.update.buffer.dtype
        start = substitute(fold.source.indices[0], {node.loop_var: node.min})  # the first element
        run = BufferLoad(fold.source.buffer, (Ramp(start, 1, fold.lanes),),
                         dt.vector(dtype, fold.lanes))
        total = Call(f"horizontal_{fold.op}", (run,), dtype)
        acc = BufferLoad(update.buffer, update.indices, dtype)
        store = BufferStore(update.buffer, Binary(fold.op, acc, total, dtype), update.indices)
        return store if fold.init is None else seq(fold.init, store)


@dataclass(frozen=True)
class Fold:
    """What :func:`match` found: ``update`` (``X[i] = X[i] op source``) run for the loop's
    ``lanes`` iterations, after ``init`` (``X[i] = value``) on the first one, if any."""
    init: BufferStore | None
    update: BufferStore
    op: str
    source: BufferLoad
    lanes: int


def match(s: For, noalias: bool) -> Fold | None:
    """The fold ``s`` is, or None.

    ``noalias``: the function's buffers do not overlap (otherwise a store to the element
    folded into could change the elements still to be read, and the loop stays a loop)."""
    if not (noalias and isinstance(s.extent, IntImm) and 2 <= s.extent.value <= MAX_LANES
            and isinstance(s.min, IntImm)):
        return None
    body, init = s.body, None
    if isinstance(body, SeqStmt) and len(body.seq) == 2:
        init, body = _init_store(body.seq[0], s), body.seq[1]
        if init is None:
            return None
    if not isinstance(body, BufferStore) or not isinstance(body.value, Binary):
        return None
    update, var = body, s.loop_var
    op, dtype = update.value.op, update.buffer.dtype
    if op not in OPS or dtype not in _DTYPES or update.value.dtype != dtype or \
            (dt.is_float(dtype) and op not in _FLOAT_OPS):
        return None
    if init is not None and (init.buffer is not update.buffer or not _same_indices(init.indices, update.indices)):
        return None
    if uses_var(update.indices, var):
        return None
    for acc, source in ((update.value.a, update.value.b), (update.value.b, update.value.a)):
        if (isinstance(acc, BufferLoad) and acc.buffer is update.buffer and _same_indices(acc.indices, update.indices)
                and isinstance(source, BufferLoad) and source.buffer is not update.buffer
                and source.dtype == dtype and len(source.indices) == 1
                and lane_stride(source.indices[0], var) == 1):
            return Fold(init, update, op, source, s.extent.value)
    return None


def _init_store(s, loop: For) -> BufferStore | None:
    """The store of ``if k == first: X[i] = value`` (``value`` not depending on ``k``)."""
    if not (isinstance(s, IfThenElse) and s.else_case is None and isinstance(s.then_case, BufferStore)):
        return None
    c = s.condition
    if not (isinstance(c, Binary) and c.op == "eq"):
        return None
    sides = (c.a, c.b)
    first = loop.min.value
    if not any(x is loop.loop_var and isinstance(y, IntImm) and y.value == first for x, y in (sides, sides[::-1])):
        return None
    store = s.then_case
    if uses_var((store.value, *store.indices), loop.loop_var):
        return None
    return store


def _same_indices(a, b) -> bool:
    return len(a) == len(b) and all(same_expr(p, q) for p, q in zip(a, b))


def lane_tree(vector, width: int, halves, lane, combine):
    """The lanes of ``vector`` (``width`` of them) combined pairwise, halving it each step,
    into one scalar: the order of every ``horizontal_<op>``. ``halves(v, half, width)``
    gives lanes ``[0, half)`` and ``[half, width)`` of ``v`` as two vectors, ``lane(v, k)``
    lane ``k``, ``combine(x, y)`` is ``x op y`` of two values of one (vector or scalar)
    type. An odd lane left over at a step is combined into the result at the end.

    >>> add = lambda x, y: [f"({a}+{b})" for a, b in zip(x, y)] if isinstance(x, list) else f"({x}+{y})"
    >>> lane_tree(list("12345"), 5, lambda v, h, w: (v[:h], v[h:w]), lambda v, k: v[k], add)
    '(((1+3)+(2+4))+5)'
    """
    left = []
    while width > 2:
        if width % 2:
            left.append(lane(vector, width - 1))
            width -= 1
        half = width // 2
        low, high = halves(vector, half, width)
        vector, width = combine(low, high), half
    total = lane(vector, 0)
    if width == 2:
        total = combine(total, lane(vector, 1))
    for value in reversed(left):
        total = combine(total, value)
    return total
