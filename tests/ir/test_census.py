"""The census of a statement (mlc.ir.analysis.census) against a walk of every node, on drawn
trees, and after rewrites that share subtrees with the census already counted."""
from hypothesis import given, settings
from hypothesis import strategies as st

from mlc import te
from mlc.ir.analysis.census import annotated, census_mask, contains, dtypes, labels
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import (Binary, BufferLoad, Call, Cast, FloatImm, IntImm, Let, Select, Var, call, cast,
                         const, select)
from mlc.ir.extern import CallExtern, call_extern
from mlc.ir.functor import pre_order_nodes, substitute
from mlc.ir.tir import Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse, SeqStmt, seq

I = Var("i", "int32")
X, Y = Var("x", "float32"), Var("y", "float64")
A = decl_buffer((64,), "float32", "A")
B = decl_buffer((64,), "float64", "B")
ANNOTATIONS = ("pragma_prefetch", "row_prefetch", "keep")


def _exprs():
    leaves = st.sampled_from([X, Y.astype("float32"), const(2.0, "float32"), const(0.5, "float32"),
                              BufferLoad(A, (I,), "float32"), cast(I, "float32")])

    def grow(inner):
        return st.one_of(
            st.tuples(inner, inner, st.sampled_from(["add", "mul", "sub"])).map(lambda t: Binary(t[2], t[0], t[1], "float32")),
            st.tuples(st.sampled_from(["exp", "log", "sqrt"]), inner).map(lambda t: call(t[0], t[1])),
            st.tuples(inner, inner, inner).map(lambda t: select(t[0] < t[1], t[2], t[1])),
            inner.map(lambda e: cast(cast(e, "float64"), "float32")),
            inner.map(lambda e: Let(Var("t", "float32"), e, e * 2, "float32")),
        )
    return st.recursive(leaves, grow, max_leaves=12)


def _stmts():
    def store(e, index, wide):
        return BufferStore(B, cast(e, "float64"), (index,)) if wide else BufferStore(A, e, (index,))

    leaves = st.one_of(
        st.tuples(_exprs(), st.sampled_from([I, I + 1, const(0)]), st.booleans()).map(lambda t: store(*t)),
        _exprs().map(lambda e: Evaluate(call_extern("float32", "hint", e))))

    def grow(inner):
        loop = st.tuples(st.sampled_from(["serial", "unrolled", "parallel"]),
                         st.lists(st.sampled_from(ANNOTATIONS), max_size=2, unique=True), inner)
        return st.one_of(
            loop.map(lambda t: For(Var("j", "int32"), const(0), const(4), t[0], t[2],
                                   annotations=tuple((k, 1) for k in t[1]))),
            st.lists(inner, min_size=1, max_size=3).map(lambda s: seq(*s)),
            st.tuples(_exprs(), inner, st.one_of(st.none(), inner)).map(lambda t: IfThenElse(t[0] > X, t[1], t[2])),
        )
    return st.recursive(leaves, grow, max_leaves=6)


def _label(n):
    cls = type(n)
    return {For: lambda: n.kind, Call: lambda: (n.op, n.dtype), CallExtern: lambda: n.name,
            BufferStore: lambda: n.value.dtype}.get(cls, lambda: None)()


def _check(root):
    """Every question asked of ``root`` and of each node under it, against a walk."""
    for sub in pre_order_nodes(root):
        nodes = list(pre_order_nodes(sub))
        for cls in (For, Call, CallExtern, BufferStore, BufferLoad, Select, Let, Cast, IfThenElse, SeqStmt,
                    Var, IntImm, FloatImm, Block, BlockRealize, Binary):
            assert contains(sub, cls) == any(type(n) is cls for n in nodes), (cls, sub)
            want = {_label(n) for n in nodes if type(n) is cls} - {None}
            assert labels(sub, cls) == want, (cls, sub)
            for label in want:
                assert contains(sub, cls, label)
        assert not contains(sub, For, "vectorized") or any(type(n) is For and n.kind == "vectorized" for n in nodes)
        assert dtypes(sub) == {d for n in nodes if isinstance(d := getattr(n, "dtype", None), str)}
        for key in (*ANNOTATIONS, "unseen"):
            assert annotated(sub, key) == any(type(n) is For and any(k == key for k, _ in n.annotations)
                                              for n in nodes)


@settings(max_examples=60, deadline=None)
@given(_stmts())
def test_census_matches_a_walk(stmt):
    _check(stmt)


@settings(max_examples=40, deadline=None)
@given(_stmts(), st.sampled_from(["serial", "unrolled"]))
def test_census_after_rewrites_that_share_subtrees(stmt, kind):
    """Counted first, then rewritten: the new nodes count their own facts and share the old
    subtrees' counts (a loop added around, a variable replaced, a store's value changed)."""
    census_mask(stmt)
    wrapped = For(I, const(0), const(8), kind, seq(stmt, BufferStore(A, call("exp", X), (I,))))
    _check(wrapped)
    _check(substitute(stmt, {X: cast(Y, "float32")}))
    _check(substitute(stmt, {I: I * 2}))


def test_census_of_a_function_from_te():
    a = te.placeholder((8, 6), "float32", "a")
    k = te.reduce_axis((0, 6), "k")
    b = te.compute((8,), lambda i: te.sum(te.exp(a[i, k]), axis=k), "b")
    func = te.create_prim_func([a, b])
    _check(func.body)
    assert contains(func.body, Block) and contains(func.body, For, "serial")
    assert labels(func.body, Call) == {("exp", "float32")}
    assert not contains(func.body, Select) and not contains(func.body, For, "unrolled")


def test_the_count_is_kept_on_the_node():
    e = call("exp", X) + 1.0
    assert getattr(e, "_census", None) is None
    mask = census_mask(e)
    assert e._census == mask and e.a._census | e.b._census | census_mask(Binary("add", X, X, "float32")) >= 0
    assert census_mask(e) is mask


def test_a_deep_expression_is_counted_without_recursion():
    e = X
    for _ in range(20000):
        e = Binary("add", e, FloatImm(1.0, "float32"), "float32")
    assert contains(e, Var) and not contains(e, Call) and dtypes(e) == {"float32"}
