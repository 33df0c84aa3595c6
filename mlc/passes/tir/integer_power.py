"""expand_integer_powers: an integer ``pow`` becomes a loop of squarings before its statement.

NumPy computes ``x ** e`` on integers by squaring and multiplying, one step per bit of
the exponent, wrapping on overflow; so does mlc. The te lowering of ``power`` gives one
elementwise stage whose value is ``T.pow(x, e)`` (one block, fused like any other). This
pass, which :func:`~.lower_intrinsics.lower_intrinsics` runs in every pipeline, replaces
each integer ``pow`` call of a statement by a scalar that a loop computes just before it,
in three local one-element buffers::

    base = x; n = e                        # (a signed e < 0: see below)
    result = 1
    for k in range(bits):                  # 63 steps for int64, 31 for int32, 8 for uint8
        result = T.if_then_else((n >> k) & 1 != 0, result * base, result)
        base = base * base
    ... the statement, reading result[0] where the call was

A negative exponent (a traced one: a constant is refused when tracing, as NumPy
refuses it) gives ``1 // x ** -e`` truncated, as the rest of mlc: 1 for ``x == 1``,
``(-1) ** e`` for ``x == -1``, else 0; the prologue makes the loop compute exactly that
(``n`` 1 or 2 by the parity of ``e``, ``base`` 0 unless ``x`` is 1 or -1). A constant
exponent of at most :data:`MAX_UNROLLED` is multiplications in place instead (``x * x *
x``), which vectorize.

This is the loop the lowering used to spell as one te stage per exponent bit (two
buffers each): an int64 ``x ** x`` was a kernel of 65 blocks that every pass, the
scheduler and LLVM worked through for seconds, where this is one block and a loop
(``benchmarks/results/README.md``).

>>> from mlc.ir.buffer import decl_buffer
>>> from mlc.ir.expr import Var, pow
>>> from mlc.ir.printer import stmt_to_str
>>> from mlc.ir.tir import BufferStore
>>> X, Y = decl_buffer((4,), "uint8", "X"), decl_buffer((4,), "uint8", "Y")
>>> i = Var("i")
>>> print(stmt_to_str(expand_integer_powers(BufferStore(Y, pow(X[i], X[i]) + X[i], (i,)))))
pow_base0 = T.allocate([1], "uint8", "local")
pow_exponent0 = T.allocate([1], "uint8", "local")
pow_result0 = T.allocate([1], "uint8", "local")
pow_base0[0] = X[i]
pow_exponent0[0] = X[i]
pow_result0[0] = T.uint8(1)
for pow_bit0 in range(8):
    pow_result0[0] = T.if_then_else(pow_exponent0[0] >> T.Cast("uint8", pow_bit0) & T.uint8(1) != T.uint8(0), pow_result0[0] * pow_base0[0], pow_result0[0])
    pow_base0[0] = pow_base0[0] * pow_base0[0]
Y[i] = pow_result0[0] + X[i]
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.buffer import decl_buffer
from ...ir.expr import Call, IntImm, PrimExpr, Var, cast, const, logical_and, logical_not, make_binary, select
from ...ir.functor import Mutator, pre_order_nodes
from ...ir.tir import Allocate, BufferStore, For, Stmt, seq

__all__ = ["expand_integer_powers", "is_integer_power", "unrolled_power", "MAX_UNROLLED"]

#: A constant exponent up to this is multiplications in place (``x ** 3``: ``x * x * x``).
MAX_UNROLLED = 8


def is_integer_power(e) -> bool:
    """Whether ``e`` is a ``pow`` call on integers."""
    return isinstance(e, Call) and e.op == "pow" and dt.is_int(e.dtype)


def unrolled_power(call: Call) -> PrimExpr | None:
    """An integer ``pow(x, n)`` with a constant ``n`` (at most MAX_UNROLLED) as products
    (a negative ``n``: 1, -1 or 0 as the module docstring says); None for any other."""
    x, n = call.args
    if not isinstance(n, IntImm) or n.value > MAX_UNROLLED:
        return None
    one = const(1, call.dtype)
    if n.value < 0:
        minus_one = const(-1, call.dtype)
        odd = -1 if n.value % 2 else 1
        return select(make_binary("eq", x, one), one,
                      select(make_binary("eq", x, minus_one), const(odd, call.dtype), const(0, call.dtype)))
    product = one
    for _ in range(n.value):
        product = x if product is one else make_binary("mul", product, x)
    return product


def expand_integer_powers(stmt: Stmt) -> Stmt:
    """``stmt`` with every integer ``pow`` call of its stores computed by a loop before the
    store (see the module docstring)."""
    return _Expand().visit(stmt)


class _Expand(Mutator):
    def visit_BufferStore(self, node: BufferStore):
        prologue, value, allocs = [], node.value, []
        while True:
            call = _innermost_power(value)
            if call is None:
                break
            result, steps, buffers = _power_loop(call, len(allocs))
            prologue.extend(steps)
            allocs.extend(buffers)
            value = _Replace(call, result).visit(value)
        if not prologue:
            return node
        out: Stmt = seq(*prologue, BufferStore(node.buffer, value, node.indices))
        for buffer in reversed(allocs):
            out = Allocate(buffer, out)
        return out


def _innermost_power(e: PrimExpr) -> Call | None:
    """An integer ``pow`` call under ``e`` whose operands hold none (the last found in
    pre-order: a call's operands come after it)."""
    found = None
    for node in pre_order_nodes(e):
        if is_integer_power(node):
            found = node
    return found


class _Replace(Mutator):
    """Every occurrence of one node (by identity) replaced."""

    def __init__(self, old, new):
        self.old, self.new = old, new

    def visit(self, node):
        return self.new if node is self.old else super().visit(node)


def _power_loop(call: Call, n: int) -> tuple[PrimExpr, list[Stmt], list]:
    """(the value of ``call``, the statements computing it, the local buffers they use)."""
    dtype = call.dtype
    x, e = call.args
    zero = const(0, dt.INDEX)
    base, power, result = (decl_buffer((1,), dtype, f"{name}{n}", scope="local")
                           for name in ("pow_base", "pow_exponent", "pow_result"))
    b, p, r = base[zero], power[zero], result[zero]

    def put(buffer, value):
        return BufferStore(buffer, value, (zero,))
    one = const(1, dtype)
    steps = [put(base, x), put(power, e)]
    if dt.is_signed(dtype):  # a negative exponent: 1 for x == 1, (-1) ** e for x == -1, else 0
        negative = make_binary("lt", p, const(0, dtype))
        unit = make_binary("or", make_binary("eq", b, one), make_binary("eq", b, const(-1, dtype)))
        steps.append(put(base, select(logical_and(negative, logical_not(unit)), const(0, dtype), b)))
        steps.append(put(power, select(negative, make_binary("sub", const(2, dtype), make_binary("bitand", p, one)), p)))
    steps.append(put(result, one))
    k = Var(f"pow_bit{n}", dt.INDEX)
    bit = make_binary("ne", make_binary("bitand", make_binary("shr", p, cast(k, dtype)), one), const(0, dtype))
    body = seq(put(result, select(bit, make_binary("mul", r, b), r)), put(base, make_binary("mul", b, b)))
    bits = dt.bits(dtype) - (1 if dt.is_signed(dtype) else 0)  # (a signed n is >= 0 by now)
    steps.append(For(k, zero, const(bits, dt.INDEX), "serial", body))
    return r, steps, [base, power, result]
