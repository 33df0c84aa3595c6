"""Evaluating expressions over lanes: NumPy scalars or arrays of the node's dtype.

A condition (``and``/``or``, Select) evaluates the side it does not need only
in the lanes where it matters, so an out-of-bounds load there never faults.

Vector IR runs on the same lanes: a vector statement adds one lockstep axis
whose lane number is :data:`LANE` (see ``interpreter``); ``T.Ramp(b, s, n)`` is
``b + s * LANE`` and ``T.Broadcast(v, n)`` is ``v`` (NumPy broadcasts it).
"""
from __future__ import annotations

import numpy as np

from ...errors import MLCError
from ...ir.buffer import Buffer
from ...ir import dtype as dt
from ...ir.expr import (Binary, Broadcast, BufferLoad, Call, Cast, FloatImm, IntImm, Not, Ramp, Reduce,
                        Select, Var)
from ...ir.functor import always_evaluated, binary_chain
from . import values as V
from .lanes import Ctx, align, is_scalar
from .memory import Storage

__all__ = ["Evaluator", "LANE"]

#: The lane number of the vector statement being run (bound by the interpreter).
LANE = Var("vector_lane", dt.INDEX)


class Evaluator:
    """Evaluates expressions against the buffers' storage (``storages``, by buffer id)."""

    def __init__(self, constants: dict):
        self.constants = constants
        self.storages: dict[int, Storage] = {}
        self._expr = {
            Var: self._var, IntImm: self._const, FloatImm: self._const, Binary: self._binary,
            Not: self._not, Select: self._select, Call: self._call, Cast: self._cast,
            BufferLoad: self._load, Reduce: self._reduce, Ramp: self._ramp, Broadcast: self._broadcast,
        }

    def ev(self, e, ctx: Ctx):
        fn = self._expr.get(type(e))
        if fn is None:
            raise MLCError(f"reference interpreter: cannot evaluate {type(e).__name__} nodes")
        return fn(e, ctx)

    def _var(self, e: Var, ctx: Ctx):
        try:
            value = ctx.env[e]
        except KeyError:
            raise MLCError(f"reference interpreter: variable {e.name} is used outside the loop "
                           "or block that binds it") from None
        return align(value, len(ctx.axes)) if ctx.axes else value

    def _const(self, e, ctx: Ctx):
        value = self.constants.get(id(e))
        if value is None:
            value = self.constants[id(e)] = V.constant(e.value, e.dtype)
        return value

    def _binary(self, e: Binary, ctx: Ctx):
        """A chain of Binary nodes (:func:`~mlc.ir.functor.binary_chain`, as deep as the user
        wrote it) is evaluated from the bottom up on a loop, each in ``ctx`` (never down the
        second operand of ``and``/``or``, which runs in a narrower one)."""
        chain = binary_chain(e, always_evaluated)
        value = self._binary_of(chain[-1], ctx)
        for node, below in zip(reversed(chain[:-1]), reversed(chain[1:])):
            value = self._binary_of(node, ctx, below, value)
        return value

    def _binary_of(self, e: Binary, ctx: Ctx, below=None, value=None):
        """``e``, where its operand ``below`` (if any) has the value ``value``."""
        a = value if e.a is below else self.ev(e.a, ctx)
        if e.op in ("and", "or"):  # the right side only runs where it decides the result
            rest = ctx.narrow(a if e.op == "and" else np.logical_not(a))
            if rest is None:
                return a
            return V.binary(e.op, a, value if e.b is below else self.ev(e.b, rest))
        return V.binary(e.op, a, value if e.b is below else self.ev(e.b, ctx))

    def _not(self, e: Not, ctx: Ctx):
        return V.logical_not(self.ev(e.a, ctx))

    def _select(self, e: Select, ctx: Ctx):
        cond = self.ev(e.cond, ctx)
        if is_scalar(cond):
            return self.ev(e.true_value if cond else e.false_value, ctx)
        on_true, on_false = ctx.narrow(cond), ctx.narrow(np.logical_not(cond))
        if on_false is None:
            return self.ev(e.true_value, on_true)
        if on_true is None:
            return self.ev(e.false_value, on_false)
        return np.where(cond, self.ev(e.true_value, on_true), self.ev(e.false_value, on_false))

    def _call(self, e: Call, ctx: Ctx):
        return V.call(e.op, [self.ev(a, ctx) for a in e.args], dt.element(e.dtype))

    def _cast(self, e: Cast, ctx: Ctx):
        return V.cast(self.ev(e.value, ctx), dt.element(e.dtype))

    def _load(self, e: BufferLoad, ctx: Ctx):
        arr, flat = self._locate(e.buffer, e.indices, ctx)
        if arr is None:
            return np.zeros(np.shape(flat), dt.element(e.dtype))
        recorder = ctx.region.recorder if ctx.region is not None else None
        if recorder is not None:
            recorder.access(e.buffer, arr, flat, ctx, write=False)
        return arr[flat]

    def _ramp(self, e: Ramp, ctx: Ctx):
        base, lane = self.ev(e.base, ctx), self._var(LANE, ctx)
        return (base + lane.astype(np.int64) * e.stride).astype(e.base.dtype)

    def _broadcast(self, e: Broadcast, ctx: Ctx):
        return self.ev(e.value, ctx)

    def _reduce(self, e: Reduce, ctx: Ctx):
        raise MLCError(f"reference interpreter: a te reduction ({e.combiner.name}) is inside a "
                       "PrimFunc; reductions exist only in te.compute and become blocks in "
                       "te.create_prim_func")

    def _locate(self, buffer: Buffer, indices, ctx: Ctx):
        storage = self.storages.get(id(buffer))
        if storage is None:
            raise MLCError(f"reference interpreter: buffer {buffer.name} is neither a parameter "
                           "nor allocated where it is used")
        return storage.locate([self.ev(i, ctx) for i in indices], ctx)
