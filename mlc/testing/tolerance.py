"""How far a compiled kernel may be from NumPy: an error budget read off its TensorIR.

Every rounding float operation in a kernel (``+ - * /``, a narrowing cast)
may cost one ulp; every math function a few more (mlc's vector math and the
platform's libm round differently, :data:`MATH_ULPS`); a reduction over ``n``
elements, summed in another order than NumPy's pairwise sums, ``n``. The
budget is their sum. Since an error of ``k`` ulps in an intermediate value is
``k`` ulps *of that value*, results that cancel (``1 + tanh(x)`` near -1) are
allowed the same number of ulps of the inputs' and outputs' magnitude
(and of 1 where bounded functions such as ``tanh`` are used).

>>> from mlc import te
>>> A = te.placeholder((4, 5), "float32", "A")
>>> k = te.reduce_axis((0, 5), "k")
>>> B = te.compute((4,), lambda i: te.sum(te.exp(A[i, k]) * 2, axis=k), "B")
>>> budget = error_budget([te.create_prim_func([A, B])])
>>> budget.ulps, budget.reduction, budget.describe()
(10, 5, '1 (final rounding) + 2 arithmetic + 2 (exp) + 5 (reduction of 5)')
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..ir import dtype as dt
from ..ir.expr import Binary, Broadcast, Call, Cast, FloatImm, IntImm
from ..ir.functor import pre_order_nodes
from ..ir.ops import MATH_CALLS
from ..ir.tir import Block, BufferStore

__all__ = ["MATH_ULPS", "Budget", "error_budget"]

#: ulps each call of a math function may differ from NumPy's, beyond one final rounding
#: (the ``ulps`` of the op table, mlc.ir.ops).
MATH_ULPS = {name: op.ulps for name, op in MATH_CALLS.items() if op.ulps is not None}
#: Functions whose results lie in [-1, 1]: their errors are ulps of 1, whatever the output.
BOUNDED = frozenset(name for name, op in MATH_CALLS.items() if op.bounded)
_ROUNDING = frozenset({"add", "sub", "mul", "div", "floordiv", "floormod"})


@dataclass(frozen=True)
class Budget:
    """The error budget of some kernels: ``ulps`` in all, the longest ``reduction``, whether a
    bounded math function is used, and the parts (for the failure report); ``products``:
    whether a float reduction multiplies (``prod``), whose partial products may overflow in
    one order of the factors and not in another; ``multiplies``: whether two computed float
    values are multiplied (``d * d`` in a variance), so that a difference that cancelled to
    almost nothing, off by ulps of the inputs, is squared with its error."""
    ulps: int = 1
    reduction: int = 1
    bounded: bool = False
    parts: tuple[tuple[str, int], ...] = (("final rounding", 1),)
    products: bool = False
    multiplies: bool = False

    def atol(self, dtype: str, arrays) -> float:
        """The absolute slack: ``ulps`` epsilons of the largest magnitude among ``arrays``
        (1 with bounded math functions), times the longest reduction; where computed values
        are multiplied, plus the square of the first factor times the reduction (the
        variance of equal values of 1e16 in float32 is 0, and NumPy's is 1.15e18: its mean is
        an ulp off, some 1e9, squared), at most the dtype's largest value.

        >>> Budget(ulps=2, reduction=3).atol("float32", [np.float32([1e16])]) < 1e11
        True
        >>> Budget(ulps=2, reduction=3, multiplies=True).atol("float32", [np.float32([1e16])]) > 1e18
        True
        """
        if not dt.is_float(dtype):
            return 0.0
        scale = 1.0 if self.bounded else 0.0
        for a in arrays:
            a = np.asarray(a)
            if a.dtype.kind in "biuf" and a.size:
                with np.errstate(all="ignore"):
                    magnitude = np.abs(a.astype(np.float64))
                finite = magnitude[np.isfinite(magnitude)]
                if finite.size:
                    scale = max(scale, float(finite.max()))
        first = self.ulps * float(np.finfo(dtype).eps) * scale
        slack = first * self.reduction + (first * first * self.reduction if self.multiplies else 0.0)
        return float(min(slack, float(np.finfo(dtype).max)))

    def describe(self) -> str:
        return " + ".join(f"{n} ({what})" if what != "arithmetic" else f"{n} arithmetic"
                          for what, n in self.parts)


def error_budget(funcs) -> Budget:
    """The :class:`Budget` of PrimFuncs (a module's functions, or one function)."""
    arithmetic, math, reductions = 0, Counter(), []
    bounded = products = multiplies = False
    for func in funcs:
        for node in pre_order_nodes(func.body):
            if isinstance(node, Binary) and node.op in _ROUNDING and dt.is_float(node.dtype):
                arithmetic += 1
                multiplies |= node.op == "mul" and not (_constant(node.a) or _constant(node.b))
            elif isinstance(node, Cast) and dt.is_float(node.dtype) and node.dtype != node.value.dtype:
                arithmetic += 1
            elif isinstance(node, Call) and node.op in MATH_ULPS and dt.is_float(node.dtype):
                math[node.op] += 1
                bounded |= node.op in BOUNDED
            elif isinstance(node, Block) and node.is_reduction:
                n = 1
                for iv in node.iter_vars:
                    if iv.iter_type == "reduce":
                        n *= iv.dom.extent.value if isinstance(iv.dom.extent, IntImm) else 1
                reductions.append(max(n, 1))
                update = node.body
                products |= (isinstance(update, BufferStore) and isinstance(update.value, Binary)
                             and update.value.op == "mul" and dt.is_float(update.value.dtype))
    parts = [("final rounding", 1)]
    if arithmetic:
        parts.append(("arithmetic", arithmetic))
    for name, count in sorted(math.items()):
        parts.append((name if count == 1 else f"{count} x {name}", MATH_ULPS[name] * count))
    for n in reductions:
        parts.append((f"reduction of {n}", n))
    return Budget(sum(n for _, n in parts), max(reductions, default=1), bounded, tuple(parts), products,
                  multiplies)


def _constant(e) -> bool:
    """Whether ``e`` is a constant (a literal, or one broadcast or cast)."""
    while isinstance(e, (Broadcast, Cast)):
        e = e.value
    return isinstance(e, (FloatImm, IntImm))
