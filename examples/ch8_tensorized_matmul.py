"""MLC course, chapter 8: blockization and tensorization of a matmul.

The chapter's steps on the CPU, each printed as the course prints it and
checked against NumPy:

1. ``C = A @ B.T`` in TVMScript; split i, j, k by 16 and ``blockize`` the 16 x 16 x 16
   tile into block ``matmul_o`` (its ``T.init()`` moves to the new block);
2. ``cache_read``/``cache_write`` into the course's ``global.A_reg``,
   ``global.B_reg`` and ``global.accumulator`` scopes, moved under the tile loops;
3. register the course's ``tmm16`` intrinsic (description and implementation in
   TVMScript; the course's implementation calls an external C function, this
   one is a TensorIR loop nest) and ``fill16`` for the init;
4. ``decompose_reduction`` and ``tensorize`` the update and the init;
5. a hardware intrinsic: int8 ``C = A @ B`` with the AVX-512 VNNI ``vpdpbusd``
   dot product (``x86_vnni_dot_16x4_s8s8``), what mlc's default schedule does
   on a VNNI CPU; the code is compiled for ``cascadelake`` everywhere and run
   where the host has VNNI;
6. the course's tensor-core matmul (WMMA on CUDA, float16 inputs, float32
   accumulators): :func:`tensor_core_matmul` schedules and tensorizes it, compiles
   it with NVRTC, and runs it on the GPU, or on mlc's CUDA emulator without one.

    python examples/ch8_tensorized_matmul.py [n]
"""
from __future__ import annotations

import sys

import numpy as np

import mlc
from mlc import te
from mlc.backends.cuda import compile_sources as cuda_sources
from mlc.backends.cuda.nvrtc import nvrtc_unavailable_reason
from mlc.backends.cuda.runtime import device_unavailable_reason
from mlc.backends.llvm.module import compile_sources
from mlc.target import Target
from mlc.schedules import Schedule, TensorIntrin, as_written, default_schedule
from mlc.schedules.intrinsics import VNNI_S8S8, has_vnni
from mlc.schedules.intrinsics.cuda import schedule_wmma_matmul
from mlc.script import tir as T

TILE = 16


def matmul_module(n: int) -> mlc.IRModule:
    """The course's ``MatmulModule``: ``C[i, j] = sum(A[i, k] * B[j, k])``, written in te
    (the same block the course writes in TVMScript)."""
    A = te.placeholder((n, n), "float32", name="A")
    B = te.placeholder((n, n), "float32", name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[j, k], axis=k), name="matmul")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


@T.prim_func
def tmm16_desc(a: T.handle, b: T.handle, c: T.handle) -> None:
    A = T.match_buffer(a, (16, 16), "float32", offset_factor=16, scope="global.A_reg")
    B = T.match_buffer(b, (16, 16), "float32", offset_factor=16, scope="global.B_reg")
    C = T.match_buffer(c, (16, 16), "float32", offset_factor=16, scope="global.accumulator")
    with T.block("root"):
        T.reads(C[0:16, 0:16], A[0:16, 0:16], B[0:16, 0:16])
        T.writes(C[0:16, 0:16])
        for i, j, k in T.grid(16, 16, 16):
            with T.block(""):
                vii, vjj, vkk = T.axis.remap("SSR", [i, j, k])
                C[vii, vjj] = C[vii, vjj] + A[vii, vkk] * B[vjj, vkk]


@T.prim_func
def tmm16_impl(a: T.handle, b: T.handle, c: T.handle) -> None:
    A = T.match_buffer(a, (16, 16), "float32", offset_factor=16, scope="global.A_reg")
    B = T.match_buffer(b, (16, 16), "float32", offset_factor=16, scope="global.B_reg")
    C = T.match_buffer(c, (16, 16), "float32", offset_factor=16, scope="global.accumulator")
    with T.block("root"):
        T.reads(C[0:16, 0:16], A[0:16, 0:16], B[0:16, 0:16])
        T.writes(C[0:16, 0:16])
        for i, k in T.grid(16, 16):
            for j in T.unroll(16):
                C[i, j] = C[i, j] + A[i, k] * B[j, k]


