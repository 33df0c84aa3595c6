"""MLC course, chapter 7: GPU acceleration — vector add, window sum with shared memory,
matmul with local and with shared-memory blocking.

Each program is scheduled the way the chapter does it (``bind`` to
``blockIdx``/``threadIdx``, ``cache_read(..., "shared")`` + ``compute_at`` for
a cooperative fetch, ``cache_write(..., "local")`` for register tiles), its
TensorIR printed, its CUDA C generated and compiled with NVRTC for sm_80 (no
GPU needed), and it is run — on the GPU through CuPy when there is one,
otherwise on the CUDA emulator, which runs the same kernels on NumPy arrays
with GPU semantics — and checked against NumPy. The script says where it ran.

    python examples/ch7_gpu_acceleration.py
"""
from __future__ import annotations

import time

import numpy as np

import mlc
from mlc import te
from mlc.backends.cuda import compile_sources
from mlc.backends.cuda.runtime import device_unavailable_reason


def vector_add(n: int) -> mlc.IRModule:
    A = te.placeholder((n,), "float32", "A")
    B = te.placeholder((n,), "float32", "B")
    C = te.compute((n,), lambda i: A[i] + B[i], "C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def window_sum(n: int) -> mlc.IRModule:
    A = te.placeholder((n + 2,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] + A[i + 1] + A[i + 2], "C")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def matmul(n: int, m: int | None = None, k: int | None = None) -> mlc.IRModule:
    m = n if m is None else m
    k = n if k is None else k
    A = te.placeholder((n, k), "float32", "A")
    B = te.placeholder((k, m), "float32", "B")
    r = te.reduce_axis((0, k), "k")
    C = te.compute((n, m), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), "C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def row_sum(rows: int, cols: int) -> mlc.IRModule:
    A = te.placeholder((rows, cols), "float32", "A")
    r = te.reduce_axis((0, cols), "k")
    S = te.compute((rows,), lambda i: te.sum(A[i, r], axis=r), "S")
    return mlc.IRModule({"main": te.create_prim_func([A, S])})


def schedule_vector_add(mod: mlc.IRModule, threads: int = 128) -> mlc.Schedule:
    sch = mlc.Schedule(mod)
    (i,) = sch.get_loops(sch.get_block("C"))
    i0, i1 = sch.split(i, [None, threads])
    sch.bind(i0, "blockIdx.x")
    sch.bind(i1, "threadIdx.x")
    return sch


def schedule_window_sum(mod: mlc.IRModule, threads: int = 128, fetch: bool = True) -> mlc.Schedule:
    """The course's window sum: a block of ``threads`` threads fetches its window of A into
    shared memory together (``fetch=False`` stops before binding the fetch loop)."""
    sch = schedule_vector_add(mod, threads)
    block = sch.get_block("C")
    _, i1 = sch.get_loops(block)
    shared = sch.cache_read(block, 0, "shared")
    sch.compute_at(shared, i1)
    if fetch:
        ax = sch.get_loops(shared)[-1]
        _, tx = sch.split(ax, [None, threads])
        sch.bind(tx, "threadIdx.x")
    return sch


def schedule_matmul_local(mod: mlc.IRModule, local=(4, 4), block=(8, 8), tile_k: int = 4) -> mlc.Schedule:
    """The course's matmul with local register blocking."""
    sch = mlc.Schedule(mod)
    block_C = sch.get_block("C")
    C_local = sch.cache_write(block_C, 0, "local")
    i, j, k = sch.get_loops(block_C)
    i0, i1, i2 = sch.split(i, [None, block[0], local[0]])
    j0, j1, j2 = sch.split(j, [None, block[1], local[1]])
    k0, k1 = sch.split(k, [None, tile_k])
    sch.unroll(k1)
    sch.reorder(i0, j0, i1, j1, k0, k1, i2, j2)
    sch.reverse_compute_at(C_local, j1)
    sch.bind(i0, "blockIdx.y")
    sch.bind(j0, "blockIdx.x")
    sch.bind(i1, "threadIdx.y")
    sch.bind(j1, "threadIdx.x")
    sch.decompose_reduction(block_C, k0)
    return sch


def schedule_matmul_shared(mod: mlc.IRModule, local=(4, 4), block=(8, 8), tile_k: int = 8,
                           vector: int = 4) -> mlc.Schedule:
    """The course's matmul with shared-memory blocking and cooperative (vectorised) fetches."""
    sch = mlc.Schedule(mod)
    block_C = sch.get_block("C")
    C_local = sch.cache_write(block_C, 0, "local")
    i, j, k = sch.get_loops(block_C)
    i0, i1, i2 = sch.split(i, [None, block[0], local[0]])
    j0, j1, j2 = sch.split(j, [None, block[1], local[1]])
    k0, k1 = sch.split(k, [None, tile_k])
    sch.reorder(i0, j0, i1, j1, k0, k1, i2, j2)
    sch.reverse_compute_at(C_local, j1)
    sch.bind(i0, "blockIdx.y")
    sch.bind(j0, "blockIdx.x")
    tx = sch.fuse(i1, j1)
    sch.bind(tx, "threadIdx.x")
    nthread = block[0] * block[1]
    for index in (0, 1):
        cache = sch.cache_read(block_C, index, "shared")
        sch.compute_at(cache, k0)
        fused = sch.fuse(*sch.get_loops(cache)[-2:])
        _, fetch_tx, vec = sch.split(fused, [None, nthread, vector])
        sch.vectorize(vec)
        sch.bind(fetch_tx, "threadIdx.x")
    sch.decompose_reduction(block_C, k0)
    return sch


def schedule_row_sum(mod: mlc.IRModule, threads: int = 32) -> mlc.Schedule:
    """One block per row, ``threads`` threads reduce it together (a cross-thread reduction)."""
    sch = mlc.Schedule(mod)
    i, k = sch.get_loops(sch.get_block("S"))
    k0, k1 = sch.split(k, [None, threads])
    sch.reorder(k1, k0)
    sch.bind(i, "blockIdx.x")
    sch.bind(k1, "threadIdx.x")
    return sch


# ------------------------------------------------------------------ running

def _run(mod: mlc.IRModule, arrays: list[np.ndarray]) -> str:
    """Run ``mod["main"]`` in place on ``arrays``: on the GPU if there is one, else emulated."""
    if device_unavailable_reason() is None:
        import cupy as cp
        lib = mlc.build(mod, "cuda")
        device = [cp.asarray(a) for a in arrays]
        lib["main"](*device)
        for a, d in zip(arrays, device):
            a[...] = d.get()
        return "GPU"
    mlc.build(mod, "cuda-emulator")["main"](*arrays)
    return "CUDA emulator (no GPU here)"


def _report(title: str, sch: mlc.Schedule, arrays, want, show: bool) -> dict:
    if show:
        print(f"=== {title} ===")
        print(sch.mod.script())
    code, cubin = compile_sources(sch.mod)
    start = time.perf_counter()
    where = _run(sch.mod, arrays)
    seconds = time.perf_counter() - start
    np.testing.assert_allclose(arrays[-1], want, rtol=1e-4, atol=1e-4)
    print(f"-> {title}: {len(code.splitlines())} lines of CUDA C, {len(cubin)}-byte cubin for sm_80; "
          f"ran on the {where} in {seconds:.2f} s; matches NumPy")
    return {"title": title, "where": where, "cuda": code, "seconds": seconds}


def main(n_vec: int = 1 << 20, n_window: int = 1 << 20, n_mm: int = 256, show: bool = True) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    a, b = (rng.standard_normal(n_vec).astype("float32") for _ in range(2))
    out.append(_report("vector add: split 128, bind blockIdx.x / threadIdx.x",
                       schedule_vector_add(vector_add(n_vec)), [a, b, np.zeros(n_vec, "float32")], a + b, show))
    a = rng.standard_normal(n_window + 2).astype("float32")
    out.append(_report("window sum: cooperative fetch of the block's window into shared memory",
                       schedule_window_sum(window_sum(n_window)), [a, np.zeros(n_window, "float32")],
                       a[:-2] + a[1:-1] + a[2:], show))
    A, B = (rng.standard_normal((n_mm, n_mm)).astype("float32") for _ in range(2))
    out.append(_report("matmul: local register blocking (8 x 8 threads, 4 x 4 per thread)",
                       schedule_matmul_local(matmul(n_mm)), [A, B, np.zeros((n_mm, n_mm), "float32")], A @ B, show))
    out.append(_report("matmul: shared-memory blocking with cooperative fetches",
                       schedule_matmul_shared(matmul(n_mm)), [A, B, np.zeros((n_mm, n_mm), "float32")], A @ B, show))
    return out


if __name__ == "__main__":
    main()
