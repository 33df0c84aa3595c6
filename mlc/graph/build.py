"""Build a GraphModule: lower and plan each graph function, compile every PrimFunc once.

``mlc.build(mod, target)`` hands a :class:`GraphModule` here. Each graph
function goes through the graph pipeline (:data:`~mlc.passes.graph.GRAPH_PIPELINE`:
registry ops are fused and lowered to PrimFuncs beside the module's own, memory
is planned, and the function becomes a PrimFunc of the same name that allocates
the workspace and calls the kernels, :mod:`mlc.passes.graph.emit_main`;
``call_tir`` and ``call_dps_packed`` bindings stay as written). All PrimFuncs
are then built in one ``mlc.build`` call, and each graph function becomes a
:class:`GraphFunction` calling its main through a
:class:`~mlc.runtime.entry.MainEntry`: ``lib["main"](x)`` returns the result
array (a tuple for several results).

On the llvm target each main is one native entry point: a call is one native
call. Library calls (``call_dps_packed``) are Python callables that the native
code calls back through a C function pointer (:mod:`mlc.runtime.callbacks`);
the reference target calls them with NumPy arrays.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..driver import build as build_prims
from ..driver import main_entry, register_module_builder
from ..target import Target
from ..errors import DTypeError, MLCError, ShapeError
from ..ir.graph import Graph, is_symbolic_graph
from ..ops.library.reduce import EMPTY_REDUCTION
from ..passes.graph import run_graph_passes
from ..runtime.dlpack import host_array
from .module import GraphModule

__all__ = ["build", "GraphLibrary", "GraphFunction", "lower_module"]


def _nonempty_axes(graph: Graph) -> tuple[tuple[object, str], ...]:
    """(size, message) for each symbolic axis a reduction without identity (max, argmin...)
    reduces or a ``take`` takes from: a call where it is 0 is a ShapeError, as a static
    empty axis is when the function is built."""
    out = []
    for b in graph.bindings:
        if not b.args or not hasattr(b.args[0], "shape"):
            continue
        shape = b.args[0].shape
        if b.op == "take":
            axes = (b.attr("axis") % len(shape),)
        elif b.op in EMPTY_REDUCTION and b.attr("initial") is None:
            axis = b.attr("axis")
            axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        else:
            continue
        for a in axes:
            size = shape[a % len(shape)] if shape else 1
            if not isinstance(size, int):
                out.append((size, f"{graph.name}(): {b.op} over axis {a % len(shape)} of "
                                  f"{getattr(b.args[0], 'name', 'its argument')}, of dynamic size {size}, "
                                  "which is 0 on this call; the op needs at least one element"))
    return tuple(out)


def lower_module(mod: GraphModule, nonempty: dict | None = None) -> tuple[dict[str, Graph], object]:
    """(planned graph per graph function, the IRModule of every PrimFunc they call).
    ``nonempty`` (a dict) receives, per function with symbolic shapes, the sizes its
    reductions without identity need to be positive (checked at each call)."""
    functions = mod.prim_funcs
    lowered = {}
    for name, graph in mod.graph_functions.items():
        if nonempty is not None and is_symbolic_graph(graph):
            nonempty[name] = _nonempty_axes(graph)
        graph = run_graph_passes(replace(graph, module=functions))  # GRAPH_PIPELINE
        functions = graph.module
        lowered[name] = graph
    return lowered, functions


class GraphFunction:
    """A compiled graph function: ``f(*arrays)`` -> array, or a tuple of arrays."""

    def __init__(self, graph: Graph, lib, nonempty=()):
        self.graph = graph
        self._types = [(v.name, v.shape, np.dtype(v.dtype)) for v in graph.inputs]
        self.symbolic = is_symbolic_graph(graph)  # main binds its sizes and checks the shapes
        self.entry, order = main_entry(graph, lib, nonempty=nonempty)
        self._order = None if order == tuple(range(len(order))) else order

    def __call__(self, *args):
        if len(args) != len(self._types):
            names = ", ".join(t[0] for t in self._types)
            raise ShapeError(f"{self.graph.name}() takes {len(self._types)} arrays ({names}), "
                             f"got {len(args)}")
        arrays = []
        for (name, shape, dtype), a in zip(self._types, args):
            if not isinstance(a, np.ndarray) and hasattr(a, "__dlpack__"):
                a = host_array(a)  # (a PyTorch or JAX array on the CPU: no copy)
            if hasattr(a, "numpy") and not isinstance(a, np.ndarray):
                a = a.numpy()
            a = np.asarray(a)
            if self.symbolic:  # the entry checks shapes against the sizes it binds
                if a.dtype != dtype:
                    raise DTypeError(f"{self.graph.name}(): argument {name} must have dtype {dtype}, "
                                     f"got {a.dtype}; convert it with .astype('{dtype}')")
                arrays.append(a)
                continue
            if a.shape != shape:
                raise ShapeError(f"{self.graph.name}(): argument {name} must have shape {shape}, "
                                 f"got {a.shape}")
            if a.dtype != dtype:
                raise DTypeError(f"{self.graph.name}(): argument {name} must have dtype {dtype}, "
                                 f"got {a.dtype}; convert it with .astype('{dtype}')")
            arrays.append(a)
        out = self.entry(arrays)
        if self._order is not None:
            out = [out[k] for k in self._order]
        return out[0] if len(out) == 1 else tuple(out)

    def __repr__(self) -> str:
        return f"<mlc graph function {self.graph.name}: {len(self.graph.bindings)} call(s)>"


class GraphLibrary:
    """The built module: ``lib["main"]`` (a graph function) or ``lib["linear0"]`` (a kernel,
    destination passing, as ``mlc.build`` of an IRModule gives). ``lib.kernels`` holds
    the graph functions' mains too, under their names."""

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
        return list(self.graphs) + [n for n in self.kernels.function_names if n not in self.graphs]

    def get_source(self, fmt: str = "ll") -> str:
        return self.kernels.get_source(fmt)


def build(mod: GraphModule, target="llvm", schedule=None, *, fast_math=False) -> GraphLibrary:
    """Compile ``mod``'s graph functions (and every PrimFunc) for ``target``
    (``fast_math``: see :func:`mlc.build`)."""
    if not isinstance(mod, GraphModule):
        raise MLCError(f"mlc.graph.build takes a GraphModule, got {type(mod).__name__}")
    target = Target.from_str(target)
    nonempty: dict = {}
    lowered, functions = lower_module(mod, nonempty)
    kernels = build_prims(functions, target, schedule, fast_math=fast_math)
    return GraphLibrary(kernels, {name: GraphFunction(g, kernels, nonempty.get(name, ()))
                                  for name, g in lowered.items()})


# mlc.build(graph_module) comes here: the driver knows GraphModule only through this
register_module_builder(GraphModule, build)
