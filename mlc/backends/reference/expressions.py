"""Evaluating expressions over lanes: NumPy scalars or arrays of the node's dtype.

:class:`ExprEvaluator` is the one expression evaluator of mlc's TIR interpreters: the
reference interpreter's :class:`Evaluator` and the GPU emulator's kernel runs
(:mod:`mlc.backends.gpu.emulator`, which adds threads, barriers and race detection)
both derive from it. It evaluates constants, chains of binary operators, ``not``,
``Select``, ``Let``, math calls and casts, the same way for both; a subclass says what a
context is (the lanes an expression runs on: ``ctx.narrow(cond)`` restricts them, None
when none is left; ``ctx.bind(var, value)`` the context of a ``Let``'s body) and how
variables, loads and vector nodes are read.

A condition (``and``/``or``, Select) evaluates the side it does not need only
in the lanes where it matters, so an out-of-bounds load there never faults.

Vector IR runs on the same lanes: a vector statement adds one lockstep axis
whose lane number is :data:`LANE` (see ``interpreter``); ``T.Ramp(b, s, n)`` is
``b + s * LANE`` and ``T.Broadcast(v, n)`` is ``v`` (NumPy broadcasts it).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ...errors import MLCError
from ...ir.buffer import Buffer
from ...ir.ops import BINARY_OPS, SCALAR_OPS
from ...ir import dtype as dt
from ...ir.expr import (VECTOR_WINDOW, Binary, Broadcast, BufferLoad, Call, Cast, FloatImm, IntImm, Let, Not, Ramp,
                        Reduce, Select, Var)
from ...ir.functor import always_evaluated, binary_chain
from . import values as V
from ...passes.tir.horizontal import HORIZONTAL_OPS, lane_tree
from .lanes import Axis, Ctx, align, is_scalar
from .memory import Storage

__all__ = ["ExprEvaluator", "Evaluator", "LANE"]

#: The lane number of the vector statement being run (bound by the interpreter).
LANE = Var("vector_lane", dt.INDEX)


class ExprEvaluator(ABC):
    """The expression evaluator every TIR interpreter shares (module docstring).

    A subclass gives ``_var``, ``_load``, ``_ramp``, ``_broadcast`` (and may refine the
    others), ``what`` (its name in messages), and ``constants`` (a dict it owns); it calls
    :meth:`evaluate`. ``short_circuits(e)`` says whether ``and``/``or`` node ``e``
    evaluates its right side only where it decides the result (all scalar lanes do)."""

    what = "interpreter"

    def __init__(self, constants: dict, chains: dict | None = None):
        self.constants = constants
        #: id(Binary) -> its chain's steps (:meth:`_steps`); shared by the evaluators of one
        #: IR that outlives them (the same dict as long as the nodes live)
        self._chains = {} if chains is None else chains
        self._expr = {
            Var: self._var, IntImm: self._const, FloatImm: self._const, Binary: self._binary,
            Not: self._not, Select: self._select, Let: self._let, Call: self._call, Cast: self._cast,
            BufferLoad: self._load, Reduce: self._reduce, Ramp: self._ramp, Broadcast: self._broadcast,
        }

    def evaluate(self, e, ctx):
        fn = self._expr.get(type(e))
        if fn is None:
            raise MLCError(f"{self.what}: cannot evaluate {type(e).__name__} nodes")
        return fn(e, ctx)

    def short_circuits(self, e: Binary) -> bool:
        return True

    def _const(self, e, ctx):
        value = self.constants.get(id(e))
        if value is None:
            value = self.constants[id(e)] = np.dtype(e.dtype).type(e.value)
        return value

    def _binary(self, e: Binary, ctx):
        """A chain of Binary nodes (:func:`~mlc.ir.functor.binary_chain`, as deep as the user
        wrote it) is evaluated from the bottom up on a loop, each in ``ctx`` (never down the
        second operand of ``and``/``or``, which runs in a narrower one). The chain's steps
        are worked out once per node (:meth:`chain_steps`)."""
        value = None
        for node, numpy, below, logical in self.chain_steps(e):
            a = value if below == "a" else self.evaluate(node.a, ctx)
            if logical:  # the right side only where it decides
                rest = ctx.narrow(a if node.op == "and" else np.logical_not(a))
                if rest is None:
                    value = a
                    continue
                value = numpy(a, value if below == "b" else self.evaluate(node.b, rest))
            else:
                value = numpy(a, value if below == "b" else self.evaluate(node.b, ctx))
        return value

    def chain_steps(self, e: Binary) -> list:
        """``e``'s chain bottom-up: (node, its NumPy function, which operand is the node
        below ("a", "b" or None at the bottom), whether it short-circuits); worked out the
        first time ``e`` is asked for."""
        steps = self._chains.get(id(e))
        if steps is None:
            steps = self._chains[id(e)] = self._steps(e)
        return steps

    def _steps(self, e: Binary) -> list:
        chain = binary_chain(e, always_evaluated)
        steps = []
        for k in range(len(chain) - 1, -1, -1):
            node = chain[k]
            below = None if k == len(chain) - 1 else ("a" if node.a is chain[k + 1] else "b")
            spec = BINARY_OPS.get(node.op)
            if spec is None:
                raise MLCError(f"reference interpreter: unknown binary op {node.op!r}")
            steps.append((node, spec.numpy, below, node.op in ("and", "or") and self.short_circuits(node)))
        return steps

    def _not(self, e: Not, ctx):
        return SCALAR_OPS["not"].numpy(self.evaluate(e.a, ctx))  # np.logical_not

    def _select(self, e: Select, ctx):
        cond = self.evaluate(e.cond, ctx)
        if is_scalar(cond):
            return self.evaluate(e.true_value if cond else e.false_value, ctx)
        on_true, on_false = ctx.narrow(cond), ctx.narrow(np.logical_not(cond))
        if on_false is None:
            return self.evaluate(e.true_value, on_true)
        if on_true is None:
            return self.evaluate(e.false_value, on_false)
        return np.where(cond, self.evaluate(e.true_value, on_true), self.evaluate(e.false_value, on_false))

    def _let(self, e: Let, ctx):
        """The value once, in ``ctx``; the body where the variable has it (``ctx.bind``)."""
        return self.evaluate(e.body, ctx.bind(e.var, self.evaluate(e.value, ctx)))

    def _call(self, e: Call, ctx):
        return V.call(e.op, [self.evaluate(a, ctx) for a in e.args], dt.element(e.dtype))

    def _cast(self, e: Cast, ctx):
        return V.cast(self.evaluate(e.value, ctx), dt.element(e.dtype))

    def _reduce(self, e: Reduce, ctx):
        raise MLCError(f"{self.what}: a te reduction ({e.combiner.name}) is inside a "
                       "PrimFunc; reductions exist only in te.compute and become blocks in "
                       "te.create_prim_func")

    @abstractmethod
    def _var(self, e: Var, ctx):
        """What a subclass's storage and lanes make of a ``Var``."""

    @abstractmethod
    def _load(self, e: BufferLoad, ctx):
        """What a subclass's storage and lanes make of a ``BufferLoad``."""

    @abstractmethod
    def _ramp(self, e: Ramp, ctx):
        """What a subclass's storage and lanes make of a ``Ramp``."""

    @abstractmethod
    def _broadcast(self, e: Broadcast, ctx):
        """What a subclass's storage and lanes make of a ``Broadcast``."""