@T.prim_func
def fill16_desc(c: T.handle) -> None:
    C = T.match_buffer(c, (16, 16), "float32", offset_factor=16, scope="global.accumulator")
    with T.block("root"):
        T.reads()
        T.writes(C[0:16, 0:16])
        for i, j in T.grid(16, 16):
            with T.block(""):
                vii, vjj = T.axis.remap("SS", [i, j])
                C[vii, vjj] = T.float32(0)


@T.prim_func
def fill16_impl(c: T.handle) -> None:
    C = T.match_buffer(c, (16, 16), "float32", offset_factor=16, scope="global.accumulator")
    with T.block("root"):
        T.reads()
        T.writes(C[0:16, 0:16])
        for i in range(16):
            for j in T.vectorized(16):
                C[i, j] = T.float32(0)


def show(title: str, sch: Schedule) -> None:
    print(f"=== {title} ===")
    print(sch.mod.script())


def check(title: str, mod, a, b, want) -> bool:
    c = np.full(want.shape, np.nan, want.dtype)
    mlc.build(mod, "llvm", schedule=as_written)["main"](a, b, c)
    ok = np.allclose(c, want, rtol=1e-4, atol=1e-4)
    print(f"-> {title}: {'matches NumPy' if ok else 'DIFFERS FROM NumPy'}")
    return ok


def tensorize_course(n: int) -> dict[str, bool]:
    """Steps 1-4: blockize, caches, register, decompose, tensorize; NumPy checks."""
    rng = np.random.default_rng(8)
    a, b = (rng.standard_normal((n, n), dtype="float32") for _ in range(2))
    want = a @ b.T
    results = {}
    sch = Schedule(matmul_module(n))
    i, j, k = sch.get_loops(sch.get_block("matmul"))
    i, ii = sch.split(i, factors=[None, TILE])
    j, ji = sch.split(j, factors=[None, TILE])
    k, ki = sch.split(k, factors=[None, TILE])
    sch.reorder(i, j, k, ii, ji, ki)
    block_mm = sch.blockize(ii)
    show("blockize the 16x16x16 tile", sch)
    results["blockize"] = check("blockize", sch.mod, a, b, want)

    A_reg = sch.cache_read(block_mm, 0, storage_scope="global.A_reg")
    B_reg = sch.cache_read(block_mm, 1, storage_scope="global.B_reg")
    sch.compute_at(A_reg, k)
    sch.compute_at(B_reg, k)
    write_back_block = sch.cache_write(block_mm, 0, storage_scope="global.accumulator")
    sch.reverse_compute_at(write_back_block, j)
    show("cache_read/cache_write into the tile's scopes", sch)
    results["caches"] = check("caches", sch.mod, a, b, want)

    TensorIntrin.register("tmm16", tmm16_desc, tmm16_impl, override=True)
    TensorIntrin.register("fill16", fill16_desc, fill16_impl, override=True)
    init = sch.decompose_reduction(block_mm, k)
    sch.tensorize(block_mm, "tmm16")
    sch.tensorize(init, "fill16")
    show("decompose_reduction, tensorize the update (tmm16) and the init (fill16)", sch)
    results["tensorize"] = check("tensorize", sch.mod, a, b, want)
    return results


