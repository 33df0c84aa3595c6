"""What the transformations share when they apply an op's rule: finding it, checking what it
returns, and unfolding a rule given as the op's composite definition.

A rule's result is checked against the op's own types: a tangent or
cotangent must have its primal's shape (its dtype is cast to the primal's),
a batched result the op's result shape with the batch axis inserted. A
broken rule is an :class:`~mlc.ops.rules.RuleError` naming the op, never a
wrong answer further down.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..errors import DTypeError, IRError, TraceError
from ..ir import dtype as dt
from ..ir.control import CONTROL_OPS
from ..ir.types import TensorType
from ..ops.registry import get_op
from ..ops.rules import RuleError, Zero, is_zero
from ..tracer.source import describe_location
from ..tracer.trace import control_flow_refusal, current_trace
from ..tracer.pytree import flatten
from ..tracer.tracer import Tracer
from .tracing import trace_function

__all__ = ["rule_of", "located", "checked_tangent", "composite_graph", "reject_complex", "Z", "batched_type", "moved"]

#: what each transformation is called in messages
_KINDS = {"jvp": "forward-mode differentiation (jvp)", "vjp": "reverse-mode differentiation (grad, vjp)",
          "batch": "batching (vmap)"}


def Z(atom) -> Zero:  # noqa: N802 - a constructor's short name
    """The symbolic zero of a graph value (or Tracer)."""
    return Zero(tuple(atom.shape), np.dtype(atom.dtype).name)


def rule_of(binding, kind: str):
    """Op ``binding.op``'s rule of ``kind`` ("jvp", "vjp" or "batch"); TraceError when it has none."""
    if binding.op in CONTROL_OPS:
        raise control_flow_refusal(binding.op, binding.loc)
    op = get_op(binding.op)
    rule = getattr(op, kind)
    if rule is None:
        how = ("register it with mlc.ops.define_rules, or for an mlc.op with @op.def" + kind
               if op.name.startswith("custom.") else "it is not supported there yet")
        raise TraceError(f"op {op.name} has no {kind} rule, so {_KINDS[kind]} cannot go through it; {how}"
                         + describe_location(binding.loc))
    return rule


@contextmanager
def located(binding, kind: str):
    """Record the ops emitted meanwhile as coming from ``binding``'s line (it is being transformed
    by ``kind``); a rule that needs a size a dynamic axis leaves symbolic is a TraceError saying so."""
    ctx = current_trace()
    saved = ctx.location
    ctx.location = binding.loc or saved
    try:
        yield
    except IRError as err:
        shapes = [tuple(a.shape) for a in binding.args]
        if all(isinstance(n, int) for s in shapes for n in s):
            raise
        raise TraceError(f"{_KINDS[kind]} of {binding.op} does not support these dynamic axes (operand shapes "
                         f"{', '.join(map(str, shapes))}): {err}. Mark fewer axes dynamic (mlc.jit(dynamic=...))"
                         + describe_location(binding.loc)) from None
    finally:
        ctx.location = saved


def checked_tangent(value, like, op: str, what: str):
    """A rule's tangent (or cotangent) for the value ``like``: None/Zero as Zero; else a Tracer of
    ``like``'s shape, cast to its dtype."""
    if is_zero(value):
        return Z(like)
    if not isinstance(value, Tracer):
        raise RuleError(f"op {op}: its {what} rule returned a {type(value).__name__}, not a traced value")
    if tuple(value.shape) != tuple(like.shape):
        raise RuleError(f"op {op}: its {what} rule returned shape {tuple(value.shape)} where "
                        f"{tuple(like.shape)} was expected")
    dtype = np.dtype(like.dtype).name
    return value if value._atom.type.dtype == dtype else value.astype(dtype)


def reject_complex(binding, outputs) -> None:
    """DTypeError when an op with a varying (differentiated) operand has a complex result:
    complex differentiation is not supported (its tangent would be dropped)."""
    for v in outputs:
        if dt.is_complex(np.dtype(v.dtype).name):
            raise DTypeError(f"{binding.op}: differentiating through complex values is not supported (its "
                             f"result is {np.dtype(v.dtype).name}); differentiate the real and imaginary parts "
                             "as real arrays" + describe_location(binding.loc))


def composite_graph(fn, types, attrs: dict, name: str):
    """``fn(*args, **attrs)`` (an op's composite definition) traced into a Graph over inputs of
    ``types`` (TensorTypes, or values having them); the transformation then applies itself to
    that graph."""
    types = [t if isinstance(t, TensorType) else TensorType(tuple(t.shape), np.dtype(t.dtype).name) for t in types]
    leaves, treedef = flatten(tuple(np.zeros(()) for _ in types))
    graph, out_tree, captured = trace_function(lambda *xs: fn(*xs, **attrs), leaves, treedef, name,
                                               types=[(t, False) for t in types], user=fn)
    if captured:
        raise RuleError(f"op {name}: its composite definition uses a traced value that is not its operand")
    return graph, out_tree


def batched_type(ttype: TensorType, dim: int | None, size: int) -> TensorType:
    """``ttype`` with a batch axis of ``size`` at ``dim`` (None: unchanged)."""
    if dim is None:
        return ttype
    shape = tuple(ttype.shape)
    return TensorType(shape[:dim] + (size,) + shape[dim:], ttype.dtype)


def moved(x, dim, to: int, size: int):
    """``x`` (batched along ``dim``, or not batched) with its batch axis at ``to``."""
    if dim is None:
        x = np.broadcast_to(np.expand_dims(x, 0), (size, *x.shape))
        dim = 0
    return x if dim == to else np.moveaxis(x, dim, to)
