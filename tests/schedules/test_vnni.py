"""The AVX-512 VNNI int8 intrinsics: the default schedule's choice, the code, the numbers.

Code is checked for a VNNI CPU (cascadelake) and two without (skylake-avx512,
haswell) on every host; the kernels run where the host has VNNI.
"""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import CompileError, ScheduleError, te
from mlc.backends.llvm.module import compile_sources
from mlc.target import Target
from mlc.ir import decl_buffer
from mlc.ir.extern import address_of, call_extern
from mlc.ir.tir import Evaluate
from mlc.schedules import Schedule, as_written, default_schedule
from mlc.schedules.default import int8
from mlc.schedules.intrinsics import VNNI_S8S8, VNNI_U8S8, has_vnni
from mlc.schedules.tensor_intrin import TensorIntrin, body_of, unit_of

from ..targets import AVX2, AVX512, VNNI, pinned_threads
from .block_programs import func, module

HOST_HAS_VNNI = has_vnni(Target.from_str("llvm"))


def int8_matmul(m, n, k, a_dtype="int8", b_layout="kj"):
    A = te.placeholder((m, k), a_dtype, name="A")
    B = te.placeholder((k, n) if b_layout == "kj" else (n, k), "int8", name="B")
    r = te.reduce_axis((0, k), name="k")
    b = (lambda j: B[r, j]) if b_layout == "kj" else (lambda j: B[j, r])
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r].astype("int32") * b(j).astype("int32"), axis=r), name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def tensorized(sch) -> list[str]:
    return [inst.inputs["intrin_name"] for inst in sch.trace if inst.kind == "tensorize"]


def test_has_vnni_reads_the_cpu_and_its_features():
    assert has_vnni(VNNI) and has_vnni(Target("llvm", "znver4"))
    assert not has_vnni(AVX512) and not has_vnni(AVX2)
    assert not has_vnni(Target("llvm", "cascadelake", "-avx512vnni"))
    assert has_vnni(Target("llvm", "skylake-avx512", "+avx512vnni"))
    # AVX-512 turned off takes VNNI's 512-bit vpdpbusd with it, whatever the CPU has
    assert not has_vnni(Target("llvm", "znver4", "-avx512f"))
    assert not has_vnni(Target("llvm", "cascadelake", "+avx512vnni,-avx512f"))
    assert not has_vnni(Target("cuda", arch="sm_80"))  # (a kind that does not say)


def test_a_vnni_kernel_built_for_a_cpu_without_vnni_is_a_compile_error_not_a_crash():
    """LLVM aborts the process on an instruction the CPU lacks ("Cannot select"): the
    backend refuses such a build first, naming the feature and the target."""
    with pinned_threads():
        sch = default_schedule(int8_matmul(64, 64, 64), VNNI)
    assert tensorized(sch) == [VNNI_S8S8]
    for target in (AVX2, AVX512, Target("llvm", "znver4", "-avx512f")):
        with pytest.raises(CompileError, match=r"T.call_extern\('mlc_x86_vnni_dot_16x4_s8s8'\) needs the CPU "
                                               r"feature\(s\) avx512vnni, which target .* lacks; build for a CPU"):
            compile_sources(sch.mod, target)


def test_int8_matmul_for_this_cpu_without_avx512_runs_the_plain_schedule():
    """``-mattr=-avx512f`` on a VNNI host (what ``benchmarks --isa avx2`` builds): no
    vpdpbusd, and NumPy's result."""
    target = Target.from_str(f"llvm -mcpu={Target.from_str('llvm').cpu} -mattr=-avx512f")
    rng = np.random.default_rng(0)
    a, b = (rng.integers(-128, 128, (48, 48)).astype("int8") for _ in range(2))
    c = np.empty((48, 48), "int32")
    mlc.build(int8_matmul(48, 48, 48), target)["main"](a, b, c)
    np.testing.assert_array_equal(c, a.astype("int32") @ b.astype("int32"))


def test_the_default_schedule_tensorizes_int8_matmul_with_vpdpbusd_for_a_vnni_cpu():
    with pinned_threads():
        sch = default_schedule(int8_matmul(64, 64, 64), VNNI)
    assert tensorized(sch) == [VNNI_S8S8]
    text = sch.mod.script()
    assert "B_global[v1 // 16, v0 // 4, v1 % 16, v0 % 4] = B[v0, v1]" in text
    assert 'T.call_extern("int32", "mlc_x86_vnni_dot_16x4_s8s8", T.address_of(C[vi_o, vj_o * 16])' in text
    asm = compile_sources(sch.mod, VNNI)["asm"]
    assert "vpdpbusd" in asm
    assert "mlc_x86_vnni" not in asm  # the micro-kernel is inlined into the register tile


@pytest.mark.parametrize("target", [AVX512, AVX2], ids=["avx512", "avx2"])
def test_cpus_without_vnni_get_the_plain_schedule(target):
    with pinned_threads():
        sch = default_schedule(int8_matmul(64, 64, 64), target)
    assert tensorized(sch) == []
    assert "vpdpbusd" not in compile_sources(sch.mod, target)["asm"]


def test_shapes_the_intrinsic_does_not_tile_get_the_plain_schedule():
    for shape in ((64, 40, 64), (64, 64, 62)):  # columns not a multiple of 16, k not of 4
        with pinned_threads():
            assert tensorized(default_schedule(int8_matmul(*shape), VNNI)) == []


@pytest.mark.skipif(not HOST_HAS_VNNI, reason="the host has no AVX-512 VNNI to run vpdpbusd on")
@settings(max_examples=12, deadline=None)
@given(m=st.integers(1, 19), n=st.sampled_from([16, 32, 48]), k=st.sampled_from([4, 8, 36, 64]),
       a_dtype=st.sampled_from(["int8", "uint8"]), b_layout=st.sampled_from(["kj", "jk"]),
       extreme=st.booleans(), seed=st.integers(0, 2**16))
