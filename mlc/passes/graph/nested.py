"""Graph passes inside control flow: run a ``Graph -> Graph`` pass in every loop body and branch.

A loop's body, a while loop's condition and a switch's branches
(:mod:`mlc.ir.control`) are closed graphs; a pass that works on one graph
works on them as it is. :func:`nested` makes a pass run inside them first
(innermost first), then on the graph itself.

>>> from mlc.passes.graph.dce import dead_code_elimination
>>> nested(dead_code_elimination).__name__
'dead_code_elimination'
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from ...ir.control import is_control, map_bodies
from ...ir.graph import Graph

__all__ = ["nested", "in_bodies"]


def in_bodies(graph: Graph, fn: Callable[[Graph], Graph]) -> Graph:
    """``graph`` with ``fn`` applied to the graphs of each of its control-flow bindings."""
    if not any(is_control(b) for b in graph.bindings):
        return graph
    bindings = [map_bodies(b, fn) if is_control(b) else b for b in graph.bindings]
    if all(x is y for x, y in zip(bindings, graph.bindings)):
        return graph
    return graph.with_bindings(bindings)


def nested(pass_fn: Callable[[Graph], Graph]) -> Callable[[Graph], Graph]:
    """``pass_fn`` run in every nested body (innermost first), then on the graph."""

    @functools.wraps(pass_fn)
    def run(graph: Graph) -> Graph:
        return pass_fn(in_bodies(graph, run))

    return run
