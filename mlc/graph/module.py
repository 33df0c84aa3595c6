"""GraphModule: the course's IRModule with graph functions (``@R.function``) beside PrimFuncs.

A :class:`GraphModule` maps names to :class:`~mlc.ir.graph.Graph` (graph
functions) and :class:`~mlc.ir.tir.PrimFunc` (tensor programs). Graph
functions name the PrimFuncs they ``call_tir`` by name; every graph function
of the module sees all of the module's PrimFuncs (its ``module`` field). Like
every IR node it is immutable: :meth:`with_function` returns a new module.
``mlc.build(mod, target)`` compiles it (see :mod:`mlc.graph.build`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..errors import IRError
from ..ir.graph import Graph
from ..ir.graph_printer import graph_to_str
from ..ir.tir import GlobalVar, IRModule, NamedFunctions, PrimFunc

__all__ = ["GraphModule"]

INDENT = "    "


class GraphModule(NamedFunctions):
    """``mod["main"]`` (a Graph) and ``mod["linear0"]`` (a PrimFunc), in insertion order."""

    __slots__ = ("_functions", "_prims")

    def __init__(self, functions: Mapping[str, Graph | PrimFunc] | None = None):
        prims: dict[str, PrimFunc] = {}
        graphs: dict[str, Graph] = {}
        for name, func in (functions or {}).items():
            if not isinstance(name, str) or not name.isidentifier():
                raise IRError(f"GraphModule: function names must be identifiers, got {name!r}")
            if isinstance(func, PrimFunc):
                prims[name] = func
            elif isinstance(func, Graph):
                graphs[name] = func
            else:
                raise IRError(f"GraphModule: {name!r} must be a Graph or a PrimFunc, got "
                              f"{type(func).__name__}")
        self._prims = IRModule(prims)
        order = list((functions or {}))
        self._functions = {n: self._prims[n] if n in prims else
                           replace(graphs[n], module=self._prims, name=n) for n in order}

    # ------------------------------------------------------------- mapping

    def __getitem__(self, name: str) -> Graph | PrimFunc:
        return super().__getitem__(name)

    @property
    def prim_funcs(self) -> IRModule:
        """The module's PrimFuncs, as an IRModule."""
        return self._prims

    @property
    def graph_functions(self) -> dict[str, Graph]:
        """The module's graph functions, by name."""
        return {n: f for n, f in self._functions.items() if isinstance(f, Graph)}

    def with_function(self, name: str, func: Graph | PrimFunc) -> GraphModule:
        """A copy with ``func`` added (or replacing the function of that name)."""
        return GraphModule({**self._functions, name: func})

    def without(self, name: str) -> GraphModule:
        """A copy without function ``name``."""
        return GraphModule({n: f for n, f in self._functions.items() if n != name})

    def get_global_var(self, name: str) -> GlobalVar:
        """The handle of function ``name``, for :meth:`update_func` (TVM's spelling)."""
        self[name]  # raises KeyError naming the functions there are
        return GlobalVar(name)

    def update_func(self, name: str | GlobalVar, func: Graph | PrimFunc) -> None:
        """Replace function ``name`` (a str or :meth:`get_global_var`) by ``func``, in place, as
        TVM's ``mod.update_func(gv, func)`` (the course swaps a tuned kernel in this way); the
        graphs then call the new function. Prefer :meth:`with_function` in new code."""
        key = name.name_hint if isinstance(name, GlobalVar) else name
        if not isinstance(key, str) or key not in self._functions:
            raise KeyError(f"GraphModule has no function {key!r} to update; it has {list(self._functions)}; "
                           "use with_function to add one")
        updated = GraphModule({**self._functions, key: func})
        self._functions, self._prims = updated._functions, updated._prims

    # ------------------------------------------------------------- printing

    def script(self) -> str:
        """The module as TVMScript-like text: ``@I.ir_module class Module:`` with its
        ``@T.prim_func`` and ``@R.function`` members."""
        blocks = []
        for name, func in self._functions.items():
            text = func.script(name) if isinstance(func, PrimFunc) else graph_to_str(func)
            blocks.append("\n".join(INDENT + line if line else line for line in text.splitlines()))
        header = ["# from mlc.script import ir as I", "# from mlc.script import relax as R",
                  "# from mlc.script import tir as T", "", "@I.ir_module", "class Module:"]
        return "\n".join(header) + "\n" + "\n\n".join(blocks)

    def __repr__(self) -> str:
        return self.script()

    def show(self) -> None:
        print(self.script())
