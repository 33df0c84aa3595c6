"""TVMScript: write TensorIR as Python, the way the MLC course does.

``from mlc.script import tir as T, ir as I, relax as R``; decorate a class with
``@I.ir_module``, its kernels with ``@T.prim_func`` and its graph functions
with ``@R.function`` (the class is then an :class:`mlc.graph.GraphModule`).
``mlc.parse(text)`` reads what ``mod.script()`` prints, so
``mlc.parse(mod.script())`` is structurally ``mod``.
"""
from ..graph.module import GraphModule
from . import ir, relax, tir
from .parser import parse

__all__ = ["tir", "ir", "relax", "parse", "GraphModule"]
