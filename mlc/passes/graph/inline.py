"""Inline elementwise and injective te stages into the stages that read them.

A fused group is lowered op by op into te stages; a stage that computes one
value per point without a reduction (``T_add``, ``T_exp``, a reshape) need
not be stored: each load of it is replaced by its body with the load's
indices substituted for its axes. A chain of elementwise ops then becomes a
single block, and matmul + bias + relu becomes the reduction block plus one
epilogue block.

The indices of the loads an inlined body brings are simplified under the
reading stage's axes (:class:`~mlc.ir.arith.Analyzer`): a reshape reads its
input at the divisions and remainders of a flat index, so a chain of reshapes
(a write at a traced index flattens and unflattens its array, and a loop body
unrolled from several such writes chains them) would otherwise nest each
reshape's index in the next one's several times, and its size would grow
exponentially with the chain.

A stage read from several places is inlined only while its body stays
small (:data:`INLINE_MAX_NODES`), so repeated inlining cannot blow up
expressions; larger ones stay intermediate buffers of the PrimFunc. A stage
that calls a math function (``exp``, ``log``...) and is read both by a
reduction and by another stage stays a buffer too, so it is computed once
(softmax's ``exp(x - max)``, summed and then divided by the sum).

>>> from mlc import te
>>> A = te.placeholder((4,), "float32", "A")
>>> B = te.compute((4,), lambda i: A[i] + 1, name="B")
>>> C = te.compute((4,), lambda i: te.exp(B[i]), name="C")
>>> (C2,) = inline_stages([C])
>>> C2.op.body[0]
T.exp(A[i] + T.float32(1))
"""
from __future__ import annotations

from ...ir.arith import expr_key
from ...ir.expr import BufferLoad, Call, Reduce, Var
from ...ir.functor import Mutator, post_order_dag, pre_order_nodes, substitute
from ...ir.range_mutator import IndexSimplifier
from ...ir.te import KEEP_TAG, ComputeOp, PlaceholderOp, Tensor

__all__ = ["inline_stages", "INLINE_MAX_NODES", "LoadInliner"]

#: A stage read from more than one place is inlined only up to this many IR nodes.
INLINE_MAX_NODES = 24


def _stages(outputs: list[Tensor]) -> list[Tensor]:
    """Every tensor reachable from ``outputs``, producers first (explicit stack)."""
    return list(post_order_dag(outputs, lambda t: list(getattr(t.op, "inputs", ())), key=lambda t: id(t.buffer)))


def _load_counts(stages: list[Tensor]) -> tuple[dict[int, int], set[int]]:
    """(loads of each buffer, buffers read by a reduction and by some other stage)."""
    counts: dict[int, int] = {}
    readers: dict[int, list[bool]] = {}  # buffer -> for each reading stage: is it a reduction
    for t in stages:
        if isinstance(t.op, ComputeOp) and t.value_index == 0:
            read = set()
            for body in t.op.body:
                for node in pre_order_nodes(body):
                    if isinstance(node, BufferLoad):
                        counts[id(node.buffer)] = counts.get(id(node.buffer), 0) + 1
                        read.add(id(node.buffer))
            is_reduce = any(isinstance(b, Reduce) for b in t.op.body)
            for buf in read:
                readers.setdefault(buf, []).append(is_reduce)
    shared = {buf for buf, kinds in readers.items() if len(kinds) > 1 and any(kinds)}
    return counts, shared


class LoadInliner(Mutator):
    """Replaces each load of a buffer in ``inlined`` (``id(buffer)`` -> (its axes' variables, the
    value at those axes), already inlined) by that value at the load's indices; with an
    ``simplifier`` (under the reading stage's axes), the indices of the loads that value
    makes are simplified. Loads of a buffer at the same index nodes share one value (a
    formula reading a stage twice at its axes, as an elementwise chain does, substitutes and
    simplifies it once), and a load at the value's own axes variables takes it as it is (its
    indices simplified when it was made): set :attr:`simplifier` through :meth:`for_stage`,
    which starts afresh."""

    def __init__(self, inlined: dict[int, tuple[tuple, object]], simplifier: IndexSimplifier | None = None):
        self.inlined = inlined
        self.for_stage(simplifier)

    def for_stage(self, simplifier: IndexSimplifier | None) -> None:
        """Inline into a stage whose indices ``simplifier`` simplifies (None: left as they are)."""
        self.simplifier = simplifier
        self._values: dict[tuple, tuple[tuple, object]] = {}

    def visit_BufferLoad(self, load: BufferLoad):
        load = self.generic_visit(load)
        entry = self.inlined.get(id(load.buffer))
        if entry is None:
            return load
        axes, body = entry
        if len(axes) == len(load.indices) and all(a is i for a, i in zip(axes, load.indices)):
            return body  # (read at its own axes: the value as it is, its indices simplified already)
        key = (id(load.buffer), *map(id, load.indices))
        got = self._values.get(key)
        if got is None:
            value = substitute(body, dict(zip(axes, load.indices)))
            value = value if self.simplifier is None else self.simplifier.visit(value)
            got = self._values[key] = (load.indices, value)  # (the indices kept: their ids stay theirs)
        return got[1]


