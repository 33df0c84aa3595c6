"""Forward mode: a graph and tangents of its inputs -> the graph and its outputs' tangents.

:func:`jvp_eval` records a graph's bindings in the active trace and, beside
each, its op's JVP rule applied to the tangents of its operands. Tangents
are symbolic zeros (:class:`~mlc.ops.rules.Zero`) until something varies:
an op whose operands all have zero tangents, or whose results are integers
or bools, gets zero tangents without its rule being asked, so constant
parts of a program cost nothing. :func:`jvp_graph` is the same as a
``Graph -> Graph`` function.

>>> import numpy as np
>>> from mlc.transforms.tracing import trace_function
>>> g, _, _ = trace_function(lambda x: np.sin(x), [np.zeros(3, "float32")])
>>> print(jvp_graph(g).script())
@R.function
def jvp(x0: R.Tensor((3,), "float32"), t_x0: R.Tensor((3,), "float32")):
    lv0 = R.sin(x0)
    lv1 = R.cos(x0)
    lv2 = R.multiply(t_x0, lv1)
    return (lv0, lv2)
"""
from __future__ import annotations

from ..errors import TraceError
from ..ir.control import CONTROL_OPS
from ..ir.graph import Constant, Graph
from ..ops.rules import Composite, differentiable, instantiate, is_zero
from ..tracer.source import describe_location
from ..tracer.trace import CALL, TraceContext, current_trace
from ..tracer.tracer import Tracer
from .control import control_jvp
from .rules import Z, checked_tangent, composite_graph, located, reject_complex, rule_of
from .tracing import inline_graph, inside_transformation

__all__ = ["jvp_eval", "jvp_graph"]


def _replay_call(b, xs):
    ctx = current_trace()
    if inside_transformation():
        return ctx.emit_call(b.attr("body"), b.attr("rules"), xs)
    return tuple(inline_graph(b.attr("body"), xs))


def _call_jvp(b, xs, ts):
    """A call with derivative rules of its own: its custom JVP, or the JVP of its body."""
    rules = b.attr("rules")
    if rules.kind == "vjp":
        raise TraceError(f"{rules.name} is an mlc.custom_vjp function, which forward mode (jvp, jacfwd, "
                         "hessian) cannot differentiate; define it with mlc.custom_jvp instead"
                         + describe_location(b.loc))
    outs, touts = rules.apply_jvp(xs, [instantiate(t, x) if differentiable(x.dtype) else None
                                       for t, x in zip(ts, xs)])
    return outs, [checked_tangent(t, o, rules.name, "jvp") if differentiable(o.dtype) else Z(o)
                  for t, o in zip(touts, outs)]


def jvp_eval(graph: Graph, primals, tangents):
    """Record ``graph`` on ``primals`` in the active trace with the tangents ``tangents`` (a Tracer
    or a Zero per input); returns (outputs, their tangents)."""
    ctx = current_trace()
    env, tenv = {}, {}
    for var, p, t in zip(graph.inputs, primals, tangents):
        env[id(var)], tenv[id(var)] = p, (t if differentiable(var.dtype) else Z(var))

    def read(a):
        return Tracer(ctx, a) if isinstance(a, Constant) else env[id(a)]

    def tangent(a):
        return Z(a) if isinstance(a, Constant) else tenv[id(a)]

    for b in graph.bindings:
        xs, ts = [read(a) for a in b.args], [tangent(a) for a in b.args]
        with located(b, "jvp"):
            if b.op in CONTROL_OPS and not all(is_zero(t) for t in ts):
                outs, touts = control_jvp(b, xs, ts, jvp_eval)
            elif b.op == CALL:
                if all(is_zero(t) for t in ts):
                    outs = _replay_call(b, xs)
                    touts = [Z(o) for o in outs]
                else:
                    outs, touts = _call_jvp(b, xs, ts)
            else:
                out = ctx.emit(b.op, xs, b.attr_dict)
                outs = out if isinstance(out, tuple) else (out,)
                touts = _tangents(b, xs, ts, out, outs)
        for var, value, t in zip(b.outputs, outs, touts):
            env[id(var)], tenv[id(var)] = value, t
    return [read(a) for a in graph.outputs], [tangent(a) for a in graph.outputs]


def _tangents(b, xs, ts, out, outs):
    if all(is_zero(t) for t in ts):
        return [Z(o) for o in outs]
    reject_complex(b, outs)
    if not any(differentiable(o.dtype) for o in outs):
        return [Z(o) for o in outs]
    rule = rule_of(b, "jvp")
    attrs = b.attr_dict
    if isinstance(rule, Composite):
        graph, _ = composite_graph(rule.fn, xs, attrs, b.op)
        raw = jvp_eval(graph, xs, ts)[1]
    else:
        raw = rule(tuple(xs), tuple(ts), out, **attrs)
        raw = tuple(raw) if isinstance(out, tuple) else (raw,)
    return [checked_tangent(r, o, b.op, "jvp") if differentiable(o.dtype) else Z(o) for r, o in zip(raw, outs)]


def jvp_graph(graph: Graph, which=None) -> Graph:
    """The graph computing ``graph``'s outputs and their tangents: its inputs are ``graph``'s,
    then a tangent per differentiable input (``which[n]``: whether input n gets one; default all
    floating point inputs); its outputs are ``graph``'s, then their tangents (zeros where none)."""
    which = [differentiable(v.dtype) for v in graph.inputs] if which is None else list(which)
    with TraceContext("jvp", capture=True) as ctx:
        primals = [ctx.new_input(v.type, v.name) for v in graph.inputs]
        tangents = [ctx.new_input(v.type, f"t_{v.name}") if w and differentiable(v.dtype) else Z(v)
                    for v, w in zip(graph.inputs, which)]
        outs, touts = jvp_eval(graph, primals, tangents)
        touts = [instantiate(t, o) for t, o in zip(touts, outs)]
    return ctx.finish(outs + touts)

