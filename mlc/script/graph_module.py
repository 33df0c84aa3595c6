"""A parsed module with graph functions: ``@R.function`` graphs over ``@T.prim_func`` kernels."""
from __future__ import annotations

from collections.abc import Mapping

from ..ir.graph import Graph
from ..ir.tir import IRModule, PrimFunc

__all__ = ["GraphModule"]


class GraphModule:
    """``mod["main"]`` is a Graph of ``call_tir`` bindings; ``mod["mm_relu"]`` a PrimFunc.

    ``module`` holds the PrimFuncs (an IRModule: schedule and build it as
    usual); ``graphs`` the graph functions, each with ``module`` attached.
    Run it with :func:`mlc.script.relax.build`.
    """

    def __init__(self, module: IRModule, graphs: Mapping[str, Graph]):
        self.module = module
        self.graphs = dict(graphs)

    def __getitem__(self, name: str) -> Graph | PrimFunc:
        if name in self.graphs:
            return self.graphs[name]
        if name in self.module:
            return self.module[name]
        raise KeyError(f"module has no function {name!r}; it has {sorted(self.graphs) + sorted(self.module)}")

    def __contains__(self, name: str) -> bool:
        return name in self.graphs or name in self.module

    def script(self) -> str:
        """The graph functions (as ``Lowered.as_text()`` prints them), then the kernels."""
        return "\n\n".join([g.script() for g in self.graphs.values()] + [self.module.script()])

    def show(self) -> None:
        print(self.script())

    def __repr__(self) -> str:
        return self.script()
