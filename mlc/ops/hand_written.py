"""Hand-written PrimFuncs of ops, and the marks a target reads on them.

An ``opaque`` op whose work is no loop nest of te stages writes its PrimFunc
by hand (``prim_func``, built with :func:`~.library._common.hand_written_func`).
Such a function is a serial loop nest for the CPU, and says so in its attributes
so that a build for another target can find it and rebuild it its own way:

- ``"mlc.scheduled": "hand-written"`` (:data:`HAND_WRITTEN`): the default
  schedules leave it as written (it has no blocks to schedule); a GPU build
  replaces it by its GPU form, marked ``"hand-written-gpu"``;
- ``"mlc.op"`` and ``"mlc.op_attrs"``: the op and the attributes that built it,
  and ``"mlc.op_params"``: which of the function's parameters stand for the
  op's inputs and outputs (lowering a graph may reorder them, and one value
  passed twice is one parameter) — set by :func:`hand_written`, which the graph
  lowering calls, so that a target can ask the op for its own kernel
  (``gpu_prim_func``) with the same parameters;
- loops annotated ``"mlc.batch"`` (:data:`BATCH`): the op's batch loops (over
  the leading dimensions of a stack of matrices, the lines of a scan, the
  rows of a sort). Their iterations are independent — none reads what
  another wrote, the root block's scratch buffers included (an iteration
  writes a scratch element before it reads it) — so a target may run them in
  parallel with a private copy of the scratch buffers each.

>>> from mlc.ops import TensorType
>>> f = hand_written("cumsum", [TensorType((2, 3), "float32")], {"axis": 1})
>>> f.attr("mlc.scheduled"), f.attr("mlc.op"), f.attr("mlc.op_attrs"), f.attr("mlc.op_params")
('hand-written', 'cumsum', (('axis', 1),), ((0,), (1,)))
>>> recorded_op(f)
RecordedOp(name='cumsum', attrs={'axis': 1}, inputs=(0,), outputs=(1,))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collections.abc import Callable

from ..errors import IRError, MLCError
from ..ir import dtype as dt
from ..ir.expr import PrimExpr, Var, const
from ..ir.functor import pre_order_nodes
from ..ir.tir import For, IfThenElse, PrimFunc, Stmt, seq
from .registry import TensorType, get_op

__all__ = ["HAND_WRITTEN", "HAND_WRITTEN_GPU", "BATCH", "OP_ATTR", "OP_ATTRS_ATTR", "OP_PARAMS_ATTR", "THREADS",
           "RecordedOp", "hand_written", "is_hand_written", "is_bound_to_threads", "recorded_op", "with_op_params",
           "thread_loops", "REGION_WRITE"]

#: The ``"mlc.scheduled"`` attribute of a hand-written function, and of one a GPU build made
#: ready for the GPU (its op's ``gpu_prim_func``, or its batch loops bound to threads).
HAND_WRITTEN, HAND_WRITTEN_GPU = "hand-written", "hand-written-gpu"
#: The loop annotation marking a batch loop of a hand-written function (see the module docstring).
BATCH = "mlc.batch"
#: Function attributes recording the op that built a hand-written function.
OP_ATTR, OP_ATTRS_ATTR, OP_PARAMS_ATTR = "mlc.op", "mlc.op_attrs", "mlc.op_params"
#: The attribute of a *region write*: its value, k, names the operand that the result is outside
#: the region the function writes. The caller copies that operand into the result first, unless
#: the result is that operand's memory, which the graph's ``main`` gives it where it may
#: (:mod:`mlc.ops.library.rows`).
REGION_WRITE = "mlc.region_write"
#: Threads per block of the kernels :func:`thread_loops` builds.
THREADS = 128


@dataclass(frozen=True)
class RecordedOp:
    """The op that built a hand-written function: its ``name`` and ``attrs``, and for each of
    its inputs and outputs, in the op's order, the index of the function's parameter that holds it."""
    name: str
    attrs: dict[str, Any]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def input_types(self, func: PrimFunc) -> list[TensorType]:
        """The TensorTypes of the op's inputs, read from ``func``'s parameters."""
        return [TensorType(func.params[k].static_shape(), func.params[k].dtype) for k in self.inputs]


def is_hand_written(func: PrimFunc) -> bool:
    """True when ``func`` is an op's hand-written loops as the op wrote them (for the CPU)."""
    return func.attr("mlc.scheduled") == HAND_WRITTEN


