"""Reverse mode: a graph -> the graph of its outputs and of its inputs' cotangents.

:func:`vjp_eval` records a graph's bindings in the active trace (the forward
pass), noting the bindings that depend on the inputs being differentiated;
its ``backward`` then walks those in reverse, applying each op's VJP rule to
its results' cotangents and adding up the cotangents of values used several
times. Values that depend on nothing differentiated get no cotangent, and
integer or bool values never do. :func:`vjp_graph` is the same as a
``Graph -> Graph`` function, whose backward bindings then go through fusion
like any others.

An op whose VJP rule is :data:`~mlc.ops.rules.TRANSPOSED_JVP` is
differentiated by reverse mode applied to its JVP rule, traced as a function
of the tangents (linear in them, so its VJP is its transpose); a
:class:`~mlc.ops.rules.Composite` rule by reverse mode applied to the op's
definition.

>>> import numpy as np
>>> from mlc.transforms.tracing import trace_function
>>> g, _, _ = trace_function(lambda x: np.sum(np.exp(x)), [np.zeros(3, "float32")])
>>> print(vjp_graph(g).script())
@R.function
def vjp(x0: R.Tensor((3,), "float32"), ct0: R.Tensor((), "float32")):
    lv0 = R.exp(x0)
    lv1 = R.sum(lv0, axis=None, dtype=None, initial=None, keepdims=False)
    lv2 = R.reshape(ct0, newshape=(1,))
    lv3 = R.broadcast_to(lv2, shape=(3,))
    lv4 = R.multiply(lv3, lv0)
    return (lv1, lv4)
"""
from __future__ import annotations

from ..errors import TraceError
from ..ir.control import CONTROL_OPS
from ..ir.graph import Constant, Graph, Var
from ..ops.rules import TRANSPOSED_JVP, Composite, differentiable, instantiate, is_zero
from ..tracer.pytree import flatten
from ..tracer.source import describe_location
from ..tracer.trace import CALL, TraceContext, current_trace
from ..tracer.tracer import Tracer
from .control import control_vjp_backward, control_vjp_forward
from .rules import Z, checked_tangent, composite_graph, located, reject_complex, rule_of
from .tracing import inline_graph, inside_transformation, trace_function

__all__ = ["vjp_eval", "vjp_graph", "transposed_jvp"]


def _is_active(atom, active: set) -> bool:
    return isinstance(atom, Var) and id(atom) in active


def vjp_eval(graph: Graph, primals, wrt):
    """Record ``graph`` on ``primals`` in the active trace, differentiating the inputs where ``wrt``
    holds; returns ``(outputs, backward)``. ``backward(cts)`` (a Tracer or Zero per output, in the
    same trace) records the reverse pass and returns a cotangent (Tracer or Zero) per input."""
    ctx = current_trace()
    env: dict = {}
    active: set = set()
    for var, p, w in zip(graph.inputs, primals, wrt):
        env[id(var)] = p
        if w and differentiable(var.dtype):
            active.add(id(var))

    def read(a):
        return Tracer(ctx, a) if isinstance(a, Constant) else env[id(a)]

    tape = []  # (binding, operands, op result as emitted, results, what the backward needs)
    for b in graph.bindings:
        xs = [read(a) for a in b.args]
        varying = any(_is_active(a, active) for a in b.args)
        extra = None
        with located(b, "vjp"):
            if b.op in CONTROL_OPS and varying and any(differentiable(v.dtype) for v in b.outputs):
                flags = [_is_active(a, active) for a in b.args]
                outs, saved = control_vjp_forward(b, xs, flags, vjp_graph)
                out, extra = outs, (flags, saved)
            elif b.op == CALL:
                rules = b.attr("rules")
                if varying and rules.kind == "vjp":
                    outs, extra = rules.apply_fwd(xs)
                else:
                    outs = (ctx.emit_call(b.attr("body"), rules, xs) if inside_transformation()
                            else tuple(inline_graph(b.attr("body"), xs)))
                out = outs
            else:
                out = ctx.emit(b.op, xs, b.attr_dict)
                outs = out if isinstance(out, tuple) else (out,)
        for var, value in zip(b.outputs, outs):
            env[id(var)] = value
        if varying:
            reject_complex(b, outs)
        if varying and any(differentiable(o.dtype) for o in outs):
            active.update(id(v) for v in b.outputs if differentiable(v.dtype))
            tape.append((b, xs, out, outs, extra))

    def backward(cts):
        cts_env: dict = {}

        def add(atom, value):
            if is_zero(value) or not _is_active(atom, active):
                return
            prev = cts_env.get(id(atom))
            cts_env[id(atom)] = value if prev is None else prev + value

        for atom, ct in zip(graph.outputs, cts):
            add(atom, ct if is_zero(ct) else checked_tangent(ct, atom, "output", "cotangent"))
        for b, xs, out, outs, extra in reversed(tape):
            cts_out = [cts_env.get(id(v)) for v in b.outputs]
            if all(c is None for c in cts_out):
                continue
            cts_out = [Z(v) if c is None else c for v, c in zip(b.outputs, cts_out)]
            with located(b, "vjp"):
                raw = _cotangents(b, xs, out, outs, cts_out, extra)
            for atom, x, c in zip(b.args, xs, raw):
                if _is_active(atom, active) and not is_zero(c):
                    add(atom, checked_tangent(c, x, _name(b), "vjp"))
        return [cts_env.get(id(v), Z(v)) for v in graph.inputs]

    return [read(a) for a in graph.outputs], backward


