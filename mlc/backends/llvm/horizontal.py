"""A serial loop that folds a run of consecutive elements into one element, as one vector
load and a tree of vector operations.

The last step of a row reduction combines the lanes of its vector accumulator
(:mod:`mlc.schedules.default.rows`, the rfactored matrix-vector product)::

    for k in range(16):
        if k == 0:
            Y[i] = T.float32(0)
        Y[i] = Y[i] + Y_rf[k]

As a loop, that is sixteen dependent scalar additions per row, 64 cycles of
latency at four cycles an add; LLVM unrolls it, and where it finds the rows
around it, it may vectorise *across* the rows instead, gathering each lane of
sixteen accumulators from the stack. :func:`match` recognises the loop (a
constant trip count, one store updating an element that no iteration index
moves, from a load that moves by one element an iteration; optionally the
``if k == first`` initialisation that lowering leaves there) and
:func:`tree` combines the loaded vector pairwise, halving it each step (four
steps for sixteen lanes)::

    v = Y_rf[0:16]                      ; one <16 x float> load
    v = v[0:8] + v[8:16]                ; shufflevector halves
    v = v[0:4] + v[4:8] ...
    Y[i] = Y[i] + (v[0] + v[1])

The order of the operations changes: for integer operations and min/max that
changes nothing (min/max propagate NaN whatever the order; only which zero's
sign a max of +0.0 and -0.0 keeps may differ, as between NumPy's own SIMD and
scalar loops); a float add or multiply is a reduction update, which the code
generator already marks ``reassoc`` for LLVM to reorder as it likes.
"""
from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from ...ir import dtype as dt
from ...ir.analysis import lane_stride
from ...ir.arith import same_expr
from ...ir.expr import Binary, BufferLoad, IntImm
from ...ir.functor import uses_var
from ...ir.tir import BufferStore, For, IfThenElse, SeqStmt
from .types import I32
from .vectorize import shuffle_mask

__all__ = ["Fold", "match", "tree", "MAX_LANES", "OPS"]

#: Folds of up to this many elements become one vector (longer loops stay loops).
MAX_LANES = 64
#: The operations folded, and the element types they are folded for.
OPS = {"add", "mul", "min", "max", "bitand", "bitor", "bitxor"}
_FLOAT_OPS = {"add", "mul", "min", "max"}
_DTYPES = {"float32", "float64", "int32", "int64"}


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


def tree(b: ir.IRBuilder, vector: ir.Value, combine) -> ir.Value:
    """The lanes of ``vector`` combined pairwise, halving it each step, into one scalar:
    ``combine(x, y)`` emits ``x op y`` for two values of the same (vector or scalar) type.
    An odd lane left over at a step is combined into the result at the end."""
    width = vector.type.count
    left: list[ir.Value] = []
    while width > 2:
        if width % 2:
            left.append(b.extract_element(vector, ir.Constant(I32, width - 1)))
            width -= 1
        half = width // 2
        low = b.shuffle_vector(vector, vector, _mask(range(half)))
        high = b.shuffle_vector(vector, vector, _mask(range(half, width)))
        vector, width = combine(low, high), half
    total = b.extract_element(vector, ir.Constant(I32, 0))
    if width == 2:
        total = combine(total, b.extract_element(vector, ir.Constant(I32, 1)))
    for value in reversed(left):
        total = combine(total, value)
    return total


def _mask(lanes: range) -> ir.Constant:
    return shuffle_mask(lanes.start, lanes.stop)
