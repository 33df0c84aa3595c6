"""compact_buffers: register tiles shrink into their loop; anything unsafe stays as it is."""
import importlib

import numpy as np
import pytest

import mlc
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Select, Var, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import Allocate, BufferStore, For, PrimFunc, seq
from mlc.passes.tir import compact_buffers, convert_blocks_to_loops, lower_init_block
from mlc.schedules import Schedule, default_schedule
from tests.programs import mm_relu_func
from tests.targets import each_pinned_target, pinned_threads


def loops_to_alloc(func):
    """The loop variable names enclosing each Allocate, and its shape."""
    out, stack = {}, [(func.body, ())]
    while stack:
        node, names = stack.pop()
        if isinstance(node, Allocate):
            out[node.buffer.name] = (names, node.buffer.static_shape())
        for child in [getattr(node, f, None) for f in ("body", "then_case", "else_case")]:
            if child is not None:
                stack.append((child, names + ((node.loop_var.name,) if isinstance(node, For) else ())))
        if hasattr(node, "seq"):
            stack.extend((s, names) for s in node.seq)
    return out


def compacted(func):
    return compact_buffers(convert_blocks_to_loops(lower_init_block(func)))


def course_tiles(n=16, fuse=False):
    sch = Schedule(mlc.IRModule({"main": mm_relu_func(n)}))
    block = sch.get_block("Y")
    i, j, k = sch.get_loops(block)
    i0, i1 = sch.split(i, [None, 4])
    j0, j1 = sch.split(j, [None, 8])
    sch.reorder(i0, j0, k, i1, j1)
    copy = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(copy, j0)
    sch.decompose_reduction(block, k)
    if fuse:
        sch.fuse(i0, j0)
    return sch.mod["main"]


def run(func, *arrays):
    out = [a.copy() for a in arrays]
    mlc.build(mlc.IRModule({"main": func}), "llvm", schedule=mlc.schedules.as_written)["main"](*out)
    return out


@pytest.mark.parametrize("fuse", [False, True])
def test_register_tile_moves_into_the_tile_loop(fuse):
    func = course_tiles(fuse=fuse)
    allocs = loops_to_alloc(compacted(func))
    home = ("i_0_j_0_fused",) if fuse else ("i_0", "j_0")
    assert allocs["Y_local"] == (home, (4, 8))
    assert allocs["Y"] == ((), (16, 16))  # read by C's separate nest: stays whole at the root
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 16, 16)).astype("float32")
    (_, _, c) = run(func, a, b, np.zeros((16, 16), "float32"))
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)


def test_a_value_carried_across_iterations_keeps_its_allocation():
    """s[0] accumulates over i: every iteration touches the same element, so the
    buffer cannot be fresh per iteration."""
    n = 5
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    s = decl_buffer((1,), "float32", "s")
    i = Var("i")
    zero = const(0)
    body = seq(BufferStore(s, const(0.0, "float32"), (zero,)),
               For(i, const(0), const(n), "serial", seq(
                   BufferStore(s, BufferLoad(s, (zero,), "float32") + BufferLoad(A, (i,), "float32"), (zero,)),
                   BufferStore(B, BufferLoad(s, (zero,), "float32"), (i,)))))
    func = PrimFunc((A, B), Allocate(s, body))
    assert compact_buffers(func) is func
    a = np.arange(1, n + 1, dtype="float32")
    (_, b) = run(func, a, np.zeros(n, "float32"))
    np.testing.assert_array_equal(b, np.cumsum(a))


def test_overlapping_windows_keep_their_allocation():
    """Each i touches t[i], t[i + 1]: neighbouring iterations share an element."""
    n = 6
    A, B = decl_buffer((n + 1,), "float32", "A"), decl_buffer((n,), "float32", "B")
    t = decl_buffer((n + 1,), "float32", "t")
    i = Var("i")
    body = For(i, const(0), const(n), "serial", seq(
        BufferStore(t, BufferLoad(A, (i + 1,), "float32"), (i + 1,)),
        BufferStore(B, BufferLoad(t, (i,), "float32") + BufferLoad(t, (i + 1,), "float32"), (i,))))
    func = PrimFunc((A, B), Allocate(t, body))
    assert compact_buffers(func) is func


