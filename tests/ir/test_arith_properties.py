"""Every rewrite of the integer analyzer keeps the value: checked against brute force.

The analyzer's ``simplify`` (mlc/ir/arith/rewrite.py), the linear form, its
bounds (mlc/ir/arith/bounds.py), proofs (mlc/ir/arith/analyzer.py) and
relaxation (mlc/ir/arith/int_set.py) are evaluated at *every* point of small
variable ranges, so the range boundaries (where an off-by-one rule goes wrong:
``y == g`` in ``(g*x + y) // c``, ``a == b + 1`` in ``min(a, b)``) are always
tried. The families below follow the rules the analyzer implements, each over
ranges that start below, at and above zero; a Hypothesis test then draws random
expression trees over random ranges (negative ones included).
"""
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlc.ir.arith import Analyzer, IntSet, canonical, relax, relax_region
from mlc.ir.arith.bounds import const_int_bound, var_bounds
from mlc.ir.expr import (Binary, IntImm, Not, Range, Select, Var, const, floordiv, floormod, make_binary,
                         truncdiv, truncmod)
from mlc.ir.expr import max as emax
from mlc.ir.expr import min as emin

X, Y, Z = Var("x"), Var("y"), Var("z")


def _trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


_OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "floordiv": lambda a, b: a // b, "floormod": lambda a, b: a % b,
    "truncdiv": _trunc_div, "truncmod": lambda a, b: a - _trunc_div(a, b) * b,
    "min": min, "max": max, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b, "and": lambda a, b: bool(a) and bool(b),
    "or": lambda a, b: bool(a) or bool(b),
}


def value(e, env):
    """The value of an integer or bool expression with Python (floor/trunc) semantics."""
    if isinstance(e, IntImm):
        return bool(e.value) if e.dtype == "bool" else e.value
    if isinstance(e, Var):
        return env[e.name]
    if isinstance(e, Select):
        return value(e.true_value, env) if value(e.cond, env) else value(e.false_value, env)
    if isinstance(e, Not):
        return not value(e.a, env)
    if isinstance(e, Binary):
        return _OPS[e.op](value(e.a, env), value(e.b, env))
    raise TypeError(f"cannot evaluate {e!r}")


def env_points(spans):
    """Every assignment of ``spans`` ({name: (lo, hi)} inclusive)."""
    names = list(spans)
    for point in itertools.product(*(range(lo, hi + 1) for lo, hi in spans.values())):
        yield dict(zip(names, point))


def ranges_of(spans):
    by_name = {"x": X, "y": Y, "z": Z}
    return {by_name[n]: Range(const(lo), const(hi - lo + 1)) for n, (lo, hi) in spans.items()}


def check_simplify(e, spans):
    """``simplify`` with and without ranges agrees with ``e`` at every point of ``spans``."""
    with_ranges = Analyzer(ranges_of(spans)).simplify(e)
    without = Analyzer().simplify(e)
    canon = canonical(e) if e.dtype != "bool" else e
    for env in env_points(spans):
        want = value(e, env)
        assert value(with_ranges, env) == want, (e, with_ranges, spans, env)
        assert value(without, env) == want, (e, without, env)
        assert value(canon, env) == want, (e, canon, env)


def check_bounds(e, spans, exact=False):
    """Both bounds, the analyzer's (on the linear form) and the plain interval analysis the
    simplifier asks, contain every value of ``e`` (or say they do not know: None); with
    ``exact``, they know and equal the exact range."""
    values = [value(e, env) for env in env_points(spans)]
    lo, hi = min(values), max(values)
    b = const_int_bound(e, var_bounds(ranges_of(spans)))
    assert (b[0] is None or b[0] <= lo) and (b[1] is None or hi <= b[1]), (e, spans, b, (lo, hi))
    c = Analyzer(ranges_of(spans)).const_int_bound(e)
    assert (c[0] is None or c[0] <= lo) and (c[1] is None or hi <= c[1]), (e, spans, c, (lo, hi))
    if exact:
        assert b == (lo, hi), (e, spans, b)
        assert c == (lo, hi), (e, spans, c)


