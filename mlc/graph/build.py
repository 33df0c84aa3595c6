"""Build a GraphModule: lower and plan each graph function, compile every PrimFunc once.

``mlc.build(mod, target)`` hands a :class:`GraphModule` here. Each graph
function goes through the graph pipeline (:data:`~mlc.passes.graph.GRAPH_PIPELINE`: registry ops are
fused and lowered to PrimFuncs beside the module's own, memory is planned;
``call_tir`` and ``call_dps_packed`` bindings stay as written); all PrimFuncs
are then built in one ``mlc.build`` call, and each graph function becomes a
:class:`GraphFunction` run by a :class:`~mlc.runtime.graph_executor.GraphExecutor`:
``lib["main"](x)`` returns the result array (a tuple for several results).

On the llvm target, each graph function is also compiled into one native
program (as ``@mlc.jit`` compiles a traced graph): a call is one native call.
Library calls (``call_dps_packed``) are Python callables the program calls
back through a C function pointer (:mod:`mlc.runtime.callbacks`); with
``MLC_DEBUG``, or on targets without native code, the executor calls them
with arrays between the kernel calls instead.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..driver import build as build_prims
from ..target import Target
from ..errors import DTypeError, MLCError, ShapeError
from ..ir.graph import Graph
from ..passes.graph import run_graph_passes
from ..runtime.graph_executor import GraphExecutor, graph_program
from ..runtime.module import Module
from .module import GraphModule

__all__ = ["build", "GraphLibrary", "GraphFunction", "lower_module"]

def program_name(function: str) -> str:
    """The name of graph function ``function``'s native program in the built module."""
    return f"graph_{function}"


def lower_module(mod: GraphModule) -> tuple[dict[str, Graph], object]:
    """(planned graph per graph function, the IRModule of every PrimFunc they call)."""
    functions = mod.prim_funcs
    lowered = {}
    for name, graph in mod.graph_functions.items():
        graph = run_graph_passes(replace(graph, module=functions))  # GRAPH_PIPELINE
        functions = graph.module
        lowered[name] = graph
    return lowered, functions


class GraphFunction:
    """A compiled graph function: ``f(*arrays)`` -> array, or a tuple of arrays."""

    def __init__(self, graph: Graph, executor):
        self.graph, self.executor = graph, executor
        self._types = [(v.name, v.shape, np.dtype(v.dtype)) for v in graph.inputs]

    def __call__(self, *args):
        if len(args) != len(self._types):
            names = ", ".join(t[0] for t in self._types)
            raise ShapeError(f"{self.graph.name}() takes {len(self._types)} arrays ({names}), "
                             f"got {len(args)}")
        arrays = []
        for (name, shape, dtype), a in zip(self._types, args):
            if hasattr(a, "numpy") and not isinstance(a, np.ndarray):
                a = a.numpy()
            a = np.asarray(a)
            if a.shape != shape:
                raise ShapeError(f"{self.graph.name}(): argument {name} must have shape {shape}, "
                                 f"got {a.shape}")
            if a.dtype != dtype:
                raise DTypeError(f"{self.graph.name}(): argument {name} must have dtype {dtype}, "
                                 f"got {a.dtype}; convert it with .astype('{dtype}')")
            arrays.append(a)
        out = self.executor(arrays)
        return out[0] if len(out) == 1 else tuple(out)

    def __repr__(self) -> str:
        return f"<mlc graph function {self.graph.name}: {len(self.graph.bindings)} call(s)>"


class GraphLibrary:
    """The built module: ``lib["main"]`` (a graph function) or ``lib["linear0"]`` (a kernel,
    destination passing, as ``mlc.build`` of an IRModule gives)."""

    def __init__(self, kernels, graphs: dict[str, GraphFunction]):
        self.kernels, self.graphs = kernels, graphs
        self.target = kernels.target

    def __getitem__(self, name: str):
        if name in self.graphs:
            return self.graphs[name]
        if name in self.kernels:
            return self.kernels[name]
        raise KeyError(f"module has no function {name!r}; graph functions: {sorted(self.graphs)}, "
                       f"kernels: {sorted(self.kernels.function_names)}")

    def __contains__(self, name: str) -> bool:
        return name in self.graphs or name in self.kernels

    @property
    def function_names(self) -> list[str]:
        return list(self.graphs) + self.kernels.function_names

    def get_source(self, fmt: str = "ll") -> str:
        return self.kernels.get_source(fmt)


def build(mod: GraphModule, target="llvm", schedule=None, *, fast_math=False) -> GraphLibrary:
    """Compile ``mod``'s graph functions (and every PrimFunc) for ``target``
    (``fast_math``: see :func:`mlc.build`)."""
    if not isinstance(mod, GraphModule):
        raise MLCError(f"mlc.graph.build takes a GraphModule, got {type(mod).__name__}")
    target = Target.from_str(target)
    lowered, functions = lower_module(mod)
    # each graph is also one native program (llvm), library calls as callbacks
    programs = {program_name(name): graph_program(g)[0] for name, g in lowered.items()
                if any(b.op == "call_tir" for b in g.bindings)}
    kernels = build_prims(functions, target, schedule, programs=programs,
                                                    fast_math=fast_math) if len(functions) \
        else Module(target, {})
    graphs = {name: GraphFunction(g, GraphExecutor(g, kernels, program=program_name(name)))
              for name, g in lowered.items()}
    return GraphLibrary(kernels, graphs)