class Evaluator(ExprEvaluator):
    """The reference interpreter's: evaluates expressions against the buffers' storage
    (``storages``, by buffer id) on the lanes of a :class:`~.lanes.Ctx`."""

    what = "reference interpreter"

    def __init__(self, constants: dict):
        super().__init__(constants)
        self.storages: dict[int, Storage] = {}

    ev = ExprEvaluator.evaluate

    def _var(self, e: Var, ctx: Ctx):
        try:
            value = ctx.env[e]
        except KeyError:
            raise MLCError(f"reference interpreter: variable {e.name} is used outside the loop "
                           "or block that binds it") from None
        return align(value, len(ctx.axes)) if ctx.axes else value

    def _load(self, e: BufferLoad, ctx: Ctx):
        arr, flat = self._locate(e.buffer, e.indices, ctx)
        if arr is None:
            return np.zeros(np.shape(flat), dt.element(e.dtype))
        recorder = self._recorder(e.buffer, ctx)
        if recorder is not None:
            recorder.access(e.buffer, arr, flat, ctx, write=False)
        return arr[flat]

    def _recorder(self, buffer: Buffer, ctx: Ctx):
        """The region's recorder, which checks ``buffer``'s accesses in ``ctx`` against the
        region's earlier units; None outside a region, or where every lane has its own copy
        of ``buffer`` (a scalar allocated inside the region), which no other lane reads."""
        recorder = ctx.region.recorder if ctx.region is not None else None
        if recorder is None or self.storages[id(buffer)].private_to_every_lane(ctx):
            return None
        return recorder

    def _call(self, e: Call, ctx: Ctx):
        """A math call; ``horizontal_<op>(v)`` (:mod:`mlc.passes.tir.horizontal`) evaluates
        ``v`` on one more lockstep axis of its lanes, bound to LANE as in a vector store, and
        combines them in the order every backend does (:func:`lane_tree`); ``vector_window(lo,
        hi, offset, span)`` evaluates ``lo`` and ``hi`` at the lanes its lanes take
        (:func:`~mlc.ir.analysis.window_source`)."""
        if e.op == VECTOR_WINDOW:
            return self._window(e, ctx)
        op = HORIZONTAL_OPS.get(e.op)
        if op is None:
            return super()._call(e, ctx)
        n = dt.lanes(e.args[0].dtype)
        steps = np.arange(n, dtype=LANE.dtype).reshape((1,) * ctx.ndim + (n,))
        v = np.asarray(self.ev(e.args[0], ctx.with_axis(Axis(n, lockstep=True), LANE, steps)))
        v = np.broadcast_to(v, np.broadcast_shapes(v.shape, steps.shape))
        return lane_tree(v, n, lambda x, half, width: (x[..., :half], x[..., half:width]),
                         lambda x, k: x[..., k], BINARY_OPS[op].numpy)

    def _window(self, e: Call, ctx: Ctx):
        offset, span, n = e.args[2].value, e.args[3].value, dt.lanes(e.dtype)
        lane = ctx.env[LANE]
        shifted = lane + offset
        lo = self.ev(e.args[0], ctx.bind(LANE, np.minimum(shifted, n - 1).astype(LANE.dtype)))
        hi = self.ev(e.args[1], ctx.bind(LANE, np.maximum(shifted - span, 0).astype(LANE.dtype)))
        return np.where(align(shifted < n, len(ctx.axes)), lo, hi).astype(dt.element(e.dtype))

    def _ramp(self, e: Ramp, ctx: Ctx):
        base, lane = self.ev(e.base, ctx), self._var(LANE, ctx)
        return (base + lane.astype(np.int64) * e.stride).astype(e.base.dtype)

    def _broadcast(self, e: Broadcast, ctx: Ctx):
        return self.ev(e.value, ctx)

    def _locate(self, buffer: Buffer, indices, ctx: Ctx):
        storage = self.storages.get(id(buffer))
        if storage is None:
            raise MLCError(f"reference interpreter: buffer {buffer.name} is neither a parameter "
                           "nor allocated where it is used")
        return storage.locate([self.ev(i, ctx) for i in indices], ctx)
