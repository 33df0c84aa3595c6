"""What a build's searches and rewrites cost on a kernel whose expressions are deep: a search
for statements (blocks, address-taking calls) does not walk the expressions, and a rewrite
that changes nothing rebuilds nothing. Each kernel's result is NumPy's."""
import importlib

import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.ir.functor import pre_order_nodes, pre_order_statements
from mlc.ir.tir import Allocate, Block, IfThenElse, Stmt
from mlc.passes.tir import compact_buffers, convert_blocks_to_loops, lower_init_block, simplify
from mlc.schedules import Schedule

empty_reductions = importlib.import_module("mlc.passes.tir.empty_reductions")
compact = importlib.import_module("mlc.passes.tir.compact_buffers")

TERMS = 64  # an expression of some 400 nodes under each store


def deep_sum_module(n: int, m: int, rows: int, keep_c: bool = True) -> mlc.IRModule:
    """``C[i, j] = sum of TERMS scaled copies of A[i, j]`` (a deep expression), ``D[i] = sum
    over an empty axis`` (its init alone), and ``E[i] = C[i, :] summed`` through an
    intermediate (without ``keep_c``, C is not a parameter: an allocation for compact_buffers)."""
    A = te.placeholder((n, m), "float32", "A")
    Z = te.placeholder((rows, 0), "float32", "Z")

    def deep(i, j):
        e = A[i, j]
        for t in range(TERMS):
            e = e + A[i, j] * float(t + 1) + (i + j * (t + 2)).astype("float32")
        return e

    C = te.compute((n, m), deep, "C")
    k = te.reduce_axis((0, 0), "k")
    D = te.compute((rows,), lambda i: te.sum(Z[i, k], axis=k), "D")
    r = te.reduce_axis((0, m), "r")
    E = te.compute((n,), lambda i: te.sum(C[i, r], axis=r), "E")
    return mlc.IRModule({"main": te.create_prim_func([A, Z, C, D, E] if keep_c else [A, Z, D, E])})


def reference(a: np.ndarray) -> np.ndarray:
    n, m = a.shape
    i, j = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    c = a.astype("float32").copy()
    for t in range(TERMS):
        c = c + a * np.float32(t + 1) + (i + j * (t + 2)).astype("float32")
    return c


def _counting(walk, counts, key):
    def counted(root, *args):
        for node in walk(root, *args):
            counts[key] += 1
            yield node
    return counted


@settings(max_examples=4, deadline=None)
@given(n=st.integers(1, 7), m=st.integers(1, 9), rows=st.integers(1, 5))
def test_the_empty_reduction_search_walks_statements_only(n, m, rows):
    mod = deep_sum_module(n, m, rows)
    func = mod["main"]
    expressions = sum(1 for _ in pre_order_nodes(func.body))
    statements = sum(1 for _ in pre_order_statements(func.body))
    assert expressions > 10 * statements  # (what the search would walk, against what it needs)
    counts = {"nodes": 0}
    walk = empty_reductions.pre_order_nodes
    empty_reductions.pre_order_nodes = _counting(walk, counts, "nodes")
    try:
        out = empty_reductions.expand_empty_reductions(func)
    finally:
        empty_reductions.pre_order_nodes = walk
    # the empty reduction's block is rewritten (its predicate's and init's nodes read), the rest not
    assert counts["nodes"] < 100 < expressions
    assert out is not func
    a = np.random.default_rng(n * 100 + m * 10 + rows).standard_normal((n, m), "float32")
    c, e = np.empty((n, m), "float32"), np.empty(n, "float32")
    d = np.full(rows, 7.0, "float32")
    mlc.build(mod, "llvm")["main"](a, np.zeros((rows, 0), "float32"), c, d, e)
    want = reference(a)
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-2)
    np.testing.assert_allclose(e, want.sum(axis=1, dtype="float32"), rtol=1e-4, atol=0.5)
    np.testing.assert_array_equal(d, np.zeros(rows, "float32"))


def test_statements_are_walked_in_the_order_of_all_nodes():
    func = deep_sum_module(3, 5, 2)["main"]
    lowered = convert_blocks_to_loops(lower_init_block(func))
    for body in (func.body, lowered.body):
        statements = list(pre_order_statements(body))
        assert statements == [n for n in pre_order_nodes(body) if isinstance(n, Stmt)]
        assert any(isinstance(n, Block) for n in statements) == (body is func.body)
    assert list(pre_order_statements(func.body.block.body.seq[0].body.extent)) == []  # an expression


def test_compact_buffers_does_not_search_a_body_without_address_taking_calls():
    func = deep_sum_module(4, 6, 1, keep_c=False)["main"]
    func = convert_blocks_to_loops(lower_init_block(empty_reductions.expand_empty_reductions(func)))
    roots = []
    walk = compact.pre_order_nodes

    def recorded(root):
        roots.append(root)
        return walk(root)

    compact.pre_order_nodes = recorded
    try:
        out = compact_buffers(func)
    finally:
        compact.pre_order_nodes = walk
    assert any(isinstance(s, Allocate) for s in pre_order_statements(out.body))  # (C's: the pass looked)
    assert not any(root is func.body for root in roots)


@settings(max_examples=4, deadline=None)
@given(n=st.integers(2, 11), factor=st.integers(2, 5))
def test_simplify_rebuilds_nothing_in_a_simplified_function(n, factor):
    """A simplified function (loops from 0, an IfThenElse for E's init, a guarded tail where
    the split does not divide), simplified again, is the same object."""
    mod = deep_sum_module(n, 3, 2)
    sch = Schedule(mod)
    i, _ = sch.get_loops(sch.get_block("C"))
    sch.split(i, [None, factor])
    lowered = convert_blocks_to_loops(lower_init_block(empty_reductions.expand_empty_reductions(sch.mod["main"])))
    once = simplify(lowered)
    assert any(isinstance(s, IfThenElse) for s in pre_order_statements(once.body))
    assert simplify(once) is once
    a = np.random.default_rng(n * 10 + factor).standard_normal((n, 3), "float32")
    c, e, d = np.empty((n, 3), "float32"), np.empty(n, "float32"), np.empty(2, "float32")
    mlc.build(sch.mod, "llvm")["main"](a, np.zeros((2, 0), "float32"), c, d, e)
    np.testing.assert_allclose(c, reference(a), rtol=1e-5, atol=1e-2)
