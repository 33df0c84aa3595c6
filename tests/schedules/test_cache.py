"""cache_read and cache_write: golden IR, names, errors, replay, numerics."""
import pytest

import mlc
from mlc import ScheduleError, te
from mlc.ir import Buffer, decl_buffer, const
from mlc.ir.tir import BufferStore
from mlc.schedules import Schedule

from .block_programs import (V, assert_replays, assert_same_numerics, block, course_module, func,
                             loops, module)


def add_one(n=4, m=6):
    A = te.placeholder((n, m), "float32", name="A")
    B = te.compute((n, m), lambda i, j: A[i, j] + 1, name="B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def _copy(name, src, dst, n, m, ax0, ax1):
    return loops([(ax0, n), (ax1, m)], block(name, [("v0", n, "S"), ("v1", m, "S")], (ax0, ax1),
                                             lambda v0, v1: BufferStore(dst, src[v0, v1], (v0, v1))))


def _add(A, B, n, m, i, j):
    return loops([(i, n), (j, m)], block("B", [("vi", n, "S"), ("vj", m, "S")], (i, j),
                                         lambda vi, vj: BufferStore(B, A[vi, vj] + const(1.0, "float32"), (vi, vj))))


def test_cache_read_golden():
    sch = Schedule(add_one())
    copy = sch.cache_read(sch.get_block("B"), 0, "shared")
    A, B = decl_buffer((4, 6), "float32", "A"), decl_buffer((4, 6), "float32", "B")
    A_shared = Buffer("A_shared", A.shape, "float32", "shared")
    expected = func((A, B), (A_shared,), _copy("A_shared", A, A_shared, 4, 6, V("ax0"), V("ax1")),
                    _add(A_shared, B, 4, 6, V("i"), V("j")))
    mlc.assert_structural_equal(sch.mod, module(expected))
    assert sch._blocks[copy][1] == "A_shared"
    assert len(sch.get_loops(copy)) == 2
    assert_same_numerics(add_one(), sch.mod)
    assert_replays(sch, add_one)


def test_cache_write_golden():
    sch = Schedule(add_one())
    copy = sch.cache_write(sch.get_block("B"), 0, "local")
    A, B = decl_buffer((4, 6), "float32", "A"), decl_buffer((4, 6), "float32", "B")
    B_local = Buffer("B_local", B.shape, "float32", "local")
    expected = func((A, B), (B_local,), _add(A, B_local, 4, 6, V("i"), V("j")),
                    _copy("B_local", B_local, B, 4, 6, V("ax0"), V("ax1")))
    mlc.assert_structural_equal(sch.mod, module(expected))
    assert sch._blocks[copy][1] == "B_local"
    assert_same_numerics(add_one(), sch.mod)
    assert_replays(sch, add_one)


def test_cache_read_and_write_on_the_course_matmul():
    make = lambda: course_module(8, m=12, k=5)  # noqa: E731
    sch = Schedule(make())
    block_Y = sch.get_block("Y")
    a_shared = sch.cache_read(block_Y, 0, "shared")
    y_local = sch.cache_write(block_Y, 0, "local")
    i, _, _ = sch.get_loops(block_Y)
    sch.compute_at(a_shared, i)
    text = sch.mod.script()
    assert 'Y_local = T.alloc_buffer((8, 12), scope="local")' in text
    assert 'with T.block("Y_local"):' in text and 'with T.block("A_shared"):' in text
    assert "T.reads(A_shared[vi, vk], B[vk, vj])" in text
    assert sch._blocks[y_local][1] == "Y_local"
    assert_same_numerics(make(), sch.mod)
    assert_replays(sch, make)


def test_cache_names_stay_unique():
    sch = Schedule(add_one())
    sch.cache_read(sch.get_block("B"), 0, "shared")
    second = sch.cache_read(sch.get_block("B"), 0, "shared")
    assert sch._blocks[second][1] == "A_shared_shared"
    assert_same_numerics(add_one(), sch.mod)


# -------------------------------------------------------------------- errors

def test_cache_index_and_scope_errors():
    sch = Schedule(add_one())
    with pytest.raises(ScheduleError, match=r"cache_read: block 'B': read_buffer_index 1 is out of range; "
                                            r"the block reads 1 buffer\(s\) \(A\)"):
        sch.cache_read(sch.get_block("B"), 1, "shared")
    with pytest.raises(ScheduleError, match="write_buffer_index -1 is out of range"):
        sch.cache_write(sch.get_block("B"), -1, "local")
    with pytest.raises(ScheduleError, match="unknown storage scope 'texture'"):
        sch.cache_read(sch.get_block("B"), 0, "texture")


def test_cache_write_refuses_a_second_writer_and_a_reader_in_the_same_nest():
    sch = Schedule(course_module(8))
    block_Y = sch.get_block("Y")
    i, j, k = sch.get_loops(block_Y)
    sch.reverse_compute_at(sch.get_block("C"), j)
    with pytest.raises(ScheduleError, match="block 'C' reads Y in the same loop nest"):
        sch.cache_write(block_Y, 0, "local")
    sch.decompose_reduction(block_Y, k)
    with pytest.raises(ScheduleError, match="block 'Y_init' also writes Y"):
        sch.cache_write(block_Y, 0, "local")


def test_cache_read_refuses_a_buffer_written_after_its_first_read():
    n = 8
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    i1, i2 = V("i"), V("i")
    read = block("B", [("vi", n, "S")], (i1,), lambda vi: BufferStore(B, A[vi], (vi,)))
    write = block("Z", [("vi", n, "S")], (i2,), lambda vi: BufferStore(A, B[vi] * const(2.0, "float32"), (vi,)))
    sch = Schedule(module(func((A, B), (), loops([(i1, n)], read), loops([(i2, n)], write))))
    with pytest.raises(ScheduleError, match="block 'Z' writes A at or after its first read"):
        sch.cache_read(sch.get_block("B"), 0, "shared")


# ------------------------------------------------- splits that do not divide

def _scale_rows(n=4, m=32):
    X = te.placeholder((n, m), "float32", name="X")
    Y = te.compute((n, m), lambda i, j: X[i, j] * 2, name="Y")
    return mlc.IRModule({"main": te.create_prim_func([X, Y])})


def test_cache_write_after_a_ragged_split_copies_back_only_the_buffer():
    """Regression: j split by 3 runs 11 * 3 = 33 iterations over 32 columns; the copy
    back used to run 33 columns and write Y[0, 32] (out of bounds)."""
    sch = Schedule(_scale_rows())
    block_Y = sch.get_block("Y")
    _, j = sch.get_loops(block_Y)
    sch.split(j, factors=[None, 3])
    sch.cache_write(block_Y, 0, "local")
    text = sch.mod.script()
    assert "for ax0, ax1 in T.grid(4, 32):" in text
    assert_same_numerics(_scale_rows(), sch.mod)
    assert_replays(sch, _scale_rows)


def test_cache_write_of_a_ragged_tile_under_a_block_is_clipped_by_a_predicate():
    """Inside an outer block the copied tile is 3 wide at column vj_o * 3; the last
    tile (vj_o = 10) would reach column 32, so a predicate keeps the copy in bounds."""
    sch = Schedule(_scale_rows())
    block_Y = sch.get_block("Y")
    _, j = sch.get_loops(block_Y)
    _, j1 = sch.split(j, factors=[None, 3])
    sch.blockize(j1)
    sch.cache_write(block_Y, 0, "local")
    text = sch.mod.script()
    assert "for ax0, ax1 in T.grid(1, 3):" in text
    assert "T.where(vj_o * 3 + ax1 < 32)" in text
    assert_same_numerics(_scale_rows(), sch.mod)
    assert_replays(sch, _scale_rows)


def test_cache_write_inside_a_reduction_step_block_is_refused():
    """A cache allocated in a block that runs once per reduction step would lose the sum."""
    sch = Schedule(course_module(1, m=2, k=3))
    _, _, k = sch.get_loops(sch.get_block("Y"))
    _, k_1 = sch.split(k, factors=[None, 2])
    sch.blockize(k_1)
    before = sch.mod
    with pytest.raises(ScheduleError, match="reduction"):
        sch.cache_write(sch.get_block("Y"), 0, "local")
    mlc.assert_structural_equal(sch.mod, before)


def _two_stages():
    A = te.placeholder((4, 6), "float32", name="A")
    B = te.compute((4, 6), lambda i, j: A[i, j] * 2, name="B")
    C = te.compute((4, 6), lambda i, j: B[i, j] + 1, name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, C])})


