"""A fast float32 matmul, scheduled by hand, explained step by step, timed against NumPy.

``C = A @ B`` with A: M x K, B: K x N. The naive loop nest reads a whole
column of B (a new cache line per step, N * 4 bytes apart) for every element
of C and keeps nothing in registers. The schedule below is the classic
recipe of BLAS kernels, written with schedule primitives:

1. **Pack B into column panels, A into row panels.** ``cache_read`` copies
   B into a buffer that ``transform_layout`` lays out as ``[N / NR, K, NR]``:
   the NR columns a register tile needs are consecutive in memory for every
   k, so the inner loop streams one contiguous panel instead of striding
   through B. A gets ``[M / MR, K, MR]`` the same way: the MR values
   broadcast at each step are adjacent, one stream instead of MR rows.
2. **Register tile.** Split i by MR and j by NR and put the reduction
   ``k`` between the outer tiles and the tile: ``j_0, i_0, k, i_1, j_1``.
   For each tile, MR x NR accumulators (4 x 16 floats = 8 AVX2 registers)
   stay in registers across the whole k loop; each step loads NR floats of
   the panel and broadcasts MR floats of A, for MR * NR / 8 FMA instructions.
3. **Local accumulator.** ``cache_write`` gives the tile its own buffer
   ``C_local``; ``reverse_compute_at`` copies it back to C right after the
   k loop, and ``decompose_reduction`` zeroes it right before. The lowering
   shrinks ``C_local`` to one MR x NR tile on the stack, which LLVM turns
   into registers.
4. **Block the rows, vectorize, unroll, parallelize.** Rows go in blocks of
   MC: a block of packed A (MC x K) stays in the L2/L3 caches while every
   column panel of B passes over it. The NR columns become vector
   instructions, the MR rows are unrolled, and the (row block, column panel)
   pairs run on all cores.

    python examples/fast_matmul.py [n]
"""
from __future__ import annotations

import sys

import numpy as np

import mlc
from mlc import te
from mlc.runtime import time_function

MR, NR = 4, 16  # register tile: rows unrolled, columns vectorized (two AVX2 vectors)
MC = 256        # rows of A per cache block


def matmul_module(m: int, n: int, k: int) -> mlc.IRModule:
    A = te.placeholder((m, k), "float32", name="A")
    B = te.placeholder((k, n), "float32", name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def fast_schedule(sch: mlc.Schedule, mr: int = MR, nr: int = NR, mc: int = MC) -> None:
    """The schedule of the module docstring, applied to block "C"."""
    block = sch.get_block("C")

    # 1. Pack B: B_global[j // nr, k, j % nr] = B[k, j], panel by panel ...
    pack_b = sch.cache_read(block, 1, "global")
    sch.transform_layout(block, ("read", 1), lambda kk, jj: (jj // nr, kk, jj % nr), pad_value=0.0)
    pk, pj = sch.get_loops(pack_b)
    pj0, pj1 = sch.split(pj, [None, nr])
    sch.reorder(pj0, pk, pj1)          # write each panel contiguously
    sch.vectorize(pj1)
    sch.parallel(pj0)
    # ... and A: A_global[i // mr, k, i % mr] = A[i, k], the mr values of a step adjacent.
    pack_a = sch.cache_read(block, 0, "global")
    sch.transform_layout(block, ("read", 0), lambda ii, kk: (ii // mr, kk, ii % mr), pad_value=0.0)
    pi, pk = sch.get_loops(pack_a)
    pi0, pi1 = sch.split(pi, [None, mr])
    sch.reorder(pi0, pk, pi1)
    sch.unroll(pi1)
    sch.parallel(pi0)

    # 2. Register tile with the reduction between the outer tiles and the tile; rows also
    #    go in blocks of mc so a block of A stays in cache while all panels of B pass.
    i, j, k = sch.get_loops(block)
    j0, j1 = sch.split(j, [None, nr])
    ic, i0, i1 = sch.split(i, [None, mc // mr, mr])
    sch.reorder(ic, j0, i0, k, i1, j1)

    # 3. Accumulate in C_local; copy back after k, zero it before k.
    write_back = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(write_back, i0)
    init = sch.decompose_reduction(block, k)

    # 4. Vector columns, unrolled rows, (row block, column panel) pairs on all cores.
    for tile in (init, block, write_back):
        *_, rows, cols = sch.get_loops(tile)
        sch.vectorize(cols)
        sch.unroll(rows)
    sch.parallel(sch.fuse(ic, j0))


def gflops(m: int, n: int, k: int, seconds: float) -> float:
    return 2.0 * m * n * k / seconds / 1e9


def main(n: int = 1024, number: int = 3, repeat: int = 5, show_script: bool = True) -> dict[str, float]:
    """Build, check and time the hand-scheduled and default matmuls at n x n x n."""
    mod = matmul_module(n, n, n)
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype="float32")
    b = rng.random((n, n), dtype="float32")
    want = a @ b

    sch = mlc.Schedule(mod)
    fast_schedule(sch)
    if show_script:
        print(sch.mod.script())
        print(sch.trace)
    times = {}
    for label, schedule in (("hand schedule", fast_schedule), ("default schedule", None)):
        lib = mlc.build(mod, "llvm", schedule=schedule)
        c = np.empty((n, n), "float32")
        lib["main"](a, b, c)
        np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-3 * np.sqrt(n))
        times[label] = lib.time_evaluator("main", number=number, repeat=repeat)(a, b, c).median
    times["NumPy"] = time_function(lambda: a @ b, number=number, repeat=repeat).median
    print(f"\nmatmul {n} x {n} x {n} float32")
    for label, seconds in times.items():
        ratio = times["NumPy"] / seconds
        print(f"  {label:<18} {seconds * 1e3:9.3f} ms  {gflops(n, n, n, seconds):7.1f} GFLOP/s  "
              f"{ratio:5.2f}x NumPy")
    return times


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1024)