# Ranges that start below, at and above zero, of lengths around the divisors used.
def spans_near(top):
    """(lo, hi) pairs ending at ``top - 1``, ``top`` and ``top + 1``, starting at 0 or -1."""
    return [(lo, hi) for lo in (0, -1) for hi in (top - 1, top, top + 1) if hi >= lo]


# ------------------------------------------------------------------ division of linear sums

@pytest.mark.parametrize("c", [2, 4, 6, 8, 12])
def test_division_of_a_linear_sum_by_a_constant(c):
    """``(a*x + b*y + k) // c`` and ``% c``: the common-factor rule ``(g*x + y) // c == x // (c/g)``
    holds only while ``0 <= y < g``; ranges put ``y``'s top at ``g - 1``, ``g`` and ``g + 1``."""
    for a in sorted({d for d in range(1, c + 1) if c % d == 0} | {c * 2, 3}):
        g = math.gcd(a, c)
        for b, k in ((1, 0), (1, 1), (2, 0), (1, -1)):
            for y_span in spans_near(max(g, 1)):
                spans = {"x": (0, 3), "y": y_span}
                e = X * a + Y * b + k
                check_simplify(floordiv(e, c), spans)
                check_simplify(floormod(e, c), spans)


@pytest.mark.parametrize("c", [2, 3, 4, 8])
def test_division_with_negative_coefficients_and_ranges(c):
    for a, b in ((-1, 1), (c, -1), (-c, 1), (c // 2 or 1, -c)):
        for spans in ({"x": (-3, 2), "y": (0, c)}, {"x": (0, 3), "y": (-c, -1)}, {"x": (-2, 2), "y": (-1, 1)}):
            e = X * a + Y * b
            check_simplify(floordiv(e, c), spans)
            check_simplify(floormod(e, c), spans)
            check_bounds(floordiv(e, c), spans)
            check_bounds(floormod(e, c), spans)


@pytest.mark.parametrize("c", [2, 3, 4, 5, 8])
def test_division_of_one_variable_over_every_window(c):
    """``(x + k) // c`` and ``% c`` over windows that stay inside one block of ``c`` values,
    touch its ends, or cross into the next; bounds are exact for a single variable."""
    for lo in range(-c - 1, c + 2):
        for length in (1, 2, c - 1, c, c + 1):
            spans = {"x": (lo, lo + length - 1)}
            for k in (0, 1, -1, c):
                for e in (floordiv(X + k, c), floormod(X + k, c)):
                    check_simplify(e, spans)
                    check_bounds(e, spans, exact=True)


def test_nested_division_and_modulo():
    """``x // a // b == x // (a*b)``; ``x % (k*c) % c == x % c``; ``x % a % b`` otherwise kept."""
    for a, b in itertools.product((1, 2, 3, 4), (2, 3, 4, 8)):
        for spans in ({"x": (0, 4 * a * b + 1)}, {"x": (-a * b - 2, a * b + 1)}, {"x": (a, a + b)}):
            for e in (floordiv(floordiv(X, a), b), floormod(floormod(X, a), b),
                      floordiv(floormod(X, a), b), floormod(floordiv(X, a), b),
                      floormod(floormod(X, a * b), b), floordiv(floordiv(X + 1, a), b)):
                check_simplify(e, spans)
                check_bounds(e, spans)


def test_fused_index_recombination():
    """``x // k * k + x % k == x``, ``x // k % m * k + x % k == x % (k*m)`` and
    ``x % (k*m) // k * k + x % k == x % (k*m)``, and near misses
    (other coefficients, other divisors) that must stay as they are."""
    spans = {"x": (-5, 40)}
    for k, m in itertools.product((2, 3, 4), (2, 3)):
        for s, t in ((1, 1), (1, 2), (2, 2), (k, 1), (1, k), (2, 1)):
            check_simplify(floordiv(X, k) * (k * s) + floormod(X, k) * t, spans)
            check_simplify(floordiv(X, k) * s + floormod(X, k) * t, spans)
            check_simplify(floormod(floordiv(X, k), m) * (k * s) + floormod(X, k) * t, spans)
            check_simplify(floordiv(floormod(X, k * m), k) * (k * s) + floormod(X, k) * t, spans)
        check_simplify(floordiv(X, k) * k + floormod(X, k + 1), spans)
        check_simplify(floordiv(floormod(X, k * m + 1), k) * k + floormod(X, k), spans)
        # the division of a fused index split over its terms: (k*y + x) // k as y + x // k
        for c in (1, 3):
            shifted = floormod(Y * c + floordiv(X, k), m) * k + floormod(X, k)
            check_simplify(shifted, {"x": (-5, 40), "y": (-3, 4)})
            check_simplify(floormod(Y * c + floordiv(X, k), m) * (k + 1) + floormod(X, k),
                           {"x": (-5, 40), "y": (-3, 4)})
        # three fused loops, the middle index written x % (k*m) // k: the address is x again
        three = floordiv(X, k * m) * (k * m) + floordiv(floormod(X, k * m), k) * k + floormod(X, k)
        check_simplify(three, spans)
        assert canonical(three) is X or str(canonical(three)) == "x", canonical(three)
        check_simplify(floordiv(X, k + 1) * k + floormod(X, k), spans)


def test_min_and_max_decided_only_when_the_order_is_proven():
    """``min(x + d, y + e)``: folded only when ``x + d - (y + e)`` cannot change sign."""
    for d, e in itertools.product(range(-2, 3), repeat=2):
        for spans in ({"x": (0, 3), "y": (0, 3)}, {"x": (0, 0), "y": (0, 0)}, {"x": (2, 4), "y": (0, 2)},
                      {"x": (3, 5), "y": (0, 2)}, {"x": (-3, -1), "y": (0, 1)}):
            for op in (emin, emax):
                ex = op(X + d, Y + e)
                check_simplify(ex, spans)
                check_bounds(ex, spans, exact=(spans["x"] == (0, 0)))
        # correlated operands: the order is known without ranges
        for op in (emin, emax):
            check_simplify(op(X + d, X + e), {"x": (-2, 2)})
            check_simplify(op(X * 2 + d, X * 2 + e), {"x": (-2, 2)})


@pytest.mark.parametrize("op", ["lt", "le", "gt", "ge", "eq", "ne"])
def test_comparisons_decided_only_when_the_bounds_settle_them(op):
    """``a*x + b*y <op> c`` for ``c`` at, just inside and just outside the bounds."""
    for a, b in ((1, 1), (4, 1), (1, -1), (-2, 3)):
        for spans in ({"x": (0, 3), "y": (0, 3)}, {"x": (-2, 1), "y": (1, 1)}):
            e = X * a + Y * b
            values = [value(e, env) for env in env_points(spans)]
            lo, hi = min(values), max(values)
            for c in (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1):
                cond = make_binary(op, e, const(c))
                check_simplify(cond, spans)
                proven = Analyzer(ranges_of(spans)).can_prove(cond)
                if proven:
                    assert all(value(cond, env) for env in env_points(spans)), (cond, spans)
        # a single variable against a constant: can_prove is complete there
        for c in range(-2, 6):
            cond = make_binary(op, X, const(c))
            truth = all(value(cond, env) for env in env_points({"x": (0, 3)}))
            assert Analyzer(ranges_of({"x": (0, 3)})).can_prove(cond) == (truth and op != "ne"), cond


def test_truncated_division_over_negative_ranges():
    """truncdiv/truncmod become floor division only where the dividend cannot be negative."""
    for c in (2, 3, 4):
        for lo, hi in ((-c - 1, c + 1), (-1, c), (0, c), (-c, -1), (1, 2 * c)):
            spans = {"x": (lo, hi), "y": (0, 1)}
            for k in (0, 1, -1):
                for e in (truncdiv(X + k, c), truncmod(X + k, c), truncdiv(X * c + Y + k, c),
                          truncmod(X * 2 + Y + k, c)):
                    check_simplify(e, spans)
                    check_bounds(e, spans)


def test_bounds_of_affine_sums_are_exact():
    """Interval analysis is exact on sums of distinct variables (each appears once)."""
    for a, b, k in itertools.product((1, -1, 3, -4), (1, -2, 5), (0, 7, -3)):
        for spans in ({"x": (0, 3), "y": (0, 4)}, {"x": (-3, -1), "y": (2, 2)}, {"x": (-2, 5), "y": (-4, 0)}):
            check_bounds(X * a + Y * b + k, spans, exact=True)
            check_bounds(X * a - Y * b - k, spans, exact=True)
    for lo, hi in ((0, 0), (-3, 2), (1, 7)):
        check_bounds(X * 0 + X, {"x": (lo, hi)}, exact=True)
        check_bounds(X * X, {"x": (lo, hi)})


# ------------------------------------------------------------------ int_set

def check_relax(e, spans, relaxed, exact=False):
    """``relax(e, {relaxed vars})`` holds every value of ``e`` for each fixed assignment of the
    other variables; with ``exact``, its ends are attained."""
    by_name = {"x": X, "y": Y, "z": Z}
    dom = {by_name[n]: IntSet(const(spans[n][0]), const(spans[n][1])) for n in relaxed}
    s = relax(e, dom)
    fixed = {n: r for n, r in spans.items() if n not in relaxed}
    for outer in env_points(fixed):
        inner = [value(e, {**outer, **env}) for env in env_points({n: spans[n] for n in relaxed})]
        lo = None if s.min is None else value(s.min, outer)
        hi = None if s.max is None else value(s.max, outer)
        assert lo is None or lo <= min(inner), (e, s, outer)
        assert hi is None or max(inner) <= hi, (e, s, outer)
        if exact:
            assert (lo, hi) == (min(inner), max(inner)), (e, s, outer)


def test_relax_affine_expressions_exactly():
    for a, b, k in itertools.product((1, -1, 4, -3), (1, 2, -2), (0, 5, -1)):
        e = X * a + Y * b + k
        for spans in ({"x": (0, 3), "y": (0, 3)}, {"x": (-2, 1), "y": (-5, -2)}):
            check_relax(e, spans, ["y"], exact=True)
            check_relax(e, spans, ["x", "y"], exact=True)


def test_relax_floor_division_and_modulo_with_negative_bounds():
    """``x // c`` relaxes to ``[lo // c, hi // c]`` (floor, also below zero); ``x % c`` stays
    inside its values."""
    for c in (2, 3, 4, 7):
        for lo in range(-2 * c - 1, c + 2):
            for length in (1, c - 1, c, c + 1, 2 * c):
                spans = {"x": (lo, lo + length - 1)}
                check_relax(floordiv(X, c), spans, ["x"], exact=True)
                check_relax(floordiv(X + 1, c), spans, ["x"], exact=True)
                check_relax(floormod(X, c), spans, ["x"])
                check_relax(floormod(X, c) + floordiv(X, c) * c, spans, ["x"])
        spans = {"x": (-3, 3), "y": (-c, c)}
        check_relax(floordiv(X * c + Y, c), spans, ["y"])
        check_relax(floormod(X * c + Y, c), spans, ["y"])


def test_relax_products_min_max_and_select():
    for spans in ({"x": (-3, 2), "y": (-2, 4)}, {"x": (1, 3), "y": (-4, -1)}, {"x": (-2, -1), "y": (-3, -2)}):
        check_relax(X * Y, spans, ["x", "y"], exact=True)
        check_relax(emin(X, Y) + 1, spans, ["x", "y"], exact=True)
        check_relax(emax(X, Y - 1), spans, ["x", "y"], exact=True)
        check_relax(emin(X, Y), spans, ["y"])
        check_relax(Select(X < Y, X, Y * 2, "int32"), spans, ["x", "y"])


def test_linear_form_of_constants_and_coefficients_is_exact():
    """The linear form moves only multiples of the divisor out of ``//`` and ``%``."""
    for c in (2, 3, 4, 6):
        for a in range(-2 * c, 2 * c + 1):
            for k in (-c - 1, -1, 0, 1, c + 1):
                for e in (floordiv(X * a + k, c), floormod(X * a + k, c), floordiv(X * a + Y + k, c)):
                    canon = canonical(e)
                    for env in env_points({"x": (-3, 3), "y": (0, 2)}):
                        assert value(canon, env) == value(e, env), (e, canon, env)
    for k in range(-9, 10):
        for c in (2, 3, -2, -3):
            for op, want in (("floordiv", k // c), ("floormod", k % c)):
                unfolded = Binary(op, const(k), const(c), "int32")  # as a rewrite may leave it
                assert canonical(unfolded).value == want, (op, k, c)
                assert Analyzer().simplify(unfolded).value == want, (op, k, c)
                cancelled = Binary(op, X - X + k, const(c), "int32")
                assert canonical(cancelled).value == want, (op, k, c)
                assert Analyzer().simplify(cancelled).value == want, (op, k, c)
    for d in range(-3, 4):
        for op, want in ((emin, min), (emax, max)):
            canon = canonical(op(X, X + d))
            for x in range(-2, 3):
                assert value(canon, {"x": x}) == want(x, x + d), (d, canon)


def test_union_and_intersection_are_the_interval_hull_and_overlap():
    cases = [(0, 3), (2, 6), (-4, -1), (5, 5), (-2, 9)]
    for (a0, a1), (b0, b1) in itertools.product(cases, repeat=2):
        a, b = IntSet(const(a0), const(a1)), IntSet(const(b0), const(b1))
        u, n = a.union(b), a.intersect(b)
        assert (u.min.value, u.max.value) == (min(a0, b0), max(a1, b1))
        assert (n.min.value, n.max.value) == (max(a0, b0), min(a1, b1))
        # symbolic ends with a constant difference are decided the same way
        su = IntSet(X + a0, X + a1).union(IntSet(X + b0, X + b1))
        sn = IntSet(X + a0, X + a1).intersect(IntSet(X + b0, X + b1))
        for x in (-1, 0, 4):
            assert (value(su.min, {"x": x}), value(su.max, {"x": x})) == (x + min(a0, b0), x + max(a1, b1))
            assert (value(sn.min, {"x": x}), value(sn.max, {"x": x})) == (x + max(a0, b0), x + min(a1, b1))
    half = IntSet(None, const(4))
    assert half.union(IntSet(const(0), const(9))).min is None
    assert half.intersect(IntSet(const(0), const(9))).min.value == 0
    assert half.intersect(IntSet(const(0), const(9))).max.value == 4


def test_ranges_regions_and_enumeration_end_where_they_should():
    for lo, extent in ((0, 1), (0, 5), (-3, 4), (2, 7)):
        s = IntSet.from_range(Range(const(lo), const(extent)))
        assert (s.min.value, s.max.value) == (lo, lo + extent - 1)
        assert s.extent().value == extent
        assert Analyzer({X: (lo, lo + extent - 1)}).enumerated_bounds(X * 2 - 1) == (2 * lo - 1, 2 * (lo + extent - 1) - 1)
        assert Analyzer({X: Range(const(lo), const(extent))}).const_int_bound(X) == (lo, lo + extent - 1)
    (region,) = relax_region([Range(X * 4 + Y, const(2))], {Y: IntSet.from_extent(4)})
    for x in (-1, 0, 3):
        assert (value(region.min, {"x": x}), value(region.max, {"x": x})) == (4 * x, 4 * x + 4)


# ------------------------------------------------------------------ random trees

LEAVES = st.sampled_from(["x", "y", "z"]) | st.integers(-6, 9)
ARITH = ["add", "sub", "mul", "floordiv", "floormod", "truncdiv", "truncmod", "min", "max"]


def trees():
    def extend(children):
        return st.tuples(st.sampled_from(ARITH + ["select"]), children, children)
    return st.recursive(LEAVES, extend, max_leaves=7)


def build(tree, divisor_choice=0):
    if isinstance(tree, str):
        return {"x": X, "y": Y, "z": Z}[tree]
    if isinstance(tree, int):
        return const(tree)
    op, a, b = tree
    a, b = build(a), build(b)
    if op in ("floordiv", "floormod", "truncdiv", "truncmod"):
        c = b.value if isinstance(b, IntImm) and b.value != 0 else 3
        return {"floordiv": floordiv, "floormod": floormod, "truncdiv": truncdiv, "truncmod": truncmod}[op](a, const(c))
    if op == "select":
        return Select(a < b, a, b + 1, "int32")
    return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
            "min": lambda: emin(a, b), "max": lambda: emax(a, b)}[op]()


SPANS = st.fixed_dictionaries({n: st.tuples(st.integers(-5, 4), st.integers(0, 5)).map(lambda t: (t[0], t[0] + t[1]))
                               for n in ("x", "y", "z")})


@settings(max_examples=120, deadline=None)
@given(tree=trees(), spans=SPANS, c=st.integers(-20, 30))
def test_random_expressions_keep_their_value_under_every_analysis(tree, spans, c):
    """Random trees (every arithmetic op, negative constants and divisors, selects) over
    random ranges: simplify, canonical and comparisons agree everywhere; bounds and relaxation
    hold every value."""
    e = build(tree)
    check_simplify(e, spans)
    check_bounds(e, spans)
    for op in ("lt", "ge", "eq"):
            check_simplify(make_binary(op, e, const(c)), spans)
    check_relax(e, spans, ["y", "z"])
    check_relax(e, spans, ["x", "y", "z"])


EVALUABLE = ["add", "sub", "mul", "floordiv", "floormod", "min", "max"]


def evaluable_trees():
    def extend(children):
        return st.tuples(st.sampled_from(EVALUABLE), children, children)
    return st.recursive(LEAVES, extend, max_leaves=9)


@settings(max_examples=150, deadline=None)
@given(tree=evaluable_trees(), spans=SPANS)
def test_enumerated_bounds_are_the_exact_bounds_over_every_point(tree, spans):
    """enumerated_bounds evaluates the whole grid of points at once (NumPy); it must give
    what evaluating each point with Python's integers gives."""
    e = build(tree)
    values = [value(e, env) for env in env_points(spans)]
    analyzer = Analyzer(ranges_of(spans))
    assert analyzer.enumerated_bounds(e) == (min(values), max(values))


def test_enumerated_bounds_beyond_int64_fall_back_to_python_integers():
    a, b = Var("a", "int64"), Var("b", "int64")
    analyzer = Analyzer({a: (0, 3), b: (-2, 2), X: (0, 3), Y: (-2, 2)})
    assert analyzer.enumerated_bounds(a * const(1 << 62, "int64") + b) == (-2, 3 * (1 << 62) + 2)
    assert analyzer.enumerated_bounds(a * const(1 << 40, "int64") * const(1 << 30, "int64")) == (0, 3 << 70)
    assert analyzer.enumerated_bounds(floordiv(X * Y, const(2)) + X) == (0, 6)  # (int64 holds these)
