"""Values a formula uses more than once, computed once per statement into local scalars.

The lowering passes that write an operation out as a formula (:mod:`.lower_complex`,
:mod:`.lower_math`) build it as a DAG: one Python node used in several places (a
reduction's ``k`` in every later step). Printed as a tree (CUDA C) or walked as one
(every later pass, the interpreters), a DAG costs the sum of its uses, which grows with
the formula's depth. :class:`StatementScalars` gives each such pass what it needs to keep
the DAG's size: while it rewrites a store's value, :meth:`~StatementScalars.shared` turns
each node used more than once into a load of a one-element ``local`` buffer stored just
before the store (as :mod:`.integer_power` does), which a backend keeps in a register.
A value under a branch of a select that reads memory the statement may not read on every
path reads it, in its scalar, under the conditions that guard it: computed before the store,
its loads would otherwise run where the select guards them out (an index past the end, on the
branch not taken). A load is safe where the statement stores to, or reads on every path, the
same element of a buffer of the same shape (an elementwise operand); any other is guarded by
the conditions down to the first branch that reads it whatever its own selects decide (there
the statement reads it: it is in bounds), and a value is rewritten once for each such prefix
of the selects' conditions, not for each path: the nested selects of a formula that reads
its operands on every path of a branch share one rewrite.
A formula's values that only a rare side of its selects reads (trig's reduction of huge
float32 arguments) may be given to :meth:`~StatementScalars.shared` with their condition:
they are computed under ``if`` it, so that a scalar loop branches around them.

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
        #: for each select of :attr:`path`, its branch taken (as the statement has it)
        self.path_branches: list[PrimExpr] = []
        #: the places (:meth:`_place`) the statement reads on every path (outside branches)
        #: and stores to: safe to read wherever it runs
        self.safe_places: frozenset = frozenset()
        #: id(node) -> (node, the places it reads on every path of itself), this statement's
        self.always_read: dict[int, tuple] = {}
        #: id(node) -> (node, the places it reads, not read on every path), this statement's
        self.guarded_reads: dict[int, tuple] = {}
        #: the statement's scalars computed only where a condition holds (:meth:`shared`'s
        #: ``rare``): when made -> their group; group -> (its condition, the loads of its values)
        self.rare_of: dict[int, int] = {}
        self.rare_groups: dict[int, tuple[PrimExpr, list[BufferLoad]]] = {}
        #: whether the statement reads any place it does not make safe (else no value is guarded)
        self.unsafe = False
        #: id(buffer) -> (buffer, the key of its shape)
        self.shapes: dict[int, tuple] = {}

    def visit_operands(self, node):
        """``node`` with its operands visited (:meth:`generic_visit`); a select's branches
        (``Select``, ``if_then_else``) visited as lazy: a scalar there reads memory only where
        the selects' conditions hold (see :meth:`slot`). A subclass's ``visit_Select`` and ``visit_Call``
        visit their operands with this."""
        branches = _lazy_branches(node)
        if branches is None or self.pending is None:
            return self.generic_visit(node)
        cond = self.visit(node.cond if isinstance(node, Select) else node.args[0])
        self.path.append((cond, True))
        self.path_branches.append(branches[0])
        try:
            then = self.visit(branches[0])
            self.path[-1] = (cond, False)
            self.path_branches[-1] = branches[1]
            other = self.visit(branches[1])
        finally:
            self.path.pop()
            self.path_branches.pop()
        if isinstance(node, Select):
            return Select(cond, then, other, node.dtype)
        return Call(node.op, (cond, then, other), node.dtype)

    def visit_Select(self, e: Select):
        return self.visit_operands(e)

    def visit_BufferStore(self, s: BufferStore):
        outer, self.pending = (self.pending, self.memo, self.numbers, self.slots, self.rare_of, self.rare_groups), {}
        self.memo, self.numbers, self.slots, self.rare_of, self.rare_groups = {}, ValueNumbers(), {}, {}, {}
        outer_reads = self.safe_places, self.always_read, self.guarded_reads, self.unsafe
        self.always_read, self.guarded_reads = {}, {}
        self.safe_places = self._always_read(s.value) | {self._place(s)}
        self.unsafe = any(self._is_guarded(n) for n in post_order_dag((s.value,), children))
        try:
            s = self.generic_visit(s)
            hoisted, rare_of, rare_groups = self.pending, self.rare_of, self.rare_groups
        finally:
            self.pending, self.memo, self.numbers, self.slots, self.rare_of, self.rare_groups = outer
            self.safe_places, self.always_read, self.guarded_reads, self.unsafe = outer_reads
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
                out = self._new_slot(self._guarded(out) if self._depth(out) else out)
                self.rare_of[self.count_slots - 1] = groups[g]
                if id(n) in roots:
                    self.rare_groups[groups[g]][1].append(out)
            elif uses.get(id(n), 0) > 1 and n.dtype in self.slot_dtypes and not small_leaf(out):
                out = self.slot(out)
            done[id(n)] = out
        return done[id(e)]

    def slot(self, z: PrimExpr) -> PrimExpr:
        """A load of the local scalar that holds ``z``, computed before the statement (one
        scalar a value). Under the branches of selects, each load of ``z`` the statement does
        not make safe is guarded by the conditions of :attr:`path` down to the branch that
        reads it on every path of its own: the scalar computed before the statement reads
        memory only where the statement would (its value elsewhere unused)."""
        if self._depth(z):
            z = self._guarded(z)
        key = self.numbers.key(z)
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = self._new_slot(z)
        return slot

    def path_key(self, e: PrimExpr) -> tuple:
        """The value numbers of the conditions of :attr:`path` that guard the memory ``e``
        reads (its rewrite under other such conditions is another; see :meth:`_depth`), else
        ``()``."""
        depth = self._depth(e)
        return tuple((self.numbers.key(c), taken) for c, taken in self.path[:depth])

    def guard_load(self, load: BufferLoad, cond: PrimExpr) -> PrimExpr:
        """``load`` (or a guarded load) read only where ``cond`` holds: ``Select(cond, load,
        0)``. A pass whose output has no selects of ``load``'s dtype writes its own."""
        return Select(cond, load, const(0, load.dtype), load.dtype)

    def _depth(self, e: PrimExpr) -> int:
        """How many of :attr:`path`'s conditions guard the memory ``e`` reads: for each of its
        loads the statement does not make safe, down to the first branch of the path that
        reads it on every path of its own (all of them where none does); the deepest."""
        depth = 0
        if not (self.unsafe and self.path):
            return depth
        for load in self._guarded_reads(e):
            depth = max(depth, self._load_depth(load))
            if depth == len(self.path):
                break
        return depth

    def _load_depth(self, place: tuple) -> int:
        for k, branch in enumerate(self.path_branches):
            if place in self._always_read(branch):
                return k + 1
        return len(self.path)

    def _place(self, n: BufferLoad | BufferStore) -> tuple:
        """Where ``n`` accesses memory, as far as its bounds go: the key of its buffer's shape
        and the value numbers of its indices. Where one access is in bounds, so is every
        access of the same place (the same element of a buffer of the same shape): the
        statement's store, and the loads it reads on every path, make theirs safe to read
        wherever the statement runs."""
        known = self.shapes.get(id(n.buffer))
        if known is None:
            known = self.shapes[id(n.buffer)] = (n.buffer, expr_key(n.buffer.shape))
        return known[1], tuple(self.numbers.key(i) for i in n.indices)

    def _is_guarded(self, n: PrimExpr) -> bool:
        return (isinstance(n, BufferLoad) and n.buffer.scope != "local"
                and self._place(n) not in self.safe_places)

    def _guarded_reads(self, e: PrimExpr) -> frozenset:
        """The places (:meth:`_place`) of the loads ``e`` reads (under its selects too) that
        the statement does not make safe (:attr:`safe_places`; memoized by node over the
        statement: a walk of the DAG, not of the tree)."""
        known = self.guarded_reads
        if id(e) in known:
            return known[id(e)][1]
        for n in post_order_dag((e,), lambda n: [k for k in children(n) if id(k) not in known]):
            if id(n) not in known:
                reads = (frozenset({self._place(n)}) if self._is_guarded(n)
                         else _union([known[id(k)][1] for k in children(n)]))
                known[id(n)] = (n, reads)
        return known[id(e)][1]

    def _always_read(self, e: PrimExpr) -> frozenset:
        """The places (:meth:`_place`) of the loads ``e`` reads on every path of its own:
        those not under a branch of one of its selects (a select's condition is read on every
        path); memoized by node over the statement."""
        known = self.always_read
        if id(e) in known:
            return known[id(e)][1]
        for n in post_order_dag((e,), lambda n: [k for k in _always_evaluated(n) if id(k) not in known]):
            if id(n) not in known:
                reads = (frozenset({self._place(n)}) if isinstance(n, BufferLoad)
                         else _union([known[id(k)][1] for k in _always_evaluated(n)]))
                known[id(n)] = (n, reads)
        return known[id(e)][1]

    def _guarded(self, z: PrimExpr) -> PrimExpr:
        """``z`` with each load the statement does not make safe (not a local scalar) under
        the conditions of :attr:`path` that guard it (:meth:`_depth`),
        outermost outside (:meth:`guard_load`). A walk of ``z``'s DAG: a formula's shared
        nodes stay shared."""
        done: dict[int, PrimExpr] = {}
        for n in post_order_dag((z,), children):
            if self._is_guarded(n):
                out = n
                for cond, taken in reversed(self.path[:self._load_depth(self._place(n))]):
                    out = self.guard_load(out, cond if taken else Not(cond, cond.dtype))
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