def int8_module(n: int) -> mlc.IRModule:
    A = te.placeholder((n, n), "int8", name="A")
    B = te.placeholder((n, n), "int8", name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k].astype("int32") * B[k, j].astype("int32"), axis=k),
                   name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def vnni_matmul(n: int) -> dict[str, bool]:
    """Step 5: int8 matmul on the VNNI dot product, as the default schedule makes it."""
    vnni_cpu = Target("llvm", "cascadelake")
    sch = default_schedule(int8_module(n), vnni_cpu)
    used = [inst.inputs["intrin_name"] for inst in sch.trace if inst.kind == "tensorize"]
    show(f"int8 matmul for {vnni_cpu.cpu}: tensorized with {used}", sch)
    asm = compile_sources(sch.mod, vnni_cpu)["asm"]
    results = {"vpdpbusd in the code": VNNI_S8S8 in used and "vpdpbusd" in asm}
    print(f"-> {asm.count('vpdpbusd')} vpdpbusd instructions in the {vnni_cpu.cpu} code")
    host = Target.from_str("llvm")
    if not has_vnni(host):
        print(f"-> this host ({host.cpu}) has no AVX-512 VNNI: the int8 kernel is not run here")
        return results
    rng = np.random.default_rng(0)
    a, b = (rng.integers(-128, 128, (n, n)).astype("int8") for _ in range(2))
    c = np.zeros((n, n), "int32")
    mlc.build(int8_module(n), "llvm")["main"](a, b, c)
    ok = np.array_equal(c, a.astype("int32") @ b.astype("int32"))
    print(f"-> int8 matmul on this host ({host.cpu}): {'matches NumPy' if ok else 'DIFFERS FROM NumPy'}")
    results["int8 on the host"] = ok
    return results


def half_matmul_module(n: int) -> mlc.IRModule:
    """float16 ``C = A @ B`` accumulated in float32, the tensor cores' matmul."""
    A = te.placeholder((n, n), "float16", name="A")
    B = te.placeholder((n, n), "float16", name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k].astype("float32") * B[k, j].astype("float32"), axis=k),
                   name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def tensor_core_matmul(n: int) -> dict[str, bool]:
    """Step 6, the course's tensor-core matmul: WMMA 16x16x16, float16 inputs, float32
    accumulators. Scheduled with :func:`~mlc.schedules.intrinsics.cuda.schedule_wmma_matmul`
    (one warp per 16 x 16 tile of C, shared staging, wmma fragments, the init, loads,
    mma and store tensorized), compiled by NVRTC for sm_80 when NVRTC is installed, and run
    on the GPU when there is one, else on mlc's CUDA emulator (which says which)."""
    print("=== tensor cores ===")
    if n % TILE:
        print(f"-> {n} is not a multiple of {TILE}: the WMMA tiles do not cover it; nothing was run")
        return {}
    warps = (2, 2) if n % (2 * TILE) == 0 else (1, 1)
    sch = Schedule(half_matmul_module(n))
    schedule_wmma_matmul(sch, "C", warps)
    show("the float16 matmul on tensor cores", sch)
    results = {}
    if nvrtc_unavailable_reason() is None:
        code, _ = cuda_sources(sch.mod, Target.from_str("cuda -arch=sm_80"))
        results["wmma in the CUDA code"] = "nvcuda::wmma::mma_sync(" in code
        print("-> compiled for sm_80 by NVRTC:", results["wmma in the CUDA code"])
    on_gpu = device_unavailable_reason() is None
    where = "the GPU" if on_gpu else "mlc's CUDA emulator (no GPU here)"
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype("float16") for _ in range(2))
    want = a.astype("float32") @ b.astype("float32")
    c = np.full((n, n), np.nan, "float32")
    if on_gpu:  # a CUDA function takes CuPy arrays
        import cupy as cp
        out = cp.asarray(c)
        mlc.build(sch.mod, "cuda", schedule=as_written)["main"](cp.asarray(a), cp.asarray(b), out)
        c = out.get()
    else:
        mlc.build(sch.mod, "cuda-emulator", schedule=as_written)["main"](a, b, c)
    ok = results["tensor cores"] = bool(np.allclose(c, want, rtol=1e-5, atol=1e-4))
    print(f"-> tensor-core matmul {n}^3 on {where}: {'matches NumPy' if ok else 'DIFFERS FROM NumPy'}")
    return results


def main(n: int = 64) -> dict[str, bool]:
    results = tensorize_course(n)
    results.update(vnni_matmul(n))
    results.update(tensor_core_matmul(n))
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 256)
