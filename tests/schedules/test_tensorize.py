"""tensorize and the TensorIntrin registry: golden IR, mismatches, replay, numerics."""
import pytest

import mlc
from mlc import ScheduleError, TensorIntrin, te
from mlc.ir import decl_buffer, const
from mlc.ir.tir import BufferStore, For, seq
from mlc.schedules import Schedule

from .block_programs import (V, assert_replays, assert_same_numerics, block, course_module, func,
                             loops, module)

ZERO = const(0.0, "float32")


def matmul(n=8, m=8, k=8, dtype="float32", reducer="sum", transpose_b=False):
    A = te.placeholder((n, k), dtype, name="A")
    B = te.placeholder((m, k) if transpose_b else (k, m), dtype, name="B")
    r = te.reduce_axis((0, k), name="k")
    red = te.sum if reducer == "sum" else te.max
    b = (lambda j: B[j, r]) if transpose_b else (lambda j: B[r, j])
    Y = te.compute((n, m), lambda i, j: red(A[i, r] * b(j), axis=r), name="Y")
    return mlc.IRModule({"main": te.create_prim_func([A, B, Y])})


def mac_schedule(make, factor=4, decompose=True):
    sch = Schedule(make())
    block_Y = sch.get_block("Y")
    i, j, k = sch.get_loops(block_Y)
    j0, j1 = sch.split(j, factors=[None, factor])
    sch.reorder(j0, k, j1)
    if decompose:
        sch.decompose_reduction(block_Y, k)
    return sch, block_Y, j1


def test_tensorize_mac_golden():
    n = 4
    sch, _, j1 = mac_schedule(lambda: matmul(n, 8, n))
    sch.tensorize(j1, "mac_1x4_f32")
    A, B, Y = decl_buffer((n, n), "float32", "A"), decl_buffer((n, 8), "float32", "B"), decl_buffer((n, 8), "float32", "Y")
    i, j0, ji, k, jv = V("i"), V("j_0"), V("j_1_init"), V("k"), V("j")
    y_init = block("Y_init", [("vi", n, "S"), ("vj", 8, "S")], (i, j0 * 4 + ji),
                   lambda vi, vj: BufferStore(Y, ZERO, (vi, vj)), reads=lambda vi, vj: ())

    def impl(vi, vj, vk):
        idx = (vi, vj * 4 + jv)
        return For(jv, const(0), const(4), "vectorized",
                   BufferStore(Y, Y[idx] + A[vi, vk] * B[vk, vj * 4 + jv], idx))

    outer = block("Y_update_o", [("vi_o", n, "S"), ("vj_o", 2, "S"), ("vk_o", n, "R")], (i, j0, k), impl,
                  reads=lambda vi, vj, vk: (Y[vi, vj * 4:vj * 4 + 4], A[vi:vi + 1, vk:vk + 1],
                                            B[vk, vj * 4:vj * 4 + 4]),
                  writes=lambda vi, vj, vk: (Y[vi, vj * 4:vj * 4 + 4],))
    body = loops([(i, n), (j0, 2)], seq(loops([(ji, 4)], y_init), loops([(k, n)], outer)))
    mlc.assert_structural_equal(sch.mod, module(func((A, B, Y), (), body)))
    assert_same_numerics(matmul(n, 8, n), sch.mod)
    assert_replays(sch, lambda: matmul(n, 8, n))


def test_tensorize_the_course_sequence():
    make = lambda: course_module(16)  # noqa: E731
    sch = Schedule(make())
    block_Y = sch.get_block("Y", func_name="mm_relu")
    i, j, k = sch.get_loops(block_Y)
    j0, j1 = sch.split(j, factors=[None, 4])
    sch.reorder(j0, k, j1)
    sch.reverse_compute_at(sch.get_block("C", "mm_relu"), j0)
    sch.decompose_reduction(block_Y, k)
    sch.tensorize(j1, "mac_1x4_f32")
    assert "for j in T.vectorized(4):" in sch.mod.script()
    assert_same_numerics(make(), sch.mod)
    assert_replays(sch, make)


def test_tensorize_a_dot_product_on_a_blockized_block():
    make = lambda: matmul(3, 5, 12)  # noqa: E731
    sch = Schedule(make())
    block_Y = sch.get_block("Y")
    _, _, k = sch.get_loops(block_Y)
    k0, k1 = sch.split(k, factors=[None, 4])
    sch.decompose_reduction(block_Y, k0)
    outer = sch.blockize(k1)
    sch.tensorize(outer, "dot_4_f32")
    text = sch.mod.script()
    assert "for k in T.unroll(4):" in text
    assert "Y[vi_o, vj_o] = Y[vi_o, vj_o] + A[vi_o, vk_o * 4 + k] * B[vk_o * 4 + k, vj_o]" in text
    assert_same_numerics(make(), sch.mod)
    assert_replays(sch, make)