def test_set_scope_moves_an_intermediate_with_every_access_and_replays():
    mod = _two_stages()
    sch = Schedule(mod)
    sch.set_scope(sch.get_block("B"), 0, "shared")
    func = sch.mod["main"]
    (alloc,) = func.root_block.alloc_buffers
    assert alloc.scope == "shared" and alloc.name == "B"
    from mlc.schedules.state import find_block
    assert find_block(func, "C").node.block.reads[0].buffer is alloc  # the reader sees it in its new scope
    assert_same_numerics(mod, sch.mod)
    assert_replays(sch, _two_stages)
    sch.set_scope(sch.get_block("B"), 0, "shared")  # already there: nothing changes
    assert sch.mod["main"] is func


def test_set_scope_refuses_a_parameter_an_unknown_scope_and_a_bad_index():
    sch = Schedule(_two_stages())
    with pytest.raises(ScheduleError, match="C is a parameter of the function.*cache_write"):
        sch.set_scope(sch.get_block("C"), 0, "shared")
    with pytest.raises(ScheduleError, match="unknown storage scope 'shard'"):
        sch.set_scope(sch.get_block("B"), 0, "shard")
    with pytest.raises(ScheduleError, match="write_buffer_index 1 is out of range"):
        sch.set_scope(sch.get_block("B"), 1, "shared")
