"""MLC course, chapter 2: transforming a tensor program, one primitive at a time.

The course's ``mm_relu`` (``C = max(A @ B, 0)``) is scheduled the way the
chapter does it: split the ``j`` loop, reorder it around ``k``, move the ReLU
under the matmul's loops with ``reverse_compute_at``, and separate the
reduction's initialisation with ``decompose_reduction``. After every step the
script prints the TensorIR and the trace, checks the result against NumPy and
times the program; then it sweeps the split factor (the course's
``transform(mod, jfactor)``), adds ``vectorize``/``unroll``/``parallel``, and
compares with mlc's default schedule and NumPy.

    python examples/ch2_tensor_program_transformations.py [n]
"""
from __future__ import annotations

import sys

import numpy as np

import mlc
from mlc import te
from mlc.runtime import time_function
from mlc.schedules import as_written

#: The split factor of the fast variant: a whole row of 8 AVX2 vectors of accumulators
#: at n = 128 (the rows of C stay in registers over the k loop).
FAST_JFACTOR = 128


def mm_relu_module(n: int = 128) -> mlc.IRModule:
    """The course's IRModule: ``Y = A @ B`` then ``C = relu(Y)``, in one function."""
    A = te.placeholder((n, n), "float32", name="A")
    B = te.placeholder((n, n), "float32", name="B")
    k = te.reduce_axis((0, n), name="k")
    Y = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="Y")
    C = te.compute((n, n), lambda i, j: te.max(Y[i, j], 0), name="C")
    return mlc.IRModule({"mm_relu": te.create_prim_func([A, B, C])})


def transform(mod: mlc.IRModule, jfactor: int) -> mlc.Schedule:
    """The chapter's whole schedule as one function of the split factor."""
    sch = mlc.Schedule(mod)
    block_Y = sch.get_block("Y", func_name="mm_relu")
    i, j, k = sch.get_loops(block_Y)
    j0, j1 = sch.split(j, factors=[None, jfactor])
    sch.reorder(j0, k, j1)
    block_C = sch.get_block("C", "mm_relu")
    sch.reverse_compute_at(block_C, j0)
    sch.decompose_reduction(block_Y, k)
    return sch


def with_vectors_and_threads(sch: mlc.Schedule, width: int = 16) -> mlc.Schedule:
    """After the chapter's schedule: each inner column loop is split by ``width`` (two
    AVX2 vectors of float32); the inner part runs as vector instructions and the outer
    part is unrolled, so a wide ``jfactor`` gives several independent vector
    accumulators per row. The rows run on all cores."""
    for name in ("Y_init", "Y_update", "C"):
        inner = sch.get_loops(sch.get_block(name, "mm_relu"))[-1]
        outer, vec = sch.split(inner, factors=[None, width])
        sch.vectorize(vec)
        sch.unroll(outer)
    sch.parallel(sch.get_loops(sch.get_block("Y_update", "mm_relu"))[0])
    return sch


class Bench:
    """Builds, checks against NumPy and times each variant; remembers the timings."""

    def __init__(self, n: int, number: int, repeat: int):
        rng = np.random.default_rng(0)
        self.a = rng.random((n, n), dtype="float32")
        self.b = rng.random((n, n), dtype="float32")
        self.want = np.maximum(self.a @ self.b, 0)
        self.number, self.repeat = number, repeat
        self.rows: list[tuple[str, float]] = []

    def run(self, label: str, mod: mlc.IRModule, schedule=as_written) -> float:
        lib = mlc.build(mod, target="llvm", schedule=schedule)
        c = np.empty_like(self.want)
        lib["mm_relu"](self.a, self.b, c)
        np.testing.assert_allclose(c, self.want, rtol=1e-4, atol=1e-4)
        seconds = lib.time_evaluator("mm_relu", number=self.number, repeat=self.repeat)(self.a, self.b, c).median
        self.rows.append((label, seconds))
        print(f"-> {label}: matches NumPy, {seconds * 1e6:.1f} us")
        return seconds


def show(title: str, sch: mlc.Schedule, bench: Bench) -> None:
    print(f"\n=== {title} ===")
    print(sch.mod.script())
    print("trace so far:")
    print(sch.trace)
    bench.run(title, sch.mod)


def main(n: int = 128, number: int = 50, repeat: int = 5,
         jfactors=(2, 4, 8, 16, 32, 64, 128)) -> list[tuple[str, float]]:
    """Run the chapter at size ``n``; returns (variant, median seconds) rows."""
    mod = mm_relu_module(n)
    bench = Bench(n, number, repeat)

    print("=== the program as written ===")
    print(mod.script())
    bench.run("as written", mod)

    sch = mlc.Schedule(mod)
    block_Y = sch.get_block("Y", func_name="mm_relu")
    i, j, k = sch.get_loops(block_Y)
    j0, j1 = sch.split(j, factors=[None, 4])
    show("split j by 4", sch, bench)
    sch.reorder(j0, k, j1)
    show("reorder j0, k, j1", sch, bench)
    block_C = sch.get_block("C", "mm_relu")
    sch.reverse_compute_at(block_C, j0)
    show("reverse_compute_at C under j0", sch, bench)
    sch.decompose_reduction(block_Y, k)
    show("decompose_reduction of Y at k", sch, bench)

    print("\n=== the split factor (the course's transform(mod, jfactor)) ===")
    for jfactor in jfactors:
        if jfactor <= n:
            bench.run(f"transform(mod, jfactor={jfactor})", transform(mod, jfactor).mod)

    fast = with_vectors_and_threads(transform(mod, min(n, FAST_JFACTOR)), width=min(n, 16))
    print("\n=== plus vectorize, unroll and parallel (jfactor=%d) ===" % min(n, FAST_JFACTOR))
    print(fast.mod.script())
    bench.run("course schedule + vectorize/unroll/parallel", fast.mod)
    bench.run("mlc default schedule", mod, schedule=None)

    t_np = time_function(lambda: np.maximum(bench.a @ bench.b, 0), number=number, repeat=repeat).median
    bench.rows.append(("NumPy (matmul, then maximum)", t_np))
    print(f"\n{'variant':<44} {'median':>10} {'GFLOP/s':>8}")
    for label, seconds in bench.rows:
        print(f"{label:<44} {seconds * 1e6:8.1f} us {2 * n ** 3 / seconds / 1e9:8.2f}")
    return bench.rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 128)
