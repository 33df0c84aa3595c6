"""The default CPU rules' choices, pinned per target: tile sizes, packed panels,
vector widths, unrolled and parallel loops of the matmul, conv and row rules.

Each program is scheduled for the pinned AVX2 and AVX-512 CPUs
(:mod:`tests.targets`) on any host, and the loop nest's skeleton (every loop
with its kind and extent, every buffer allocated) is compared with the one in
``golden_default/<program>.<isa>.txt``. A change of tiling choice fails here
on every machine; a deliberate one updates the file (the failure prints the
new skeleton). Whether the schedules compute the right thing is the other
test files' business, on the host.
"""
import pathlib
import re

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.ops import get_op
from mlc.schedules import default_schedule
from mlc.schedules.default import CpuInfo
from tests.targets import each_pinned_target, pinned_threads

from .test_default_cpu import matmul, module

GOLDEN = pathlib.Path(__file__).parent / "golden_default"


def conv2d(x_shape, w_shape, **kwargs) -> mlc.IRModule:
    x, w = np.zeros(x_shape, "float32"), np.zeros(w_shape, "float32")
    return mlc.jit(lambda a, b: mlc.nn.conv2d(a, b, **kwargs)).lower(x, w).mod


def softmax(rows, cols) -> mlc.IRModule:
    X = te.placeholder((rows, cols), "float32", "X")
    return module(X, get_op("nn.softmax").lower(X, axis=-1))


def row_sum(rows, cols) -> mlc.IRModule:
    A = te.placeholder((rows, cols), "float32", "A")
    k = te.reduce_axis((0, cols), "k")
    return module(A, te.compute((rows,), lambda i: te.sum(A[i, k], axis=k), name="R"))


def matvec(rows, cols) -> mlc.IRModule:
    A, x = te.placeholder((rows, cols), "float32", "A"), te.placeholder((cols,), "float32", "x")
    k = te.reduce_axis((0, cols), "k")
    return module(A, x, te.compute((rows,), lambda i: te.sum(A[i, k] * x[k], axis=k), name="R"))


def vecmat(rows, cols) -> mlc.IRModule:
    x, A = te.placeholder((rows,), "float32", "x"), te.placeholder((rows, cols), "float32", "A")
    r = te.reduce_axis((0, rows), "r")
    return module(x, A, te.compute((cols,), lambda j: te.sum(x[r] * A[r, j], axis=r), name="Y"))


def column_sum(rows, cols) -> mlc.IRModule:
    A = te.placeholder((rows, cols), "float32", "A")
    r = te.reduce_axis((0, rows), "r")
    return module(A, te.compute((cols,), lambda j: te.sum(A[r, j], axis=r), name="Y"))


PROGRAMS = {
    "matmul_relu": lambda: matmul(64, 64, 256, epilogue="relu"),  # B in half the L2: not packed
    "matmul_packed": lambda: matmul(256, 512, 1024),                # B packed panel by panel
    "sgemm_2048": lambda: matmul(2048, 2048, 2048),                # AVX2: A too (A and B exceed half the L3)
    "matmul_few_rows": lambda: matmul(2, 1024, 64),                # several column tiles per row tile
    "matmul_few_columns": lambda: matmul(64, 10, 128),             # AVX2: a ragged column tile
    "conv2d": lambda: conv2d((1, 16, 28, 28), (32, 16, 3, 3), padding=1),
    "softmax": lambda: softmax(256, 512),                          # one row loop, vector accumulators
    "row_sum": lambda: row_sum(64, 1024),
    "matvec": lambda: matvec(96, 1024),                            # rows side by side, x shared
    "vecmat": lambda: vecmat(1024, 1024),                          # the rows in parts, in parallel
    "column_sum": lambda: column_sum(1000, 1000),                  # the same, ragged columns
}


def skeleton(mod: mlc.IRModule) -> str:
    """The loops (kind and extent) and allocations of every function, indented as printed."""
    lines = [line.rstrip() for name in mod for line in mod[name].script().splitlines()
             if re.match(r"\s*for .* in .*:$", line) or "T.alloc_buffer" in line]
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return "\n".join(line[indent:] for line in lines) + "\n"


@each_pinned_target
@pytest.mark.parametrize("program", list(PROGRAMS))
def test_default_schedule_skeleton(isa, target, program):
    with pinned_threads():
        got = skeleton(default_schedule(PROGRAMS[program](), target).mod)
    golden = GOLDEN / f"{program}.{isa}.txt"
    assert got == golden.read_text(), f"{golden.name} changed; the new skeleton is:\n{got}"


def test_the_two_pinned_targets_tile_differently():
    """The golden files are not one file twice: the vector width shows in every one."""
    for program in PROGRAMS:
        assert (GOLDEN / f"{program}.avx2.txt").read_text() != (GOLDEN / f"{program}.avx512.txt").read_text()


@each_pinned_target
def test_the_rules_see_the_targets_vector_width_and_the_configured_threads(isa, target):
    with pinned_threads():
        cpu = CpuInfo.from_target(target)
    assert (cpu.lanes("float32"), cpu.lanes("float64"), cpu.cores) == {"avx2": (8, 4, 2), "avx512": (16, 8, 2)}[isa]


@each_pinned_target
def test_te_and_jit_give_mm_relu_the_same_schedule(isa, target):
    """The course's te program and ``np.maximum(a @ b, 0)`` traced by ``@mlc.jit`` are one
    program: the default rules schedule them alike (only names differ)."""
    from examples.ch2_tensor_program_transformations import mm_relu_module
    a = np.zeros((128, 128), "float32")
    traced = mlc.jit(lambda x, y: np.maximum(x @ y, 0)).lower(a, a).mod
    kernel = next(name for name in traced if name != "main")
    with pinned_threads():
        by_te = skeleton(default_schedule(mm_relu_module(128), target).mod)
        by_jit = skeleton(default_schedule(mlc.IRModule({kernel: traced[kernel]}), target).mod)
    names = re.compile(r"for (.*) in |\w+(?= = T\.alloc_buffer)")
    assert names.sub("_", by_te) == names.sub("_", by_jit)
    assert "T.parallel" in by_te and "T.vectorized" in by_te