def _name(b) -> str:
    return b.attr("rules").name if b.op == CALL else b.op


def _cotangents(b, xs, out, outs, cts_out, extra):
    """The cotangents of binding ``b``'s operands, by the rule that applies."""
    if b.op in CONTROL_OPS:
        flags, saved = extra
        return control_vjp_backward(b, xs, outs, cts_out, saved, flags, vjp_eval)
    if b.op == CALL:
        rules = b.attr("rules")
        if rules.kind == "vjp":
            return rules.apply_bwd(extra, cts_out, outs, xs)
        return transposed_jvp(lambda ts: rules.apply_jvp(xs, ts)[1], xs, outs, cts_out)
    rule = rule_of(b, "vjp")
    attrs = b.attr_dict
    if rule is TRANSPOSED_JVP:
        jvp = rule_of(b, "jvp")
        return transposed_jvp(lambda ts: jvp(tuple(xs), tuple(ts), out, **attrs), xs, outs, cts_out)
    if isinstance(rule, Composite):
        graph, _ = composite_graph(rule.fn, xs, attrs, b.op)
        vg = vjp_graph(graph, [differentiable(x.dtype) for x in xs])
        results = inline_graph(vg, list(xs) + [instantiate(c, o) for c, o in zip(cts_out, outs)])
        return _spread(results[len(outs):], xs)
    ct = cts_out[0] if not isinstance(out, tuple) else tuple(cts_out)
    raw = rule(ct, tuple(xs), out, **attrs)
    if len(raw) != len(xs):
        raise TraceError(f"op {b.op}: its vjp rule returned {len(raw)} cotangent(s) for {len(xs)} operand(s)"
                         + describe_location(b.loc))
    return raw


def _spread(values, xs):
    """Cotangents of the differentiable operands among ``xs`` -> one per operand (None elsewhere)."""
    it = iter(values)
    return [next(it) if differentiable(x.dtype) else None for x in xs]


def transposed_jvp(jvp_fn, xs, outs, cts_out):
    """The cotangents of ``xs`` given those of ``outs``, from ``jvp_fn(tangents) -> tangents of
    outs`` (linear in the tangents): reverse mode applied to it, traced as a function of the
    tangents of the differentiable operands."""
    diff = [differentiable(x.dtype) for x in xs]
    leaves = [x for x, d in zip(xs, diff) if d]

    def linear(*ts):
        it = iter(ts)
        tangents = [next(it) if d else Z(x) for x, d in zip(xs, diff)]
        result = jvp_fn(tuple(tangents))
        result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        return tuple(instantiate(r, o) for r, o in zip(result, outs))

    graph, _, captured = trace_function(linear, leaves, flatten(tuple(leaves))[1], "linear")
    vg = vjp_graph(graph, [True] * len(leaves) + [False] * len(captured))
    zeros = [instantiate(None, x) for x in leaves]
    results = inline_graph(vg, zeros + captured + [instantiate(c, o) for c, o in zip(cts_out, outs)])
    return _spread(results[len(outs):len(outs) + len(leaves)], xs)


def vjp_graph(graph: Graph, wrt=None, cts_for=None) -> Graph:
    """The graph of ``graph``'s outputs and of the cotangents of its inputs: its inputs are
    ``graph``'s, then a cotangent per output (those listed in ``cts_for``, default all; the others
    have none); its outputs are ``graph``'s, then the cotangent of each input where ``wrt`` holds
    (default: every floating point input; zeros where none flows)."""
    wrt = [differentiable(v.dtype) for v in graph.inputs] if wrt is None else list(wrt)
    cts_for = set(range(len(graph.outputs)) if cts_for is None else cts_for)
    with TraceContext("vjp", capture=True) as ctx:
        primals = [ctx.new_input(v.type, v.name) for v in graph.inputs]
        cts = [ctx.new_input(v.type, f"ct{n}") if n in cts_for else Z(v) for n, v in enumerate(graph.outputs)]
        outs, backward = vjp_eval(graph, primals, wrt)
        results = backward(cts)
        grads = [instantiate(c, p) for c, p, w in zip(results, primals, wrt) if w]
    return ctx.finish(outs + grads)
