"""Helpers for graph-pass tests: trace a NumPy function into a Graph, run graphs, count kernels."""
import numpy as np

import mlc
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import Block
from mlc.passes.graph import (common_subexpression_elimination, dead_code_elimination,
                              fold_constants, fuse_ops)


def traced(fn, *args, **jit_options):
    """The graph ``fn`` traces to for ``args`` (no pass run)."""
    return mlc.jit(fn, **jit_options).lower(*args).traced


def fused(fn, *args):
    """The graph after DCE, CSE, folding and fusion."""
    g = traced(fn, *args)
    for p in (dead_code_elimination, common_subexpression_elimination, fold_constants,
              dead_code_elimination, fuse_ops):
        g = p(g)
    return g


def group_ops(graph):
    """The ops of each fused group, in order."""
    return [b.attr("body").ops() for b in graph.bindings]


def blocks(func):
    """Names of the non-root blocks of a PrimFunc, in order."""
    return [n.name_hint for n in pre_order_nodes(func.body) if isinstance(n, Block) and n.name_hint != "root"]


def evaluate(graph, *inputs):
    """Run a (not yet lowered) graph with every op's NumPy reference: the oracle for pass tests."""
    from mlc.ir.graph import Constant
    from mlc.ops.registry import get_op
    values = {id(v): a for v, a in zip(graph.inputs, inputs)}

    def value(atom):
        return atom.data if isinstance(atom, Constant) else values[id(atom)]

    stack = list(graph.bindings)
    for b in stack:
        if b.op == "fused":
            outs = evaluate(b.attr("body"), *(value(a) for a in b.args))
        else:
            with np.errstate(all="ignore"):
                outs = get_op(b.op).reference(*(value(a) for a in b.args), **dict(b.attrs))
            outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        values.update((id(v), np.asarray(o)) for v, o in zip(b.outputs, outs))
    return [value(a) for a in graph.outputs]
