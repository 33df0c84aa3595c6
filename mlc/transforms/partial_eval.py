"""Partial evaluation: split a graph into what its known inputs determine and the rest.

``vjp`` and ``linearize`` return functions: the forward pass runs once, when
they are called, and the returned function runs only the part of the graph
that depends on the cotangents (tangents) it is given, reading the forward
pass's values it needs (the residuals). :func:`partial_eval` makes that split.

>>> from mlc.ir.graph import Binding, Graph, Var
>>> from mlc.ir.types import TensorType
>>> t = TensorType((3,), "float32")
>>> x, ct, y, d = Var("x", t), Var("ct", t), Var("y", t), Var("d", t)
>>> g = Graph((x, ct), (Binding((y,), "exp", (x,)), Binding((d,), "multiply", (ct, y))), (y, d))
>>> known, unknown = partial_eval(g, [True, False], [0], [1])
>>> known.ops(), [v.name for v in known.outputs], unknown.ops(), [v.name for v in unknown.inputs]
(['exp'], ['y', 'y'], ['multiply'], ['y', 'ct'])
"""
from __future__ import annotations

from ..ir.graph import Graph, Var

__all__ = ["partial_eval"]


def _live(graph: Graph, outputs) -> set[int]:
    """The bindings (by position) the ``outputs`` need."""
    needed = {id(a) for a in outputs if isinstance(a, Var)}
    live = set()
    for n in range(len(graph.bindings) - 1, -1, -1):
        b = graph.bindings[n]
        if any(id(v) in needed for v in b.outputs):
            live.add(n)
            needed.update(id(a) for a in b.args if isinstance(a, Var))
    return live


def partial_eval(graph: Graph, known, known_outputs, unknown_outputs) -> tuple[Graph, Graph]:
    """``(known graph, unknown graph)``.

    ``known[n]`` says whether input n is known. The known graph takes the known inputs and
    returns the outputs at ``known_outputs`` (which must depend on known inputs only), then the
    residuals; the unknown graph takes the residuals, then the unknown inputs, and returns the
    outputs at ``unknown_outputs``.
    """
    unknown = {id(v) for v, k in zip(graph.inputs, known) if not k}
    wanted_known = [graph.outputs[n] for n in known_outputs]
    wanted_unknown = [graph.outputs[n] for n in unknown_outputs]
    live = _live(graph, wanted_known + wanted_unknown)
    known_bindings, unknown_bindings = [], []
    for n, b in enumerate(graph.bindings):
        if n not in live:
            continue
        if any(isinstance(a, Var) and id(a) in unknown for a in b.args):
            unknown_bindings.append(b)
            unknown.update(id(v) for v in b.outputs)
        else:
            known_bindings.append(b)
    for atom in wanted_known:
        if isinstance(atom, Var) and id(atom) in unknown:
            raise ValueError(f"partial_eval: output {atom.name} depends on an unknown input")
    residuals: dict[int, Var] = {}
    for atom in [a for b in unknown_bindings for a in b.args] + wanted_unknown:
        if isinstance(atom, Var) and id(atom) not in unknown:
            residuals.setdefault(id(atom), atom)
    residual_vars = list(residuals.values())
    known_graph = Graph(tuple(v for v, k in zip(graph.inputs, known) if k), tuple(known_bindings),
                        tuple(wanted_known + residual_vars), name=f"{graph.name}_known")
    unknown_graph = Graph(tuple(residual_vars) + tuple(v for v, k in zip(graph.inputs, known) if not k),
                          tuple(unknown_bindings), tuple(wanted_unknown), name=f"{graph.name}_unknown")
    return known_graph, unknown_graph
