"""Analyzer: simplify (canonical linear form, division rules under ranges) and const_int_bound."""
import importlib
import itertools

from hypothesis import given
from hypothesis import strategies as st

from mlc.ir import arith
from mlc.ir.arith import Analyzer
from mlc.ir.arith.bounds import const_int_bound, var_bounds
from mlc.ir.expr import Binary, IntImm, Range, Var, const, floordiv, floormod
from mlc.ir.expr import max as emax
from mlc.ir.expr import min as emin
from mlc.ir.printer import expr_to_str
from mlc.ir.structural import structural_equal

linear = importlib.import_module("mlc.ir.arith.linear")  # (mlc.ir.arith.linear is also a function)


def evaluate(e, env):
    """Python-semantics evaluation of an integer/bool index expression."""
    if isinstance(e, IntImm):
        return e.value
    if isinstance(e, Var):
        return env[e]
    assert isinstance(e, Binary), e
    a, b = evaluate(e.a, env), evaluate(e.b, env)
    ops = {"add": a + b, "sub": a - b, "mul": a * b, "min": min(a, b), "max": max(a, b),
           "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b, "eq": a == b, "ne": a != b,
           "and": bool(a) and bool(b), "or": bool(a) or bool(b)}
    if e.op in ("floordiv", "floormod"):
        return (a // b if e.op == "floordiv" else a % b) if b else 0
    return ops[e.op]


def text(e):
    return expr_to_str(e)


def simplify(e, ranges=None):
    return Analyzer(ranges).simplify(e)


I, J, K = Var("i"), Var("j"), Var("k")
RANGES = {I: Range.from_extent(7), J: Range.from_extent(16), K: Range.from_extent(5)}


def test_linear_terms_merge_and_order_by_coefficient():
    assert text(simplify(J + I * 4 - 2 + I * 2 + 5)) == "i * 6 + j + 3"
    assert text(simplify(I - J)) == "i - j"
    assert text(simplify(0 - J + 7)) == "7 - j"
    assert text(simplify(I * 3 - I * 3 + 2)) == "2"
    assert text(simplify((I + 1) * 4 - 4)) == "i * 4"


def test_split_and_fuse_rules():
    j0, j1 = Var("j_0"), Var("j_1")
    r = {j0: Range.from_extent(32), j1: Range.from_extent(4)}
    assert text(simplify((j0 * 4 + j1) // 4, r)) == "j_0"
    assert text(simplify((j0 * 4 + j1) % 4, r)) == "j_1"
    # without ranges the remainder is kept, exactly
    assert text(simplify((j0 * 4 + j1) // 4)) == "j_0 + j_1 // 4"
    assert text(simplify((j0 * 4 + j1) % 4)) == "j_1 % 4"
    f = Var("f")
    rf = {f: Range.from_extent(128 * 128)}
    assert text(simplify(f // 128 % 128, rf)) == "f // 128"
    assert text(simplify(f // 1 % 128, rf)) == "f % 128"
    assert text(simplify(f % 1, rf)) == "0"
    assert text(simplify((f * 8) // 8)) == "f"
    assert text(simplify(f // 4 // 8)) == "f // 32"
    assert text(simplify(f % 32 % 8)) == "f % 8"


def test_fused_indices_recombine():
    f = Var("f")
    assert text(simplify(f // 16 * 16 + f % 16)) == "f"
    assert text(simplify((f // 16 * 16 + f % 16) * 3 + 1)) == "f * 3 + 1"
    assert text(simplify(f // 48 * 48 + f // 8 % 6 * 8 + f % 8)) == "f"
    assert text(simplify(f // 8 % 6 * 8 + f % 8)) == "f % 48"
    assert text(simplify(f // 16 * 15 + f % 16)) == "f // 16 * 15 + f % 16"  # no match


def test_min_max_with_provable_order():
    assert text(simplify(emin(I, I + 1))) == "i"
    assert text(simplify(emax(I, I + 1))) == "i + 1"
    assert text(simplify(emin(I, 100), RANGES)) == "i"
    assert text(simplify(emin(I, J), RANGES)) == "T.min(i, j)"


def test_comparisons_decided_by_ranges():
    assert simplify(I * 16 + J < 112, RANGES).value == 1
    assert simplify(I < 0, RANGES).value == 0
    assert text(simplify(I * 16 + J < 100, RANGES)) == "i * 16 + j < 100"


def test_float_expressions_keep_shape_but_indices_simplify():
    from mlc.ir.buffer import decl_buffer
    A = decl_buffer((64,), "float32", "A")
    e = A[(I * 4 + J) // 4] * 2.0
    out = simplify(e, {I: Range.from_extent(16), J: Range.from_extent(4)})
    assert text(out) == "A[i] * T.float32(2)"


def test_const_int_bound():
    ana = Analyzer(RANGES)
    assert ana.const_int_bound(I * 16 + J) == (0, 111)
    assert ana.const_int_bound(I - J) == (-15, 6)
    assert ana.const_int_bound(I % 4) == (0, 3)
    assert ana.const_int_bound((I + 8) % 16) == (8, 14)
    assert ana.const_int_bound(emax(I, K) // 2) == (0, 3)
    assert ana.const_int_bound(I + Var("free")) == (None, None)
    assert ana.const_int_bound(I - Var("free")).min is None
    assert ana.const_int_bound(I - I) == (0, 0)  # the linear form cancels correlated terms
    # the interval analysis the simplifier asks on each term: plain, per side
    bounds = var_bounds(RANGES)
    assert const_int_bound(I - I, bounds) == (-6, 6)
    assert const_int_bound(emin(I, Var("free")), bounds) == (None, 6)
    assert const_int_bound(emax(I, Var("free")), bounds) == (0, None)
    assert const_int_bound(Var("free") % 8, bounds) == (0, 7)


def test_analyzer_bind_replaces_a_range():
    ana = Analyzer()
    assert ana.const_int_bound(I) == (None, None)
    ana.bind(I, Range.from_extent(4))
    assert ana.simplify(I // 4).value == 0
    ana.bind(I, (4, 7))
    assert ana.simplify(I // 4).value == 1 and ana.const_int_bound(I) == (4, 7)
    ana.bind(I, Range(J, const(3)))  # a non-constant range bounds nothing
    assert ana.const_int_bound(I) == (None, None)
    assert ana.can_prove(I - I == 0) and not ana.can_prove(I < 100)


def test_offsets_and_differences():
    assert arith.split_offset(I + 3 - 1) == (I, 2)
    assert arith.constant_difference(I, I + 4) == 4
    assert arith.constant_difference(I * 2 + J, J + 2 * I + 3) == 3  # on the linear form
    assert structural_equal(arith.difference(I, J), J - I)
    assert structural_equal(arith.difference(I, 4 + I), const(4))


# ------------------------------------------------------------- properties

VARS = [I, J, K]


@st.composite
def index_exprs(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        if draw(st.booleans()):
            return draw(st.sampled_from(VARS))
        return const(draw(st.integers(-9, 20)))
    op = draw(st.sampled_from(["add", "sub", "mul", "floordiv", "floormod", "min", "max"]))
    a = draw(index_exprs(depth - 1))
    if op in ("mul", "floordiv", "floormod"):
        c = draw(st.integers(1, 9))
        b = draw(index_exprs(depth - 1)) if op == "mul" and draw(st.booleans()) else const(c)
    else:
        b = draw(index_exprs(depth - 1))
    return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
            "floordiv": lambda: floordiv(a, b), "floormod": lambda: floormod(a, b),
            "min": lambda: emin(a, b), "max": lambda: emax(a, b)}[op]()


def points():
    return itertools.product(range(7), range(0, 16, 3), range(5))


@given(index_exprs(), st.booleans())
def test_simplify_preserves_value(e, with_ranges):
    out = simplify(e, RANGES if with_ranges else None)
    for vi, vj, vk in points():
        env = {I: vi, J: vj, K: vk}
        assert evaluate(out, env) == evaluate(e, env), (text(e), text(out), env)


@given(index_exprs())
def test_simplify_is_idempotent(e):
    once = simplify(e, RANGES)
    assert text(simplify(once, RANGES)) == text(once)


@given(index_exprs())
def test_const_bounds_are_sound(e):
    for bounds in (Analyzer(RANGES).const_int_bound(e), const_int_bound(e, var_bounds(RANGES))):
        assert bounds.is_known()
        for vi, vj, vk in points():
            assert bounds[0] <= evaluate(e, {I: vi, J: vj, K: vk}) <= bounds[1]


@given(index_exprs(), st.integers(-20, 40))
def test_decided_comparisons_are_true(e, c):
    out = simplify(e < c, RANGES)
    if isinstance(out, IntImm):
        for vi, vj, vk in points():
            assert bool(out.value) == (evaluate(e, {I: vi, J: vj, K: vk}) < c)


@given(index_exprs(), index_exprs())
def test_expr_keys_are_equal_exactly_for_the_same_expression(a, b):
    """Keys are remembered per node (mlc.ir.arith.linear._KEYS), so ids of dead nodes may
    come back: a key still matches the expression it is asked for, cleared or not."""
    assert linear.expr_key(a) == linear.expr_key(a)
    assert (linear.expr_key(a) == linear.expr_key(b)) == linear.same_expr(a, b)
    linear._KEYS.clear()
    assert (linear.expr_key(a) == linear.expr_key(b)) == linear.same_expr(a, b)


def test_expr_keys_of_fresh_nodes_are_right_after_the_memory_fills(monkeypatch):
    monkeypatch.setattr(linear, "_KEPT", 8)
    for n in range(300):  # built and dropped: their ids are reused
        e = (I + n) * J
        assert linear.expr_key(e) == linear.expr_key((I + n) * J) != linear.expr_key((I + n + 1) * J)
        assert linear.expr_key(e) != linear.expr_key((I + n) * K)
    assert len(linear._KEYS) <= 8
