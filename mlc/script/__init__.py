"""TVMScript: write TensorIR as Python, the way the MLC course does.

``from mlc.script import tir as T, ir as I``; decorate a class with
``@I.ir_module`` and its functions with ``@T.prim_func``.
``mlc.parse(text)`` reads what ``mod.script()`` prints, so
``mlc.parse(mod.script())`` is structurally ``mod``.
"""
from . import ir, tir
from .parser import parse

__all__ = ["tir", "ir", "parse"]
