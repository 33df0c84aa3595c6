"""transform_layout and index maps: golden IR, packing numerics, replay, every refusal."""
import numpy as np
import pytest

import mlc
from mlc import ScheduleError, te
from mlc.passes.tir import lower
from mlc.schedules import IndexMap, Schedule

from .block_programs import assert_replays, assert_same_numerics


def matmul(n=5, m=40, k=7):
    A = te.placeholder((n, k), "float32", name="A")
    B = te.placeholder((k, m), "float32", name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((n, m), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def packed(make=matmul):
    sch = Schedule(make())
    block = sch.get_block("C")
    sch.cache_read(block, 1, "global")
    sch.transform_layout(block, ("read", 1), lambda k, j: (j // 16, k, j % 16))
    return sch


def test_index_map_text_round_trips():
    m = IndexMap.parse(lambda a, b, c: (c // 4, a - b * 2, c % 4, (a + 1) * 3))
    assert m.text == "lambda a, b, c: (c // 4, a - b * 2, c % 4, (a + 1) * 3)"
    assert IndexMap.parse(m.text).text == m.text
    assert IndexMap.parse("lambda i: i").text == "lambda i: (i,)"


def test_packing_golden_and_numerics():
    sch = packed()
    text = sch.mod.script()
    assert "B_global = T.alloc_buffer((3, 7, 16))" in text  # 40 columns -> 3 panels of 16
    assert "B_global[v1 // 16, v0, v1 % 16] = B[v0, v1]" in text
    assert "T.reads(A[vi, vk], B_global[vj // 16, vk, vj % 16])" in text
    assert_same_numerics(matmul(), sch.mod)
    assert_replays(sch, matmul)


def test_packing_then_tiling_simplifies_the_panel_index():
    sch = packed(lambda: matmul(8, 32, 8))
    block = sch.get_block("C")
    _, j, _ = sch.get_loops(block)
    sch.split(j, [None, 16])
    lowered = lower(sch.mod["main"]).script()
    assert "j_0 * 128 + k * 16 + j_1" in lowered  # B_global[j_0, k, j_1], contiguous in j_1
    assert_same_numerics(matmul(8, 32, 8), sch.mod)


def test_regions_of_tiles_are_mapped():
    """A blockized tile reads a 16-column range; the packed read is one panel."""
    sch = Schedule(matmul(4, 32, 4))
    block = sch.get_block("C")
    _, j, _ = sch.get_loops(block)
    _, j1 = sch.split(j, [None, 16])
    sch.cache_read(block, 1, "global")
    outer = sch.blockize(j1)
    sch.transform_layout(outer, ("read", 1), "lambda k, j: (j // 16, k, j % 16)")
    assert "B_global[vj_o, 0:4, 0:16]" in sch.mod.script()
    assert_same_numerics(matmul(4, 32, 4), sch.mod)


def test_a_general_map_is_checked_by_enumeration():
    sch = Schedule(matmul(4, 6, 3))
    block = sch.get_block("C")
    sch.cache_read(block, 1, "global")
    sch.transform_layout(block, ("read", 1), lambda k, j: (k * 6 + j,))   # flatten
    assert "B_global = T.alloc_buffer((18,))" in sch.mod.script()
    assert_same_numerics(matmul(4, 6, 3), sch.mod)


@pytest.mark.parametrize("buffer, index_map, message", [
    (("read", 1), lambda k, j: (k, j // 2), "sends two elements of B_global to the same place"),
    (("read", 1), lambda k, j: (k - 1, j), "negative index -1"),
    (("read", 1), lambda k: (k,), "takes 1 indices but the buffer has 2 dimensions"),
    (("read", 1), lambda k, j: (k * j,), "sends two elements"),
    (("read", 1), "lambda k, j: (max(k, j),)", "is not allowed"),
    (("read", 1), "k + j", "must be a lambda"),
    (("read", 1), 3, "must be a lambda, its text or an IndexMap"),
    (("read", 5), lambda k, j: (j, k), "read index 5 is out of range"),
    (("write", 0), lambda i, j: (j, i), "C is a function parameter"),
    ("Z", lambda i, j: (j, i), "does not access a buffer named 'Z'"),
    (("load", 0), lambda i, j: (j, i), "buffer must be"),
])
def test_refusals(buffer, index_map, message):
    sch = Schedule(matmul(4, 6, 3))
    block = sch.get_block("C")
    sch.cache_read(block, 1, "global")
    before = sch.mod
    with pytest.raises(ScheduleError, match=message):
        sch.transform_layout(block, buffer, index_map)
    mlc.assert_structural_equal(sch.mod, before)


def test_the_trace_records_text_and_replays_from_json():
    sch = packed()
    inst = sch.trace.insts[-1]
    assert inst.kind == "transform_layout"
    assert inst.inputs["index_map"] == "lambda k, j: (j // 16, k, j % 16)"
    assert "index_map='lambda k, j: (j // 16, k, j % 16)'" in str(sch.trace)
    replayed = mlc.schedules.Trace.from_json(sch.trace.to_json()).apply(Schedule(matmul()))
    mlc.assert_structural_equal(replayed.mod, sch.mod)


def test_packed_matmul_runs_on_llvm_with_ragged_panels():
    sch = packed(lambda: matmul(3, 21, 5))
    rng = np.random.default_rng(1)
    a, b = rng.random((3, 5), dtype="float32"), rng.random((5, 21), dtype="float32")
    c = np.empty((3, 21), "float32")
    mlc.build(sch.mod, "llvm")["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5)
