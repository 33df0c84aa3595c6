"""block_values: the values a run of stores computes more than once, bound once by a ``LetStmt``.

Unrolled code repeats its address arithmetic in every copy (a register tile's
``T.min(i * 6, 122) * 128 + k * 4``, in each of its 24 stores), and an inlined producer
its loads and arithmetic in every store of a block. :func:`share_block_values` binds each
such value, computed more than once by a run of consecutive stores, to a variable
(:class:`~mlc.ir.tir.LetStmt`) before the run, so that a renderer computes it once and
renders the rest as it comes: a backend's code generator keeps no table of what it has
emitted. (:mod:`.cse` binds a value one stored value repeats as a ``Let`` of that value; this
pass works across the stores of a block, in their indices too.)

What it binds and where:

* a scalar expression that is not a variable, a constant, a vector, a constant element of
  a local buffer, or a Let (whose value :mod:`.cse` bound), occurring twice or more in the
  run, compared structurally, counted where it is not part of a bound value (of
  ``A[i * 64 + 1]`` and ``A[i * 64 + 2]``, ``i * 64`` is bound, ``i`` is not);
* used as indices only, or as values only (a renderer computes an index in its own way:
  the llvm one in i64, :mod:`mlc.backends.llvm.addressing`);
* only where every store evaluates it (not in a select's branches, or the right side of
  ``and``/``or``: a load there may be out of bounds where the condition fails);
* a value reading no buffer the run stores to (nor, where parameters may overlap
  (:meth:`~mlc.ir.tir.PrimFunc.may_overlap`), a parameter that may overlap one it stores
  to): the value read before the run is the one each store would read;
* a run is the stores one after the other in a sequence (or a lone store); a statement
  that is not a store, or a store calling external code (which may write memory), ends it.

The bindings come first, each value before the values that use it (in the order the stores
compute them first: a store's value, then its indices). ``C[i * 64 + k] = A[i * 64 + k] * A[0]``
for k = 1 and 2:

>>> from mlc.ir.buffer import decl_buffer
>>> from mlc.ir.expr import Var, const
>>> from mlc.ir.tir import BufferStore, For, PrimFunc, SeqStmt
>>> A, C = decl_buffer((256,), "float32", "A"), decl_buffer((256,), "float32", "C")
>>> i = Var("i", "int32")
>>> body = SeqStmt(tuple(BufferStore(C, A[i * 64 + k] * A[0], (i * 64 + k,)) for k in (1, 2)))
>>> print(share_block_values(PrimFunc((A, C), For(i, const(0), const(4), "serial", body))).script())
@T.prim_func
def main(A: T.Buffer((256,), "float32"), C: T.Buffer((256,), "float32")):
    for i in range(4):
        v: T.int32 = i * 64
        v_1: T.int32 = v + 1
        v_2: T.float32 = A[0]
        v_3: T.int32 = v + 2
        C[v_1] = A[v_1] * v_2
        C[v_3] = A[v_3] * v_2
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.expr import BufferLoad, PrimExpr, Ramp, Var
from ...ir.extern import CallExtern
from ...ir.functor import Mutator, field_values, post_order_dag, pre_order_nodes
from ...ir.tir import BufferStore, LetStmt, PrimFunc, SeqStmt, Stmt, seq
from .cse import EXPR_FIELD, TUPLE_FIELD, ValueNumbers, children, field_kinds, trivial

__all__ = ["share_block_values"]

_INDEX, _VALUE = 1, 2  # where a value occurs: in indices, in values (a bit set)


def share_block_values(func: PrimFunc, vector_indices: bool = True) -> PrimFunc:
    """``func`` with the values each run of stores computes more than once bound before the
    run by a LetStmt (module docstring). Without ``vector_indices``, what a vector index
    (``T.Ramp(base, 1, lanes)``) holds is left as it is: a renderer that reads the alignment
    of a vector access from its base (the CUDA one's ``float4`` accesses) sees it whole."""
    overlapping = frozenset(id(p) for p in func.params if func.may_overlap(p))
    body = _Runs(overlapping, _always if vector_indices else _always_but_ramps).visit(func.body)
    return func if body is func.body else func.with_body(body)


class _Runs(Mutator):
    """Each run of stores of the function, its shared values bound."""

    def __init__(self, overlapping: frozenset[int], operands):
        self.overlapping, self.operands = overlapping, operands
        self.names = [0]

    def visit_BufferStore(self, node: BufferStore):  # a store alone (a loop's body, say)
        return _Run(self, (node,)).bound()

    def visit_SeqStmt(self, node: SeqStmt):
        out: list[Stmt] = []
        run: list[BufferStore] = []
        for s in node.seq:
            if type(s) is BufferStore:
                run.append(s)
                continue
            if run:
                out.append(_Run(self, tuple(run)).bound())
                run = []
            out.append(self.visit(s))
        if run:
            out.append(_Run(self, tuple(run)).bound())
        if len(out) == len(node.seq) and all(a is b for a, b in zip(out, node.seq)):
            return node
        return seq(*out)


class _Run:
    """One run of stores: counts its values, binds the shared ones."""

    def __init__(self, runs: _Runs, stores: tuple[BufferStore, ...]):
        self.runs, self.stores = runs, stores
        self.operands = runs.operands  # the operands of a node the pass enters
        self.numbers = ValueNumbers()
        self.key = self.numbers.key
        stored = {id(s.buffer) for s in stores}
        self.clobbered = stored | (runs.overlapping if stored & runs.overlapping else set())
        self._reads_store: dict[int, bool] = {}  # value number -> whether it reads a clobbered buffer
        self._shareable: dict[int, bool] = {}  # value number -> whether it may be bound (_shared)
        self._ops: dict[int, list] = {}  # id of a node -> the operands the pass enters

    def bound(self) -> Stmt:
        """The run with its shared values bound (the run itself where it shares none)."""
        counts: dict[int, int] = {}
        where: dict[int, int] = {}
        first: dict[int, PrimExpr] = {}
        seen: list[set[int]] = []  # the values each store computes (where the run binds none: left as it is)
        for s in self.stores:
            seen.append(set())
            for root, in_index in self._roots(s):
                self._count(root, in_index, counts, where, first, seen[-1])
        if self.numbers.externs:  # (rare) the run ends at each store calling external code
            return self._split()
        chosen = {k for k, n in counts.items() if n > 1 and where[k] in (_INDEX, _VALUE) and self._shared(first[k])}
        if not chosen:
            return self.stores[0] if len(self.stores) == 1 else SeqStmt(self.stores)
        using = [s for s, keys in zip(self.stores, seen) if not chosen.isdisjoint(keys)]
        env: dict[int, Var] = {}
        lets = []
        for k in self._in_order(chosen, using):
            node = first[k]
            value = self._rebuild(node, env, inner=True)
            n = self.runs.names[0]
            self.runs.names[0] += 1
            var = Var("v" if n == 0 else f"v_{n}", node.dtype)
            env[k] = var
            lets.append((var, value))
        done: dict[int, PrimExpr] = {}  # (the stores' nodes rebuilt: each once)
        body = seq(*(self._store(s, env, done) if not chosen.isdisjoint(keys) else s
                     for s, keys in zip(self.stores, seen)))
        for var, value in reversed(lets):
            body = LetStmt(var, value, body)
        return body

    def _split(self) -> Stmt:
        """The runs between the stores calling external code (which may write memory) bound
        each on its own, those stores as they are."""
        out, run = [], []
        for s in self.stores:
            if any(type(n) is CallExtern for n in pre_order_nodes(s)):
                if run:
                    out.append(_Run(self.runs, tuple(run)).bound())
                out.append(s)
                run = []
            else:
                run.append(s)
        if run:
            out.append(_Run(self.runs, tuple(run)).bound())
        return seq(*out)

    @staticmethod
    def _roots(s: BufferStore):
        return [(i, True) for i in s.indices] + [(s.value, False)]

    def _in_order(self, chosen: set[int], stores: list[BufferStore]) -> list[int]:
        """The ``chosen`` values in the order ``stores`` first compute them (each store's
        value, then its indices, operands first), so that a renderer computes them in the
        order it would have met them: each value after those it uses."""
        order: dict[int, None] = {}
        keys, ops = self.numbers.numbered, self._ops

        def entered(node) -> list:  # (a value bound before is not entered again)
            if keys[id(node)][0] in order:
                return []
            kids = ops.get(id(node))
            if kids is None:
                kids = ops[id(node)] = self.operands(node)
            return kids

        for node in post_order_dag([root for s in stores for root in (s.value, *s.indices)], entered):
            k = keys[id(node)][0]
            if k in chosen:
                order.setdefault(k)
        return list(order)

    def _shared(self, node: PrimExpr) -> bool:
        """Whether ``node`` may be bound: a scalar, not trivial, reading nothing the run stores."""
        return not dt.is_vector(node.dtype) and not trivial(node) and self._reads_no_store(node)

    def _reads_no_store(self, node: PrimExpr) -> bool:
        """Whether ``node`` reads no buffer the run stores to (each value found once, from
        what its operands read)."""
        memo, key, clobbered = self._reads_store, self.key, self.clobbered
        if key(node) not in memo:
            entered = lambda n: [c for c, _ in children(n) if key(c) not in memo]  # noqa: E731
            for n in post_order_dag((node,), entered):
                memo[key(n)] = ((type(n) is BufferLoad and id(n.buffer) in clobbered)
                                or any(memo[key(c)] for c, _ in children(n)))
        return not memo[key(node)]

    def _count(self, root: PrimExpr, in_index: bool, counts, where, first, seen: set[int]) -> None:
        """Count the occurrences of each value under ``root`` that every store evaluates (and
        add it to ``seen``); a bindable value met again is not entered (what is under it
        counts once, with it)."""
        self.key(root)  # (every node under it numbered: read from the table below)
        keys, ops, operands, shareable = self.numbers.numbered, self._ops, self.operands, self._shareable
        stack = [(root, in_index)]
        pop, push = stack.pop, stack.append
        while stack:
            node, in_index = pop()
            k = keys[id(node)][0]
            seen.add(k)
            n = counts[k] = counts.get(k, 0) + 1
            where[k] = where.get(k, 0) | (_INDEX if in_index else _VALUE)
            if n > 1:
                ok = shareable.get(k)
                if ok is None:
                    ok = shareable[k] = self._shared(node)
                if ok:
                    continue
            else:
                first[k] = node
            kids = ops.get(id(node))
            if kids is None:
                kids = ops[id(node)] = operands(node)
            if kids:
                index = in_index or type(node) is BufferLoad
                for child in kids:
                    push((child, index))

    def _store(self, s: BufferStore, env: dict[int, Var], done: dict[int, PrimExpr]) -> BufferStore:
        indices = tuple(self._rebuild(i, env, done=done) for i in s.indices)
        value = self._rebuild(s.value, env, done=done)
        if value is s.value and all(a is b for a, b in zip(indices, s.indices)):
            return s
        return BufferStore(s.buffer, value, indices)

    def _rebuild(self, root: PrimExpr, env: dict[int, Var], inner: bool = False,
                 done: dict[int, PrimExpr] | None = None) -> PrimExpr:
        """``root`` with the values of ``env`` read from their variables (not ``root`` itself
        when ``inner``), where every store evaluates them (not in conditional parts);
        ``done``: the nodes rebuilt so far with this ``env`` (id -> the rebuilt node)."""
        done = {} if done is None else done
        got = done.get(id(root))
        if got is not None:
            return got
        keys, ops = self.numbers.numbered, self._ops

        def bound(node) -> Var | None:
            return None if inner and node is root else env.get(keys[id(node)][0])

        def entered(node) -> list:
            if id(node) in done or bound(node) is not None:
                return []
            kids = ops.get(id(node))
            if kids is None:
                kids = ops[id(node)] = self.operands(node)
            return kids[::-1]

        for node in post_order_dag((root,), entered):
            if id(node) in done:
                continue
            var = bound(node)
            done[id(node)] = var if var is not None else _rebuilt(node, done)
        return done[id(root)]


def _always(node: PrimExpr) -> list[PrimExpr]:
    """The operands of ``node`` evaluated whenever it is: not a select's branches, nor the
    right side of ``and``/``or`` (a load there may be out of bounds where they are not)."""
    return [c for c, conditional in children(node) if not conditional]


def _always_but_ramps(node: PrimExpr) -> list[PrimExpr]:
    """:func:`_always`, a ``T.Ramp`` (a vector index) entered by none."""
    return [] if type(node) is Ramp else _always(node)


def _rebuilt(node: PrimExpr, done: dict[int, PrimExpr]) -> PrimExpr:
    """``node`` of its rebuilt operands (``done``; a conditional one, not in it, as it was)."""
    kids = children(node)
    if not kids or all(done.get(id(c), c) is c for c, _ in kids):
        return node
    values = []
    for kind, v in zip(field_kinds(node), field_values(node)):
        if kind == EXPR_FIELD:
            values.append(done.get(id(v), v))
        elif kind == TUPLE_FIELD:
            values.append(tuple(done.get(id(x), x) if isinstance(x, PrimExpr) else x for x in v))
        else:
            values.append(v)
    return type(node)(*values)