def test_vnni_matmul_equals_numpy(m, n, k, a_dtype, b_layout, extreme, seed, monkeypatch_module):
    mod = int8_matmul(m, n, k, a_dtype, b_layout)
    sch = default_schedule(mod, "llvm")
    assert tensorized(sch) == [VNNI_S8S8 if a_dtype == "int8" else VNNI_U8S8]
    rng = np.random.default_rng(seed)
    info = np.iinfo(a_dtype)
    a = rng.integers(info.min, info.max + 1, (m, k)).astype(a_dtype)
    b = rng.integers(-128, 128, (k, n) if b_layout == "kj" else (n, k)).astype("int8")
    if extreme:  # every product at its largest magnitude
        a[:], b[:] = info.min if a_dtype == "int8" else info.max, -128
    c = np.full((m, n), -7, "int32")
    mlc.build(sch.mod, "llvm")["main"](a, b, c)
    bb = b if b_layout == "kj" else b.T
    np.testing.assert_array_equal(c, a.astype("int32") @ bb.astype("int32"))


@pytest.fixture(scope="module")
def monkeypatch_module():
    """Small problems take the VNNI path too, so the examples stay fast."""
    mp = pytest.MonkeyPatch()
    mp.setattr(int8, "VNNI_MIN_MACS", 0)
    yield mp
    mp.undo()


def test_a_tile_that_is_not_dense_is_refused_for_an_external_call():
    """B laid out [n, k]: the 16 x 4 tile is 16 rows of 4 bytes a whole row of B apart."""
    sch = Schedule(int8_matmul(4, 32, 64, b_layout="jk"))
    block = sch.get_block("C")
    i, j, k = sch.get_loops(block)
    j0, j1 = sch.split(j, [None, 16])
    k0, k1 = sch.split(k, [None, 4])
    sch.reorder(i, j0, k0, j1, k1)
    sch.decompose_reduction(block, k0)
    with pytest.raises(ScheduleError, match=r"block 'C_update_o', intrinsic 'x86_vnni_dot_16x4_s8s8': the "
                                            r"implementation passes the address of its parameter B .* bound "
                                            r"to B\(32, 64\), where dimension 1 has extent 64, not the "
                                            r"tile's 4; change the layout"):
        sch.tensorize(j1, VNNI_S8S8)


def test_an_unknown_external_function_is_a_compile_error():
    C = decl_buffer((16,), "int32", "C")
    f = func((C,), (), Evaluate(call_extern("int32", "no_such_kernel", address_of(C[0]))))
    with pytest.raises(CompileError, match=r"T.call_extern: the llvm backend has no function "
                                           r"'no_such_kernel'; it provides \[.*'mlc_x86_vnni_dot_16x4_s8s8'"):
        compile_sources(module(f), VNNI)


def test_int_and_const_loop_extents_compare_equal():
    """A description built from IR nodes with plain int extents matches like const ones."""
    intrin = TensorIntrin.get("dot_4_f32")
    loops, realize = unit_of(body_of(intrin.desc))
    desc = intrin.desc.with_body(replace(intrin.desc.body, block=replace(
        intrin.desc.root_block, body=replace(loops[0], extent=4))))
    TensorIntrin.register("test_dot_4_int_extent", desc, intrin.impl, override=True)
    A, B = (te.placeholder((8,), "float32", name=x) for x in "AB")
    r = te.reduce_axis((0, 8), name="k")
    C = te.compute((1,), lambda i: te.sum(A[r] * B[r], axis=r), name="C")
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, B, C])}))
    block = sch.get_block("C")
    _, k = sch.get_loops(block)
    k0, k1 = sch.split(k, [None, 4])
    sch.decompose_reduction(block, k0)
    sch.tensorize(k1, "test_dot_4_int_extent")
    assert "for k in T.unroll(4):" in sch.mod.script()


@settings(max_examples=6, deadline=None)
@given(m=st.integers(1, 19), n=st.sampled_from([16, 32]), k=st.sampled_from([4, 12]),
       a_dtype=st.sampled_from(["int8", "uint8"]), seed=st.integers(0, 2**16))
def test_the_vnni_program_equals_numpy_on_the_reference_interpreter(m, n, k, a_dtype, seed,
                                                                     monkeypatch_module):
    """On every host: the schedule and the intrinsic's binding (addresses, packed layout)
    run on the interpreter, which knows what the micro-kernels compute."""
    with pinned_threads():
        sch = default_schedule(int8_matmul(m, n, k, a_dtype), VNNI)
    assert tensorized(sch)
    rng = np.random.default_rng(seed)
    info = np.iinfo(a_dtype)
    a = rng.integers(info.min, info.max + 1, (m, k)).astype(a_dtype)
    b = rng.integers(-128, 128, (k, n)).astype("int8")
    c = np.full((m, n), 3, "int32")
    mlc.build(sch.mod, "reference", schedule=as_written)["main"](a, b, c)
    np.testing.assert_array_equal(c, a.astype("int32") @ b.astype("int32"))


def test_the_reference_interpreter_refuses_an_external_call_it_does_not_know():
    C = decl_buffer((16,), "int32", "C")
    f = func((C,), (), Evaluate(call_extern("int32", "no_such_kernel", address_of(C[0]))))
    with pytest.raises(mlc.MLCError, match="reference interpreter: cannot run the external function "
                                           "'no_such_kernel'"):
        mlc.build(module(f), "reference", schedule=as_written)["main"](np.zeros(16, "int32"))
