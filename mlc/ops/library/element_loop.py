"""A loop nest of scalar element code as one kernel: ``element_loop``.

A graph ``for_loop`` (:mod:`mlc.ir.control`) whose body reads and writes single elements
of arrays (``element_get``, ``element_set``), computes on 0-d values with elementwise ops,
and holds only more such loops runs, as a graph loop, one small kernel per element. The
same loop as ``element_loop`` (same arguments ``lower, upper, *init, *captured`` and
attributes ``body`` and ``num_carry``) is one hand-written PrimFunc: the loops are TIR
``For`` loops, a 0-d value is a scalar of the kernel, an element read a load and an element
write a store into the carried array's output buffer, which starts as a copy of its initial
value. That is the kernel a C or Numba programmer writes for the loop.

:func:`element_kernel` builds it, or raises :class:`NotElementCode` naming what the body
holds that is not element code — the graph pass that makes ``element_loop`` bindings
(:mod:`mlc.passes.graph.element_loops`) asks it. Writing in place is exact because every
array the body writes is used linearly: a version is read or written only while it is the
newest (checked while building).

Three things make the kernel what a careful C programmer writes. Constant bounds of the int
scalars and loop indices are tracked (the optional ``bounds`` attribute gives the outer
loop's when they are constants), so an element read or written at an index proven inside
its axis has no negative-index wrap, clamp or guard, and is written in the loops' indices
(:meth:`_Builder.loop_index`). A loop that only adds a term into carried scalars
(:func:`is_sum_loop`: a dot or sum over a slice) keeps a vector of partial sums per scalar
(:meth:`_Builder.vector_sum_loop`), or :data:`SUM_LANES` scalar ones where an iteration is
more than one expression. And the outer loop is ``parallel``, each iteration with its own scalars, where
:meth:`_Builder.independent` proves that no element one iteration writes is touched by
another; otherwise it stays serial.

>>> import numpy as np
>>> from mlc.ir.graph import Binding, Graph, Var
>>> from mlc.ops.registry import TensorType
>>> i, a = Var("i", TensorType((), "int64")), Var("a", TensorType((4,), "float32"))
>>> v, w, a2 = Var("v", TensorType((), "float32")), Var("w", TensorType((), "float32")), Var("a2", a.type)
>>> body = Graph((i, a), (Binding((v,), "element_get", (a, i)), Binding((w,), "negative", (v,)),
...                       Binding((a2,), "element_set", (a, w, i))), (a2,))
>>> f = element_kernel([TensorType((), "int64")] * 2 + [a.type], body, 1)
>>> f.attr("mlc.scheduled")
'hand-written'
"""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from ...errors import MLCError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ...ir.buffer import decl_buffer
from ...ir.expr import BufferLoad, Var as TVar, cast, const
from ...ir.arith.bounds import const_int_bound
from ...ir.arith.rewrite import constant_difference
from ...ir.functor import Mutator, pre_order_nodes
from ...ir.graph import Constant, Graph
from ...ir.tir import OVERLAPPING, Allocate, BufferStore, For, IfThenElse, While, seq
from ..registry import TensorType, get_op, register_op
from ._common import hand_written_func
from ._kernel import Scalar
from .element import in_axis
from .gather import wrapped_index

__all__ = ["NotElementCode", "element_kernel", "SCALAR_PATTERNS"]

#: The fusion patterns of the ops a scalar body may compute with (on 0-d values).
SCALAR_PATTERNS = ("elemwise", "broadcast", "injective")

#: How many partial sums a sum loop keeps (:meth:`_Builder.sum_loop`): enough independent
#: additions to hide an addition's latency (4 cycles on current x86 cores).
SUM_LANES = 4
#: The bytes of partial sums a vector sum loop keeps (:func:`sum_lanes`).
SUM_VECTOR_BYTES = 128


