"""Algebraic simplification: a product with ones, or a quotient by ones, is its other operand;
a matmul of a scaled operand is the scaled matmul.

A derivative often multiplies by a cotangent of ones (``grad`` starts
reverse mode from 1.0, which a sum's rule broadcasts back over its operand):
``broadcast_to(1.0) * w`` would be a kernel writing a copy of ``w``. Where the
result has the other operand's shape and dtype, the product *is* that
operand, bit for bit (``x * 1`` and ``x / 1`` are exact in IEEE arithmetic,
NaN, infinities and ``-0.0`` included; ``x + 0`` is not, ``-0.0 + 0`` being
``+0.0``, so sums are left alone). A value is one when it is a constant of
ones, or a broadcast or reshape of one.

>>> import numpy as np
>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var, constant
>>> t = TensorType((2, 3), "float32")
>>> w, ones, y = Var("w", t), Var("ones", t), Var("y", t)
>>> g = Graph((w,), (Binding((ones,), "broadcast_to", (constant(np.float32(1)),), (("shape", (2, 3)),)),
...                  Binding((y,), "multiply", (ones, w))), (y,))
>>> print(simplify_algebra(g).script())
@R.function
def main(w: R.Tensor((2, 3), "float32")):
    lv0 = R.broadcast_to(R.const(1.0, "float32"), shape=(2, 3))
    return w

A matmul whose operand is multiplied (or divided) by a scalar, ``(alpha * A) @ B`` as
``C = alpha * A @ B + beta * C`` writes it, scales its result instead:
``alpha * (A @ B)``. The fusion rules give a matmul elementwise epilogues but no
prologue, so the scaled operand was a kernel of its own, a pass that reads and writes a
whole copy of ``A``; the scaled result is the matmul kernel's epilogue, one multiply per
element of ``C`` in its register tile (the way BLAS takes ``alpha``). The product is
the same up to rounding, as any order of a matmul's sums is. It applies where the scalar
is 0-d, of the operand's dtype (no promotion), float32, float64 or complex (not float16,
whose unscaled product overflows sooner), and the scaled operand has no other use.

>>> a, b, s = Var("a", t), Var("b", TensorType((3, 4), "float32")), Var("s", TensorType((), "float32"))
>>> sa, y = Var("sa", t), Var("y", TensorType((2, 4), "float32"))
>>> g = Graph((a, b, s), (Binding((sa,), "multiply", (s, a)), Binding((y,), "matmul", (sa, b))), (y,))
>>> print(simplify_algebra(g).script())  # (lv0 is dead: dead_code_elimination drops it)
@R.function
def main(a: R.Tensor((2, 3), "float32"), b: R.Tensor((3, 4), "float32"), s: R.Tensor((), "float32")):
    lv0 = R.multiply(s, a)
    lv1 = R.matmul(a, b)
    lv2 = R.multiply(s, lv1)
    return lv2
"""
from __future__ import annotations

import numpy as np

from ...ir.graph import Binding, Constant, Graph, Var
from ...ops.registry import get_op
from .nested import nested

__all__ = ["simplify_algebra"]

#: ops that move a value's elements without changing them
_SHAPE_ONLY = ("broadcast_to", "reshape", "expand_dims", "squeeze", "transpose")


def _is_one(atom, ones: set[int]) -> bool:
    if isinstance(atom, Constant):
        return atom.data.size > 0 and bool(np.all(atom.data == 1))
    return id(atom) in ones


#: ops that scale an operand by a scalar, and where the scalar is: (op, its position)
_SCALINGS = (("multiply", 0), ("multiply", 1), ("divide", 1))
#: The dtypes whose scaling moves past a matmul. Not float16 or bfloat16: their product may
#: overflow where the scaled operand's does not (``(q * scale) @ k.T`` in attention).
_WIDE_SCALED = frozenset({"float32", "float64", "complex64", "complex128"})


def _scaling(b: Binding):
    """``(operand, op, scalar, scalar's position)`` where ``b`` multiplies its operand by a
    0-d float or complex scalar of the operand's dtype (or divides it by one) into a value of
    the operand's type; else None."""
    if len(b.args) != 2 or len(b.outputs) != 1:
        return None
    (out,) = b.outputs
    if out.dtype not in _WIDE_SCALED:
        return None
    for op, at in _SCALINGS:
        scalar, operand = b.args[at], b.args[1 - at]
        if b.op == op and scalar.shape == () and scalar.dtype == out.dtype and operand.type == out.type:
            return operand, op, scalar, at
    return None


def _uses(graph: Graph) -> dict[int, int]:
    """How many times each value is an argument of a binding or an output of ``graph``."""
    uses: dict[int, int] = {}
    for atom in [a for b in graph.bindings for a in b.args] + list(graph.outputs):
        uses[id(atom)] = uses.get(id(atom), 0) + 1
    return uses


def _unscaled_matmul(b: Binding, scaled: dict, uses: dict[int, int]) -> list[Binding] | None:
    """``b``, a matmul of an operand that ``scaled`` says is a scaled value used by ``b`` alone,
    as the matmul of the unscaled operands followed by the scalings of its result."""
    factors = [scaled[id(a)] for a in b.args if id(a) in scaled and uses.get(id(a)) == 1]
    if b.op != "matmul" or len(b.outputs) != 1 or not factors:
        return None
    args = tuple(scaled[id(a)][0] if id(a) in scaled and uses.get(id(a)) == 1 else a for a in b.args)
    (out,) = b.outputs
    value = Var(f"{out.name}_unscaled", get_op("matmul").infer(*(a.type for a in args), **dict(b.attrs)))
    if value.type != out.type:
        return None
    steps = [Binding((value,), "matmul", args, b.attrs, b.loc)]
    for n, (_, op, scalar, at) in enumerate(factors):
        result = out if n == len(factors) - 1 else Var(f"{out.name}_scaled{n}", out.type)
        steps.append(Binding((result,), op, (scalar, value) if at == 0 else (value, scalar), (), b.loc))
        value = result
    return steps


@nested
def simplify_algebra(graph: Graph) -> Graph:
    """Replace ``x * ones``, ``ones * x`` and ``x / ones`` by ``x`` where the result's type is
    ``x``'s, and ``(s * a) @ b`` by ``s * (a @ b)`` (see the module docstring)."""
    ones: set[int] = set()
    subst: dict[int, object] = {}
    scaled: dict[int, tuple] = {}
    uses = _uses(graph)
    kept: list[Binding] = []
    changed = False
    for b in graph.bindings:
        args = tuple(subst.get(id(a), a) for a in b.args)
        if args != b.args:
            b = Binding(b.outputs, b.op, args, b.attrs, b.loc)
            changed = True
        (out, *rest) = b.outputs if b.outputs else (None,)
        unscaled = _unscaled_matmul(b, scaled, uses)
        if unscaled is not None:
            kept.extend(unscaled)
            changed = True
            continue
        scaling = _scaling(b) if b.op in ("multiply", "divide") else None
        if scaling is not None:
            scaled[id(out)] = scaling
        if b.op in _SHAPE_ONLY and not rest and _is_one(args[0], ones):
            ones.add(id(out))
        elif b.op in ("multiply", "divide") and len(args) == 2 and not rest:
            keep = [a for n, a in enumerate(args) if not (_is_one(a, ones) and (n == 1 or b.op == "multiply"))]
            if len(keep) == 1 and keep[0].type == out.type:
                subst[id(out)] = keep[0]
                changed = True
                continue
        kept.append(b)
    if not changed:
        return graph
    return graph.with_bindings(kept, [subst.get(id(a), a) for a in graph.outputs])
