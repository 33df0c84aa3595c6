"""RangeMutator: the ranges a pass sees are those of the loops, blocks and lets around the visited node.

The passes built on it (simplify, partition_selects, partition_tiles, empty_reductions,
the schedule's rebind) are checked against NumPy by their own tests; this checks the
binding itself: nested, shadowed, restored after an error.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Range, Var, const
from mlc.ir.range_mutator import IndexSimplifier, RangeMutator
from mlc.ir.tir import BufferStore, Evaluate, For, LetStmt, PrimFunc, seq


class _Record(RangeMutator):
    """Every Evaluate's enclosing ranges, as (var name, min, extent) in binding order."""

    def __init__(self, ranges=None):
        super().__init__(ranges)
        self.seen = []

    def visit_Evaluate(self, node):
        self.seen.append(sorted((v.name, r.min.value, r.extent.value) for v, r in self.ranges.items()))
        return node


def _plain(ranges):
    return {v.name: (r.min.value, r.extent.value) for v, r in ranges.items()}


def _nest(loops, body):
    for var, lo, n in reversed(loops):
        body = For(var, const(lo), const(n), "serial", body)
    return body


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(1, 9)), min_size=1, max_size=4))
def test_each_body_sees_exactly_its_enclosing_loops(bounds):
    loops = [(Var(f"i{n}"), lo, ext) for n, (lo, ext) in enumerate(bounds)]
    outer = Var("outer")
    # a statement inside every prefix of the nest, and one after it (outside every loop)
    tree = _nest(loops, Evaluate(const(0)))
    rec = _Record({outer: Range(const(5), const(2))})
    assert rec.visit(seq(tree, Evaluate(const(1)))) is not None
    expected = sorted([(v.name, lo, n) for v, lo, n in loops] + [("outer", 5, 2)])
    assert rec.seen == [expected, [("outer", 5, 2)]]
    assert _plain(rec.ranges) == {"outer": (5, 2)}


def test_a_shadowing_binding_is_undone_to_the_outer_range():
    i = Var("i")
    rec = _Record()
    with rec.bound({i: Range(const(0), const(10))}):
        rec.visit(For(i, const(2), const(3), "serial", Evaluate(const(0))))
        assert _plain(rec.ranges) == {"i": (0, 10)}
    assert rec.seen == [[("i", 2, 3)]] and rec.ranges == {}


def test_ranges_are_unbound_when_a_visit_fails():
    i = Var("i")

    class Fails(RangeMutator):
        def visit_Evaluate(self, node):
            raise ValueError("stop")

    m = Fails()
    with pytest.raises(ValueError):
        m.visit(For(i, const(0), const(4), "serial", Evaluate(const(0))))
    assert m.ranges == {}


def test_the_analyzer_knows_the_loop_range():
    i = Var("i")

    class Fold(RangeMutator):
        def visit_Binary(self, node):
            return self.analyzer.simplify(node)

    folded = Fold().visit(For(i, const(0), const(8), "serial", Evaluate((i < 8) & (i >= 0))))
    assert str(folded.body) == "T.evaluate(T.bool(True))"


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 40), m=st.sampled_from([1, 3, 8, 17]))
def test_passes_on_it_keep_a_tiled_guarded_program_equal_to_numpy(n, m):
    """split with a non-dividing factor leaves guards that simplify, partition_tiles and
    partition_selects (all on RangeMutator) prove away or keep; the result is NumPy's."""
    @mlc.jit
    def f(a, b):
        return np.where(a > 0, a * 2.0, b) + 1.0

    a = np.random.default_rng(n).standard_normal((n, m)).astype("float32")
    b = np.arange(n * m, dtype="float32").reshape(n, m)
    np.testing.assert_allclose(f(a, b), np.where(a > 0, a * 2.0, b) + 1.0, rtol=1e-6)


def _let_program(n):
    """``for i in range(n): x = i * 4 + 3; B[i] = A[x % (4 * n) // 4]`` (x is below 4 * n)."""
    a, b = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    i, x = Var("i", "int32"), Var("x", "int32")
    store = BufferStore(b, BufferLoad(a, ((x % const(4 * n, "int32")) // const(4, "int32"),), "float32"), (i,))
    body = For(i, const(0, "int32"), const(n, "int32"), "serial", LetStmt(x, i * const(4, "int32") + const(3, "int32"), store))
    return PrimFunc((a, b), body).with_attr("global_symbol", "main")


def test_a_block_binds_its_iterators_and_a_let_the_bounds_of_its_value():
    A = te.placeholder((6,), "float32", name="A")
    f = te.create_prim_func([A, te.compute((6,), lambda i: A[i] * 2.0, name="B")])

    class Stores(_Record):
        visit_BufferStore = _Record.visit_Evaluate

    rec = Stores()
    rec.visit(f.body)
    assert rec.seen == [[("i", 0, 6), ("vi", 0, 6)]] and rec.ranges == {}
    rec.seen.clear()
    rec.visit(_let_program(5).body)
    assert rec.seen == [[("i", 0, 5), ("x", 3, 17)]] and rec.ranges == {}


@pytest.mark.parametrize("n", [1, 5, 8])
def test_indices_simplified_under_block_and_let_ranges_compute_what_numpy_does(n):
    A = te.placeholder((n,), "float32", name="A")
    blocks = te.create_prim_func([A, te.compute((n,), lambda i: A[(i + n) % n] + 1.0, name="B")])
    a = np.random.default_rng(n).standard_normal(n).astype("float32")
    for func, want in ((blocks, a + 1.0), (_let_program(n), a)):
        folded = func.with_body(IndexSimplifier().visit(func.body))
        def store(f):
            return next(line for line in f.script().splitlines() if line.strip().startswith("B["))

        assert "%" not in store(folded)  # proved by the bound ranges
        assert "%" in store(func) or n == 1  # (te folds a modulo over a single iteration)
        for f in (func, folded):
            out = np.zeros(n, "float32")
            mlc.build(mlc.IRModule({"main": f}), "reference")["main"](a, out)
            np.testing.assert_allclose(out, want, rtol=1e-6)