def _inlinable(t: Tensor, outputs: set[int]) -> bool:
    op = t.op
    return (isinstance(op, ComputeOp) and len(op.body) == 1 and not isinstance(op.body[0], Reduce)
            and op.tag != KEEP_TAG and id(t.buffer) not in outputs)


def _calls(expr) -> bool:
    return any(isinstance(n, Call) for n in pre_order_nodes(expr))


def _size(expr) -> int:
    return sum(1 for _ in pre_order_nodes(expr))


def inline_stages(outputs: list[Tensor]) -> list[Tensor]:
    """The ``outputs`` recomputed with inlinable intermediate stages substituted away.

    Output stages are kept (they are the PrimFunc's results); reductions,
    multi-output stages and stages tagged ``te.KEEP_TAG`` (a convolution's padded
    input: inlined, its padding conditions would run in the convolution's inner loop) are kept
    as intermediate buffers.
    """
    stages = _stages(outputs)
    counts, shared_with_reduction = _load_counts(stages)
    output_buffers = {id(t.buffer) for t in outputs}
    inlined: dict[int, tuple[tuple, object]] = {}
    rebuilt: dict[int, Tensor] = {}   # buffer id -> tensor of the rewritten stage
    new_ops: dict[int, tuple] = {}  # id(op) -> (its axes' shared variables, its bodies in them)
    kept_ops: dict[int, ComputeOp] = {}  # id(op) -> the stage rewritten, where it is kept
    shared_axes: dict[tuple, tuple[Var, ...]] = {}
    inliner = LoadInliner(inlined)
    for t in stages:
        op = t.op
        if isinstance(op, PlaceholderOp):
            rebuilt[id(t.buffer)] = t
            continue
        new_op = new_ops.get(id(op))
        if new_op is None:
            axes = _shared_axes(op.axis, shared_axes)
            simplifier = IndexSimplifier({**{v: iv.dom for v, iv in zip(axes, op.axis)},
                                          **{iv.var: iv.dom for iv in _reduce_axes(op.body)}})
            inliner.for_stage(simplifier)
            renamed = {iv.var: v for iv, v in zip(op.axis, axes)}
            # (its own loads' indices simplified too: a stage read at its axes is taken as it is)
            bodies = tuple(inliner.visit(simplifier.visit(substitute(b, renamed))) for b in op.body)
            new_op = new_ops[id(op)] = (axes, bodies)
        axes, bodies = new_op
        if _inlinable(t, output_buffers) and (counts.get(id(t.buffer), 0) <= 1
                                               or _size(bodies[0]) <= INLINE_MAX_NODES) \
                and not (id(t.buffer) in shared_with_reduction and _calls(bodies[0])):
            inlined[id(t.buffer)] = (axes, bodies[0])
            continue
        kept = kept_ops.get(id(op))  # (one for every output of a stage of several)
        if kept is None:
            own = {v: iv.var for iv, v in zip(op.axis, axes)}
            bodies = tuple(substitute(b, own) for b in bodies)
            kept = kept_ops[id(op)] = ComputeOp(op.name, op.axis, bodies, _inputs_of(bodies, rebuilt), op.tag)
        rebuilt[id(t.buffer)] = Tensor(kept, t.buffer, t.value_index)
    return [rebuilt[id(t.buffer)] for t in outputs]


def _shared_axes(axis, shared: dict[tuple, tuple[Var, ...]]) -> tuple[Var, ...]:
    """The variables a stage of the axes ``axis`` (IterVars) is inlined in: one set for every
    stage of the same domains, so that a stage reading another at its own axes (an
    elementwise chain) takes the other's value as it is, with no substitution (a walk of the
    whole value, for every stage of the chain). A stage kept gets its own axes back."""
    key = tuple((expr_key(iv.dom.min), expr_key(iv.dom.extent), iv.var.dtype) for iv in axis)
    got = shared.get(key)
    if got is None:
        got = shared[key] = tuple(Var(iv.var.name, iv.var.dtype) for iv in axis)
    return got


def _reduce_axes(bodies) -> tuple:
    return tuple(iv for b in bodies if isinstance(b, Reduce) for iv in b.axis)


def _inputs_of(bodies, rebuilt: dict[int, Tensor]) -> tuple[Tensor, ...]:
    found: dict[int, Tensor] = {}
    for body in bodies:
        for node in pre_order_nodes(body):
            if isinstance(node, BufferLoad) and id(node.buffer) in rebuilt:
                found.setdefault(id(node.buffer), rebuilt[id(node.buffer)])
    return tuple(found.values())
