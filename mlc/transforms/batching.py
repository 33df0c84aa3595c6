"""Batching: a graph and where its inputs' batch axes are -> the graph of the batched program.

:func:`batch_eval` records a graph's bindings in the active trace on batched
operands: each value is a Tracer and the position of its batch axis (None:
the same for every element of the batch). An op whose operands are all
unbatched is recorded as it is; the others go through the op's batching
rule, whose result is checked against the op's own result type with the
batch axis inserted. :func:`batch_graph` is the same as a ``Graph -> Graph``
function.

>>> import numpy as np
>>> from mlc.transforms.tracing import trace_function
>>> g, _, _ = trace_function(lambda x, w: x @ w, [np.zeros(3, "float32"), np.zeros((3, 2), "float32")])
>>> bg, dims = batch_graph(g, (0, None), 5)
>>> print(bg.script())
@R.function
def vmap(x0: R.Tensor((5, 3), "float32"), x1: R.Tensor((3, 2), "float32")):
    lv0 = R.reshape(x0, newshape=(5, 1, 3))
    lv1 = R.matmul(lv0, x1)
    lv2 = R.squeeze(lv1, axis=-2)
    return lv2
>>> dims
(0,)
"""
from __future__ import annotations

import numpy as np

from ..ir.control import CONTROL_OPS
from ..ir.graph import Constant, Graph
from ..ir.types import TensorType
from ..ops.rules import Composite, RuleError
from ..tracer.trace import CALL, TraceContext, current_trace
from ..tracer.tracer import Tracer
from .control import control_batch
from .rules import batched_type, composite_graph, located, moved, rule_of
from .tracing import inline_graph, inside_transformation

__all__ = ["batch_eval", "batch_graph", "batched_type", "moved"]


def _check(b, outs, dims, size: int) -> None:
    """RuleError unless the batched results have the op's result types, batch axes inserted."""
    for var, value, dim in zip(b.outputs, outs, dims):
        want = batched_type(var.type, dim, size)
        got = TensorType(tuple(value.shape), value._atom.type.dtype)
        if got != want:
            raise RuleError(f"op {b.op}: its batching rule returned {got.dtype}{list(got.shape)} (batch axis "
                            f"{dim}) where {want.dtype}{list(want.shape)} was expected")


def batch_eval(graph: Graph, args, dims, size: int):
    """Record ``graph`` in the active trace on ``args`` batched along ``dims`` (a batch axis or None
    per input) with batch ``size``; returns (outputs, their batch axes)."""
    ctx = current_trace()
    env = {}
    for var, value, dim in zip(graph.inputs, args, dims):
        env[id(var)] = (value, dim)

    def read(a):
        return (Tracer(ctx, a), None) if isinstance(a, Constant) else env[id(a)]

    for b in graph.bindings:
        xs, ds = zip(*(read(a) for a in b.args)) if b.args else ((), ())
        with located(b, "batch"):
            if all(d is None for d in ds):
                outs, out_dims = _unbatched(ctx, b, xs)
            elif b.op in CONTROL_OPS:
                outs, out_dims = control_batch(b, xs, ds, size, batch_eval)
                _check(b, outs, out_dims, size)
            elif b.op == CALL:
                outs, out_dims = b.attr("rules").apply_batch(b.attr("body"), xs, ds, size)
            else:
                outs, out_dims = _batched(b, xs, ds, size)
                _check(b, outs, out_dims, size)
        for var, value, dim in zip(b.outputs, outs, out_dims):
            env[id(var)] = (value, dim)
    results = [read(a) for a in graph.outputs]
    return [r[0] for r in results], [r[1] for r in results]


def _unbatched(ctx, b, xs):
    if b.op == CALL:
        outs = (ctx.emit_call(b.attr("body"), b.attr("rules"), list(xs)) if inside_transformation()
                else tuple(inline_graph(b.attr("body"), list(xs))))
    else:
        out = ctx.emit(b.op, list(xs), b.attr_dict)
        outs = out if isinstance(out, tuple) else (out,)
    return outs, (None,) * len(outs)


def _batched(b, xs, ds, size):
    rule = rule_of(b, "batch")
    attrs = b.attr_dict
    if isinstance(rule, Composite):
        graph, _ = composite_graph(rule.fn, [a.type for a in b.args], attrs, b.op)
        return batch_eval(graph, xs, ds, size)
    out, out_dims = rule(tuple(xs), tuple(ds), **attrs)
    outs = out if isinstance(out, tuple) else (out,)
    out_dims = tuple(out_dims) if isinstance(out_dims, (tuple, list)) else (out_dims,)
    if len(out_dims) != len(outs):
        raise RuleError(f"op {b.op}: its batching rule gave {len(out_dims)} batch axes for {len(outs)} results")
    return outs, out_dims


def batch_graph(graph: Graph, in_dims, size: int):
    """``(batched graph, out_dims)``: the graph of ``graph`` on inputs batched along ``in_dims``
    (a batch axis or None per input) with batch ``size``, and where its outputs' batch axes are
    (None: an output the same for the whole batch)."""
    with TraceContext("vmap", capture=True) as ctx:
        args = [ctx.new_input(batched_type(v.type, d, size), v.name) for v, d in zip(graph.inputs, in_dims)]
        outs, out_dims = batch_eval(graph, args, in_dims, size)
    return ctx.finish(outs), tuple(out_dims)
