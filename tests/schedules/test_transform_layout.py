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
    sch.transform_layout(block, ("read", 1), lambda k, j: (j // 16, k, j % 16), pad_value=0.0)
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


# ------------------------------------------------------------------ padding

from dataclasses import replace as _replace  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def two_stages(n: int, dtype="float32"):
    """B = A * 2 (an intermediate), C = B + 1."""
    A = te.placeholder((n,), dtype, "A")
    B = te.compute((n,), lambda i: A[i] * 2, "B")
    C = te.compute((n,), lambda i: B[i] + 1, "C")
    return mlc.IRModule({"main": te.create_prim_func([A, C])})


def exposed(func, name):
    """``func`` with its allocated buffer ``name`` turned into a trailing parameter, so a test
    can read every cell of it, padding included."""
    root = func.root_block
    buf = next(b for b in root.alloc_buffers if b.name == name)
    new_root = _replace(root, alloc_buffers=tuple(b for b in root.alloc_buffers if b is not buf))
    return _replace(func, params=func.params + (buf,), body=_replace(func.body, block=new_root))


def test_a_padded_layout_without_pad_value_is_refused():
    sch = Schedule(two_stages(34))
    before = sch.mod
    with pytest.raises(ScheduleError, match=r"lays B of shape \(34,\) out as \(9, 4\), which has 2 "
                                            r"cells no element goes to; pass pad_value="):
        sch.transform_layout(sch.get_block("B"), "B", lambda i: (i // 4, i % 4))
    mlc.assert_structural_equal(sch.mod, before)


def test_the_padding_is_filled_first_golden():
    sch = Schedule(two_stages(34))
    sch.transform_layout(sch.get_block("B"), "B", lambda i: (i // 4, i % 4), pad_value=-1.5)
    text = sch.mod["main"].script()
    assert "B = T.alloc_buffer((9, 4))" in text
    pad = text.index('with T.block("B_pad")')
    assert pad < text.index('with T.block("B")') < text.index('with T.block("C")')
    # the padding alone: the last tile's cells 2 and 3, not a test per cell of B
    assert "for B_1 in range(2):" in text and "v0 = T.axis.spatial(9, 8)" in text
    assert "v1 = T.axis.spatial(4, B_1 + 2)" in text and "B[v0, v1] = T.float32(-1.5)" in text
    assert sch.trace.insts[-1].inputs["pad_value"] == -1.5
    assert_replays(sch, lambda: two_stages(34))


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 23), factor=st.integers(1, 6), target=st.sampled_from(["reference", "llvm"]))
def test_every_padding_cell_holds_pad_value(n, factor, target):
    sch = Schedule(two_stages(n))
    sch.transform_layout(sch.get_block("B"), "B", lambda i: (i // factor, i % factor), pad_value=7.0)
    assert_same_numerics(two_stages(n), sch.mod, targets=(target,))
    func = exposed(sch.mod["main"], "B")
    shape = func.params[-1].static_shape()  # the smallest box holding the image
    a, c = np.arange(n, dtype="float32"), np.zeros(n, "float32")
    b = np.full(shape, np.nan, "float32")
    mlc.build(mlc.IRModule({"main": func}), target)["main"](a, c, b)
    want = np.full(shape, 7.0, "float32")
    for i in range(n):
        want[i // factor, i % factor] = a[i] * 2
    np.testing.assert_array_equal(b, want)
    np.testing.assert_array_equal(c, a * 2 + 1)


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 9), n=st.integers(1, 9), fm=st.integers(1, 4), fn=st.integers(1, 4),
       target=st.sampled_from(["reference", "llvm"]))
def test_padding_of_two_splits_and_a_permutation_holds_pad_value(m, n, fm, fn, target):
    """Both axes split, the tiles permuted: the padding of each split is filled (where
    they overlap, twice with the same value), every other cell holds its element."""
    A = te.placeholder((m, n), "float32", name="A")
    B = te.compute((m, n), lambda i, j: A[i, j] + 1.0, name="B")
    C = te.compute((m, n), lambda i, j: B[i, j] * 2.0, name="C")
    mod = mlc.IRModule({"main": te.create_prim_func([A, C])})
    sch = Schedule(mod)
    sch.transform_layout(sch.get_block("B"), "B", lambda i, j: (j // fn, i // fm, i % fm, j % fn), pad_value=-3.0)
    assert_same_numerics(mod, sch.mod, targets=(target,))
    func = exposed(sch.mod["main"], "B")
    shape = func.params[-1].static_shape()
    a, c = np.arange(m * n, dtype="float32").reshape(m, n), np.zeros((m, n), "float32")
    b = np.full(shape, np.nan, "float32")
    mlc.build(mlc.IRModule({"main": func}), target)["main"](a, c, b)
    want = np.full(shape, -3.0, "float32")
    for i in range(m):
        for j in range(n):
            want[j // fn, i // fm, i % fm, j % fn] = a[i, j] + 1
    np.testing.assert_array_equal(b, want)


def test_a_general_padded_map_fills_the_whole_buffer_first():
    sch = Schedule(matmul(4, 6, 3))
    block = sch.get_block("C")
    sch.cache_read(block, 1, "global")
    sch.transform_layout(block, ("read", 1), lambda k, j: (k * 7 + j,), pad_value=0.0)   # 20 cells for 18
    text = sch.mod.script()
    assert "B_global = T.alloc_buffer((20,))" in text and 'T.block("B_global_pad")' in text
    assert_same_numerics(matmul(4, 6, 3), sch.mod)


def test_no_padding_needs_no_pad_value_and_gets_no_fill():
    sch = Schedule(two_stages(32))
    sch.transform_layout(sch.get_block("B"), "B", lambda i: (i // 4, i % 4), pad_value=0.0)
    assert "B_pad" not in sch.mod.script()


@pytest.mark.parametrize("dtype, pad_value, message", [
    ("float32", "zero", "pad_value must be a scalar"),
    ("int32", 1.5, "does not fit B's dtype int32"),
    ("int32", 2**40, "does not fit B's dtype int32"),
])
def test_pad_values_that_do_not_fit_are_refused(dtype, pad_value, message):
    sch = Schedule(two_stages(10, dtype))
    with pytest.raises(ScheduleError, match=message):
        sch.transform_layout(sch.get_block("B"), "B", lambda i: (i // 4, i % 4), pad_value=pad_value)
