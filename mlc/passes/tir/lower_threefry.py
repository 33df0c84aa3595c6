"""lower_threefry: the ``threefry2x32`` call written out as integer TIR, for every backend
(none has it natively).

The algorithm is :mod:`mlc.ir.threefry`'s, whose NumPy form is the op table's column (the
reference interpreter runs an unlowered call by it): 32-bit additions, rotations and
exclusive ors of two words, keyed by the schedule ``(k0, k1, PARITY ^ k0 ^ k1)``, the
words packed into one uint64 as ``x0 << 32 | x1``. A rotation is ``(x << r) | (x >> (32 -
r))`` of constant amounts, which a backend's compiler makes one rotate instruction of.
Each round reads both words several times (as a tree the formula would double a round), so
each word is a ``Let`` variable, bound once: a register in every backend (the CUDA one
writes a ``const`` line a word).

The pass runs last in the pipelines (:func:`~.pipeline.cpu_pipeline`,
:data:`~.gpu_pipeline.GPU_PIPELINE`): the passes before it see one call, as a cost model
does (:data:`~.pipeline.RENDER_PASSES`), and the words reach the renderer as written here.
The call is never vectorized (its uint64 result has no vector form), so it is always scalar.

>>> from mlc.ir.buffer import decl_buffer
>>> from mlc.ir.expr import call, const
>>> from mlc.ir.tir import BufferStore, PrimFunc
>>> W, Y = decl_buffer((4,), "uint32", "W"), decl_buffer((1,), "uint64", "Y")
>>> f = PrimFunc((W, Y), BufferStore(Y, call("threefry2x32", W[0], W[1], W[2], W[3]), (const(0, "int32"),)))
>>> text = str(lower_threefry(f).body)
>>> print(text[:87])
Y[0] = T.let(word1, T.uint32(466688986) ^ W[0] ^ W[1], T.let(word2, W[2] + W[0], T.let(
>>> print(text[text.index("T.Cast"):][:67])
T.Cast("uint64", word52) << T.uint64(32) | T.Cast("uint64", word53)
"""
from __future__ import annotations

from ...ir.analysis.census import labels
from ...ir.expr import Call, PrimExpr, Var, cast, const, let, make_binary
from ...ir.functor import Mutator
from ...ir.threefry import PARITY, ROTATIONS, ROUNDS
from ...ir.tir import PrimFunc

__all__ = ["lower_threefry", "threefry2x32", "OP"]

#: The call this pass writes out.
OP = "threefry2x32"


def _rotate(x: PrimExpr, r: int) -> PrimExpr:
    """``x`` (uint32) rotated left by the constant ``r``."""
    return make_binary("bitor", make_binary("shl", x, const(r, "uint32")),
                       make_binary("shr", x, const(32 - r, "uint32")))


def threefry2x32(k0: PrimExpr, k1: PrimExpr, c0: PrimExpr, c1: PrimExpr, word) -> PrimExpr:
    """The uint64 ``x0 << 32 | x1`` of Threefry-2x32-20 keyed by uint32 ``(k0, k1)`` at
    counter ``(c0, c1)``, each word bound once: ``word()`` gives a new uint32 variable."""
    lets: list[tuple[Var, PrimExpr]] = []

    def bound(e: PrimExpr) -> Var:
        lets.append((word(), e))
        return lets[-1][0]

    add = lambda a, b: make_binary("add", a, b)  # noqa: E731 (wraps modulo 2**32)
    schedule = (k0, k1, bound(make_binary("bitxor", make_binary("bitxor", const(PARITY, "uint32"), k0), k1)))
    x0, x1 = bound(add(c0, k0)), bound(add(c1, k1))
    for r in range(ROUNDS):
        x0 = bound(add(x0, x1))
        x1 = bound(make_binary("bitxor", _rotate(x1, ROTATIONS[r % 8]), x0))
        if r % 4 == 3:
            s = r // 4 + 1
            x0 = bound(add(x0, schedule[s % 3]))
            x1 = bound(add(add(x1, schedule[(s + 1) % 3]), const(s, "uint32")))
    out = make_binary("bitor", make_binary("shl", cast(x0, "uint64"), const(32, "uint64")), cast(x1, "uint64"))
    for var, value in reversed(lets):
        out = let(var, value, out)
    return out


def lower_threefry(func: PrimFunc) -> PrimFunc:
    """Every ``threefry2x32`` call of ``func`` written out (see the module docstring)."""
    if not any(op == OP for op, _ in labels(func.body, Call)):
        return func
    return _LowerThreefry().visit(func)


class _LowerThreefry(Mutator):
    def __init__(self):
        self.words = 0

    def _word(self) -> Var:
        self.words += 1
        return Var(f"word{self.words}", "uint32")

    def visit_Call(self, e: Call):
        e = self.generic_visit(e)
        if not (isinstance(e, Call) and e.op == OP):
            return e
        return threefry2x32(*e.args, self._word)
