"""A :class:`~mlc.ir.functor.Mutator` that knows the ranges of the variables around the node it visits.

Passes that simplify or prove things about indices need the ranges of the enclosing
loops, blocks and lets. :class:`RangeMutator` keeps them in ``self.ranges`` (a loop's
variable, a block's iterators and an integer ``LetStmt``'s variable are bound while
their scope is visited and unbound after, an outer binding of the same variable
restored), and :attr:`RangeMutator.analyzer` answers under them. A pass subclasses it
and overrides ``visit_<Class>`` for what it rewrites; a pass that binds more (a block's
iterators, a loop's simplified bounds) does so with :meth:`RangeMutator.bound`.

>>> from mlc.ir.expr import Var, const
>>> from mlc.ir.tir import Evaluate, For
>>> i = Var("i")
>>> class Fold(RangeMutator):
...     def visit_Binary(self, node):  # a comparison the loop's range decides becomes 0 or 1
...         return self.analyzer.simplify(node)
>>> print(Fold().visit(For(i, const(0), const(8), "serial", Evaluate(i < 8))))
for i in range(8):
    T.evaluate(T.bool(True))
>>> print(Fold().visit(Evaluate(i < 8)))  # outside the loop, i is any integer
T.evaluate(i < 8)
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from .arith import Analyzer
from . import dtype as dt
from .expr import BufferLoad, IntImm, Range, Var, const
from .functor import Mutator
from .tir import Block, BufferStore, For, LetStmt

__all__ = ["RangeMutator", "IndexSimplifier"]


class RangeMutator(Mutator):
    """Rebuilds an IR tree with ``self.ranges`` holding the enclosing loops' ranges.

    ``ranges`` (optional) are known ranges of variables defined outside the visited
    tree. The default :meth:`visit_For` binds ``loop_var`` to ``Range(min, extent)``
    for the whole loop, :meth:`visit_Block` each iterator to its domain for the whole
    block and :meth:`visit_LetStmt` an integer variable to its value's constant bounds
    for the let's body; a subclass that skips some of them or binds other ranges
    overrides them and binds with :meth:`bound`.
    """

    def __init__(self, ranges: Mapping[Var, Range] | None = None):
        self.ranges: dict[Var, Range] = dict(ranges or {})
        self._analyzer: Analyzer | None = None  # (made again when the ranges change)

    @property
    def analyzer(self) -> Analyzer:
        """An :class:`~mlc.ir.arith.Analyzer` under the ranges bound now."""
        if self._analyzer is None:
            self._analyzer = Analyzer(self.ranges)
        return self._analyzer

    @contextmanager
    def bound(self, bindings: Mapping[Var, Range]) -> Iterator[None]:
        """``bindings`` added to :attr:`ranges` for the duration of the ``with`` block;
        after it each variable has its earlier range again (or none)."""
        saved = {v: self.ranges[v] for v in bindings if v in self.ranges}
        self.ranges.update(bindings)
        self._analyzer = None
        try:
            yield
        finally:
            for v in bindings:
                del self.ranges[v]
            self.ranges.update(saved)
            self._analyzer = None

    def visit_For(self, node: For):
        with self.bound({node.loop_var: Range(node.min, node.extent)}):
            return self.generic_visit(node)

    def visit_Block(self, node: Block):
        with self.bound({iv.var: iv.dom for iv in node.iter_vars}):
            return self.generic_visit(node)

    def visit_LetStmt(self, node: LetStmt):
        """The let (whose value cannot name its own variable) with the variable bound to
        the constant bounds of an integer value, where it has them."""
        value = node.value
        lo, hi = self.analyzer.const_int_bound(value) if dt.is_int(value.dtype) else (None, None)
        known = {} if lo is None or hi is None else \
            {node.var: Range(const(lo, value.dtype), const(hi - lo + 1, value.dtype))}
        with self.bound(known):
            return self.generic_visit(node)


class IndexSimplifier(RangeMutator):
    """Every load's and store's indices (those that are not a variable or a constant)
    simplified under the ranges bound where they are, so that ``(vk_o * 4 + k) // 4``
    with ``k`` in ``[0, 4)`` reads ``vk_o``."""

    def visit_BufferLoad(self, node: BufferLoad):
        return self._indices(self.generic_visit(node))

    def visit_BufferStore(self, node: BufferStore):
        return self._indices(self.generic_visit(node))

    def _indices(self, node):
        if all(type(i) is Var or type(i) is IntImm for i in node.indices):
            return node
        ana = self.analyzer
        indices = tuple(ana.simplify(i) for i in node.indices)
        return node if all(a is b for a, b in zip(indices, node.indices)) else replace(node, indices=indices)