def is_sum_loop(body: Graph) -> bool:
    """Whether a loop body (inputs ``i, *carry, *captured``, outputs the next carry) only reads
    elements and adds into each carried int or float scalar a term that no carried value feeds
    (``acc = acc + a[i] * x[cols[i]]``): its iterations may be summed in any order.

    >>> from mlc.ir.graph import Binding, Var
    >>> from mlc.ops.registry import TensorType
    >>> i, acc = Var("i", TensorType((), "int64")), Var("acc", TensorType((), "float64"))
    >>> a, v, out = Var("a", TensorType((8,), "float64")), Var("v", acc.type), Var("out", acc.type)
    >>> is_sum_loop(Graph((i, acc, a), (Binding((v,), "element_get", (a, i)),
    ...                                Binding((out,), "add", (acc, v))), (out,)))
    True
    >>> is_sum_loop(Graph((i, acc, a), (Binding((v,), "element_get", (a, i)),
    ...                                Binding((out,), "multiply", (acc, v))), (out,)))
    False
    """
    carry = body.inputs[1:1 + len(body.outputs)]
    if not carry or any(np.dtype(c.type.dtype).kind not in "iuf" for c in carry):
        return False
    carried = {id(c) for c in carry}
    fed, adds = set(), {}  # (ids: graph values compare structurally)
    for b in body.bindings:
        if b.op in ("element_set", "for_loop", "while_loop", "switch") or len(b.outputs) != 1:
            return False
        uses = [id(a) for a in b.args if id(a) in carried or id(a) in fed]
        if not uses:
            continue
        if b.op != "add" or len(uses) != 1 or uses[0] not in carried or uses[0] in adds:
            return False  # a carried value used other than added to once
        adds[uses[0]] = b.outputs[0]
        fed.add(id(b.outputs[0]))
    return all(adds.get(id(c)) is out for c, out in zip(carry, body.outputs))