def test_vectorized_loops_and_shared_memory_are_not_entered():
    n = 8
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    i = Var("i")
    for kind, scope in (("vectorized", "local"), ("serial", "shared")):
        t = decl_buffer((n,), "float32", "t", scope)
        body = For(i, const(0), const(n), kind, seq(
            BufferStore(t, BufferLoad(A, (i,), "float32"), (i,)),
            BufferStore(B, BufferLoad(t, (i,), "float32"), (i,))))
        func = PrimFunc((A, B), Allocate(t, body))
        assert compact_buffers(func) is func


#: The default matmul's register tile: 4 rows of two 8-float vectors with AVX2 (8 of 16
#: registers), 16 rows of one 16-float vector with AVX-512 (16 of 32 registers).
# 64 rows: AVX2 takes 6-row tiles of its 16 ymm registers (11 tiles), AVX-512 16-row ones
ACCUMULATOR_TILE = {"avx2": (6, 16), "avx512": (16, 16)}


@each_pinned_target
def test_default_matmul_accumulator_is_a_small_per_tile_buffer(isa, target):
    with pinned_threads():
        func = default_schedule(mlc.IRModule({"main": mm_relu_func(64, 48, 20)}), target).mod["main"]
    allocs = loops_to_alloc(compacted(func))
    names, shape = allocs["Y_local"]
    assert shape == ACCUMULATOR_TILE[isa] and names == ("j_0", "i_0")  # inside the tile loops
    nodes = [n for n in pre_order_nodes(compacted(func).body) if isinstance(n, Allocate)]
    assert all(n.buffer.name != "Y" for n in nodes)  # relu was folded into the write back


def test_the_buffers_whose_address_is_taken_are_found_with_one_walk(monkeypatch):
    """Each nested allocation used to walk its whole body again for AddressOf nodes; an
    addressed buffer still keeps its allocation, the others still move."""
    from mlc.ir.extern import address_of, call_extern
    from mlc.ir.tir import Evaluate
    cb = importlib.import_module("mlc.passes.tir.compact_buffers")

    n = 4
    A, B = decl_buffer((n, n), "float32", "A"), decl_buffer((n, n), "float32", "B")
    kept, moved, also = (decl_buffer((n, n), "float32", name) for name in ("kept", "moved", "also"))
    i, j = Var("i"), Var("j")
    row = For(j, const(0), const(n), "serial", seq(
        BufferStore(moved, BufferLoad(A, (i, j), "float32"), (i, j)),
        BufferStore(also, BufferLoad(moved, (i, j), "float32"), (i, j)),
        BufferStore(kept, BufferLoad(also, (i, j), "float32"), (i, j)),
        Evaluate(call_extern("int32", "consume", address_of(BufferLoad(kept, (i, j), "float32")))),
        BufferStore(B, BufferLoad(kept, (i, j), "float32"), (i, j))))
    func = PrimFunc((A, B), Allocate(kept, Allocate(moved, Allocate(also, For(i, const(0), const(n),
                                                                              "serial", row)))))
    statement_walks = []
    walk = cb.pre_order_nodes

    def counting(root):
        if isinstance(root, (Allocate, For)):  # (the accesses walk expressions and leaf statements)
            statement_walks.append(root)
        return walk(root)

    monkeypatch.setattr(cb, "pre_order_nodes", counting)
    out = compact_buffers(func)
    assert statement_walks == [func.body]
    shapes = {n.buffer.name: tuple(int(e.value) for e in n.buffer.shape)
              for n in pre_order_nodes(out.body) if isinstance(n, Allocate)}
    assert shapes == {"kept": (n, n), "moved": (1, 1), "also": (1, 1)}


def _row_scratch(index, shape=(16,)):
    """``for i, j in 4 x 4: t[index(i, j)] = A[i, j] * 2; B[i, j] = t[index(i, j)] + 1`` with
    ``t`` (of ``shape``, 16 elements) allocated around both loops."""
    A, B = decl_buffer((16,), "float32", "A"), decl_buffer((16,), "float32", "B")
    t = decl_buffer(shape, "float32", "t")
    i, j = Var("i"), Var("j")
    at = index(i, j)
    body = For(i, const(0), const(4), "serial", For(j, const(0), const(4), "serial", seq(
        BufferStore(t, BufferLoad(A, (i * 4 + j,), "float32") * const(2.0, "float32"), at),
        BufferStore(B, BufferLoad(t, at, "float32") + const(1.0, "float32"), (i * 4 + j,)))))
    return PrimFunc((A, B), Allocate(t, body))


