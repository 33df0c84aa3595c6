"""mlc.graph: write, transform and build graph functions, the course's Relax level.

- authoring: :class:`BlockBuilder` (``function``, ``dataflow``, ``emit``,
  ``emit_te``, ``call_tir``, ``call_dps_packed``, ``emit_output``,
  ``emit_func_output``), the :class:`GraphModule` it produces, the call
  constructors :func:`op`, :func:`call_tir`, :func:`call_dps_packed`,
  :func:`call_te`, :func:`call_fused`, and :func:`bind_params`;
- library functions: :func:`register_func` (also ``mlc.register_func``);
- patterns and rewriting: :func:`is_op`, :func:`wildcard`, ...,
  :func:`rewrite`, :class:`GraphMutator`;
- passes, each callable alone: :data:`FuseOps`, :data:`FuseTIR`,
  :data:`LegalizeOps`, :data:`DeadCodeElimination`;
- :func:`build` (what ``mlc.build`` does with a GraphModule).
"""
from ..ir.graph import Binding, Constant, Graph, Var, constant
from ..runtime.packed import get_func, list_funcs, register_func, remove_func
from .build import GraphFunction, GraphLibrary, build
from .builder import (BlockBuilder, Call, TECall, Tensor, call_dps_packed, call_fused, call_te, call_tir,
                      op)
from .module import GraphModule
from .mutator import GraphMutator, rewrite
from .params import bind_params
from .pattern import (Pattern, is_call_dps_packed, is_call_tir, is_const, is_op, is_var, wildcard)
from .transform import DeadCodeElimination, FuseOps, FuseTIR, LegalizeOps, ModulePass

__all__ = [
    "BlockBuilder", "GraphModule", "Graph", "Binding", "Var", "Constant", "constant", "Tensor", "Call",
    "TECall", "op", "call_tir", "call_dps_packed", "call_te", "call_fused", "bind_params",
    "register_func", "get_func", "remove_func", "list_funcs", "build", "GraphLibrary", "GraphFunction",
    "Pattern", "wildcard", "is_op", "is_const", "is_var", "is_call_tir", "is_call_dps_packed", "rewrite",
    "GraphMutator", "ModulePass", "FuseOps", "FuseTIR", "LegalizeOps", "DeadCodeElimination",
]
