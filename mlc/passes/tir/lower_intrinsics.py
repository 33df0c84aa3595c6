"""lower_intrinsics: rewrite math calls into cheaper, vectorisable arithmetic.

``pow(x, n)`` with a constant integer exponent ``|n| <= 4`` becomes a chain of
multiplications (``1 / (...)`` for negative ``n``), as NumPy's own fast paths
do for squares and reciprocals: scalar ``powf`` calls would keep loops from
vectorising. ``pow(x, 0)`` is 1 even for NaN, like ``np.power``.

>>> from mlc.ir.expr import Var, pow
>>> x = Var("x", "float32")
>>> lower_pow(pow(x, 3.0))
x * x * x
>>> lower_pow(pow(x, -2.0))
T.float32(1) / (x * x)
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.expr import Call, FloatImm, IntImm, PrimExpr, const, make_binary
from ...ir.functor import Mutator
from ...ir.tir import PrimFunc

__all__ = ["lower_intrinsics", "lower_pow"]

MAX_EXPONENT = 4


def _integer_exponent(e: PrimExpr) -> int | None:
    if isinstance(e, (FloatImm, IntImm)) and float(e.value).is_integer() and abs(e.value) <= MAX_EXPONENT:
        return int(e.value)
    return None


def lower_pow(call: PrimExpr) -> PrimExpr:
    """``pow(x, n)`` for a small constant integer ``n`` as multiplications; other calls unchanged."""
    if not (isinstance(call, Call) and call.op == "pow" and dt.is_float(call.dtype)):
        return call
    x, n = call.args[0], _integer_exponent(call.args[1])
    if n is None:
        return call
    if n == 0:
        return const(1, call.dtype)
    product = x
    for _ in range(abs(n) - 1):
        product = make_binary("mul", product, x)
    return product if n > 0 else make_binary("div", const(1, call.dtype), product)


class _LowerIntrinsics(Mutator):
    def visit_Call(self, node: Call):
        return lower_pow(self.generic_visit(node))


def lower_intrinsics(func: PrimFunc) -> PrimFunc:
    """Apply :func:`lower_pow` to every call in ``func``."""
    body = _LowerIntrinsics().visit(func.body)
    return func if body is func.body else func.with_body(body)
