"""The callable of a built graph: its ``main`` in the built module, as a runtime entry.

A graph lowered by the graph passes has a ``main`` PrimFunc
(:mod:`mlc.passes.graph.emit_main`) that takes the graph's inputs, its
constants and one buffer per distinct output. :func:`main_entry` binds the
constants once and returns the :class:`~mlc.runtime.entry.MainEntry` that
allocates the outputs and calls ``main``; ``@mlc.jit`` and ``mlc.graph`` builds
both use it. The entry takes and returns arrays on the module's device
(``lib.device``: CuPy arrays for a ``cuda`` build).
"""
from __future__ import annotations

from ..config import config
from ..ir.graph import Graph
from ..passes.graph.emit_main import all_constants, main_name, main_outputs
from ..runtime.entry import MainEntry

__all__ = ["main_entry"]


def main_entry(graph: Graph, lib, single: bool = False, nonempty=()) -> tuple[MainEntry, tuple[int, ...]]:
    """(the entry calling ``graph``'s main in ``lib``, for each graph output the index of its
    array among main's outputs). With ``MLC_DEBUG`` every call is checked. ``single``: the
    entry returns the graph's one output itself. ``nonempty``: (size, message) of each
    dynamic size a call must not make 0 (a graph with dynamic axes)."""
    function = lib[main_name(graph)]
    order = main_outputs(graph)[1]
    entry = MainEntry(function, len(graph.inputs), [c.data for c in all_constants(graph)],
                      checked=config().debug, device=getattr(lib, "device", None),
                      single=single and order == (0,), nonempty=nonempty)
    return entry, order
