"""The transformation rules of the op library: each op's JVP, VJP and batching rule.

Importing this package gives every built-in op its rules (:func:`mlc.ops.registry.define_rules`),
family by family, next to the library's modules of the same names. :mod:`.core` says how a
rule is written; :data:`NONDIFFERENTIABLE` lists the ops that are not differentiable by
design (their rules give zero tangents).
"""
from . import contract, element, elementwise, linalg, nn, random, reduce, scan, shape
from .core import (TRANSPOSED_JVP, Composite, RuleError, Zero, ZeroRules, apply_op, differentiable,
                   instantiate, is_zero, zero_jvp, zero_vjp)
from .elementwise import NONDIFFERENTIABLE_ELEMENTWISE

#: Ops whose derivative is zero by design: integer or bool results, piecewise constant float
#: results, and the orderings (argmax, argsort, searchsorted). Reviewed: each has zero rules.
NONDIFFERENTIABLE = frozenset(NONDIFFERENTIABLE_ELEMENTWISE + ("all", "any", "argmax", "argmin", "argsort",
                                                               "searchsorted", "random.bits", "random.unit",
                                                               "random.threefry2x32"))

__all__ = ["contract", "elementwise", "linalg", "nn", "random", "reduce", "scan", "shape", "Composite", "RuleError",
           "TRANSPOSED_JVP", "Zero", "ZeroRules", "apply_op", "differentiable", "instantiate", "is_zero",
           "zero_jvp", "zero_vjp", "NONDIFFERENTIABLE"]