def sum_lanes(dtypes) -> int:
    """How many partial sums a vector sum loop keeps: two registers of 64 bytes of the widest
    carried dtype (16 float64), so that two vector additions are in flight (AVX-512; four of
    32 bytes on AVX2); at most 32 (int8 sums)."""
    return max(2, min(32, SUM_VECTOR_BYTES // max(dt.bits(d) // 8 for d in dtypes)))


def _forwarded(stmts, scalars: set) -> dict | None:
    """The value each scalar of ``scalars`` (one-element buffers) holds after ``stmts``, every
    load of a scalar the statements set replaced by its value there: ``{s17: s8[0] + a[i] *
    b[i]}``; None where a statement is not a store into such a scalar."""
    values: dict = {}
    for st in stmts:
        if not (isinstance(st, BufferStore) and st.buffer in scalars):
            return None
        values[st.buffer] = _Replace({b: v for b, v in values.items()}).visit(st.value)
    return values


class _Replace(Mutator):
    """Each load of a buffer of ``values`` replaced by its expression there."""

    def __init__(self, values: dict):
        self.values = values

    def visit_BufferLoad(self, node):
        value = self.values.get(node.buffer)
        return self.generic_visit(node) if value is None else value


class NotElementCode(MLCError):
    """A loop body holds something other than element code (the message says what)."""


class _Loads(Mutator):
    """A te op's body with its placeholders' loads replaced by the scalars they stand for."""

    def __init__(self, values: dict):
        self.values = values

    def visit_BufferLoad(self, node):
        value = self.values.get(node.buffer)
        if value is None:
            raise NotElementCode(f"a value read from {node.buffer.name}, not an operand")
        return value


def _scalar_expr(op_name: str, attrs, operands: list, types: list[TensorType]):
    """The expression op ``op_name`` computes on 0-d ``operands`` (expressions)."""
    op = get_op(op_name)
    if op.pattern not in SCALAR_PATTERNS or op.lower is None or op.prim_func is not None or op.num_outputs != 1:
        raise NotElementCode(f"{op_name} is not an elementwise op")
    holders = [te.placeholder((), t.dtype, f"p{k}") for k, t in enumerate(types)]
    out = op.lower(*holders, **dict(attrs))
    if not isinstance(out, te.Tensor) or not isinstance(out.op, te.ComputeOp) or out.shape != ():
        raise NotElementCode(f"{op_name} lowers to more than one expression")
    if not all(any(t is h for h in holders) for t in out.op.inputs):
        raise NotElementCode(f"{op_name} lowers to more than one stage")
    body = out.op.body[out.value_index]
    if isinstance(body, _e.Reduce):
        raise NotElementCode(f"{op_name} is a reduction")
    return _Loads({h.buffer: v for h, v in zip(holders, operands)}).visit(body)


class _Proxies(Mutator):
    """An int expression with each scalar's load a variable of its own (bounded where the
    scalar's values are known), for constant-bound analysis."""

    def __init__(self, proxies: dict):
        self.proxies = proxies

    def visit_BufferLoad(self, node):
        var = self.proxies.get(node.buffer)
        if var is None:
            var = self.proxies[node.buffer] = TVar(node.buffer.name, node.dtype)
        return var


class _Expand(Mutator):
    """An int expression with each scalar set once per iteration replaced by its value, and
    widening int casts dropped (``i + 1`` for ``s3`` where ``s3 = s1 + 1``, ``s1 = i``)."""

    def __init__(self, defs: dict):
        self.defs = defs

    def visit_BufferLoad(self, node):
        value = self.defs.get(node.buffer)
        return node if value is None else self.visit(value)

    def visit_Cast(self, node):
        inner = self.visit(node.value)
        if dt.is_int(node.dtype) and dt.is_int(inner.dtype) and dt.bits(node.dtype) >= dt.bits(inner.dtype) \
                and not dt.is_unsigned(node.dtype) and not dt.is_unsigned(inner.dtype):
            return inner
        return cast(inner, node.dtype) if inner is not node.value else node


class _Builder:
    """Emits a loop body's statements; ``env`` maps a graph value to ("expr", e) or ("buf", B).

    It knows constant bounds of the int scalars it sets once per iteration and of loop indices
    (the window's ``lo <= j < hi`` with ``lo, hi`` clamped into ``[0, n]``): an element read or
    written at an index known to lie in its axis needs neither wrapping nor a guard."""

    def __init__(self):
        self.scratch: list = []
        self.names = itertools.count()
        self.proxies: dict = {}   # scalar buffer -> its proxy variable
        self.ranges: dict = {}    # proxy variable -> inclusive constant (lo, hi)
        self.defs: dict = {}      # scalar buffer -> the one value it takes in an iteration
        self.indices: dict = {}   # a loop index's scalar -> the index (a TIR loop's variables)
        #: (buffer, ((index expression, proven inside its axis), ...), whether a write)
        self.accesses: list = []
        self.top_index = None
        self.made: set = set()    # ids of the arrays the body makes (:meth:`new_array`)

    def scalar(self, dtype: str) -> Scalar:
        s = Scalar(f"s{next(self.names)}", dtype)
        self.scratch.append(s.buffer)
        return s

    def bounds(self, e) -> tuple:
        """Inclusive constant (lo, hi) of int expression ``e`` (its dtype's limits where unknown);
        (None, None) for other dtypes."""
        if not dt.is_int(e.dtype):
            return None, None
        b = const_int_bound(_Proxies(self.proxies).visit(e), self.ranges)
        info = np.iinfo(e.dtype)
        lo = b.min if b.min is not None and info.min <= b.min <= info.max else int(info.min)
        hi = b.max if b.max is not None and info.min <= b.max <= info.max else int(info.max)
        return lo, hi

    def known(self, s: Scalar, e) -> Scalar:
        """Note the bounds of ``e``, the one value ``s`` takes in an iteration."""
        lo, hi = self.bounds(e)
        if lo is not None:
            self.ranges[_Proxies(self.proxies).visit(s.get())] = (lo, hi)
        if e.dtype == s.dtype:
            self.defs[s.buffer] = e
        return s

    def index(self, k, n: int):
        """(``k`` as an INDEX into an axis of ``n`` elements, whether it lies inside): ``k``
        itself where its bounds prove it inside, else counted from the end when negative."""
        lo, hi = self.bounds(k)
        if lo is not None and hi is not None and 0 <= lo and hi < n:
            return self.loop_index(k), None
        return in_axis(k, n)

    def loop_index(self, k):
        """``k``, an int value proven inside an axis, as an INDEX: written in the loops' indices
        where its scalars expand to them (``t * 4 + 1`` for ``s13`` where ``s13 = t * 4 + 1``),
        index arithmetic that the codegen computes in 64 bits, so that the addresses of an
        unrolled loop's reads are seen to be consecutive (and its additions vectorized); else
        ``k`` cast (a scalar's load, which LLVM sees only through its sign extension)."""
        e = _Expand({**self.defs, **self.indices}).visit(k)
        nodes = [n for n in pre_order_nodes(e) if isinstance(n, _e.PrimExpr)]
        if all(n.dtype in (dt.INDEX, "bool") and not isinstance(n, BufferLoad) for n in nodes):
            return e  # (a 64-bit term left by the expansion: not one dtype, cast as it was)
        return cast(k, dt.INDEX)

    def value(self, env: dict, version: dict, atom):
        """("expr", e) or ("buf", B) for ``atom``; a buffer only while ``atom`` is its newest version."""
        if isinstance(atom, Constant):
            if atom.type.shape != ():
                raise NotElementCode("an array constant")
            return "expr", const(atom.data.item(), atom.type.dtype)
        kind, v = env[atom]
        if kind == "buf" and version.get(v) is not atom:
            raise NotElementCode(f"{atom.name}, an older version of an array written in the loop, is read")
        return kind, v

    def expr(self, env, version, atom):
        kind, v = self.value(env, version, atom)
        if kind != "expr":
            raise NotElementCode(f"{atom.name}, an array, is used as a scalar")
        return v

    def buf(self, env, version, atom):
        kind, v = self.value(env, version, atom)
        if kind != "buf":
            raise NotElementCode(f"{atom.name}, a scalar, is indexed")
        return v

    # ----------------------------------------------------------------- a graph

    def block(self, graph: Graph, env: dict, version: dict) -> list:
        """The statements of ``graph``'s bindings (``env`` and ``version`` updated in place)."""
        out = []
        for b in graph.bindings:
            if b.op == "element_get" and _array_constant(b.args[0]):  # an element of np.zeros(n)
                env[b.outputs[0]] = ("expr", _uniform(b.args[0]))
            elif b.op == "element_get":
                base = self.buf(env, version, b.args[0])
                keys = [self.expr(env, version, k) for k in b.args[1:]]
                self.accesses.append((base, tuple((e, self.index(e, n)[1] is None)
                                                  for e, n in zip(keys, _dims(base))), False))
                at = tuple(self.index(e, n)[0] if self.index(e, n)[1] is None else wrapped_index(e, n)
                           for e, n in zip(keys, _dims(base)))
                s = self.scalar(base.dtype)
                out.append(s.set(BufferLoad(base, at, base.dtype)))
                env[b.outputs[0]] = ("expr", s.get())
            elif b.op == "element_set":
                if _array_constant(b.args[0]):  # written into: a new array holding the constant
                    base, fill = self.new_array(b.args[0].type, _uniform(b.args[0]))
                    out.append(fill)
                else:
                    base = self.buf(env, version, b.args[0])
                value = self.expr(env, version, b.args[1])
                keys = [self.expr(env, version, k) for k in b.args[2:]]
                at = [self.index(e, n) for e, n in zip(keys, _dims(base))]
                self.accesses.append((base, tuple((e, ok is None) for e, (_, ok) in zip(keys, at)), True))
                store = BufferStore(base, value if value.dtype == base.dtype else cast(value, base.dtype),
                                    tuple(i for i, _ in at))
                guards = [ok for _, ok in at if ok is not None]
                out.append(IfThenElse(_e.and_all(guards), store) if guards else store)
                env[b.outputs[0]] = ("buf", base)
                version[base] = b.outputs[0]
            elif b.op == "for_loop":
                out.append(self.for_loop(b, env, version))
            elif b.op == "switch":
                out.append(self.switch(b, env, version))
            elif b.op == "while_loop":
                out.append(self.while_loop(b, env, version))
            elif b.op == "broadcast_to" and b.args[0].type.shape == () and b.outputs[0].type.shape != ():
                buf, fill = self.new_array(b.outputs[0].type, self.expr(env, version, b.args[0]))
                out.append(fill)
                env[b.outputs[0]] = ("buf", buf)
                version[buf] = b.outputs[0]
            elif b.op in ("reshape", "astype", "squeeze", "broadcast_to") and all(
                    a.type.shape == () for a in b.args) and b.outputs[0].type.shape == ():
                e = self.expr(env, version, b.args[0])
                want = b.outputs[0].type.dtype
                env[b.outputs[0]] = ("expr", e if e.dtype == want else _scalar_expr(
                    "astype", (("dtype", want),), [e], [b.args[0].type]))
            else:
                if len(b.outputs) != 1 or b.outputs[0].type.shape != () or any(a.type.shape != () for a in b.args):
                    raise NotElementCode(f"{b.op} on arrays")
                e = _scalar_expr(b.op, b.attrs, [self.expr(env, version, a) for a in b.args],
                                 [a.type for a in b.args])
                s = self.scalar(b.outputs[0].type.dtype)
                out.append(s.set(e))
                self.known(s, s.get() if e.dtype != s.dtype else e)
                env[b.outputs[0]] = ("expr", s.get())
        return out

    def new_array(self, t: TensorType, value) -> tuple:
        """(a new buffer of type ``t``, the loop nest filling it with ``value``): an array the body
        makes (``np.zeros(n)``, a slice's value staged before it is stored). Its memory is the
        kernel's, each thread's own in a parallel loop (made in an iteration, it is that
        iteration's alone: :meth:`independent` leaves it out)."""
        if not all(isinstance(n, (int, np.integer)) for n in t.shape):
            raise NotElementCode("an array of symbolic shape")
        buf = decl_buffer(tuple(int(n) for n in t.shape), t.dtype, f"a{next(self.names)}")
        self.scratch.append(buf)
        self.made.add(id(buf))
        index = [TVar(f"f{next(self.names)}", dt.INDEX) for _ in t.shape]
        stmt = BufferStore(buf, value if value.dtype == t.dtype else cast(value, t.dtype), tuple(index))
        for v, n in reversed(list(zip(index, t.shape))):
            stmt = For(v, const(0, dt.INDEX), const(int(n), dt.INDEX), "serial", stmt)
        return buf, stmt

    def _slots(self, init, env, version, what: str):
        """A slot per carried value: its buffer (an array, written in place) or a new scalar."""
        slots, stmts, taken = [], [], set()
        for a in init:
            if _array_constant(a):  # a new array (np.zeros(n)) the loop writes
                buf, fill = self.new_array(a.type, _uniform(a))
                stmts.append(fill)
                slots.append(("buf", buf))
                continue
            kind, v = self.value(env, version, a)
            if kind == "buf":
                if v in taken:
                    raise NotElementCode(f"one array carried twice by a {what}")
                taken.add(v)
                slots.append(("buf", v))
            else:
                s = self.scalar(a.type.dtype)
                stmts.append(s.set(v))
                slots.append(("scalar", s))
        return slots, stmts

    def _captured(self, captured, env, version, slots):
        written = {v for k, v in slots if k == "buf"}
        out = []
        for a in captured:
            kind, v = self.value(env, version, a)
            if kind == "buf" and v in written:
                raise NotElementCode("an array is read at an older version inside a loop that writes it")
            out.append((kind, v))
        return out

    def _bind(self, graph_inputs, slots, captured, lead=()) -> tuple[dict, dict]:
        env, version = {}, {}
        for var, (kind, v) in zip(graph_inputs, list(lead) + [("buf", s) if k == "buf" else ("expr", s.get())
                                                              for k, s in slots] + list(captured)):
            env[var] = (kind, v)
            if kind == "buf":
                version[v] = var
        return env, version

    def _update(self, graph: Graph, env, version, slots) -> list:
        """Statements giving the carry its next value: the body's results."""
        stmts, temps = [], []
        for out, (kind, slot) in zip(graph.outputs, slots):
            if kind == "buf":
                if self.buf(env, version, out) is not slot:
                    raise NotElementCode("a loop's result is not the array it carries, written in place")
            else:
                t = self.scalar(slot.dtype)
                stmts.append(t.set(self.expr(env, version, out)))
                temps.append((slot, t))
        return stmts + [slot.set(t.get()) for slot, t in temps]

    def _results(self, outputs, slots, env, version) -> None:
        for out, (kind, slot) in zip(outputs, slots):
            if kind == "buf":
                env[out] = ("buf", slot)
                version[slot] = out
            else:
                env[out] = ("expr", slot.get())

    def independent(self, loop: For) -> bool:
        """Whether no element one iteration of ``loop`` (the outer loop, built last) writes is
        read or written by another: every array it writes is accessed, by every read and write,
        at ``i + c`` along one axis (``i`` the iteration's index, ``c`` one constant), each such
        index proven inside the axis (no wrapping that could map two iterations to one element).
        ``a[i, j] = b[i, j] * 2`` is independent; ``a[i, j] = a[i - 1, j] + 1`` is not."""
        index = self.top_index
        if index is None:
            return False
        written = {id(buf) for buf, _, write in self.accesses if write and id(buf) not in self.made}
        for target in written:
            keys = [at for buf, at, _ in self.accesses if id(buf) == target]
            if not any(self._same_offset(index, [at[d] for at in keys]) for d in range(len(keys[0]))):
                return False
        return True

    def _same_offset(self, index, entries) -> bool:
        offsets = set()
        for e, proven in entries:
            if not proven:
                return False
            offsets.add(constant_difference(index, _Proxies(self.proxies).visit(_Expand(self.defs).visit(e))))
        return len(offsets) == 1 and None not in offsets

    def trip(self, body: Graph, index, slots, captured, span=(None, None)) -> list:
        """One iteration's statements, the loop index ``index`` (an INDEX expression) taking
        values within ``span`` (inclusive constants, None where unknown)."""
        i = self.scalar(body.inputs[0].type.dtype)
        stmts = [i.set(cast(index, i.dtype))]
        self.indices[i.buffer] = cast(index, i.dtype)
        if self.top_index is None:  # the outer loop's index (its first iteration is built first)
            self.top_index = _Proxies(self.proxies).visit(i.get())
        if None not in span:
            self.ranges[_Proxies(self.proxies).visit(i.get())] = span
        env, version = self._bind(body.inputs, slots, captured, [("expr", i.get())])
        return stmts + self.block(body, env, version) + self._update(body, env, version, slots)

    def loop_stmt(self, lower, upper, body: Graph, slots, captured) -> object:
        span = (self.bounds(lower)[0], None if self.bounds(upper)[1] is None else self.bounds(upper)[1] - 1)
        lo, hi = cast(lower, dt.INDEX), cast(upper, dt.INDEX)
        count = _e.max(hi - lo, const(0, dt.INDEX))
        if all(k == "scalar" for k, _ in slots) and is_sum_loop(body):
            vector = self.vector_sum_loop(lo, count, body, slots, captured, span)
            return vector if vector is not None else self.sum_loop(lo, count, body, slots, captured, span)
        v = TVar(f"i{next(self.names)}", dt.INDEX)
        return For(v, lo, count, "serial", seq(*self.trip(body, v, slots, captured, span)))

    def vector_sum_loop(self, lo, count, body: Graph, slots, captured, span) -> object | None:
        """A sum loop (:func:`is_sum_loop`) as vectors: each carried scalar gets a buffer of
        :func:`sum_lanes` partial sums, and iterations ``lo + lanes * t + u`` add their terms
        into partial sum ``u`` in a ``vectorized`` loop over ``u`` (the TIR vectorizer makes it
        vector loads and additions where the term's reads move by a constant per lane: a dot of
        two rows is two vector loads and a multiply-add per ``lanes`` elements), the remainder
        into the scalar one by one, the partial sums added pairwise at the end. None where an
        iteration is more than stores into its scalars (the term is then no expression)."""
        lanes = sum_lanes([s.dtype for _, s in slots])
        t, u = TVar(f"i{next(self.names)}", dt.INDEX), TVar(f"i{next(self.names)}", dt.INDEX)
        lane = [("scalar", self.scalar(s.dtype)) for _, s in slots]
        values = _forwarded(self.trip(body, lo + t * const(lanes, dt.INDEX) + u, lane, captured, span),
                            set(self.scratch))
        if values is None:
            return None
        partial = [decl_buffer((lanes,), s.dtype, f"s{next(self.names)}") for _, s in slots]
        self.scratch.extend(partial)
        starts = {s.buffer: p[u] for (_, s), p in zip(lane, partial)}
        adds = [BufferStore(p, _Replace(starts).visit(values[s.buffer]), (u,)) for (_, s), p in zip(lane, partial)]
        full = _e.floordiv(count, const(lanes, dt.INDEX))
        zero = For(u, const(0, dt.INDEX), const(lanes, dt.INDEX), "vectorized",
                   seq(*[BufferStore(p, const(0, p.dtype), (u,)) for p in partial]))
        stmts = [zero, For(t, const(0, dt.INDEX), full, "serial",
                           For(u, const(0, dt.INDEX), const(lanes, dt.INDEX), "vectorized", seq(*adds)))]
        r = TVar(f"i{next(self.names)}", dt.INDEX)
        done = full * const(lanes, dt.INDEX)
        stmts.append(For(r, lo + done, count - done, "serial", seq(*self.trip(body, r, slots, captured, span))))
        for (_, total), p in zip(slots, partial):
            parts = [p[const(k, dt.INDEX)] for k in range(lanes)]
            while len(parts) > 1:  # pairwise: (s0 + s1) + (s2 + s3) ...
                parts = [parts[n] + parts[n + 1] if n + 1 < len(parts) else parts[n] for n in range(0, len(parts), 2)]
            stmts.append(total.set(total.get() + parts[0]))
        return seq(*stmts)

    def sum_loop(self, lo, count, body: Graph, slots, captured, span) -> object:
        """A loop that only adds a term of its index into each carried scalar (see
        :func:`is_sum_loop`) with :data:`SUM_LANES` partial sums: iterations ``lo + SUM_LANES * t
        + u`` add into sum ``u`` (independent additions the CPU overlaps, where one sum waits on
        the previous addition), the remainder into the first; the partial sums added at the end.
        Floating-point sums are then added in another order than one by one (as NumPy's pairwise
        sums and BLAS's dots are)."""
        lanes = [slots] + [[("scalar", self.scalar(s.dtype)) for _, s in slots] for _ in range(SUM_LANES - 1)]
        stmts = [s.set(const(0, s.dtype)) for lane in lanes[1:] for _, s in lane]
        t = TVar(f"i{next(self.names)}", dt.INDEX)
        full = _e.floordiv(count, const(SUM_LANES, dt.INDEX))
        unrolled = []
        for u, lane in enumerate(lanes):
            unrolled += self.trip(body, lo + t * const(SUM_LANES, dt.INDEX) + const(u, dt.INDEX), lane, captured,
                                  span)
        stmts.append(For(t, const(0, dt.INDEX), full, "serial", seq(*unrolled)))
        r = TVar(f"i{next(self.names)}", dt.INDEX)
        done = full * const(SUM_LANES, dt.INDEX)
        stmts.append(For(r, lo + done, count - done, "serial", seq(*self.trip(body, r, slots, captured, span))))
        for k, (_, total) in enumerate(slots):
            parts = [lane[k][1].get() for lane in lanes]
            while len(parts) > 1:  # pairwise: (s0 + s1) + (s2 + s3)
                parts = [parts[n] + parts[n + 1] if n + 1 < len(parts) else parts[n] for n in range(0, len(parts), 2)]
            stmts.append(total.set(parts[0]))
        return seq(*stmts)

    def for_loop(self, b, env, version):
        n = b.attr("num_carry")
        lower, upper = (self.expr(env, version, a) for a in b.args[:2])
        slots, stmts = self._slots(b.args[2:2 + n], env, version, "loop")
        captured = self._captured(b.args[2 + n:], env, version, slots)
        stmts.append(self.loop_stmt(lower, upper, b.attr("body"), slots, captured))
        self._results(b.outputs, slots, env, version)
        return seq(*stmts)

    def while_loop(self, b, env, version):
        """``while cond: body`` inside the nest: the condition stored in a flag before the loop and
        at the end of each trip, the loop a TIR While on the flag."""
        n = b.attr("num_carry")
        cond, body = b.attr("cond"), b.attr("body")
        slots, stmts = self._slots(b.args[:n], env, version, "loop")
        captured = self._captured(b.args[n:], env, version, slots)
        flag = self.scalar("bool")

        def test():
            cenv, cversion = self._bind(cond.inputs, slots, captured)
            out = self.block(cond, cenv, cversion)
            value = self.expr(cenv, cversion, cond.outputs[0])
            return out + [flag.set(value if value.dtype == "bool" else value != const(0, value.dtype))]

        benv, bversion = self._bind(body.inputs, slots, captured)
        trip = self.block(body, benv, bversion) + self._update(body, benv, bversion, slots) + test()
        stmts += test() + [While(flag.get(), seq(*trip))]
        self._results(b.outputs, slots, env, version)
        return seq(*stmts)

    def switch(self, b, env, version):
        """An if on a 0-d value: each branch's results stored into the binding's slots."""
        index, *operands = b.args
        branches = b.attr("branches")
        if len(branches) != 2 or index.type.dtype != "bool":
            raise NotElementCode("a switch of more than two branches")
        cond = self.expr(env, version, index)
        values = [self.value(env, version, a) for a in operands]
        bufs = [v for k, v in values if k == "buf"]
        if len(set(bufs)) != len(bufs):
            raise NotElementCode("one array passed twice to a branch")
        slots = []
        for out in b.outputs:
            slots.append(None if out.type.shape != () else ("scalar", self.scalar(out.type.dtype)))
        cases = []
        for g in branches:
            genv, gversion = {}, {}
            for var, (kind, v) in zip(g.inputs, values):
                genv[var] = (kind, v)
                if kind == "buf":
                    gversion[v] = var
            stmts = self.block(g, genv, gversion)
            targets = []
            for k, (out, slot) in enumerate(zip(g.outputs, slots)):
                if slot is None:  # an array: written in place, the newest version of an operand's buffer
                    buf = self.buf(genv, gversion, out)
                    if buf not in bufs:
                        raise NotElementCode("a branch's array result is not one of its operands")
                    targets.append(buf)
                else:
                    stmts.append(slot[1].set(self.expr(genv, gversion, out)))
                    targets.append(None)
            cases.append((seq(*stmts), targets))
        (false_case, false_t), (true_case, true_t) = cases
        if false_t != true_t:
            raise NotElementCode("the branches write different arrays for one result")
        for out, slot, target in zip(b.outputs, slots, true_t):
            if slot is None:
                env[out] = ("buf", target)
                version[target] = out
            else:
                env[out] = ("expr", slot[1].get())
        for a, (k, v) in zip(operands, values):  # an operand array not returned is an older version now
            if k == "buf" and v not in true_t:
                pass
        return IfThenElse(cond if cond.dtype == "bool" else cond != const(0, cond.dtype), true_case, false_case)


def element_kernel(types: list[TensorType], body: Graph, num_carry: int, bounds=None, parallel: bool = True):
    """The PrimFunc of ``element_loop(lower, upper, *init, *captured)`` (types in that order),
    its results the carry; NotElementCode where the body is not element code. ``bounds``: the
    loop's ``(lower, upper)`` when they are constants. The outer loop is ``parallel`` (each
    thread with its own scalars) where :meth:`_Builder.independent` proves its iterations
    independent; else serial."""
    for t in types:
        if not all(isinstance(n, int) for n in t.shape):
            raise NotElementCode("an array of symbolic shape")
    ins = [decl_buffer(t.shape, t.dtype, f"in{k}") for k, t in enumerate(types)]
    outs = [decl_buffer(t.shape, t.dtype, f"out{k}") for k, t in enumerate(types[2:2 + num_carry])]
    builder = _Builder()
    stmts, slots = [], []
    for src, dst in zip(ins[2:2 + num_carry], outs):
        if dst.shape:  # in place: ``dst`` holds the carry's initial value already (see _inplace)
            slots.append(("buf", dst))
        else:
            s = builder.scalar(dst.dtype)
            stmts.append(s.set(src[()]))
            slots.append(("scalar", s))
    captured = [("buf", b) if b.shape else ("expr", b[()]) for b in ins[2 + num_carry:]]
    lower, upper = (ins[k][()] if bounds is None else const(bounds[k], types[k].dtype) for k in (0, 1))
    before = len(builder.scratch)
    top = builder.loop_stmt(lower, upper, body, slots, captured)
    if parallel and isinstance(top, For) and all(k == "buf" for k, _ in slots) and builder.independent(top):
        private = builder.scratch[before:]  # each thread its own scalars
        del builder.scratch[before:]
        inner = top.body
        for buf in reversed(private):
            inner = Allocate(buf, inner)
        top = replace(top, kind="parallel", body=inner)
    stmts.append(top)
    for (kind, slot), dst in zip(slots, outs):
        if kind == "scalar":
            stmts.append(BufferStore(dst, slot.get(), ()))
    # a carry's initial value and its result are one buffer where the graph updates it in place;
    # the arrays it captures are other memory (a kernel never writes a storage it reads but the
    # one it updates), and so are its scalars
    carried = tuple(b.name for b in ins[2:2 + num_carry] + outs)
    return hand_written_func(ins + outs, seq(*stmts), builder.scratch).with_attr(
        {"tir.noalias": False, OVERLAPPING: carried})


def _array_constant(atom) -> bool:
    return isinstance(atom, Constant) and atom.type.shape != ()


def _uniform(atom: Constant):
    """The one value every element of array constant ``atom`` holds (the graph folds
    ``np.zeros(n)`` into such a constant), as an immediate; NotElementCode where they differ."""
    data = np.asarray(atom.data)
    if data.size == 0 or data.tobytes() != np.full_like(data, data.flat[0]).tobytes():
        raise NotElementCode("an array constant")
    return const(data.flat[0].item(), atom.type.dtype)


def _dims(buf) -> tuple[int, ...]:
    return tuple(int(getattr(e, "value", e)) for e in buf.shape)


def _infer(lower: TensorType, upper: TensorType, *rest: TensorType, body=None, num_carry=0, bounds=None):
    return tuple(TensorType(t.shape, t.dtype) for t in rest[:num_carry])


def _prim_func(*types, body=None, num_carry=0, bounds=None):
    return element_kernel(list(types), body, num_carry, bounds)


def _reference(lower, upper, *rest, body=None, num_carry=0, bounds=None):
    carry = list(rest[:num_carry])
    for i in range(int(lower), int(upper)):
        carry = _evaluate(body, [np.asarray(i, lower.dtype), *carry, *rest[num_carry:]])
    return tuple(carry)


def _evaluate(graph: Graph, args) -> list:
    """``graph`` run on NumPy arrays by its ops' references (loops and branches as Python's)."""
    env = {id(v): a for v, a in zip(graph.inputs, args)}

    def get(atom):
        return atom.data if isinstance(atom, Constant) else env[id(atom)]
    for b in graph.bindings:
        vals = [get(a) for a in b.args]
        if b.op == "for_loop":
            out = _reference(*vals, body=b.attr("body"), num_carry=b.attr("num_carry"))
        elif b.op == "switch":
            branches = b.attr("branches")
            out = _evaluate(branches[min(max(int(vals[0]), 0), len(branches) - 1)], vals[1:])
        else:
            out = get_op(b.op).reference(*vals, **dict(b.attrs))
            out = out if isinstance(out, tuple) else (out,)
        for v, o in zip(b.outputs, out):
            env[id(v)] = np.asarray(o)
    return [get(a) for a in graph.outputs]


def _inplace(types, attrs) -> tuple[tuple[int, int], ...]:
    """Each carried array's result is updated in place from its initial value (argument
    ``2 + k``): its buffer is that value's where the value is dead after the loop, else a copy
    of it made before the kernel runs (:mod:`mlc.passes.graph.inplace`)."""
    n = attrs.get("num_carry", 0)
    return tuple((k, 2 + k) for k, t in enumerate(types[2:2 + n]) if t.shape != ())


register_op("element_loop", pattern="opaque", infer=_infer, lower=None, reference=_reference, num_outputs=None,
            prim_func=_prim_func, inplace=_inplace,
            doc="A for_loop whose body is scalar element code (element reads and writes, arithmetic on "
                "0-d values, such loops inside), run as one kernel.")
