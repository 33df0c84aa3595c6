"""Mutator: a rewrite of statements alone passes expressions by; one that rewrites
expressions (or buffers, or walks its own way) still enters them."""
from mlc import te
from mlc.ir.buffer import Buffer
from mlc.ir.expr import Var
from mlc.ir import functor
from mlc.ir.functor import Mutator, pre_order_nodes
from mlc.ir.tir import BufferStore, For, SeqStmt


def _func():
    A = te.placeholder((8, 6), "float32", "A")
    k = te.reduce_axis((0, 6), "k")
    B = te.compute((8,), lambda i: te.sum(A[i, k] * 2, axis=k), "B")
    C = te.compute((8,), lambda i: B[i] + 1, "C")
    return te.create_prim_func([A, C])


class _Counting(Mutator):
    def __init__(self):
        self.seen: list[type] = []

    def visit(self, node):
        self.seen.append(type(node))
        return super().visit(node)


class _Loops(Mutator):
    """Statements only: counts the loops it rebuilds."""

    def __init__(self):
        self.loops = 0

    def visit_For(self, node: For):
        self.loops += 1
        return self.generic_visit(node)


class _LoopsAndVars(_Loops):
    def visit_Var(self, var: Var):
        return var


class _LoopsAndBuffers(_Loops):
    def visit_buffer(self, buffer: Buffer) -> Buffer:
        return buffer


def _generic_visits(monkeypatch) -> list[str]:
    """The class names of the nodes a walk enters (reads the fields of) from now on: the
    generic walk asks ``_PARTS`` for each on its explicit stack, ``_GETTERS`` otherwise."""
    seen: list[str] = []

    class Recording(dict):
        def get(self, key, default=None):
            seen.append(key.__name__)
            return super().get(key, default)

    monkeypatch.setattr(functor, "_GETTERS", Recording(functor._GETTERS))
    monkeypatch.setattr(functor, "_PARTS", Recording(functor._PARTS))
    return seen


_EXPRESSIONS = ("BufferLoad", "Binary", "IterVar", "BufferRegion", "Range")


def test_a_rewrite_of_statements_alone_passes_expressions_by(monkeypatch):
    func = _func()
    functor.census_mask(func.body)  # (counted once, on first asking: not the walk's entering)
    seen = _generic_visits(monkeypatch)
    walk = _Loops()
    assert walk.visit(func.body) is func.body  # nothing changed: the same tree
    entered = set(seen)
    assert walk.loops == sum(isinstance(n, For) for n in pre_order_nodes(func.body))
    assert {"For", "SeqStmt"} <= entered
    assert not set(_EXPRESSIONS) & entered


def test_a_rewrite_passes_by_the_subtrees_without_a_node_it_visits(monkeypatch):
    """The loops' innermost blocks hold no loop: a rewrite of loops enters none of them (only
    the root block, around the loops), and one of loops and variables enters them."""
    func = _func()
    functor.census_mask(func.body)
    seen = _generic_visits(monkeypatch)
    assert _Loops().visit(func.body) is func.body
    assert seen.count("BlockRealize") == seen.count("Block") == 1
    seen.clear()
    walk = _LoopsAndVars()
    assert walk.visit(func.body) is func.body
    assert {"BlockRealize", "Block", "BufferLoad", "Binary"} <= set(seen)
    assert walk.loops == sum(isinstance(n, For) for n in pre_order_nodes(func.body))


def test_a_rewrite_of_expressions_or_buffers_still_enters_them(monkeypatch):
    func = _func()
    seen = _generic_visits(monkeypatch)
    for cls in (_LoopsAndVars, _LoopsAndBuffers):
        seen.clear()
        assert cls().visit(func.body) is func.body
        assert set(_EXPRESSIONS) <= set(seen), cls.__name__


def test_a_walk_of_its_own_still_enters_expressions():
    func = _func()
    walk = _Counting()
    walk.visit(func.body)
    names = {t.__name__ for t in walk.seen}
    assert {"BufferLoad", "Var", "IterVar"} <= names


def test_a_statement_rewrite_reaches_statements_inside_sequences_and_blocks():
    func = _func()

    class DropStores(Mutator):
        def visit_BufferStore(self, node: BufferStore):
            return BufferStore(node.buffer, node.value, node.indices)  # a new node, same content

    out = DropStores().visit(func.body)
    old = [n for n in pre_order_nodes(func.body) if isinstance(n, BufferStore)]
    new = [n for n in pre_order_nodes(out) if isinstance(n, BufferStore)]
    assert len(old) == len(new) >= 2 and all(a is not b for a, b in zip(old, new))
    assert any(isinstance(n, SeqStmt) for n in pre_order_nodes(out))


def test_a_visit_method_of_no_known_statement_class_still_enters_expressions(monkeypatch):
    """An expression class made after the first walk (an op's own node, say) is unknown to
    the classification: a mutator naming it is taken as one that rewrites expressions."""
    func = _func()
    seen = _generic_visits(monkeypatch)

    class _LoopsAndLater(_Loops):
        def visit_AnExpressionDefinedLater(self, node):
            return node

    assert _LoopsAndLater().visit(func.body) is func.body
    assert set(_EXPRESSIONS) <= set(seen)


def _every_field_walk(root) -> list:
    """Every IR node under ``root``, parents first, reading every field of every node (what
    the walks did before they skipped the fields annotated as scalars); buffers not entered."""
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(node)
        kids = []
        for value in functor.field_values(node):
            items = value if isinstance(value, tuple) else (value,)
            kids.extend(v for v in items if isinstance(v, functor.NODE_TYPES))
        stack.extend(reversed(kids))
    return out