def test_register_a_te_described_intrinsic():
    A = te.placeholder((4,), "float32", name="A")
    B = te.placeholder((4,), "float32", name="B")
    C = te.compute((4,), lambda i: A[i] + B[i], name="C")
    desc = te.create_prim_func([A, B, C])
    Ai, Bi, Ci = (decl_buffer((4,), "float32", x) for x in "ABC")
    i = V("i")
    impl = func((Ai, Bi, Ci), (), For(i, const(0), const(4), "vectorized", BufferStore(Ci, Ai[i] + Bi[i], (i,))))
    TensorIntrin.register("test_add_4_f32", desc, impl, override=True)

    def make():
        X = te.placeholder((3, 8), "float32", name="X")
        Y = te.placeholder((3, 8), "float32", name="Y")
        Z = te.compute((3, 8), lambda a, b: X[a, b] + Y[a, b], name="Z")
        return mlc.IRModule({"main": te.create_prim_func([X, Y, Z])})
    sch = Schedule(make())
    _, b = sch.get_loops(sch.get_block("Z"))
    _, b1 = sch.split(b, factors=[None, 4])
    sch.tensorize(b1, "test_add_4_f32")
    assert "Z[va_o, vb_o * 4 + i] = X[va_o, vb_o * 4 + i] + Y[va_o, vb_o * 4 + i]" in sch.mod.script()
    assert_same_numerics(make(), sch.mod)
    assert_replays(sch, make)


# ---------------------------------------------------------------- mismatches

def test_tensorize_reports_a_loop_extent_mismatch():
    sch, _, j1 = mac_schedule(lambda: matmul(4, 16, 4), factor=8)
    with pytest.raises(ScheduleError, match=r"tensorize: block 'Y_update_o', intrinsic 'mac_1x4_f32': .*"
                                            r"loop 0 \(j_1\) has extent 8 but the description's loop j has extent 4"):
        sch.tensorize(j1, "mac_1x4_f32")
    assert all(inst.kind != "tensorize" for inst in sch.trace)
    assert "Y_update_o" not in sch.mod.script()  # nothing changed


def test_tensorize_reports_an_iterator_mismatch():
    sch = Schedule(matmul(4, 4, 8))
    block_Y = sch.get_block("Y")
    _, _, k = sch.get_loops(block_Y)
    k0, k1 = sch.split(k, factors=[None, 4])
    sch.decompose_reduction(block_Y, k0)
    with pytest.raises(ScheduleError, match="iterator vk_i is reduce in the block but vj is spatial in the description"):
        sch.tensorize(k1, "mac_1x4_f32")


def test_tensorize_reports_an_index_mismatch():
    sch, _, j1 = mac_schedule(lambda: matmul(4, 8, 4, transpose_b=True))
    with pytest.raises(ScheduleError, match=r"index 0 of B is `vj_o \* 4 \+ j` where the description needs"):
        sch.tensorize(j1, "mac_1x4_f32")


def test_tensorize_reports_dtype_op_and_init_mismatches():
    sch, _, j1 = mac_schedule(lambda: matmul(4, 8, 4, dtype="float64"))
    with pytest.raises(ScheduleError, match="float64 but the description's C is float32"):
        sch.tensorize(j1, "mac_1x4_f32")
    sch, _, j1 = mac_schedule(lambda: matmul(4, 8, 4, reducer="max"))
    with pytest.raises(ScheduleError, match="op 'max' in the block vs 'add' in the description"):
        sch.tensorize(j1, "mac_1x4_f32")
    sch, _, j1 = mac_schedule(lambda: matmul(4, 8, 4), decompose=False)
    with pytest.raises(ScheduleError, match=r"block 'Y_o', intrinsic 'mac_1x4_f32': .*block 'Y_o' has T.init\(\) but the "
                                            r"description does not .*decompose_reduction first"):
        sch.tensorize(j1, "mac_1x4_f32")


def test_tensorize_needs_a_blockized_block_and_a_known_intrinsic():
    sch, block_Y, j1 = mac_schedule(lambda: matmul(4, 8, 4))
    with pytest.raises(ScheduleError, match="body must be loops around one inner block; blockize"):
        sch.tensorize(block_Y, "mac_1x4_f32")
    with pytest.raises(ScheduleError, match=r"no tensor intrinsic named 'nope'; registered: \[.*'dot_4_f32'"):
        sch.tensorize(j1, "nope")


def test_register_checks_its_arguments():
    desc, impl = TensorIntrin.get("dot_4_f32").desc, TensorIntrin.get("dot_4_f32").impl
    with pytest.raises(ScheduleError, match="'dot_4_f32' is already registered"):
        TensorIntrin.register("dot_4_f32", desc, impl)
    with pytest.raises(ScheduleError, match="parameter A is float32"):
        TensorIntrin.register("bad", desc, TensorIntrin.get("mac_1x4_f32").impl)
    with pytest.raises(ScheduleError, match="must be a PrimFunc"):
        TensorIntrin.register("bad", "desc", impl)


def test_register_te_tensors_with_init_false_accumulates_across_k_tiles():
    """A te description without its init (C += A @ B) tensorizes a tile of a reduction
    that continues across tiles, after decompose_reduction."""
    def tile_tensors():
        A = te.placeholder((4, 4), "float32", name="A")
        B = te.placeholder((4, 4), "float32", name="B")
        r = te.reduce_axis((0, 4), name="k")
        return [A, B, te.compute((4, 4), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="C")]
    TensorIntrin.register("test_te_mm_4_acc", tile_tensors(), tile_tensors(), override=True, init=False)
    make = lambda: matmul(8, 8, 12)  # noqa: E731
    sch = Schedule(make())
    block = sch.get_block("Y")
    i, j, k = sch.get_loops(block)
    i0, i1 = sch.split(i, [None, 4])
    j0, j1 = sch.split(j, [None, 4])
    k0, k1 = sch.split(k, [None, 4])
    sch.reorder(i0, j0, k0, i1, j1, k1)
    sch.decompose_reduction(block, k0)
    sch.tensorize(i1, "test_te_mm_4_acc")
    assert "T.init()" not in sch.mod.script()
    assert_same_numerics(make(), sch.mod)
    assert_replays(sch, make)
