"""TVMScript: write TensorIR as Python, the way the MLC course does.

``from mlc.script import tir as T, ir as I``; decorate a class with
``@I.ir_module`` and its functions with ``@T.prim_func``.
``mlc.parse(text)`` reads what ``mod.script()`` prints, so
``mlc.parse(mod.script())`` is structurally ``mod``.
"""
from . import ir, tir
from ..graph.module import GraphModule
from .parser import parse

__all__ = ["tir", "ir", "relax", "parse", "GraphModule"]


def __getattr__(name: str):
    if name == "relax":  # the graph namespace loads the tracer's executor: on first use
        from importlib import import_module
        return import_module("mlc.script.relax")
    raise AttributeError(f"module 'mlc.script' has no attribute {name!r}")