def _programs():
    """Block-level and lowered functions holding every kind of node the passes make: blocks,
    reductions, selects, casts, math calls written out, Lets, vector loops, an if."""
    import numpy as np

    import mlc
    from mlc.backends.llvm import LLVM_TIR_PASSES
    from mlc.passes.tir import run_passes

    def program(x, y):
        z = np.where(x > 0, np.exp(x) * y, np.log1p(np.abs(y)))
        return z.sum(axis=1), np.tanh(z).astype("float64") ** 3, np.maximum(x, y)[::2]
    args = (np.linspace(-1, 1, 60, dtype="float32").reshape(6, 10), np.ones((6, 10), "float32"))
    scheduled = mlc.jit(program).lower(*args).scheduled()
    funcs = [f for f in scheduled.values() if hasattr(f, "body")]
    return funcs + [run_passes(f, LLVM_TIR_PASSES) for f in funcs] + [_func()]


def test_the_walks_read_every_field_that_holds_a_node():
    """The walks read only the fields not annotated as scalars (``_parts``): over programs of
    every kind of node they meet the nodes, in the order, that reading every field meets."""
    A = te.placeholder((8, 6), "float32", "A")
    k = te.reduce_axis((0, 6), "k")
    masked = te.sum(A[0, k], axis=k, where=k > 2)  # (a te Reduce with its condition)
    classes = set()
    for root in [*(f.body for f in _programs()), masked]:
        want = _every_field_walk(root)
        classes |= {type(n) for n in want}
        assert [id(n) for n in pre_order_nodes(root)] == [id(n) for n in want]
        assert _Counting().visit(root) is root
    assert {"Block", "BlockRealize", "For", "Let", "Select", "Cast", "Call", "IterVar", "Reduce"} <= {
        c.__name__ for c in classes}


class _RenameLoads(Mutator):
    def visit_Var(self, var: Var):
        return Var(var.name + "_", var.dtype) if var.name == "i" else var


def test_a_rewrite_under_fields_of_scalars_and_nodes_keeps_the_scalars():
    """A node rebuilt from the parts a walk changed keeps its scalar fields (an operator, a
    dtype, a loop's kind) where they were."""
    func = _func()
    new = _RenameLoads().visit(func.body)
    before, after = _every_field_walk(func.body), _every_field_walk(new)
    assert len(before) == len(after)
    for old, got in zip(before, after):
        assert type(old) is type(got)
        if isinstance(old, Var):  # (the renamed variables: their names are the change)
            continue
        for (name, a), (_, b) in zip(functor.node_fields(old), functor.node_fields(got)):
            if isinstance(a, (str, int, float, bool)) or a is None:
                assert a == b, (type(old).__name__, name)
    assert any(isinstance(n, Var) and n.name == "i_" for n in after)


class _Copying(Mutator):
    """substitute's rewrite, a copy for each place a node is used."""

    def __init__(self, vmap):
        self.vmap = vmap

    def visit_Var(self, v):
        return self.vmap.get(v, v)


def test_substitute_rewrites_each_shared_node_once():
    """Over expressions with shared values (a reduction's, a select's, a load's indices): the
    same tree as a rewrite of every place, and a node used in several places is one node after it: as many
    distinct nodes as before, but for those the variables' values bring."""
    from hypothesis import given, settings, strategies as st
    from mlc.ir.arith import expr_key
    from mlc.ir.expr import select
    from mlc.ir.structural import structural_equal
    x, y, z = Var("x", "int64"), Var("y", "int64"), Var("z", "int64")
    A = te.placeholder((8,), "float32", "A")
    k = te.reduce_axis((0, 8), "k")

    def distinct(e):
        return len(list(functor.post_order_dag((e,), functor.child_nodes)))

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.integers(0, 5), min_size=3, max_size=8))
    def check(ops):
        values = [x, y, x + 1]
        for op in ops:
            a, b = values[-1], values[-2]
            values.append([a + b, a * b, a - b, select(a < b, a, b), A[a % 8].astype("int64") + b,
                           te.sum(A[(k + a) % 8], axis=k).astype("int64") * b][op])
        root = values[-1] + values[-1]  # (the root's operands: one node)
        twice = y * 2
        vmap = {x: twice, y: z}
        got = functor.substitute(root, vmap)
        assert structural_equal(got, _Copying(vmap).visit(root))
        assert got.a is got.b
        assert distinct(got) <= distinct(root) + distinct(twice) + 1
        assert not any(n is x for n in functor.post_order_dag((got,), functor.child_nodes))
        assert functor.substitute(root, {}) is root

    check()


def test_a_mutator_that_shares_rewrites_rewrites_a_shared_node_once():
    """``shares_rewrites``: a node met several times in one walk (a formula's shared value) is
    rewritten once, and its rewrite is one node in every place; without it, once per place."""
    x, y = Var("x", "int64"), Var("y", "int64")

    class Renaming(Mutator):
        def __init__(self):
            self.calls = 0

        def visit_Var(self, v):
            self.calls += 1
            return y if v is x else v

    class SharedRenaming(Renaming):
        shares_rewrites = True

    a = x * 2 + 1
    root = (a + a) * a
    plain, shared = Renaming(), SharedRenaming()
    copied, kept = plain.visit(root), shared.visit(root)
    assert str(kept) == str(copied) == str((y * 2 + 1 + (y * 2 + 1)) * (y * 2 + 1))
    assert (plain.calls, shared.calls) == (3, 1)
    assert kept.a.a is kept.a.b is kept.b
    assert copied.a.a is not copied.a.b
