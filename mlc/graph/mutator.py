"""GraphMutator and rewrite: Graph -> Graph transformations (the course's PyExprMutator).

A :class:`GraphMutator` walks each graph function of a module binding by
binding, with a :class:`~mlc.graph.BlockBuilder` (``self.builder``) open on
the function being rebuilt. Override :meth:`GraphMutator.rewrite_binding`
(return None to keep a binding, or a replacement: a Call, a TECall, a value)
or :meth:`GraphMutator.visit_binding` for full control. Replacements may emit
more bindings through ``self.builder`` (``self.builder.emit_te(...)``), and
new PrimFuncs land in the module. Unused bindings are dropped afterwards.

>>> from mlc.graph import BlockBuilder, GraphMutator, Tensor, Var, op
>>> class ExpToLog(GraphMutator):
...     def rewrite_binding(self, b):
...         return op("log", *b.args) if b.op == "exp" else None
>>> x = Var("x", Tensor((2,), "float32"))
>>> bb = BlockBuilder()
>>> with bb.function("main", [x]):
...     _ = bb.emit_func_output(bb.emit(op("exp", x)))
>>> ExpToLog().visit_module(bb.get())["main"].ops()
['log']

:func:`rewrite` applies one pattern everywhere it matches.
"""
from __future__ import annotations

from collections.abc import Callable

from ..errors import IRError
from ..ir.graph import Binding, Constant, Graph, Var
from ..passes.graph.dce import dead_code_elimination
from .builder import BlockBuilder, Call, TECall
from .module import GraphModule
from .pattern import Pattern

__all__ = ["GraphMutator", "rewrite"]


