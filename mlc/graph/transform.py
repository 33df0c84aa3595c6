"""Module passes, each callable on its own: ``FuseOps(mod)``, ``FuseTIR(mod)``, ...

Each takes a GraphModule (every graph function) or a Graph and returns the
same kind. They wrap the graph passes :mod:`mlc.build` runs
(:mod:`mlc.passes.graph`), so a user can run them one at a time and print
the module in between, as the course does. ``FuseOps()`` (no argument) is
the pass itself, so the course's ``FuseOps()(mod)`` reads the same.

- :data:`FuseOps`: group registry ops into ``fused`` bindings (TVM's FuseOps:
  elementwise producers into consumers, elementwise epilogues into matmul and
  reductions); call_tir and library calls are left as they are.
- :data:`FuseTIR`: lower each ``fused`` binding (from FuseOps, or written
  with :func:`~mlc.graph.call_fused` / a rewrite) to one PrimFunc and a
  ``call_tir`` of it: from its ops' te lowerings, or, when its ops were mapped
  to TensorIR already, by merging their PrimFuncs (which leave the module
  when nothing else calls them).
- :data:`LegalizeOps`: map each remaining registry op to a PrimFunc of its
  te lowering and a ``call_tir`` of it (the course's "map each op to TensorIR").
- :data:`DeadCodeElimination`: drop bindings whose results nobody uses.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..errors import IRError
from ..ir.graph import Binding, Graph
from ..ops.hand_written import hand_written
from ..ops.registry import get_op
from ..passes.graph.dce import dead_code_elimination
from ..passes.graph.fuse import NOT_OPS, fuse_ops
from ..passes.graph.lower import lower_to_tir
from .builder import call_te, call_tir
from .module import GraphModule
from .mutator import GraphMutator

__all__ = ["ModulePass", "FuseOps", "FuseTIR", "LegalizeOps", "DeadCodeElimination"]


class ModulePass:
    """A named pass over every graph function of a module (or over one Graph)."""

    def __init__(self, name: str, run: Callable[[GraphModule], GraphModule], doc: str = ""):
        self.__name__ = name
        self._run = run
        self.__doc__ = doc

    def __call__(self, mod=None):
        if mod is None:
            return self
        if isinstance(mod, Graph):
            prims = dict(mod.module.items()) if mod.module is not None else {}
            return self._run(GraphModule({**prims, mod.name: mod}))[mod.name]
        if not isinstance(mod, GraphModule):
            raise IRError(f"{self.__name__}: expected a GraphModule or Graph, got {type(mod).__name__}")
        return self._run(mod)

    def __repr__(self) -> str:
        return f"<mlc.graph pass {self.__name__}>"


def _per_graph(fn: Callable[[Graph], Graph]) -> Callable[[GraphModule], GraphModule]:
    def run(mod: GraphModule) -> GraphModule:
        return GraphModule({n: fn(f) if isinstance(f, Graph) else f for n, f in mod.items()})
    return run


def _called(graph: Graph, fused_only: bool) -> set[str]:
    """Names of the PrimFuncs ``graph`` calls (only from its fused bodies, if ``fused_only``)."""
    names = set()
    for b in graph.bindings:
        if b.op == "call_tir" and not fused_only:
            names.add(b.attr("func"))
        elif b.op == "fused" and isinstance(b.attr("body"), Graph):
            names |= _called(b.attr("body"), False)
    return names


def _fuse_tir(mod: GraphModule) -> GraphModule:
    prims = mod.prim_funcs
    graphs = {}
    merged: set[str] = set()
    for name, graph in mod.graph_functions.items():
        merged |= _called(graph, fused_only=True)
        graph = lower_to_tir(replace(graph, module=prims))
        prims = graph.module
        graphs[name] = graph
    still_called = set().union(*(_called(g, False) for g in graphs.values())) if graphs else set()
    functions = {n: graphs.get(n, f) for n, f in mod.items()
                 if n not in merged or n in still_called}  # PrimFuncs merged away are dropped
    functions.update((n, prims[n]) for n in prims if n not in functions and n not in merged)
    return GraphModule(functions)


class _Legalizer(GraphMutator):
    def rewrite_binding(self, b: Binding):
        if b.op in NOT_OPS:
            return None
        opdef, attrs = get_op(b.op), dict(b.attrs)
        if opdef.prim_func is not None and not (opdef.inplace and opdef.lower is not None):
            # an opaque op with its own hand-written PrimFunc (an in-place one updates its output:
            # the call says so, emit_main copies the argument in first where needed)
            func = hand_written(b.op, [a.type for a in b.args], attrs)
            name = b.op.split(".")[-1]
            call = call_tir(func.with_attr("global_symbol", name), b.args, [v.type for v in b.outputs])
            pairs = opdef.inplace([a.type for a in b.args], attrs) if callable(opdef.inplace) else opdef.inplace
            return replace(call, attrs=call.attrs + (("inplace", tuple(pairs)),)) if pairs else call

        def lowered(*tensors):
            return opdef.lower(*tensors, **attrs)
        return call_te(lowered, *b.args, primfunc_name_hint=b.op.split(".")[-1])


FuseOps = ModulePass("FuseOps", _per_graph(fuse_ops), fuse_ops.__doc__)
FuseTIR = ModulePass("FuseTIR", _fuse_tir, lower_to_tir.__doc__)
LegalizeOps = ModulePass("LegalizeOps", lambda mod: _Legalizer().visit_module(mod),
                         "Map each registry op to a call_tir of its te lowering.")
DeadCodeElimination = ModulePass("DeadCodeElimination", _per_graph(dead_code_elimination),
                                 dead_code_elimination.__doc__)
