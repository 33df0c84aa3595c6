"""``T``: the TensorIR namespace of TVMScript (``from mlc.script import tir as T``).

``@T.prim_func`` parses the decorated function's source into a PrimFunc.
Only the decorator and the parameter annotations run as Python; the body is
read by the parser (:mod:`mlc.script.tir_parser`), so ``T.grid``,
``T.block``, ``T.axis`` and the rest exist only as syntax there.
"""
from __future__ import annotations

import ast

from ..ir.tir import PrimFunc
from ._source import Source
from .parser import function

__all__ = ["prim_func", "Buffer", "handle"]


def prim_func(fn) -> PrimFunc:
    """Parse ``fn``'s source as TensorIR; errors point at the line in ``fn``'s file."""
    src = Source.of(fn)
    tree = src.tree()
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise src.error(node, "@T.prim_func decorates a function")
    return function(src, node)


class _BufferType:
    """``T.Buffer((8, 8), "float32")`` / ``T.Buffer[(8, 8), "float32"]`` in annotations."""

    def __call__(self, *args, **kwargs):
        return self

    def __getitem__(self, item):
        return self

    def __repr__(self) -> str:
        return "T.Buffer"


Buffer = _BufferType()
handle = "T.handle"
