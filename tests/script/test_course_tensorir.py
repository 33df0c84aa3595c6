"""The MLC course's chapter 2 TensorIR, typed as TVMScript, parses, builds and matches NumPy."""
import numpy as np
import pytest

import mlc
from mlc.script import ir as I, tir as T

from tests.programs import mm_relu_module


@I.ir_module
class MyModule:
    @T.prim_func
    def mm_relu(A: T.Buffer((128, 128), "float32"),
                B: T.Buffer((128, 128), "float32"),
                C: T.Buffer((128, 128), "float32")):
        T.func_attr({"global_symbol": "mm_relu", "tir.noalias": True})
        Y = T.alloc_buffer((128, 128), dtype="float32")
        for i, j, k in T.grid(128, 128, 128):
            with T.block("Y"):
                vi = T.axis.spatial(128, i)
                vj = T.axis.spatial(128, j)
                vk = T.axis.reduce(128, k)
                with T.init():
                    Y[vi, vj] = T.float32(0)
                Y[vi, vj] = Y[vi, vj] + A[vi, vk] * B[vk, vj]
        for i, j in T.grid(128, 128):
            with T.block("C"):
                vi = T.axis.spatial(128, i)
                vj = T.axis.spatial(128, j)
                C[vi, vj] = T.max(Y[vi, vj], T.float32(0))


@I.ir_module
class MyModuleWithAxisRemapSugar:
    @T.prim_func
    def mm_relu(A: T.Buffer[(128, 128), "float32"],
                B: T.Buffer[(128, 128), "float32"],
                C: T.Buffer[(128, 128), "float32"]):
        T.func_attr({"global_symbol": "mm_relu", "tir.noalias": T.bool(True)})
        Y = T.alloc_buffer((128, 128), dtype="float32")
        for i, j, k in T.grid(128, 128, 128):
            with T.block("Y"):
                vi, vj, vk = T.axis.remap("SSR", [i, j, k])
                with T.init():
                    Y[vi, vj] = T.float32(0)
                Y[vi, vj] = Y[vi, vj] + A[vi, vk] * B[vk, vj]
        for i, j in T.grid(128, 128):
            with T.block("C"):
                vi, vj = T.axis.remap("SS", [i, j])
                C[vi, vj] = T.max(Y[vi, vj], T.float32(0))


@pytest.mark.parametrize("mod", [MyModule, MyModuleWithAxisRemapSugar], ids=["axis", "remap"])
def test_course_mm_relu_is_the_te_program(mod):
    assert isinstance(mod, mlc.IRModule) and isinstance(mod["mm_relu"], mlc.PrimFunc)
    mlc.assert_structural_equal(mod, mm_relu_module())


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_course_mm_relu_builds_and_matches_numpy(target):
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (128, 128)).astype("float32")
    b = rng.uniform(-1, 1, (128, 128)).astype("float32")
    c = np.empty((128, 128), "float32")
    mlc.build(MyModule, target=target)["mm_relu"](a, b, c)
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-4, atol=1e-4)


def test_course_schedule_on_parsed_module_round_trips():
    """The chapter's transformation, applied to the parsed module, prints text that parses back."""
    sch = mlc.Schedule(MyModule)
    block_Y = sch.get_block("Y", func_name="mm_relu")
    i, j, k = sch.get_loops(block_Y)
    j0, j1 = sch.split(j, factors=[None, 4])
    sch.reorder(j0, k, j1)
    sch.reverse_compute_at(sch.get_block("C", "mm_relu"), j0)
    sch.decompose_reduction(block_Y, k)
    mlc.assert_structural_equal(mlc.parse(sch.mod.script()), sch.mod)


def test_a_prim_func_alone_and_python_constants_from_the_enclosing_code():
    n = 16

    @T.prim_func
    def add_one(A: T.Buffer((n,), "float32"), B: T.Buffer((n,), "float32")):
        for i in range(n):
            with T.block("B"):
                vi = T.axis.spatial(n, i)
                B[vi] = A[vi] + T.float32(1)

    assert isinstance(add_one, mlc.PrimFunc)
    a = np.arange(n, dtype="float32")
    b = np.empty(n, "float32")
    mlc.build(mlc.IRModule({"add_one": add_one}), "llvm")["add_one"](a, b)
    np.testing.assert_array_equal(b, a + 1)


