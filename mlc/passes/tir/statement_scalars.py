"""Values a formula uses more than once, computed once per statement into local scalars.

The lowering passes that write an operation out as a formula (:mod:`.lower_complex`,
:mod:`.lower_math`) build it as a DAG: one Python node used in several places (a
reduction's ``k`` in every later step). Printed as a tree (CUDA C) or walked as one
(every later pass, the interpreters), a DAG costs the sum of its uses, which grows with
the formula's depth. :class:`StatementScalars` gives each such pass what it needs to keep
the DAG's size: while it rewrites a store's value, :meth:`~StatementScalars.shared` turns
each node used more than once into a load of a one-element ``local`` buffer stored just
before the store (as :mod:`.integer_power` does), which a backend keeps in a register.
A value under a branch of a select that reads memory the statement does not read on every
path reads it, in its scalar, under the same conditions: computed before the store, its
loads would otherwise run where the select guards them out (an index past the end, on the
branch not taken). A formula's values that only a rare side of its selects reads (trig's
reduction of huge float32 arguments) may be given to :meth:`~StatementScalars.shared`
with their condition: they are computed under ``if`` it, so that a scalar loop branches
around them.

>>> from mlc.ir.buffer import decl_buffer
>>> from mlc.ir.expr import call, const
>>> from mlc.ir.tir import BufferStore, PrimFunc
>>> class Square(StatementScalars):
...     def visit_Call(self, e):
...         y = (e.args[0] + const(1.0, "float32")) * e.args[0]
...         return self.shared(y * y)
>>> X, B = decl_buffer((1,), "float32", "X"), decl_buffer((1,), "float32", "B")
>>> store = BufferStore(B, call("exp", X[0]), (const(0, "int32"),))
>>> print(PrimFunc((X, B), Square().visit(store)).script())
@T.prim_func
def main(X: T.Buffer((1,), "float32"), B: T.Buffer((1,), "float32")):
    values0 = T.allocate([1], "float32", "local")
    values0[0] = (X[0] + T.float32(1)) * X[0]
    B[0] = values0[0] * values0[0]
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.arith import expr_key
from ...ir.buffer import Buffer, decl_buffer
from ...ir.expr import Binary, BufferLoad, Call, Cast, Not, PrimExpr, Select, const
from ...ir.functor import Mutator, post_order_dag, pre_order_nodes
from ...ir.tir import Allocate, BufferStore, IfThenElse, Stmt, seq
from .cse import ValueNumbers

__all__ = ["StatementScalars", "memoized", "children", "with_children", "small", "small_leaf"]

#: Expressions of at most this many nodes are repeated where a formula uses them again;
#: larger ones are computed once into a local scalar before the statement.
INLINE_NODES = 12


def small(e: PrimExpr) -> bool:
    """Whether ``e`` has at most :data:`INLINE_NODES` nodes."""
    for n, _ in enumerate(pre_order_nodes(e)):
        if n >= INLINE_NODES:
            return False
    return True


def children(n: PrimExpr) -> list[PrimExpr]:
    """The operands of an arithmetic node (none for leaves and loads: a load's indices are
    the statement's, small)."""
    if isinstance(n, Binary):
        return [n.a, n.b]
    if isinstance(n, Call):
        return list(n.args)
    if isinstance(n, Select):
        return [n.cond, n.true_value, n.false_value]
    if isinstance(n, Cast):
        return [n.value]
    if isinstance(n, Not):
        return [n.a]
    return []


def with_children(n: PrimExpr, kids: list[PrimExpr]) -> PrimExpr:
    """``n`` with the operands ``kids`` (:func:`children`'s order)."""
    if isinstance(n, Binary):
        return Binary(n.op, kids[0], kids[1], n.dtype)
    if isinstance(n, Call):
        return Call(n.op, tuple(kids), n.dtype)
    if isinstance(n, Select):
        return Select(kids[0], kids[1], kids[2], n.dtype)
    if isinstance(n, Cast):
        return Cast(n.dtype, kids[0])
    return Not(kids[0], n.dtype)


def small_leaf(n: PrimExpr) -> bool:
    """A constant, a variable, a load, or one operation on such (cheaper than a slot)."""
    return not children(n) or all(not children(k) for k in children(n))


def memoized(visit):
    """A ``visit_<Node>`` of a :class:`StatementScalars` run once per value of the statement
    (by value number: an expression inlined in many places, as one node or as equal copies,
    is rewritten once)."""
    def memoized_visit(self, e):
        key = (self.numbers.key(e), self.path_key(e))
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = visit(self, e)
        return hit
    memoized_visit.__name__ = visit.__name__
    return memoized_visit


class StatementScalars(Mutator):
    """A rewrite of stores' values whose repeated values go into local scalars (see the
    module docstring); ``prefix`` names their buffers (``<prefix>0``, ...)."""

    #: The dtypes of the values :meth:`shared` computes into scalars.
    slot_dtypes = frozenset({"float32", "float64"})
    #: Whether a select's branches are visited as lazy (:meth:`visit_operands`).
    lazy_selects = True

    def __init__(self, prefix: str = "values"):
        self.prefix = prefix
        #: the statement's scalars: dtype -> (its placeholder buffer, (when made, value) of its slots)
        self.pending: dict[str, tuple[Buffer, list[tuple[int, PrimExpr]]]] | None = None
        #: the statement's rewritten nodes, by their value number (:func:`memoized`)
        self.memo: dict[int, PrimExpr] = {}
        self.numbers = ValueNumbers()
        #: the statement's slots by the value number of what they hold (one slot a value)
        self.slots: dict[int, PrimExpr] = {}
        self.count = self.count_slots = 0
        #: the selects whose branches the visit is inside: (condition, the branch taken)
        self.path: list[tuple[PrimExpr, bool]] = []
        #: the keys of the loads the statement's value reads on every path (outside branches)
        self.unguarded_loads: frozenset = frozenset()
        #: id(node) -> (node, whether it reads memory not read on every path), this statement's
        self.guarded_reads: dict[int, tuple] = {}
        #: the statement's scalars computed only where a condition holds (:meth:`shared`'s
        #: ``rare``): when made -> their group; group -> (its condition, the loads of its values)
        self.rare_of: dict[int, int] = {}
        self.rare_groups: dict[int, tuple[PrimExpr, list[BufferLoad]]] = {}

    def visit_operands(self, node):
        """``node`` with its operands visited (:meth:`generic_visit`); a select's branches
        (``Select``, ``if_then_else``) visited as lazy: a scalar there reads memory only where
        the selects' conditions hold (see :meth:`slot`). A subclass's ``visit_Select`` and ``visit_Call``
        visit their operands with this."""
        branches = _lazy_branches(node)
        if branches is None or self.pending is None or not self.lazy_selects:
            return self.generic_visit(node)
        cond = self.visit(node.cond if isinstance(node, Select) else node.args[0])
        self.path.append((cond, True))
        try:
            then = self.visit(branches[0])
            self.path[-1] = (cond, False)
            other = self.visit(branches[1])
        finally:
            self.path.pop()
        if isinstance(node, Select):
            return Select(cond, then, other, node.dtype)
        return Call(node.op, (cond, then, other), node.dtype)

    def visit_Select(self, e: Select):
        return self.visit_operands(e)

    def visit_BufferStore(self, s: BufferStore):
        outer, self.pending = (self.pending, self.memo, self.numbers, self.slots, self.rare_of, self.rare_groups), {}
        self.memo, self.numbers, self.slots, self.rare_of, self.rare_groups = {}, ValueNumbers(), {}, {}, {}
        outer_loads, self.unguarded_loads = self.unguarded_loads, _unguarded_loads(s.value)
        outer_reads, self.guarded_reads = self.guarded_reads, {}
        try:
            s = self.generic_visit(s)
            hoisted, rare_of, rare_groups = self.pending, self.rare_of, self.rare_groups
        finally:
            self.pending, self.memo, self.numbers, self.slots, self.rare_of, self.rare_groups = outer
            self.unguarded_loads, self.guarded_reads = outer_loads, outer_reads
        if not hoisted:
            return s
        real = {}
        for dtype, (placeholder, values) in hoisted.items():
            real[placeholder] = decl_buffer((len(values),), dtype, f"{self.prefix}{self.count}", scope="local")
            self.count += 1
        rename = _Rename(real)
        order = sorted(((n, p, k) for p, values in hoisted.values() for k, (n, _) in enumerate(values)),
                       key=lambda t: t[0])  # (in the order computed: a scalar may use earlier ones)
        stores = [BufferStore(real[p], rename.visit(hoisted[p.dtype][1][k][1]), (const(k, dt.INDEX),))
                  for _, p, k in order]
        if rare_of:
            stores = _rare_under_conditions(stores, [n for n, _, _ in order], rare_of, rare_groups, rename)
        out: Stmt = seq(*stores, rename.visit(s))
        for b in real.values():
            out = Allocate(b, out)
        return out

    def shared(self, e: PrimExpr, rare=()) -> PrimExpr:
        """``e`` (a formula's result) with each value of :attr:`slot_dtypes` it uses in
        several places, unless a :func:`small_leaf`, computed once into a local scalar before
        the statement. Outside a store, ``e`` as it is.

        ``rare``: ``(cond, values)`` pairs, values of ``e`` that it reads only where ``cond``
        holds (behind selects: :meth:`mlc.passes.tir.math.float_ops.FloatOps.only_where`).
        Each such value, and each value only they use, is computed into its scalar under
        ``if cond`` (the values themselves zero elsewhere): a scalar loop branches around
        them, LLVM's loop vectorizer makes selects of the branch again."""
        if self.pending is None:
            return e
        owner, roots = _rare_owners(e, rare, self.slot_dtypes)
        groups: dict[int, int] = {}  # the index of a pair of ``rare`` -> its group's number
        uses: dict[int, int] = {}
        stack = [e]
        while stack:
            n = stack.pop()
            uses[id(n)] = uses.get(id(n), 0) + 1
            if uses[id(n)] == 1:
                stack.extend(children(n))
        done: dict[int, PrimExpr] = {}
        first = [cond for cond, _ in rare] + [v for _, values in rare for v in values] if owner else []
        for n in post_order_dag((*first, e), children):  # (the rare values before what reads them)
            kids = children(n)
            new = [done[id(k)] for k in kids]
            out = n if not kids or all(a is b for a, b in zip(new, kids)) else with_children(n, new)
            g = owner.get(id(n))
            if g is not None and (id(n) in roots or uses.get(id(n), 0) > 1 and not small_leaf(out)):
                if g not in groups:
                    groups[g] = self.count_slots
                    self.rare_groups[groups[g]] = (done[id(rare[g][0])], [])
                out = self._new_slot(out)
                self.rare_of[self.count_slots - 1] = groups[g]
                if id(n) in roots:
                    self.rare_groups[groups[g]][1].append(out)
            elif uses.get(id(n), 0) > 1 and n.dtype in self.slot_dtypes and not small_leaf(out):
                out = self.slot(out)
            done[id(n)] = out
        return done[id(e)]

    def slot(self, z: PrimExpr) -> PrimExpr:
        """A load of the local scalar that holds ``z``, computed before the statement (one
        scalar a value). Under the branches of selects, each load of ``z`` that the statement
        does not read on every path is guarded by their conditions: the scalar computed before
        the statement reads memory only where the select would (its value elsewhere unused)."""
        if self.path and self._reads_guarded(z):
            z = self._guarded(z)
        key = self.numbers.key(z)
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = self._new_slot(z)
        return slot

    def path_key(self, e: PrimExpr) -> tuple:
        """The value numbers of :attr:`path` where ``e`` reads memory the statement does not
        read on every path (its rewrite under other selects is another), else ``()``."""
        if not self.path or not self._reads_guarded(e):
            return ()
        return tuple((self.numbers.key(c), taken) for c, taken in self.path)

    def _reads_guarded(self, e: PrimExpr) -> bool:
        """Whether ``e`` loads memory the statement does not read on every path (memoized
        by node over the statement: a walk of the DAG, not of the tree)."""
        known = self.guarded_reads
        if id(e) in known:
            return known[id(e)][1]
        for n in post_order_dag((e,), children):
            if id(n) not in known:
                reads = (isinstance(n, BufferLoad) and n.buffer.scope != "local"
                         and expr_key(n) not in self.unguarded_loads) or any(known[id(k)][1] for k in children(n))
                known[id(n)] = (n, reads)
        return known[id(e)][1]

    def _guarded(self, z: PrimExpr) -> PrimExpr:
        """``z`` with each load of memory the statement does not read on every path (not a
        local scalar) under the selects of :attr:`path`: ``Select(c, load, 0)``, outermost
        condition outside. A walk of ``z``'s DAG: a formula's shared nodes stay shared."""
        done: dict[int, PrimExpr] = {}
        for n in post_order_dag((z,), children):
            if isinstance(n, BufferLoad) and n.buffer.scope != "local" and expr_key(n) not in self.unguarded_loads:
                out = n
                for cond, taken in reversed(self.path):
                    out = Select(cond if taken else Not(cond, cond.dtype), out, const(0, n.dtype), n.dtype)
            else:
                kids = children(n)
                new = [done[id(k)] for k in kids]
                out = n if not kids or all(a is b for a, b in zip(new, kids)) else with_children(n, new)
            done[id(n)] = out
        return done[id(z)]

    def _new_slot(self, z: PrimExpr) -> PrimExpr:
        placeholder, values = self.pending.setdefault(z.dtype, (decl_buffer((1,), z.dtype, self.prefix,
                                                                            scope="local"), []))
        values.append((self.count_slots, z))
        self.count_slots += 1
        return BufferLoad(placeholder, (const(len(values) - 1, dt.INDEX),), z.dtype)


def _rare_owners(e: PrimExpr, rare, slot_dtypes) -> tuple[dict[int, int], set[int]]:
    """(id(node) -> the index of its pair in ``rare``, the ids of the pairs' values) for the
    nodes of ``e`` that only the values of one pair use (:meth:`StatementScalars.shared`);
    nothing where a value is not an operation of a slot dtype or two pairs share a node."""
    roots = {id(v): g for g, (_, values) in enumerate(rare) for v in values}
    if not roots or any(v.dtype not in slot_dtypes or not children(v) for _, values in rare for v in values):
        return {}, set()
    common: set[int] = set()
    stack = [e, *(cond for cond, _ in rare)]
    while stack:  # what is read outside the rare values
        n = stack.pop()
        if id(n) not in common and id(n) not in roots:
            common.add(id(n))
            stack.extend(children(n))
    owner: dict[int, int] = {}
    for g, (_, values) in enumerate(rare):
        stack = list(values)
        while stack:
            n = stack.pop()
            if id(n) in common or owner.get(id(n)) == g:
                continue
            if id(n) in owner:  # (two pairs' values share it)
                return {}, set()
            owner[id(n)] = g
            stack.extend(children(n))
    return owner, set(roots)


def _rare_under_conditions(stores: list, made: list[int], rare_of: dict[int, int], groups: dict, rename) -> list:
    """``stores`` (in the order made, ``made``) with each group's rare ones under ``if`` its
    condition (one ``if`` a store, which LLVM's jump threading joins), where the last of them
    was, its values first set to zero before them."""
    last = {g: i for i, n in enumerate(made) if (g := rare_of.get(n)) is not None}
    out, held = [], {}
    for i, (n, store) in enumerate(zip(made, stores)):
        g = rare_of.get(n)
        if g is None:
            out.append(store)
            continue
        held.setdefault(g, []).append(store)
        if last[g] == i:
            cond, values = groups[g]
            for v in values:
                load = rename.visit(v)
                out.append(BufferStore(load.buffer, const(0, v.dtype), load.indices))
            cond = rename.visit(cond)  # (one ``if`` a store: each is a unit of the reference's region)
            out.extend(IfThenElse(cond, store) for store in held[g])
    return out


def _lazy_branches(node) -> tuple[PrimExpr, PrimExpr] | None:
    """The two branches of a select (``Select`` or ``if_then_else``): only the one taken
    is evaluated, so a load in the other may be out of bounds. None for other nodes."""
    if isinstance(node, Select):
        return node.true_value, node.false_value
    if isinstance(node, Call) and node.op == "if_then_else":
        return node.args[1], node.args[2]
    return None


def _unguarded_loads(value: PrimExpr) -> frozenset:
    """The keys of the loads ``value`` reads on every path: those not under a branch of a
    select (a select's condition is read on every path)."""
    keys, stack = set(), [value]
    while stack:
        n = stack.pop()
        if isinstance(n, BufferLoad):
            keys.add(expr_key(n))
        branches = _lazy_branches(n)
        if branches is not None:
            stack.append(n.cond if isinstance(n, Select) else n.args[0])
        else:
            stack.extend(children(n))
    return frozenset(keys)


class _Rename(Mutator):
    def __init__(self, buffers: dict[Buffer, Buffer]):
        self.buffers = buffers

    def visit_buffer(self, buffer: Buffer) -> Buffer:
        return self.buffers.get(buffer, buffer)
