"""``I``: ``@I.ir_module`` turns a class of ``@T.prim_func`` functions into an IRModule."""
from __future__ import annotations

import ast
import sys

from ..ir.tir import IRModule
from ..graph.module import GraphModule
from ._source import Source
from .parser import module

__all__ = ["ir_module"]


def ir_module(cls) -> IRModule | GraphModule:
    """Parse the decorated class's source into an IRModule named after its functions."""
    src = Source.of(cls, sys._getframe(1).f_lineno)  # where the decorator ran: this class, of same-named ones
    node = src.tree().body[0]
    if not isinstance(node, ast.ClassDef):
        raise src.error(node, "@I.ir_module decorates a class")
    return module(src, node)
