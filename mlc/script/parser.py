"""``mlc.parse``: TVMScript text -> IRModule or PrimFunc.

>>> import mlc
>>> from mlc import te
>>> A = te.placeholder((8,), "float32", name="A")
>>> B = te.compute((8,), lambda i: A[i] * 2, name="B")
>>> mod = mlc.IRModule({"double": te.create_prim_func([A, B])})
>>> mlc.structural_equal(mlc.parse(mod.script()), mod)
True
"""
from __future__ import annotations

import ast

from ..errors import ParseError
from ..ir.tir import IRModule, PrimFunc
from ._source import Source
from .tir_parser import TIRParser

__all__ = ["parse", "parse_source"]


def parse(text: str) -> IRModule | PrimFunc:
    """Parse TVMScript: an ``@I.ir_module`` class gives an IRModule, one ``@T.prim_func`` a PrimFunc."""
    if not isinstance(text, str):
        raise ParseError(f"mlc.parse takes the script as a string, got {type(text).__name__}")
    return parse_source(Source(text))


def parse_source(src: Source) -> IRModule | PrimFunc:
    tree = src.tree()
    items = [n for n in tree.body if not _is_import(n)]
    if len(items) != 1 or not isinstance(items[0], (ast.ClassDef, ast.FunctionDef)):
        node = items[1] if len(items) > 1 else (items[0] if items else tree)
        raise src.error(node, "expected one @I.ir_module class or one @T.prim_func function")
    node = items[0]
    if isinstance(node, ast.ClassDef):
        return module(src, node)
    return function(src, node)


def function(src: Source, node: ast.FunctionDef) -> PrimFunc:
    parser = TIRParser(src)
    kinds = [parser.namespace(d) for d in node.decorator_list]
    if kinds and not any(k == ("tir", ["prim_func"]) for k in kinds):
        raise src.error(node, f"function {node.name} is not a @T.prim_func")
    return parser.function(node)


def module(src: Source, node: ast.ClassDef) -> IRModule:
    funcs = {}
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            funcs[item.name] = function(src, item)
        elif not (isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant)) \
                and not isinstance(item, ast.Pass):
            raise src.error(item, "an @I.ir_module class holds @T.prim_func functions only")
    return IRModule(funcs)


def _is_import(node) -> bool:
    return isinstance(node, (ast.Import, ast.ImportFrom))
