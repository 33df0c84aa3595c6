"""``mlc.parse``: TVMScript text -> IRModule, PrimFunc or GraphModule.

>>> import mlc
>>> from mlc import te
>>> A = te.placeholder((8,), "float32", name="A")
>>> B = te.compute((8,), lambda i: A[i] * 2, name="B")
>>> mod = mlc.IRModule({"double": te.create_prim_func([A, B])})
>>> mlc.structural_equal(mlc.parse(mod.script()), mod)
True

Text with ``@R.function`` graphs (an ``@I.ir_module`` class holding them, as
:meth:`mlc.graph.GraphModule.script` prints it, or the graphs followed by the
kernels' module, as ``Lowered.as_text()`` prints them) gives a
:class:`mlc.graph.GraphModule`, which ``mlc.build`` compiles.
"""
from __future__ import annotations

import ast

from ..errors import ParseError
from ..graph.module import GraphModule
from ..ir.tir import IRModule, PrimFunc
from ._source import Source
from .relax_parser import GraphParser, is_fused_body
from .tir_parser import TIRParser

__all__ = ["parse", "parse_source", "function", "module"]


def parse(text: str) -> IRModule | PrimFunc | GraphModule:
    """Parse TVMScript: an ``@I.ir_module`` class gives an IRModule, one ``@T.prim_func`` a PrimFunc."""
    if not isinstance(text, str):
        raise ParseError(f"mlc.parse takes the script as a string, got {type(text).__name__}")
    return parse_source(Source(text))


def parse_source(src: Source) -> IRModule | PrimFunc | GraphModule:
    tree = src.tree()
    items = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    for node in items:
        if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            raise src.error(node, "expected one @I.ir_module class or one @T.prim_func function")
    classes = [n for n in items if isinstance(n, ast.ClassDef)]
    graphs = [n for n in items if isinstance(n, ast.FunctionDef) and _kind(src, n) == "relax"]
    if len(items) == 1 and classes:
        return module(src, classes[0])
    if len(items) == 1 and not graphs:
        return function(src, items[0])
    if len(classes) > 1 or len(graphs) + len(classes) != len(items) or not graphs:
        raise src.error(items[1] if len(items) > 1 else tree,
                        "expected one @I.ir_module class, one @T.prim_func function, or "
                        "@R.function graphs followed by the @I.ir_module of their kernels")
    kernels = module(src, classes[0]) if classes else IRModule({})
    if isinstance(kernels, GraphModule):
        raise src.error(classes[0], "the kernels' @I.ir_module cannot hold @R.function graphs too")
    return _graph_module(src, graphs, kernels, [n.name for n in graphs] + list(kernels))


def _kind(src: Source, node: ast.FunctionDef) -> str:
    """"tir" for @T.prim_func, "relax" for @R.function (or @R.function(...)); "tir" if undecorated."""
    parser = TIRParser(src)
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        ns = parser.namespace(target)
        if ns == ("tir", ["prim_func"]):
            return "tir"
        if ns == ("relax", ["function"]):
            return "relax"
    if node.decorator_list:
        raise src.error(node, f"function {node.name} is neither a @T.prim_func nor an @R.function")
    return "tir"


def function(src: Source, node: ast.FunctionDef) -> PrimFunc:
    if _kind(src, node) != "tir":
        raise src.error(node, f"@R.function {node.name} belongs in an @I.ir_module class")
    func = TIRParser(src).function(node)
    # a lone function keeps its name (as TVMScript does); one named main needs no symbol to be main
    if func.attr("global_symbol") is None and node.name != "main":
        func = func.with_attr("global_symbol", node.name)
    return func


def module(src: Source, node: ast.ClassDef) -> IRModule | GraphModule:
    """An @I.ir_module class: an IRModule, or a GraphModule when it holds @R.function graphs."""
    prims, graphs, order = {}, [], []
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            if item.name in order:
                raise src.error(item, f"the module defines {item.name} twice")
            order.append(item.name)
            if _kind(src, item) == "relax":
                graphs.append(item)
            else:
                prims[item.name] = TIRParser(src).function(item)
        elif not (isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant)) \
                and not isinstance(item, ast.Pass):
            raise src.error(item, "an @I.ir_module class holds @T.prim_func and @R.function functions only")
    kernels = IRModule(prims)
    if not graphs:
        return kernels
    return _graph_module(src, graphs, kernels, order)


def _graph_module(src: Source, graphs: list[ast.FunctionDef], kernels: IRModule, order: list[str]) -> GraphModule:
    """The GraphModule of ``graphs`` over ``kernels``, functions in ``order``; private
    ``{"Primitive": True}`` functions are the bodies of the fused calls that name them."""
    seen = set(kernels)
    for g in graphs:
        if g.name in seen:
            raise src.error(g, f"the module defines {g.name} twice")
        seen.add(g.name)
    probe = TIRParser(src)
    fused = {g.name: g for g in graphs if is_fused_body(probe, g)}
    functions, called = {}, set()
    for g in graphs:
        if g.name not in fused:
            parser = GraphParser(src, kernels, fused)
            functions[g.name] = parser.function(g)
            called |= parser.called
    for name, g in fused.items():
        if name not in called:
            raise src.error(g, f"private function {name} (a fused group, {{\"Primitive\": True}}) is called "
                               f"by no graph function; call it as cls.{name}(...) or drop its R.func_attr")
    functions.update(kernels.items())
    return GraphModule({name: functions[name] for name in order if name in functions})