_EMPTY: frozenset = frozenset()


def _union(sets: list[frozenset]) -> frozenset:
    """The union of ``sets``, one of them where it holds the others (most nodes read what one
    operand reads)."""
    sets = [s for s in sets if s]
    if not sets:
        return _EMPTY
    big = max(sets, key=len)
    if all(s is big or s <= big for s in sets):
        return big
    return big.union(*sets)


def _lazy_branches(node) -> tuple[PrimExpr, PrimExpr] | None:
    """The two branches of a select (``Select`` or ``if_then_else``): only the one taken
    is evaluated, so a load in the other may be out of bounds. None for other nodes."""
    if isinstance(node, Select):
        return node.true_value, node.false_value
    if isinstance(node, Call) and node.op == "if_then_else":
        return node.args[1], node.args[2]
    return None


def _always_evaluated(n: PrimExpr) -> list[PrimExpr]:
    """The operands of ``n`` evaluated whenever ``n`` is (a select's condition, not its
    branches)."""
    if _lazy_branches(n) is None:
        return children(n)
    return [n.cond if isinstance(n, Select) else n.args[0]]


class _Rename(Mutator):
    def __init__(self, buffers: dict[Buffer, Buffer]):
        self.buffers = buffers

    def visit_buffer(self, buffer: Buffer) -> Buffer:
        return self.buffers.get(buffer, buffer)