def is_bound_to_threads(func: PrimFunc) -> bool:
    """True when ``func`` has a loop bound to a GPU thread axis: a hand-written function in its
    GPU form (its op's ``gpu_prim_func``, or its batch loops bound), not the CPU's loops."""
    return any(isinstance(n, For) and n.kind == "thread_binding" for n in pre_order_nodes(func.body))


def hand_written(op: str, in_types, attrs: dict) -> PrimFunc:
    """Op ``op``'s hand-written PrimFunc (its ``prim_func``) for inputs of ``in_types``, recording
    the op, ``attrs`` and its parameters (inputs, then outputs) in the function's attributes."""
    opdef = get_op(op)
    if opdef.prim_func is None:
        raise MLCError(f"op {opdef.name} has no hand-written PrimFunc (prim_func); it is lowered by te")
    func = opdef.prim_func(*in_types, **attrs)
    n_in = len(in_types)
    if len(func.params) < n_in:
        raise IRError(f"op {opdef.name}: its prim_func takes {len(func.params)} parameters for {n_in} inputs; "
                      "a hand-written PrimFunc takes the inputs, then the outputs")
    params = (tuple(range(n_in)), tuple(range(n_in, len(func.params))))
    return func.with_attr(OP_ATTR, opdef.name).with_attr(OP_ATTRS_ATTR, tuple(sorted(attrs.items()))) \
        .with_attr(OP_PARAMS_ATTR, params)


def with_op_params(func: PrimFunc, inputs, outputs) -> PrimFunc:
    """``func`` recording that the op's inputs and outputs are its parameters ``inputs`` and
    ``outputs`` (indices; unchanged when ``func`` records no op)."""
    if func.attr(OP_ATTR) is None:
        return func
    return func.with_attr(OP_PARAMS_ATTR, (tuple(inputs), tuple(outputs)))


def recorded_op(func: PrimFunc) -> RecordedOp | None:
    """The op recorded on ``func`` by :func:`hand_written`, or None when there is none."""
    name = func.attr(OP_ATTR)
    if name is None:
        return None
    inputs, outputs = func.attr(OP_PARAMS_ATTR)
    return RecordedOp(name, dict(func.attr(OP_ATTRS_ATTR, ())), tuple(inputs), tuple(outputs))


def thread_loops(total: int, body: Callable[[PrimExpr], Stmt], threads: int = THREADS) -> Stmt:
    """A GPU kernel running ``body(t)`` for each ``t`` in ``range(total)``, one thread each: blocks
    of ``threads`` threads (fewer when ``total`` is smaller) bound to ``blockIdx.x`` x
    ``threadIdx.x``, ``t = bx * threads + tx``, with a guard ``t < total`` where the last block
    is partly idle; no kernel at all when ``total`` is 0. How a hand-written function's GPU
    version (``gpu_prim_func``) runs its independent iterations.

    >>> from mlc.ir.buffer import decl_buffer
    >>> from mlc.ir.tir import BufferStore
    >>> y = decl_buffer((300,), "float32", "y")
    >>> print(thread_loops(300, lambda t: BufferStore(y, const(1.0, "float32"), (t,))))
    for bx in T.thread_binding(3, thread="blockIdx.x"):
        for tx in T.thread_binding(128, thread="threadIdx.x"):
            if bx * 128 + tx < 300:
                y[bx * 128 + tx] = T.float32(1)
    """
    if total == 0:
        return seq()
    threads = min(threads, total)
    blocks = -(-total // threads)
    bx, tx = Var("bx", dt.INDEX), Var("tx", dt.INDEX)
    t = tx if blocks == 1 else bx * const(threads, dt.INDEX) + tx
    stmt = body(t)
    if blocks * threads != total:
        stmt = IfThenElse(t < const(total, dt.INDEX), stmt)
    inner = For(tx, const(0, dt.INDEX), const(threads, dt.INDEX), "thread_binding", stmt, "threadIdx.x")
    return For(bx, const(0, dt.INDEX), const(blocks, dt.INDEX), "thread_binding", inner, "blockIdx.x")
