"""Whether a kernel may write its output into the memory of an input it reads.

A jitted function that writes its argument (``x += 1``, ``C[:] = A @ B + C``) computes the
argument's new value with a kernel that reads the old one. The graph's ``main`` may pass the
argument's own buffer as that kernel's output (no copy in, no copy out) where every element
of the output depends on the input's element at the same index only, read by the block that
writes it, before it writes it, and it has no reduction: :func:`pointwise_update`. A
schedule of such a kernel keeps that order per element (it has no partial result to keep in
the output's buffer), so the kernel computes the same values whether or not the two buffers
are one.

Exactly, the kernel (unscheduled, as the graph's lowering made it) must have:

- no reduction: a schedule of a reduction may accumulate in the output's buffer before the
  epilogue reads the input (``C[:] = A @ B + C`` tiled: ``out`` holds partial sums first);

- one block that stores into the output, a spatial block with no ``init`` whose one store
  is at its iteration variables, in order, over the whole output (each element written once);
- every load of the input in that block, at the very indices of that store;
- no other load of the input, no store into it, no load of the output anywhere.

>>> import numpy as np
>>> from mlc.ir import te
>>> x = te.placeholder((4,), "float32", "x")
>>> y = te.compute((4,), lambda i: x[i] + 1.0, name="y")
>>> pointwise_update(te.create_prim_func([x, y]), 0, 1)
True
>>> z = te.compute((4,), lambda i: x[3 - i], name="z")
>>> pointwise_update(te.create_prim_func([x, z]), 0, 1)
False
>>> m = te.placeholder((4, 4), "float32", "m")
>>> t = te.compute((4, 4), lambda i, j: m[i, j] + m[j, i], name="t")
>>> pointwise_update(te.create_prim_func([m, t]), 0, 1)
False
"""
from __future__ import annotations

from ...ir.expr import BufferLoad, IntImm, Var
from ...ir.functor import Mutator
from ...ir.arith import same_expr
from ...ir.tir import Block, BufferStore, PrimFunc

__all__ = ["pointwise_update"]


def pointwise_update(func: PrimFunc, src: int, dst: int) -> bool:
    """Whether ``func`` computes its parameter ``dst`` correctly when that buffer is its
    parameter ``src``'s memory (see the module docstring)."""
    if src == dst or not (0 <= src < len(func.params) and 0 <= dst < len(func.params)):
        return False
    x, out = func.params[src], func.params[dst]
    if x.dtype != out.dtype or tuple(x.static_shape()) != tuple(out.static_shape()):
        return False
    seen = _Accesses()
    seen.visit(func.body)
    if any(b.init is not None or any(iv.iter_type != "spatial" for iv in b.iter_vars) for b in seen.blocks):
        return False  # a reduction's schedule may accumulate in the output's buffer before the input is read
    if any(s.buffer is x for _, s in seen.stores) or any(ld.buffer is out for _, ld in seen.loads):
        return False
    writes = [(block, s) for block, s in seen.stores if s.buffer is out]
    if len(writes) != 1:
        return False
    ((block, store),) = writes
    if block is None or block.init is not None or not _whole(block, store, out.static_shape()):
        return False
    # (the same variables: ``m[j, i]`` is not at ``m[i, j]``'s element, though equal up to renaming)
    return all(b is block and same_expr(tuple(ld.indices), tuple(store.indices)) for b, ld in seen.loads if ld.buffer is x)


class _Accesses(Mutator):
    """The loads and stores under a statement, each with the innermost block around it."""

    def __init__(self):
        self.block, self.loads, self.stores, self.blocks = None, [], [], []

    def visit_Block(self, node: Block):
        self.blocks.append(node)
        outer, self.block = self.block, node
        self.generic_visit(node)
        self.block = outer
        return node

    def visit_BufferLoad(self, node: BufferLoad):
        self.loads.append((self.block, node))
        self.generic_visit(node)
        return node

    def visit_BufferStore(self, node: BufferStore):
        self.stores.append((self.block, node))
        self.generic_visit(node)
        return node


def _whole(block: Block, store: BufferStore, shape) -> bool:
    """Whether ``store`` is at ``block``'s spatial iteration variables, in order, each
    ranging over its axis of ``shape`` from 0: every element written once."""
    if len(block.iter_vars) != len(shape) or len(store.indices) != len(shape):
        return False
    for iv, index, extent in zip(block.iter_vars, store.indices, shape):
        if iv.iter_type != "spatial" or not isinstance(index, Var) or index is not iv.var:
            return False
        lo, n = iv.dom.min, iv.dom.extent
        if not (isinstance(lo, IntImm) and lo.value == 0 and isinstance(n, IntImm) and n.value == extent):
            return False
    return True
