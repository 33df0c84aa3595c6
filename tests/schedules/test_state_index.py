"""The blocks and loops of a function are found with one walk per function (IR is
immutable), and the statement-only walk of stmt_blocks finds what a walk of every node
finds, in the same order."""
import pytest

import mlc
from mlc import te
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BlockRealize
from mlc.schedules import state
from mlc.schedules.analysis import stmt_blocks


def _mm_relu(n=32):
    A = te.placeholder((n, n), "float32", "A")
    B = te.placeholder((n, n), "float32", "B")
    k = te.reduce_axis((0, n), "k")
    Y = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), "Y")
    C = te.compute((n, n), lambda i, j: te.max(Y[i, j], 0.0), "C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def test_lookups_in_one_function_walk_it_once(monkeypatch):
    func = _mm_relu()["main"]
    walks = []
    walk = state._walk
    monkeypatch.setattr(state, "_walk", lambda f: walks.append(f) or walk(f))
    loops = state.all_loops(func)
    assert state.find_block(func, "Y").node.block.name_hint == "Y"
    assert state.find_loop(func, loops[-1].node.loop_var) == loops[-1]
    assert [l.node for l in state.all_loops(func)] == [l.node for l in loops]
    assert len(state.all_blocks(func)) == 2
    assert walks == [func]


def test_a_new_function_is_walked_anew_and_old_handles_are_refused():
    sch = mlc.Schedule(_mm_relu())
    i, j, k = sch.get_loops(sch.get_block("Y"))
    before = sch.mod["main"]
    j_var = state.all_loops(before)[1].node.loop_var
    sch.split(j, [None, 4])
    after = sch.mod["main"]
    assert before is not after
    assert [l.node.loop_var.name for l in state.all_loops(after)][:4] == ["i", "j_0", "j_1", "k"]
    with pytest.raises(mlc.ScheduleError, match="no longer exists"):
        state.find_loop(after, j_var)
    assert state.find_loop(before, j_var).node.loop_var is j_var  # the old function still has it


def test_the_first_block_of_a_name_and_the_error_listing_them():
    func = _mm_relu()["main"]
    with pytest.raises(mlc.ScheduleError, match=r"no block named 'Z'; the function has blocks \['Y', 'C'\]"):
        state.find_block(func, "Z")


@pytest.mark.parametrize("schedule", ["default", "blockized"])
def test_stmt_blocks_finds_the_blocks_a_walk_of_every_node_finds(schedule):
    mod = _mm_relu(64)
    if schedule == "default":
        mod = mlc.driver.schedule_module(mod, "llvm")
    else:
        sch = mlc.Schedule(mod)
        i, j, k = sch.get_loops(sch.get_block("Y"))
        io, ii = sch.split(i, [None, 4])
        jo, ji = sch.split(j, [None, 4])
        sch.reorder(io, jo, k, ii, ji)
        sch.decompose_reduction(sch.get_block("Y"), k)
        sch.blockize(ii)
        mod = sch.mod
    body = mod["main"].body
    expected = [n for n in pre_order_nodes(body) if isinstance(n, BlockRealize)]
    assert len(expected) >= 3
    assert [id(b) for b in stmt_blocks(body)] == [id(b) for b in expected]