def test_handles_with_match_buffer_and_augmented_stores():
    @T.prim_func
    def row_sum(a: T.handle, b: T.handle):
        A = T.match_buffer(a, (4, 8), "float32")
        B = T.match_buffer(b, (4,), "float32")
        for i, k in T.grid(4, 8):
            with T.block("B"):
                vi, vk = T.axis.remap("SR", [i, k])
                with T.init():
                    B[vi] = T.float32(0)
                B[vi] += A[vi, vk]

    a = np.arange(32, dtype="float32").reshape(4, 8)
    b = np.empty(4, "float32")
    mlc.build(mlc.IRModule({"row_sum": row_sum}), "llvm")["row_sum"](a, b)
    np.testing.assert_array_equal(b, a.sum(axis=1))


def test_a_module_class_redefined_under_the_same_name_is_read_from_its_own_lines():
    """The course redefines ``MyModule`` in each section; inspect finds the first class of a
    name in the file, so the second module came out with the first one's body."""
    @I.ir_module
    class MyModule:
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    B[vi] = A[vi] + T.float32(1)
    first = MyModule

    @I.ir_module
    class MyModule:  # noqa: F811 - redefined, as in the course
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    B[vi] = A[vi] * T.float32(10)

    a = np.arange(4, dtype=np.float32)
    for mod, want in ((first, a + 1), (MyModule, a * 10)):
        out = np.zeros(4, np.float32)
        mlc.build(mod, "llvm")["main"](a, out)
        np.testing.assert_array_equal(out, want)


def test_a_block_holding_blocks_reads_and_writes_their_regions_over_its_loops():
    """Chapter 8's MatmulBlockModule declares no regions: the outer block's are the inner
    blocks' over the 16x16x16 loops inside it (they leaked the inner iterators, and the
    writes covered all of C), so the text parses back and the course's reorder is taken."""
    @I.ir_module
    class MatmulBlockModule:
        @T.prim_func
        def main(A: T.Buffer((64, 64), "float32"), B: T.Buffer((64, 64), "float32"),
                 C: T.Buffer((64, 64), "float32")) -> None:
            for i0, j0, k0 in T.grid(4, 4, 4):
                with T.block("tmm-16x16"):
                    vi0, vj0, vk0 = T.axis.remap("SSR", [i0, j0, k0])
                    with T.init():
                        for i1, j1 in T.grid(16, 16):
                            with T.block("tmm_init"):
                                vi1, vj1 = T.axis.remap("SS", [i1, j1])
                                C[vi0 * 16 + vi1, vj0 * 16 + vj1] = T.float32(0)
                    for i1, j1, k1 in T.grid(16, 16, 16):
                        with T.block("tmm"):
                            vi1, vj1, vk1 = T.axis.remap("SSR", [i1, j1, k1])
                            C[vi0 * 16 + vi1, vj0 * 16 + vj1] += (A[vi0 * 16 + vi1, vk0 * 16 + vk1]
                                                                  * B[vj0 * 16 + vj1, vk0 * 16 + vk1])

    text = MatmulBlockModule.script()
    assert ("T.reads(A[vi0 * 16:vi0 * 16 + 16, vk0 * 16:vk0 * 16 + 16], "
            "B[vj0 * 16:vj0 * 16 + 16, vk0 * 16:vk0 * 16 + 16])") in text
    assert "T.writes(C[vi0 * 16:vi0 * 16 + 16, vj0 * 16:vj0 * 16 + 16])" in text
    mlc.assert_structural_equal(mlc.parse(text), MatmulBlockModule)
    sch = mlc.Schedule(MatmulBlockModule)
    i, j, k = sch.get_loops(sch.get_block("tmm-16x16"))
    i0, i1 = sch.split(i, [None, 2])
    sch.reorder(i0, j, i1, k)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((64, 64)).astype(np.float32) for _ in range(2))
    for mod in (MatmulBlockModule, sch.mod):
        c = np.zeros((64, 64), np.float32)
        mlc.build(mod, "llvm", schedule=mlc.schedules.as_written)["main"](a, b, c)
        np.testing.assert_allclose(c, a @ b.T, rtol=1e-4, atol=1e-4)
