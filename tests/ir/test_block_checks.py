"""block_problem: two blocks of one name, and iterators bound outside their domains,
decided exactly where the loop ranges give a binding's range (a differential test against
evaluating the binding at every loop point)."""
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mlc.ir.analysis import binding_outside_domain, block_problem
from mlc.ir.expr import IterVar, Range, Var, const
from mlc.ir.tir import Block, BlockRealize, Evaluate, For, PrimFunc, seq

TRUE = const(True, "bool")

# (binding of i and j, the same in Python)
BINDINGS = [
    (lambda i, j: i, lambda i, j: i),
    (lambda i, j: i * 2 + j - 1, lambda i, j: i * 2 + j - 1),
    (lambda i, j: j * 3 - i, lambda i, j: j * 3 - i),
    (lambda i, j: (i * 4 + j) // 3, lambda i, j: (i * 4 + j) // 3),
    (lambda i, j: (i + j) % 5 + i, lambda i, j: (i + j) % 5 + i),
]


def _block(name, dom, value, pred=TRUE):
    iv = IterVar(Var("v"), dom, "spatial")
    return BlockRealize((value,), pred, Block(name, (iv,), (), (), Evaluate(const(0))))


def _func(*stmts):
    root = Block("root", (), (), (), seq(*stmts))
    return PrimFunc((), BlockRealize((), TRUE, root))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), which=st.integers(0, len(BINDINGS) - 1),
       lo=st.integers(-3, 3), extent=st.integers(1, 30))
def test_a_binding_is_reported_exactly_when_some_iteration_leaves_the_domain(n, m, which, lo, extent):
    i, j = Var("i"), Var("j")
    make, python = BINDINGS[which]
    values = [python(a, b) for a in range(n) for b in range(m)]
    outside = min(values) < lo or max(values) >= lo + extent
    dom = Range(const(lo), const(extent))
    ranges = {i: Range(const(0), const(n)), j: Range(const(0), const(m))}
    found = binding_outside_domain(make(i, j), dom, ranges)
    assert (found is not None) == outside
    if found is not None:
        assert (found[0].value, found[1].value) == (min(values), max(values))
    loop = For(i, const(0), const(n), "serial", For(j, const(0), const(m), "serial",
                                                      _block("B", dom, make(i, j))))
    assert (block_problem(_func(loop)) is not None) == outside


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 9), data=st.data())
def test_a_predicate_an_if_or_an_empty_loop_leaves_the_binding_unchecked(n, data):
    declared = data.draw(st.integers(1, n - 1))
    i = Var("i")
    dom = Range(const(0), const(declared))
    guarded = For(i, const(0), const(n), "serial", _block("B", dom, i, i < declared))
    assert block_problem(_func(guarded)) is None
    empty = For(i, const(0), const(0), "serial", _block("B", dom, i + n))
    assert block_problem(_func(empty)) is None


def test_two_blocks_of_one_name_are_reported_at_the_second():
    i, j = Var("i"), Var("j")
    dom = Range(const(0), const(4))
    first, second = _block("B", dom, i), _block("B", dom, j)
    found = block_problem(_func(For(i, const(0), const(4), "serial", first),
                                For(j, const(0), const(4), "serial", second)))
    assert found is not None and found[0] is second and "'B'" in found[1]


def test_block_problem_names_the_block_the_iterator_and_its_domain():
    i = Var("i")
    loop = For(i, const(0), const(8), "serial", _block("B", Range(const(0), const(4)), i))
    realize, why = block_problem(_func(loop))
    assert realize.block.name_hint == "B"
    assert re.match(r"block 'B': iterator v .* \[0, 4\)", why)
