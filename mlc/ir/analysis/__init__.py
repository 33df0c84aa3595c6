"""Analyses of TensorIR statements: access regions, dependence between a loop's
iterations, and lane independence.

* :mod:`~mlc.ir.analysis.dependence`: the accesses under a loop
  (:func:`loop_accesses`), reduction iterators bound to it
  (:func:`reduction_binding`), and whether its iterations may touch each
  other's data (:func:`iteration_conflict`), for ``parallel``, ``vectorize``
  and ``bind``;
* :mod:`~mlc.ir.analysis.blocks`: well-formed blocks (unique names, iterators
  bound inside their domains: :func:`block_problem`), for
  the parser and the Schedule;
* :mod:`~mlc.ir.analysis.lanes`: the one proof that a loop's iterations may
  run as lockstep lanes (:func:`lanes_independent`), for the vectorize pass
  and the reference interpreter, and the scalar lanes of vector IR (:func:`lane_of`);
* :mod:`~mlc.ir.analysis.census`: what a statement contains (node classes, loop kinds,
  calls, dtypes, loop annotations), counted once per node: the passes' early-outs.

They build on :mod:`mlc.ir.arith` and the IR below it, nothing above.
"""
from .dependence import (ENUMERATION_LIMIT, Access, blocks_under, evaluate_index, iteration_conflict,
                         loop_accesses, reduction_binding, stmt_children)
from .blocks import binding_outside_domain, block_problem
from .lanes import lane_of, lane_stride, lanes_independent, reads_only_written_points, window_source, written_points

__all__ = [
    "Access", "ENUMERATION_LIMIT", "binding_outside_domain", "block_problem", "blocks_under", "evaluate_index", "iteration_conflict", "lane_of", "lane_stride", "lanes_independent",
    "loop_accesses", "reads_only_written_points", "reduction_binding", "stmt_children",
    "window_source", "written_points",
]
