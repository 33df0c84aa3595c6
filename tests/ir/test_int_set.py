"""arith: linear normal form, relaxation, bounds; soundness checked by enumeration."""
import itertools

from hypothesis import given, settings, strategies as st

from mlc.ir.expr import Binary, IntImm, Var, const, floordiv, floormod
from mlc.ir.expr import max as emax
from mlc.ir.expr import min as emin
from mlc.ir.arith import Analyzer, IntSet, canonical, constant_difference, expr_key, relax, relax_region
from mlc.ir.expr import Range

i, j, k = Var("i"), Var("j"), Var("k")


def evaluate(e, env):
    if isinstance(e, IntImm):
        return e.value
    if isinstance(e, Var):
        return env[e.name]
    a, b = evaluate(e.a, env), evaluate(e.b, env)
    return {"add": a + b, "sub": a - b, "mul": a * b, "min": min(a, b), "max": max(a, b),
            "floordiv": a // b if b else 0, "floormod": a % b if b else 0}[e.op]


def test_canonical_merges_terms_and_moves_multiples_out_of_division():
    assert repr(canonical((i + 1) * 4 - i * 4)) == "4"
    assert repr(canonical(floordiv(i * 8 + j + 3, 4))) == "i * 2 + (j + 3) // 4"
    assert repr(canonical(floormod(i * 8 + j + 3, 4))) == "(j + 3) % 4"
    assert repr(canonical(j - i + i * 2)) == "j + i"
    assert constant_difference(i * 4 + j, i * 4 + j + 3) == 3
    assert constant_difference(i, j) is None
    assert expr_key(i + j) != expr_key(j + i) and expr_key(i + 1) == expr_key(i + 1)


def test_relax_keeps_outer_variables_symbolic():
    s = relax(i * 4 + j, {j: IntSet.from_extent(4)})
    assert (repr(s.min), repr(s.max), repr(s.extent())) == ("i * 4", "i * 4 + 3", "4")
    s = relax(i - j, {j: IntSet.from_extent(4)})
    assert (repr(s.min), repr(s.max)) == ("i - 3", "i")
    assert relax(i + j, {}).is_point()
    region = relax_region([Range(i * 2, const(2))], {i: IntSet.from_extent(3)})
    assert repr(region[0]) == "IntSet[0, 5]"


def test_union_intersect_and_unknown_sides():
    a, b = IntSet(i, i + 3), IntSet(i + 1, i + 7)
    assert repr(a.union(b)) == "IntSet[i, i + 7]"
    assert repr(a.intersect(b)) == "IntSet[i + 1, i + 3]"
    assert repr(IntSet(i, j).union(IntSet(j, i))) == "IntSet[T.min(i, j), T.max(j, i)]"
    assert IntSet.everything().union(a).min is None
    assert relax(floordiv(i, j), {i: IntSet.from_extent(4), j: IntSet.from_extent(4)}).min is None


def test_const_int_bound_and_can_prove():
    assert Analyzer({i: (0, 31), j: (0, 3)}).const_int_bound(i * 4 + j) == (0, 127)
    assert Analyzer({i: Range.from_extent(100)}).const_int_bound(floormod(i, 8)) == (0, 7)
    assert Analyzer({i: (0, 9)}).const_int_bound(i - i) == (0, 0)  # correlations are exact in the linear form
    assert Analyzer({i: (0, 3)}).const_int_bound(i + k) == (None, None)
    assert Analyzer({i: IntSet.from_extent(4, 2)}).const_int_bound(i) == (2, 5)
    assert Analyzer({i: (0, 31), j: (0, 3)}).can_prove(i * 4 + j < 128)
    assert not Analyzer({i: (0, 31), j: (0, 3)}).can_prove(i * 4 + j < 127)
    assert Analyzer({i: (0, 1), j: (0, 3)}).can_prove(Binary("and", i >= 0, j <= 3, "bool"))


LEAVES = st.sampled_from(["i", "j", "k"]) | st.integers(-3, 5)


def exprs():
    def extend(children):
        return st.tuples(st.sampled_from(["add", "sub", "mul", "floordiv", "floormod", "min", "max"]),
                         children, children)
    return st.recursive(LEAVES, extend, max_leaves=6)


def build(tree):
    if isinstance(tree, str):
        return {"i": i, "j": j, "k": k}[tree]
    if isinstance(tree, int):
        return const(tree)
    op, a, b = tree
    a, b = build(a), build(b)
    if op in ("floordiv", "floormod"):
        b = const(max(2, b.value)) if isinstance(b, IntImm) else const(3)
        return floordiv(a, b) if op == "floordiv" else floormod(a, b)
    return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
            "min": lambda: emin(a, b), "max": lambda: emax(a, b)}[op]()


@settings(max_examples=150, deadline=None)
@given(tree=exprs(), fixed=st.integers(-4, 6), lo=st.integers(-3, 3), size=st.integers(1, 5))
def test_relax_is_sound_and_canonical_is_exact(tree, fixed, lo, size):
    e = build(tree)
    dom = {j: IntSet.from_extent(size, lo), k: IntSet.from_extent(3)}
    s = relax(e, dom)
    c = canonical(e)
    for jv, kv in itertools.product(range(lo, lo + size), range(3)):
        env = {"i": fixed, "j": jv, "k": kv}
        value = evaluate(e, env)
        assert evaluate(c, env) == value
        if s.min is not None:
            assert evaluate(s.min, {"i": fixed}) <= value
        if s.max is not None:
            assert value <= evaluate(s.max, {"i": fixed})


@settings(max_examples=10, deadline=None)
@given(values=st.lists(st.integers(-50, 50), min_size=42, max_size=42))
def test_a_union_of_many_boxes_takes_each_corner_apart_once(values):
    """Corners that differ by no constant make ``min(min(...), c)``: each union asks for the
    linear form of the whole chain so far, whose parts were taken apart before (once each,
    not once per later union: 40 unions, not 40 * 40 steps). The ends are the least and
    greatest corner."""
    from mlc.ir.arith.rewrite import Rewriter
    xs = [Var(f"x{n}") for n in range(40)]
    steps = []
    original = Rewriter.sum

    def counted(self, e):
        steps.append(e)
        return original(self, e)

    Rewriter.sum = counted
    try:
        box = IntSet(xs[0] * 2 + j, xs[0] * 2 + j + 3)
        for x in xs[1:]:
            box = box.union(IntSet(x * 3 + i, x * 3 + i + 1))
    finally:
        Rewriter.sum = original
    assert len(steps) <= 20 * len(xs), f"{len(steps)} rewriting steps"
    env = {"i": values[0], "j": values[1], **{f"x{n}": v for n, v in enumerate(values[2:])}}
    corners = [2 * env["x0"] + env["j"]] + [3 * env[f"x{n}"] + env["i"] for n in range(1, 40)]
    ends = [2 * env["x0"] + env["j"] + 3] + [3 * env[f"x{n}"] + env["i"] + 1 for n in range(1, 40)]
    assert evaluate(box.min, env) == min(corners)
    assert evaluate(box.max, env) == max(ends)