class GraphMutator:
    """Rebuild graph functions binding by binding; subclasses override the hooks."""

    #: whether fused bindings' bodies (the course's primitive functions) are visited too
    visit_fused_bodies = True

    def __init__(self, mod: GraphModule | None = None):
        self.mod = mod
        self.builder: BlockBuilder | None = None
        self._subst: dict[int, object] = {}

    # --------------------------------------------------------------- drivers

    def transform(self) -> GraphModule:
        """The module given to the constructor, every graph function visited."""
        if self.mod is None:
            raise IRError("GraphMutator.transform(): no module given; use GraphMutator(mod) or "
                          "visit_module(mod)")
        return self.visit_module(self.mod)

    def visit_module(self, mod: GraphModule) -> GraphModule:
        if isinstance(mod, Graph):  # a lone graph keeps the PrimFuncs it calls
            prims = dict(mod.module.items()) if mod.module is not None else {}
            mod = GraphModule({**prims, mod.name: mod})
        if not isinstance(mod, GraphModule):
            raise IRError(f"GraphMutator: expected a GraphModule or Graph, got {type(mod).__name__}")
        self.mod = mod
        self.builder = BlockBuilder(mod)
        for name, graph in mod.graph_functions.items():
            self.builder.update_func(name, self.visit_graph(graph))
        return self.builder.get()

    def visit_graph(self, graph: Graph) -> Graph:
        """The rebuilt ``graph`` (``self.builder`` is open on it meanwhile)."""
        if self.builder is None:
            self.builder = BlockBuilder(GraphModule({}))
        self._subst = {}
        self.builder.begin_function(graph.name, graph.inputs)
        frame = self.builder._frame
        frame.counter = len(graph.bindings)  # fresh names never clash with kept ones
        frame.in_dataflow = graph.dataflow
        for b in graph.bindings:
            self.visit_binding(b)
        frame.in_dataflow = False
        outputs = tuple(self.lookup(a) for a in graph.outputs)
        new = self.builder.end_function(outputs if len(outputs) != 1 else outputs[0], graph.dataflow)
        return dead_code_elimination(new)

    def lookup(self, atom):
        """What ``atom`` (a value of the graph being visited) became."""
        return self._subst.get(id(atom), atom)

    # ----------------------------------------------------------------- hooks

    def visit_binding(self, binding: Binding) -> None:
        """Emit ``binding`` (its arguments substituted), or what rewrite_binding gives."""
        args = tuple(self.lookup(a) for a in binding.args)
        if any(x is not y for x, y in zip(args, binding.args)):
            binding = Binding(binding.outputs, binding.op, args, binding.attrs, binding.loc)
        if binding.op == "fused" and self.visit_fused_bodies and isinstance(binding.attr("body"), Graph):
            binding = self._visit_fused(binding)
        replacement = self.rewrite_binding(binding)
        if replacement is None:
            self.builder.emit_binding(binding)
            return
        self.replace(binding, replacement)

    def _visit_fused(self, binding: Binding) -> Binding:
        """``binding`` with its body visited by this mutator (PrimFuncs land in the module)."""
        outer, subst = self.builder, self._subst
        inner = BlockBuilder()
        inner._functions = outer._functions  # one module: emit_te in the body adds to it
        self.builder = inner
        name = binding.attr("body").name
        previous = outer._functions.get(name)
        try:
            body = self.visit_graph(binding.attr("body"))
        finally:
            self.builder, self._subst = outer, subst
            # the body is an attribute of the binding, not a function of the module
            if previous is None:
                inner._functions.pop(name, None)
            else:
                inner._functions[name] = previous
        attrs = tuple((k, body if k == "body" else v) for k, v in binding.attrs)
        return Binding(binding.outputs, binding.op, binding.args, attrs, binding.loc)

    def rewrite_binding(self, binding: Binding):
        """None to keep ``binding``; else its replacement (Call, TECall, value, or a tuple
        of values for a binding with several results)."""
        return None

    def replace(self, binding: Binding, replacement) -> None:
        """Emit ``replacement`` for ``binding``; later uses of its results see the new values."""
        if isinstance(replacement, (Call, TECall)):
            replacement = self.builder.emit(replacement)
        new = replacement if isinstance(replacement, tuple) else (replacement,)
        if len(new) != len(binding.outputs):
            raise IRError(f"rewriting {binding.describe()}: the replacement has {len(new)} result(s), "
                          f"the binding {len(binding.outputs)}")
        for old, value in zip(binding.outputs, new):
            if not isinstance(value, (Var, Constant)):
                raise IRError(f"rewriting {binding.describe()}: the replacement must be a Call or "
                              f"a graph value, got {type(value).__name__}")
            if value.type != old.type:
                raise IRError(f"rewriting {binding.describe()}: {old.name} is {old.dtype}{list(old.shape)} "
                              f"but its replacement is {value.dtype}{list(value.shape)}")
            self._subst[id(old)] = value

    def producers(self) -> dict[int, Binding]:
        """id of each value emitted so far in the function being rebuilt -> its binding."""
        return {id(v): b for b in self.builder._frame.bindings for v in b.outputs}


class _PatternRewriter(GraphMutator):
    def __init__(self, pattern: Pattern, callback: Callable):
        super().__init__()
        self.pattern, self.callback = pattern, callback

    def rewrite_binding(self, binding: Binding):
        if len(binding.outputs) != 1:
            return None
        table = self.producers()
        table[id(binding.outputs[0])] = binding
        matches = self.pattern.extract_matched(binding.outputs[0], table)
        if matches is None:
            return None
        return self.callback(binding, matches)


def rewrite(pattern: Pattern, callback: Callable, target):
    """Replace every binding whose result matches ``pattern`` by ``callback(binding,
    matches)`` (``matches``: sub-pattern -> matched value); a callback returning None
    keeps the binding. ``target`` is a GraphModule (every graph function) or a Graph.
    Bindings left unused afterwards are dropped."""
    if not isinstance(pattern, Pattern):
        raise IRError(f"rewrite: expected a pattern (is_op(...), wildcard(), ...), got {pattern!r}")
    mutator = _PatternRewriter(pattern, callback)
    if isinstance(target, Graph):
        return mutator.visit_module(target)[target.name]
    return mutator.visit_module(target)
