"""Lane independence: may the iterations of a loop run as lanes, in lockstep?

Lanes run statement by statement, every lane's loads before its stores, which
is the loop's meaning only when no lane sees another lane's writes. The one
proof, :func:`lanes_independent`, asks two things of the stores of a loop
body:

* each buffer they write is written at one index tuple only
  (:func:`written_points`), and every load of such a buffer reads exactly
  that tuple (:func:`reads_only_written_points`): a lane reads only the
  element it writes itself;
* with ``var`` given, that written index moves by a nonzero constant per
  lane (:func:`lane_stride`), so different lanes write different elements.

The vectorize pass asks both; the reference interpreter, which checks at run
time where lanes' writes collide, asks the first of each unit of a region.

>>> from mlc.ir.buffer import decl_buffer
>>> from mlc.ir.expr import Var
>>> from mlc.ir.tir import BufferStore
>>> i, j = Var("i"), Var("j")
>>> A, C = decl_buffer((64,), "float32", "A"), decl_buffer((64,), "float32", "C")
>>> lanes_independent([BufferStore(C, C[i * 16 + j] + A[j], (i * 16 + j,))], j)
True
>>> lanes_independent([BufferStore(C, C[i * 16 + j + 1], (i * 16 + j,))], j)
False
>>> lanes_independent([BufferStore(C, A[j], (i * 16,))], j)  # every lane writes one element
False
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .. import dtype as dt
from ..arith import same_expr
from ..buffer import Buffer
from ..expr import (VECTOR_WINDOW, Binary, Broadcast, BufferLoad, Call, Cast, FloatImm, IntImm, Not, PrimExpr, Ramp,
                    Select, Var)
from ..functor import binary_chain, pre_order_nodes
from ..tir import BufferStore

__all__ = ["lane_stride", "written_points", "reads_only_written_points", "lanes_independent", "lane_of",
           "window_source"]


def lane_stride(e: PrimExpr, var: Var) -> int | None:
    """How far integer expression ``e`` moves when ``var`` grows by one, when that is the
    same constant for every value of ``var``; None when it is not (or is not known)."""
    if isinstance(e, Var):
        return 1 if e is var else 0
    if isinstance(e, (IntImm, FloatImm)):
        return 0
    if isinstance(e, Binary) and e.op in ("add", "sub"):
        a, b = lane_stride(e.a, var), lane_stride(e.b, var)
        if a is None or b is None:
            return None
        return a + b if e.op == "add" else a - b
    if isinstance(e, Binary) and e.op == "mul":
        a, b = lane_stride(e.a, var), lane_stride(e.b, var)
        if a == 0 and b == 0:
            return 0
        if a == 0 and isinstance(e.a, IntImm) and b is not None:
            return e.a.value * b
        if b == 0 and isinstance(e.b, IntImm) and a is not None:
            return e.b.value * a
        return None
    return 0 if not any(n is var for n in pre_order_nodes(e)) else None


def written_points(stores: Iterable[BufferStore]) -> dict[Buffer, tuple[PrimExpr, ...]] | None:
    """Each written buffer's one written index tuple, or None when some buffer is
    written at two different index tuples."""
    written: dict[Buffer, tuple[PrimExpr, ...]] = {}
    for st in stores:
        index = written.setdefault(st.buffer, st.indices)
        if index is not st.indices and not same_expr(index, st.indices):
            return None
    return written


def reads_only_written_points(roots: Iterable, written: dict[Buffer, tuple[PrimExpr, ...]]) -> bool:
    """Every load under ``roots`` of a buffer in ``written`` reads exactly its written tuple."""
    for root in roots:
        for n in pre_order_nodes(root):
            if isinstance(n, BufferLoad) and n.buffer in written and not same_expr(n.indices, written[n.buffer]):
                return False
    return True


def lanes_independent(stores: Sequence[BufferStore], var: Var) -> bool:
    """No lane of loop variable ``var`` sees another lane's writes: each written buffer is
    accessed (read or written, values and indices alike) at one index tuple only, whose
    last index moves by a nonzero constant per lane while the others stay put."""
    written = written_points(stores)
    if written is None:
        return False
    for index in written.values():
        if not index or lane_stride(index[-1], var) in (None, 0) or \
                any(lane_stride(i, var) != 0 for i in index[:-1]):
            return False
    return reads_only_written_points((root for st in stores for root in (st.value, *st.indices)), written)


def window_source(offset: int, span: int, lanes: int, k: int) -> tuple[int, int]:
    """(0 for ``lo``, 1 for ``hi``; the lane there) of lane ``k`` of
    ``vector_window(lo, hi, offset, span)`` (:data:`~mlc.ir.expr.VECTOR_WINDOW`), whose lanes
    are ``lo``'s from ``offset`` on, then ``hi``'s from ``lanes - span`` on: the vector
    ``offset`` elements past ``lo`` where ``hi`` starts ``span`` elements past it.

    >>> [window_source(1, 2, 4, k) for k in range(4)]
    [(0, 1), (0, 2), (0, 3), (1, 2)]
    """
    return (0, offset + k) if offset + k < lanes else (1, offset + k - span)


def lane_of(e: PrimExpr, k: int, loads: Mapping[int, Sequence[PrimExpr]] | None = None) -> PrimExpr:
    """The scalar expression of lane ``k`` of vector expression ``e`` (``e`` when scalar).
    ``loads``: the lanes of vector loads a renderer has made already (id of the BufferLoad
    -> its lanes' values), taken for those loads (the CUDA C of a ``float4`` load's fields).
    A chain of Binary nodes (:func:`~mlc.ir.functor.binary_chain`, as deep as the user wrote
    it) is taken on a loop.

    >>> i = Var("i")
    >>> lane_of(Ramp(i * 16, 2, 16), 3)
    i * 16 + 6
    >>> lane_of(Binary("floordiv", Ramp(i, 1, 8), Broadcast(IntImm(4), 8), "int32x8"), 5)
    (i + 5) // 4
    """
    if not dt.is_vector(e.dtype):
        return e
    scalar = dt.element(e.dtype)
    if isinstance(e, Ramp):
        step = e.stride * k
        if isinstance(e.base, IntImm):
            return IntImm(e.base.value + step, e.base.dtype)
        return e.base if step == 0 else Binary("add", e.base, IntImm(step, e.base.dtype), e.base.dtype)
    if isinstance(e, Broadcast):
        return e.value
    if isinstance(e, BufferLoad):
        made = None if loads is None else loads.get(id(e))
        if made is not None:
            return made[k]
        return BufferLoad(e.buffer, tuple(lane_of(i, k, loads) for i in e.indices), scalar)
    if isinstance(e, Binary):
        out = below = None
        for node in reversed(binary_chain(e, _vector_side)):
            a = out if node.a is below else lane_of(node.a, k, loads)
            b = out if node.b is below else lane_of(node.b, k, loads)
            out, below = Binary(node.op, a, b, dt.element(node.dtype)), node
        return out
    if isinstance(e, Select):
        return Select(lane_of(e.cond, k, loads), lane_of(e.true_value, k, loads),
                      lane_of(e.false_value, k, loads), scalar)
    if isinstance(e, Cast):
        return Cast(scalar, lane_of(e.value, k, loads))
    if isinstance(e, Not):
        return Not(lane_of(e.a, k, loads), scalar)
    if isinstance(e, Call):
        if e.op == VECTOR_WINDOW:  # (lo, hi, offset, span): lane k is a lane of lo or of hi
            source, lane = window_source(e.args[2].value, e.args[3].value, dt.lanes(e.dtype), k)
            return lane_of(e.args[source], lane, loads)
        return Call(e.op, tuple(lane_of(a, k, loads) for a in e.args), scalar)
    raise TypeError(f"lane_of: {type(e).__name__} has no vector form")


def _vector_side(node: Binary, side: str) -> bool:
    """binary_chain's step into the vector operands only (a scalar one is its own lanes)."""
    return dt.is_vector(getattr(node, side).dtype)