def _doubles_plus_one(func):
    a = np.arange(16, dtype="float32")
    (_, b) = run(func, a, np.zeros(16, "float32"))
    np.testing.assert_array_equal(b, a * 2 + 1)


def test_loops_that_move_a_corner_of_their_own_by_whole_boxes_need_no_enumeration(monkeypatch):
    """t[i, j] (a 4 x 4 buffer, one element an iteration): each loop moves a dimension of its
    own by whole one-element boxes, which the corners' linear form shows; nothing is enumerated."""
    cb = importlib.import_module("mlc.passes.tir.compact_buffers")

    def enumerated(rows):
        raise AssertionError("enumerated the corners of loops that separate by their linear form")
    monkeypatch.setattr(cb, "_distinct_rows", enumerated)
    out = compact_buffers(_row_scratch(lambda i, j: (i, j), shape=(4, 4)))
    assert loops_to_alloc(out)["t"] == (("i", "j"), (1, 1))
    _doubles_plus_one(out)


def test_loops_sharing_a_dimension_are_enumerated():
    """t[i * 4 + j] (one dimension moved by both loops): the corners are enumerated, all
    distinct, and t moves into j's loop; t[i + j]: (0, 1) and (1, 0) meet, so t stays."""
    moved = compact_buffers(_row_scratch(lambda i, j: (i * 4 + j,)))
    assert loops_to_alloc(moved)["t"] == (("i", "j"), (1,))
    _doubles_plus_one(moved)
    kept = _row_scratch(lambda i, j: (i + j,))
    assert compact_buffers(kept) is kept


def test_a_0_d_buffer_accessed_only_inside_a_loop_is_left_as_it_is():
    """A 0-d reduction whose one reader folded away (``total * 0`` in int32) is accessed only
    inside its loop: every iteration has its one element, so it stays where it is (the pass
    crashed on its empty box)."""
    from mlc import te
    A = te.placeholder((4,), "int32", "A")
    k = te.reduce_axis((0, 4), "k")
    total = te.compute((), lambda: te.sum(A[k], axis=k), name="total")
    B = te.compute((), lambda: total[()] * 0 + 5, name="B")
    lib = mlc.build(te.create_prim_func([A, B]), "llvm")
    out = np.zeros((), "int32")
    lib["main"](np.arange(4, dtype="int32"), out)
    assert out == 5


def test_windows_whose_corners_fall_in_different_boxes_still_overlap():
    """i in [1, 3) touches t[i], t[i + 1]: corners 1 and 2 lie in different two-element
    boxes of the grid (1 // 2 != 2 // 2), yet the windows share t[2], which iteration 1
    writes and iteration 2 reads: a fresh t per iteration would lose it."""
    A, B = decl_buffer((4,), "float32", "A"), decl_buffer((4,), "float32", "B")
    t = decl_buffer((4,), "float32", "t")
    i = Var("i")
    zero = const(0.0, "float32")
    body = For(i, const(1), const(2), "serial", seq(
        BufferStore(B, Select(i > 1, BufferLoad(t, (i,), "float32"), zero, "float32"), (i,)),
        BufferStore(t, BufferLoad(A, (i + 1,), "float32"), (i + 1,)),
        BufferStore(B, BufferLoad(B, (i,), "float32") + BufferLoad(t, (i + 1,), "float32"), (i,))))
    func = PrimFunc((A, B), Allocate(t, body))
    assert compact_buffers(func) is func
    a = np.array([0, 1, 2, 3], "float32")
    (_, b) = run(func, a, np.zeros(4, "float32"))
    np.testing.assert_array_equal(b[1:3], [2, 5])


def test_a_dimension_two_loops_move_does_not_separate_either():
    """Iterations (0, 1) and (1, 0) of loops i, j both touch t[i + j]: t stays shared."""
    n = 3
    A, B = decl_buffer((n, n), "float32", "A"), decl_buffer((n, n), "float32", "B")
    t = decl_buffer((2 * n,), "float32", "t")
    i, j = Var("i"), Var("j")
    body = For(i, const(0), const(n), "serial", For(j, const(0), const(n), "serial", seq(
        BufferStore(t, BufferLoad(t, (i + j,), "float32") + BufferLoad(A, (i, j), "float32"), (i + j,)),
        BufferStore(B, BufferLoad(t, (i + j,), "float32"), (i, j)))))
    func = PrimFunc((A, B), Allocate(t, body))
    assert compact_buffers(func) is func
