"""The GPU chapter's programs and schedules (MLC course, chapter 7), shared by the CUDA tests."""
from __future__ import annotations

import mlc
from mlc import te


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
