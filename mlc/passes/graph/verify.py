"""Check that a Graph is well formed: every value defined once, before its use.

Run between passes when ``MLC_DEBUG`` is set (see :mod:`.pipeline`).
"""
from __future__ import annotations

from dataclasses import replace

from ...errors import IRError
from ...ir.control import bodies, check_control, is_control
from ...ir.graph import Constant, Graph, Var

__all__ = ["verify_graph"]


def verify_graph(graph: Graph, after: str = "") -> Graph:
    """Return ``graph`` unchanged, or raise IRError naming the first problem."""
    where = f" after {after}" if after else ""
    defined: set[int] = set()
    for v in graph.inputs:
        if id(v) in defined:
            raise IRError(f"graph{where}: input {v.name} is listed twice")
        defined.add(id(v))
    for n, b in enumerate(graph.bindings):
        for a in b.args:
            if isinstance(a, Var) and id(a) not in defined:
                raise IRError(f"graph{where}: binding {n} ({b.op}) uses {a.name} before it is defined")
            if not isinstance(a, (Var, Constant)):
                raise IRError(f"graph{where}: binding {n} ({b.op}) has argument {a!r} that is not a value")
        for v in b.outputs:
            if id(v) in defined:
                raise IRError(f"graph{where}: {v.name} is defined twice (binding {n}, {b.op})")
            defined.add(id(v))
        if b.op == "call_tir" and (graph.module is None or b.attr("func") not in graph.module):
            raise IRError(f"graph{where}: call_tir names {b.attr('func')!r}, which the module lacks")
        if b.op == "fused":
            if not isinstance(b.attr("body"), Graph):
                raise IRError(f"graph{where}: fused binding {n} ({b.describe()}) has no 'body' Graph")
            body = b.attr("body")  # its call_tir bindings name the enclosing graph's PrimFuncs
            verify_graph(body if body.module is not None else replace(body, module=graph.module), after)
        if is_control(b):
            try:
                check_control(b)
            except IRError as err:
                raise IRError(f"graph{where}: binding {n}: {err}") from None
            for body in bodies(b):  # closed graphs whose call_tir bindings name this module's PrimFuncs
                verify_graph(replace(body, module=graph.module), after)
        if b.op == "view" and (len(b.args) != 1 or len(b.outputs) != 1
                               or b.args[0].type.size != b.outputs[0].type.size
                               or b.args[0].dtype != b.outputs[0].dtype):
            raise IRError(f"graph{where}: view binding {n} must see one value with its size and dtype")
    for a in graph.outputs:
        if isinstance(a, Var) and id(a) not in defined:
            raise IRError(f"graph{where}: output {a.name} is never defined")
    return graph
