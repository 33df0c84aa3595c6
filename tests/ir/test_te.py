"""te: compute/placeholder/reduce_axis/reducers and create_prim_func structure and errors."""
import pytest

import mlc
from mlc import IRError, ShapeError, te
from mlc.ir.expr import Reduce
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import Block, BlockRealize, For


def blocks(func):
    return [n for n in pre_order_nodes(func.body) if isinstance(n, Block) and n.name_hint != "root"]


def test_compute_names_axes_from_lambda_parameters():
    A = te.placeholder((3, 5), "float32", "A")
    B = te.compute((3, 5), lambda row, col: A[row, col] + 1, "B")
    assert [iv.var.name for iv in B.op.axis] == ["row", "col"]
    assert B.shape == (3, 5) and B.dtype == "float32"
    func = te.create_prim_func([A, B])
    loops = [n for n in pre_order_nodes(func.body) if isinstance(n, For)]
    assert [f.loop_var.name for f in loops] == ["row", "col"]
    assert [iv.var.name for iv in blocks(func)[0].iter_vars] == ["vrow", "vcol"]


def test_reduction_block_has_init_and_reduce_iterator():
    A = te.placeholder((4, 6), "float32", "A")
    k = te.reduce_axis((0, 6), "k")
    S = te.compute((4,), lambda i: te.sum(A[i, k], axis=k), "S")
    (block,) = blocks(te.create_prim_func([A, S]))
    assert block.init is not None
    assert [iv.iter_type for iv in block.iter_vars] == ["spatial", "reduce"]
    assert [r.buffer.name for r in block.reads] == ["A"]


def test_reduce_axis_with_offset_and_where():
    A = te.placeholder((10,), "float32", "A")
    k = te.reduce_axis((2, 7), "k")
    S = te.compute((1,), lambda i: te.sum(A[k], axis=k, where=k % 2 == 0), "S")
    assert isinstance(S.op.body[0], Reduce)
    (loop,) = [n for n in pre_order_nodes(te.create_prim_func([A, S]).body) if isinstance(n, For)][1:]
    assert loop.min.value == 2 and loop.extent.value == 5


def test_custom_comm_reducer():
    prod = te.comm_reducer(lambda x, y: x * y, lambda t: te.const(1, t), name="prod")
    A = te.placeholder((4, 3), "float32", "A")
    k = te.reduce_axis((0, 3), "k")
    P = te.compute((4,), lambda i: prod(A[i, k], axis=k), "P")
    assert P.op.body[0].combiner.name == "prod"


def test_elementwise_max_min_without_axis():
    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: te.min(te.max(A[i], 0), 6), "B")
    assert "T.min(T.max(A[vi], T.float32(0)), T.float32(6))" in te.create_prim_func([A, B]).script()


def test_multi_output_compute():
    A = te.placeholder((4,), "float32", "A")
    lo, hi = te.compute((4,), lambda i: (A[i] - 1, A[i] + 1), "bounds")
    func = te.create_prim_func([A, lo, hi])
    (block,) = blocks(func)
    assert [w.buffer.name for w in block.writes] == ["bounds_v0", "bounds_v1"]


def test_intermediates_become_root_allocations_and_block_names_are_unique():
    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i] * 2, "T")
    C = te.compute((4,), lambda i: B[i] + 1, "T")
    func = te.create_prim_func([A, C])
    assert [b.name for b in func.root_block.alloc_buffers] == ["T"]
    assert [b.name_hint for b in blocks(func)] == ["T", "T_1"]


def test_read_regions_cover_shifted_accesses():
    A = te.placeholder((10,), "float32", "A")
    B = te.compute((8,), lambda i: A[i] + A[i + 2], "B")
    text = te.create_prim_func([A, B]).script()
    assert "T.reads(A[vi:vi + 3])" in text


@pytest.mark.parametrize("make, error, match", [
    (lambda A: te.compute((4,), lambda i, j: A[i], "B"), ShapeError, "takes 2 index"),
    (lambda A: te.compute((4, -1), lambda i, j: A[i], "B"), ShapeError, "negative"),
    (lambda A: te.compute("x", lambda i: A[i], "B"), ShapeError, "tuple of ints"),
    (lambda A: te.compute((4,), lambda i: te.sum(A[i], axis=te.reduce_axis((0, 4))) + 1, "B"),
     IRError, "whole body"),
    (lambda A: te.compute((4,), lambda i: te.sum(A[i]), "B"), IRError, "axis"),
    (lambda A: te.compute((4,), lambda i: "nope", "B"), IRError, "scalar expression"),
    (lambda A: te.reduce_axis(4, "k"), ShapeError, "begin, end"),
])
def test_bad_te_input_raises_typed_errors(make, error, match):
    A = te.placeholder((4,), "float32", "A")
    with pytest.raises(error, match=match):
        make(A)


def test_create_prim_func_requires_every_input():
    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i] * 2, "B")
    with pytest.raises(IRError, match=r"\['A'\].*argument list"):
        te.create_prim_func([B])
    with pytest.raises(IRError, match="twice"):
        te.create_prim_func([A, B, B])
    with pytest.raises(IRError, match="list of te tensors"):
        te.create_prim_func(A)


def test_irmodule_is_dict_like_and_sets_global_symbol():
    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i] * 2, "B")
    mod = mlc.IRModule({"double": te.create_prim_func([A, B])})
    assert list(mod) == ["double"] and len(mod) == 1
    assert mod["double"].attr("global_symbol") == "double"
    with pytest.raises(KeyError, match="has no function"):
        mod["triple"]
    with pytest.raises(IRError, match="PrimFunc"):
        mlc.IRModule({"x": 1})


def test_axis_names_from_every_kind_of_callable():
    """Names from a lambda's or a function's parameters (remembered by code: a lambda made
    afresh for each stage), ``i0, i1`` for ``*i``, and through ``inspect.signature`` for
    what is not a plain function (a partial, a wrapper naming its signature)."""
    import functools
    A = te.placeholder((4, 5), "float32", "A")

    def row_col(row, col):
        return A[row, col] + 1

    def names(fcompute):
        return [iv.var.name for iv in te.compute((4, 5), fcompute, "B").op.axis]

    for _ in range(2):  # (the second time from what was remembered)
        assert names(lambda r, c: A[r, c]) == ["r", "c"]
        assert names(row_col) == ["row", "col"]
        assert names(lambda *i: A[i]) == ["i0", "i1"]
    assert names(functools.partial(lambda scale, a, b: A[a, b] * scale, 2.0)) == ["a", "b"]

    def wrap(f):  # one code for every wrapper: each wrapper's names are its __wrapped__'s
        @functools.wraps(f)
        def wrapped(*i):
            return f(*i)
        return wrapped
    assert names(wrap(row_col)) == ["row", "col"]
    assert names(wrap(lambda y, x: A[y, x])) == ["y", "x"]
    with pytest.raises(ShapeError, match="takes 3 index argument"):
        te.compute((4, 5), lambda a, b, c: A[a, b], "B")
