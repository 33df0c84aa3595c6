"""Merge a fused group of ``call_tir`` bindings into one PrimFunc (the course's FuseTIR).

After a fused function's ops were mapped to TensorIR (each a ``call_tir`` of
its own PrimFunc), this pass inlines the called PrimFuncs, in order, into one
PrimFunc: the group's inputs and results become its parameters, the values
passed between the calls become buffers of its root block. Each inlined body
gets fresh loop variables, block iterators, buffers and block names, so a
PrimFunc called twice is inlined twice.

>>> from mlc import te
>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var
>>> from mlc.ir.tir import IRModule
>>> X = te.placeholder((4,), "float32", "X")
>>> double = te.create_prim_func([X, te.compute((4,), lambda i: X[i] * 2, "Y")])
>>> t = TensorType((4,), "float32")
>>> x, a, b = Var("x", t), Var("a", t), Var("b", t)
>>> body = Graph((x,), (Binding((a,), "call_tir", (x,), (("func", "double"),)),
...                     Binding((b,), "call_tir", (a,), (("func", "double"),))), (b,))
>>> func = merge_call_tir_group(body, IRModule({"double": double}), "quadruple")
>>> [p.name for p in func.params], [b.name for b in func.root_block.alloc_buffers]
(['x', 'Y_1'], ['Y'])
"""
from __future__ import annotations

import dataclasses

from ...errors import IRError
from ...ir import te
from ...ir.buffer import Buffer
from ...ir.expr import Var as TVar
from ...ir.expr import const
from ...ir.functor import Mutator
from ...ir.graph import Constant, Graph
from ...ir.names import unique_name
from ...ir.tir import Block, BlockRealize, IRModule, PrimFunc, seq

__all__ = ["merge_call_tir_group", "is_call_tir_group"]


def is_call_tir_group(body: Graph) -> bool:
    """True when every binding of ``body`` is a call_tir (and there is at least one)."""
    return bool(body.bindings) and all(b.op == "call_tir" for b in body.bindings)


class _Inline(Mutator):
    """One inlined PrimFunc body: parameters -> the group's buffers, everything else fresh."""

    def __init__(self, buffers: dict[int, Buffer], taken_buffers: set, taken_blocks: set):
        self.buffers = buffers
        self.vars: dict[int, TVar] = {}
        self.taken_buffers, self.taken_blocks = taken_buffers, taken_blocks

    def visit_buffer(self, buffer: Buffer) -> Buffer:
        new = self.buffers.get(id(buffer))
        if new is None:  # the callee's own scratch buffer: a fresh one
            new = dataclasses.replace(buffer, name=unique_name(buffer.name, self.taken_buffers))
            self.buffers[id(buffer)] = new
        return new

    def visit_Var(self, var: TVar) -> TVar:
        new = self.vars.get(id(var))
        if new is None:
            new = self.vars[id(var)] = TVar(var.name, var.dtype)
        return new

    def visit_Block(self, block: Block) -> Block:
        block = self.generic_visit(block)
        return dataclasses.replace(block, name_hint=unique_name(block.name_hint, self.taken_blocks))


def merge_call_tir_group(body: Graph, module: IRModule, name: str) -> PrimFunc:
    """The PrimFunc running ``body``'s call_tir bindings in order (parameters: the
    group's inputs, then its results)."""
    taken: set[str] = set()
    buffer_of: dict[int, Buffer] = {}

    def buffer(value, hint: str | None = None) -> Buffer:
        """The merged function's buffer for graph value ``value``; a computed value is
        named after the callee's parameter (``hint``) that first receives it."""
        b = buffer_of.get(id(value))
        if b is None:
            if isinstance(value, Constant):
                raise IRError(f"fused function {name}: constant {value.name} is passed to a call_tir "
                              "inside it; pass it as an argument of the fused function instead")
            base = hint or value.name
            base = base if base.isidentifier() else "t"
            b = buffer_of[id(value)] = te.placeholder(value.shape, value.dtype, unique_name(base, taken)).buffer
        return b

    params = [buffer(v) for v in body.inputs]
    inputs = {id(v) for v in body.inputs}
    for out in body.outputs:
        if id(out) in inputs or not any(out is v for b in body.bindings for v in b.outputs):
            raise IRError(f"fused function {name}: result {out.name} is not computed by a call_tir of "
                          "the function; return computed values only")
    taken_blocks: set[str] = set()
    stmts, allocs = [], []
    for b in body.bindings:
        callee = module.get(b.attr("func")) if module is not None else None
        if callee is None:
            raise IRError(f"fused function {name}: binding {b.describe()} calls a PrimFunc the module "
                          "lacks")
        values = b.args + b.outputs
        if len(values) != len(callee.params):
            raise IRError(f"fused function {name}: binding {b.describe()} passes {len(values)} buffers "
                          f"to {b.attr('func')}, which takes {len(callee.params)}")
        mapping = {id(p): buffer(v, p.name) for p, v in zip(callee.params, values)}
        inline = _Inline(mapping, taken, taken_blocks)
        root = callee.root_block
        stmt = root.body if root is not None else callee.body
        stmts.append(inline.visit(stmt))
        if root is not None:
            allocs.extend(inline.visit_buffer(a) for a in root.alloc_buffers)
    outputs = [buffer_of[id(v)] for v in body.outputs]
    output_ids = {id(b) for b in outputs}
    param_ids = {id(p) for p in params}
    intermediates = [buf for key, buf in buffer_of.items()
                     if id(buf) not in output_ids and id(buf) not in param_ids]
    root = Block("root", (), (), (), seq(*stmts), alloc_buffers=tuple(intermediates + allocs))
    return PrimFunc(tuple(params + outputs), BlockRealize((), const(True, "bool"), root),
                    (("global_symbol", name), ("tir.noalias", True)))
