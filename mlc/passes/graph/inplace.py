"""Outputs that reuse an input's buffer: the in-place mechanism of the graph's kernels.

An op registered with ``inplace=((output, argument), ...)`` (``element_set``,
``dynamic_update_slice``, ``element_loop``) has a kernel that *updates* the output: the
output's buffer must hold the argument's value when the kernel starts, and the kernel stores
only what changes. :func:`~mlc.passes.graph.lower.lower_to_tir` records the pairs on the
``call_tir`` binding (attribute ``"inplace"``, argument positions among the call's
arguments). Two passes honour them:

A compiled loop is in place the same way (:func:`carry_pairs`): its carries' buffers start as
copies of their initial values, or are those values' buffers where they are dead after it.

- :func:`~mlc.passes.graph.plan.plan_memory` lets the output *alias* the argument — take its
  memory, attribute ``"alias"`` (per output: the argument's position, or None) — where that is
  legal (:func:`may_alias`): the argument is read by nothing after the call (no view of it
  either), is passed to the call only once, and its memory is writable: an intermediate's
  storage, or a loop's carry (inside the loop's body, the carry's buffer holds only the
  carry), never a function argument, a constant, a value a loop captures or a returned value;
- :func:`~mlc.passes.graph.emit_main.emit_main` gives an aliased output its argument's buffer,
  and copies the argument into any other in-place output's buffer before the call (correct
  always: the old version stays intact for its later readers).

So a loop ``for i: A[i, j] = v`` writes one element of the carry's buffer per iteration, and
``B = A.copy(); B[0] = 1`` with ``A`` read later copies ``A`` once, then stores one element.

>>> from mlc.ir.graph import Binding, Var
>>> from mlc.ops.registry import TensorType
>>> a, v, i, out = Var("a", TensorType((4,), "float32")), Var("v", TensorType((), "float32")), \\
...     Var("i", TensorType((), "int64")), Var("out", TensorType((4,), "float32"))
>>> inplace_pairs(Binding((out,), "call_tir", (a, v, i), (("func", "set"), ("inplace", ((0, 0),)))))
((0, 0),)
"""
from __future__ import annotations

from ...ir.graph import Binding, Constant, Graph
from ...ops.registry import get_op

__all__ = ["INPLACE", "ALIAS", "inplace_pairs", "carry_pairs", "aliases", "call_inplace", "may_alias", "writable_inputs"]

#: The call_tir attribute: ((output, argument position), ...) the kernel updates in place.
INPLACE = "inplace"
#: The planned attribute: per output, the position of the argument whose memory it takes, or None.
ALIAS = "alias"


def inplace_pairs(b: Binding) -> tuple[tuple[int, int], ...]:
    """The (output, argument) pairs call ``b``'s kernel updates in place (none for most)."""
    return tuple(b.attr(INPLACE, ()) or ())


def carry_pairs(b: Binding) -> tuple[tuple[int, int], ...]:
    """A loop's (result, initial value) pairs: a loop updates its carries in their result
    buffers, which start as copies of the initial values — or are those values' own buffers
    where the plan lets a result alias its initial value (dead after the loop)."""
    n = b.attr("num_carry", 0)
    if b.op == "for_loop":
        return tuple((k, 2 + k) for k in range(n))
    if b.op == "while_loop":
        return tuple((k, k) for k in range(n))
    return ()


def aliases(b: Binding) -> tuple[tuple[int, int], ...]:
    """The (output, argument) pairs whose output plan_memory let take the argument's memory."""
    alias = b.attr(ALIAS)
    if not alias:
        return ()
    return tuple((o, k) for o, k in enumerate(alias) if k is not None)


def call_inplace(body: Graph, call_args: tuple) -> tuple[tuple[int, int], ...]:
    """The in-place pairs of the call of fused group ``body`` (one op lowered by its hand-written
    PrimFunc) with arguments ``call_args``: the op's pairs, its argument positions mapped to the
    call's (the group's inputs, then its constants)."""
    if len(body.bindings) != 1:
        return ()
    (b,) = body.bindings
    pairs = get_op(b.op).inplace
    if callable(pairs):
        pairs = pairs([a.type for a in b.args], dict(b.attrs))
    if not pairs:
        return ()
    out = []
    for o, k in pairs:
        atom = b.args[k]
        if isinstance(atom, Constant):
            at = [n for n, a in enumerate(call_args) if a is atom]
        else:
            at = [n for n, v in enumerate(body.inputs) if v is atom]
        if len(at) != 1 or body.outputs[o] is not b.outputs[o]:
            continue  # the argument passed twice: the kernel reads it as another operand, no update
        out.append((o, at[0]))
    return tuple(out)


def writable_inputs(b: Binding) -> dict[str, frozenset[int]]:
    """Per graph attribute of control binding ``b``: the positions of the graph's inputs whose
    buffers it may write (a loop body's carries; nothing of a condition or a branch, whose
    inputs are values of the enclosing graph)."""
    n = b.attr("num_carry", 0)
    if b.op == "for_loop":
        return {"body": frozenset(range(1, 1 + n))}
    if b.op == "while_loop":
        return {"body": frozenset(range(n)), "cond": frozenset()}
    return {}


def may_alias(b: Binding, n: int, k: int, *, root, last_use: dict, writable, returned) -> bool:
    """Whether binding ``b`` (number ``n`` of its graph) may write its in-place output into the
    memory of its argument ``k``: that memory (``root(atom)``: the value whose memory a view or
    an alias names) is ``writable`` (a planned storage, or a carry of the loop whose body this
    is), not ``returned``, read by no binding after ``n``, and passed to ``b`` only once."""
    atom = b.args[k]
    if isinstance(atom, Constant):
        return False
    key = root(atom)
    if key not in writable or key in returned or last_use.get(key) != n:
        return False
    return sum(1 for a in b.args if not isinstance(a, Constant) and root(a) == key) == 1
