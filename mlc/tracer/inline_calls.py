"""Calls with derivative rules of their own, inlined where no transformation will apply them.

A function with custom rules (``mlc.custom_vjp``, ``mlc.custom_jvp``) is recorded, inside a
capturing trace, as one ``call`` binding (:meth:`.trace.TraceContext.emit_call`) for the
transformation to find. A loop's or conditional's body is traced in a capturing trace too,
so such a call may sit in a body of a graph that no transformation processes (a jitted loop
calling the function, or the loop a transformation recorded). When a jitted function's
trace finishes, :func:`inline_calls` replaces every call left, at any depth, by its body:
the passes never see one.

>>> from mlc.ir.types import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var
>>> t = TensorType((3,), "float32")
>>> a, b, x, y = Var("a", t), Var("b", t), Var("x", t), Var("y", t)
>>> body = Graph((a,), (Binding((b,), "sin", (a,)),), (b,))
>>> g = Graph((x,), (Binding((y,), "call", (x,), (("body", body), ("rules", None))),), (y,))
>>> inline_calls(g).ops()
['sin']
"""
from __future__ import annotations

from ..ir.control import bodies, map_bodies
from ..ir.graph import Binding, Graph, Var

__all__ = ["inline_calls", "CALL"]

#: The op name of a call binding (:meth:`.trace.TraceContext.emit_call`).
CALL = "call"


def _has_call(graph: Graph) -> bool:
    stack = [graph]
    while stack:
        g = stack.pop()
        for b in g.bindings:
            if b.op == CALL:
                return True
            stack.extend(bodies(b))
    return False


def inline_calls(graph: Graph) -> Graph:
    """``graph`` with every call binding, in it or in a body it holds, replaced by the bindings of
    the function it calls (fresh variables each time, so a function called twice is two copies)."""
    if not _has_call(graph):
        return graph
    env: dict[int, object] = {}
    out: list[Binding] = []

    def read(atom):
        return env.get(id(atom), atom)

    for b in graph.bindings:
        b = map_bodies(b, inline_calls)
        if b.op != CALL:
            args = tuple(read(a) for a in b.args)
            same = all(x is y for x, y in zip(args, b.args))
            out.append(b if same else Binding(b.outputs, b.op, args, b.attrs, b.loc))
            continue
        body = inline_calls(b.attr("body"))
        inner = {id(v): read(a) for v, a in zip(body.inputs, b.args)}
        for ib in body.bindings:
            fresh = tuple(Var(v.name, v.type) for v in ib.outputs)
            inner.update((id(v), f) for v, f in zip(ib.outputs, fresh))
            out.append(Binding(fresh, ib.op, tuple(inner.get(id(a), a) for a in ib.args), ib.attrs, ib.loc or b.loc))
        for v, result in zip(b.outputs, body.outputs):
            env[id(v)] = inner.get(id(result), result)
    return graph.with_bindings(out, tuple(read(a) for a in graph.outputs))
