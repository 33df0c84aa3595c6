"""One integer arithmetic for index expressions.

* :mod:`~mlc.ir.arith.linear`: the linear form :class:`Linear` and exact
  expression keys (:func:`expr_key`, :func:`same_expr`);
* :mod:`~mlc.ir.arith.bounds`: constant integer bounds (:class:`ConstIntBound`);
* :mod:`~mlc.ir.arith.rewrite`: the rewrite simplifier, rule tables run by one
  engine; :func:`linear`/:func:`canonical` are its range-free form;
* :mod:`~mlc.ir.arith.int_set`: symbolic intervals and relaxation;
* :mod:`~mlc.ir.arith.analyzer`: the :class:`Analyzer` (``bind``,
  ``simplify``, ``can_prove``, ``const_int_bound``) under variable ranges.

Layering: these modules import ``dtype``, ``expr``, ``buffer`` and
``functor`` of :mod:`mlc.ir` and each other in the order above, nothing else.
"""
from .analyzer import Analyzer, eval_int
from .bounds import ConstIntBound
from .int_set import IntSet, relax, relax_region, union_regions
from .linear import Linear, expr_key, free_vars, same_expr, split_offset, uses_any
from .rewrite import canonical, constant_difference, difference, linear

__all__ = [
    "Analyzer", "ConstIntBound", "IntSet", "Linear", "canonical", "constant_difference", "difference",
    "eval_int", "expr_key", "free_vars", "linear", "relax", "relax_region",
    "same_expr", "split_offset", "union_regions", "uses_any",
]
