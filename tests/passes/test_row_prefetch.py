"""prefetch_row_streams: a row's first pass, marked by the row rules, asks the cache for the
lines of the buffers only its later passes read (a layer_norm gradient's ct)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.backends.llvm.generate import lower_for_llvm
from mlc.ir import te
from mlc.ir.expr import BufferLoad
from mlc.ir.extern import PREFETCH_FOR_READ, CallExtern
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For
from mlc.passes.tir.row_prefetch import ROW_PREFETCH, ROW_PREFETCH_NEXT
from mlc.schedules import Schedule


def two_passes(rows: int, cols: int, dtype: str = "float32", step: int = 16, mark: bool = True):
    """``D[i] = sum_k C[i, k] * G[k] * (X[i, k] - S[i])`` with ``S[i] = sum_k X[i, k]``
    computed under D's row loop: two passes over a row of ``step`` elements a step, the first
    (reading X only) marked ROW_PREFETCH where ``mark``."""
    X = te.placeholder((rows, cols), dtype, "X")
    C = te.placeholder((rows, cols), dtype, "C")
    G = te.placeholder((cols,), dtype, "G")
    k = te.reduce_axis((0, cols), "k")
    S = te.compute((rows,), lambda i: te.sum(X[i, k], axis=k), name="S")
    k2 = te.reduce_axis((0, cols), "k2")
    D = te.compute((rows,), lambda i: te.sum(C[i, k2] * G[k2] * (X[i, k2] - S[i]), axis=k2), name="D")
    sch = Schedule(te.create_prim_func([X, C, G, D]))
    i, kd = sch.get_loops(sch.get_block("D"))
    sch.compute_at(sch.get_block("S"), i, preserve_unit_loops=True)
    ks = sch.get_loops(sch.get_block("S"))[-1]  # its reduction loop
    first, _ = sch.split(ks, [None, step])
    sch.split(kd, [None, step])
    if mark:
        sch.annotate(first, ROW_PREFETCH, True)
    return sch.mod


def hints(func) -> list[CallExtern]:
    return [n for n in pre_order_nodes(func.body) if isinstance(n, CallExtern) and n.name == PREFETCH_FOR_READ]


@pytest.mark.parametrize("dtype, lines", [("float32", 1), ("float64", 2)])
def test_the_first_pass_asks_for_the_lines_of_what_the_second_reads(dtype, lines):
    """A step of 16 elements: C's one line of float32 (two of float64) a step, asked for in the
    first pass's step (which reads X only); not X (the first pass reads it) nor G (every row
    reads the same G)."""
    func = lower_for_llvm(two_passes(4, 64, dtype))["main"]
    found = hints(func)
    assert {h.args[0].load.buffer.name for h in found} == {"C"}
    assert len(found) == lines
    addresses = {id(h.args[0].load) for h in found}
    holding = [f for f in pre_order_nodes(func.body) if isinstance(f, For)
               and addresses <= {id(n) for n in pre_order_nodes(f.body)}]
    step = holding[-1]  # the innermost loop holding them: a step of the first pass
    loads = {n.buffer.name for n in pre_order_nodes(step.body) if isinstance(n, BufferLoad) and id(n) not in addresses}
    assert loads == {"X", "S"} and step.extent.value == 64 // 16  # (S: its accumulator)
    per_line = 64 // np.dtype(dtype).itemsize
    index = {str(h.args[0].load.indices[0]) for h in found}
    assert len(index) == lines and all(f"{step.loop_var.name} * 16" in i for i in index), index
    assert sum(f"+ {per_line}" in i for i in index) == lines - 1, index


def test_an_unmarked_pass_asks_for_nothing():
    assert hints(lower_for_llvm(two_passes(4, 64, mark=False))["main"]) == []


def test_a_ragged_row_asks_for_the_lines_of_its_full_steps_only():
    """40 columns in steps of 16: the passes' two full steps (partition_tiles runs them apart
    from the guarded last one) ask for C's lines; the last step, whose loads are guarded, asks
    for nothing (no address past the row's end is formed)."""
    func = lower_for_llvm(two_passes(4, 40))["main"]
    found = hints(func)
    assert len(found) == 1
    (step,) = [f for f in pre_order_nodes(func.body) if isinstance(f, For)
               and any(isinstance(n, CallExtern) for n in pre_order_nodes(f.body)) and f.loop_var.name != "i"]
    assert step.extent.value == 40 // 16


@settings(max_examples=8, deadline=None)
@given(rows=st.sampled_from([1, 3, 8]), cols=st.sampled_from([16, 48, 40, 1]), dtype=st.sampled_from(["float32", "float64"]))
def test_two_passes_with_hints_compute_what_numpy_does(rows, cols, dtype):
    rng = np.random.default_rng(rows * 100 + cols)
    x, c = (rng.standard_normal((rows, cols)).astype(dtype) for _ in range(2))
    g = rng.standard_normal(cols).astype(dtype)
    step = 16 if cols >= 16 else 1
    lib = mlc.build(two_passes(rows, cols, dtype, step), target="llvm", schedule=mlc.schedules.as_written)
    out = np.empty(rows, dtype)
    lib["main"](x, c, g, out)
    want = (c * g * (x - x.sum(axis=1, keepdims=True))).sum(axis=1)
    np.testing.assert_allclose(out, want, rtol=1e-4 if dtype == "float32" else 1e-10, atol=1e-4 if dtype == "float32" else 1e-10)


def test_no_mark_is_left_for_the_backend():
    """A mark no hint comes of (the row loop itself marked: no loop around it to ask ahead of)
    is dropped with the others: the backend sees no row_prefetch annotation."""
    X = te.placeholder((4, 64), "float32", "X")
    k = te.reduce_axis((0, 64), "k")
    sch = Schedule(te.create_prim_func([X, te.compute((4,), lambda i: te.sum(X[i, k], axis=k), name="S")]))
    row, _ = sch.get_loops(sch.get_block("S"))
    sch.annotate(row, ROW_PREFETCH_NEXT, True)
    func = lower_for_llvm(sch.mod)["main"]
    assert hints(func) == []
    assert not any(isinstance(f, For) and f.annotations for f in pre_order_nodes(func.body))
