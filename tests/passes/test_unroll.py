"""unroll_loops and fold_constants on their own: the reference interpreter runs each
program before and after the pass to the same result, and the pass leaves what it says."""
import numpy as np
from hypothesis import given, settings, strategies as st

from mlc.backends.reference.interpreter import Program
from mlc.ir.buffer import Buffer
from mlc.ir.expr import Binary, BufferLoad, IntImm, Not, Select, Var, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, For, IfThenElse, PrimFunc, SeqStmt
from mlc.passes.tir.fold_constants import fold_constants
from mlc.passes.tir.unroll import MAX_UNROLL, unroll_loops


def tile_program(rows, tile, width, m, guard):
    """``for i: for j in unroll(tile): for k in unroll(width): if i*tile + j < m:
    B[(i*tile + j)*width + k] = A[...] * 2 + select(j < 1, 1.5, 2.5)``."""
    n = rows * tile * width
    A, B = Buffer("A", (const(n),), "float32"), Buffer("B", (const(n),), "float32")
    i, j, k = Var("i", "int32"), Var("j", "int32"), Var("k", "int32")
    row = Binary("add", Binary("mul", i, const(tile), "int32"), j, "int32")
    at = Binary("add", Binary("mul", row, const(width), "int32"), k, "int32")
    side = Select(Binary("lt", j, const(1), "bool"), const(1.5, "float32"), const(2.5, "float32"), "float32")
    store = BufferStore(B, Binary("add", Binary("mul", BufferLoad(A, (at,), "float32"), const(2.0, "float32"),
                                                "float32"), side, "float32"), (at,))
    body = IfThenElse(Binary("lt", row, const(m), "bool"), store) if guard else store
    inner = For(k, const(0), const(width), "unrolled", body)
    return PrimFunc((A, B), For(i, const(0), const(rows), "serial", For(j, const(0), const(tile), "unrolled", inner)))


def run(func, arrays):
    copies = [a.copy() for a in arrays]
    Program(func).run(copies)
    return copies


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 3), tile=st.integers(1, 9), width=st.sampled_from([1, 2, 3, 8, 16]),
       cut=st.integers(0, 5), guard=st.booleans(), seed=st.integers(0, 99))
def test_unrolled_tiles_compute_what_the_loops_compute(rows, tile, width, cut, guard, seed):
    func = tile_program(rows, tile, width, max(rows * tile - cut, 0), guard)
    out = unroll_loops(func)
    unrolled = [n for n in pre_order_nodes(out.body) if isinstance(n, For) and n.kind == "unrolled"]
    if tile * width <= MAX_UNROLL:  # both written out, every guard decided
        assert not unrolled
        assert not any(isinstance(n, Select) for n in pre_order_nodes(out.body))
    else:  # the outer loop is written out first; its copies of the inner one would be too many
        assert [n.loop_var.name for n in unrolled] == ["k"] * tile
    rng = np.random.default_rng(seed)
    n = rows * tile * width
    arrays = [rng.standard_normal(n).astype("float32"), np.full(n, -7.0, "float32")]
    for got, want in zip(run(out, arrays), run(func, arrays)):
        np.testing.assert_array_equal(got, want)


INT_OPS = ("add", "sub", "mul", "min", "max", "bitand", "bitor", "bitxor")


@st.composite
def constant_trees(draw, dtype, depth=3):
    if depth == 0 or draw(st.booleans()):
        lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
        return IntImm(draw(st.integers(int(lo), int(hi))), dtype)
    op = draw(st.sampled_from(INT_OPS))
    return Binary(op, draw(constant_trees(dtype, depth - 1)), draw(constant_trees(dtype, depth - 1)), dtype)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["int8", "int32", "int64", "uint16"]),
       cmp=st.sampled_from(["lt", "eq", "ge"]), negate=st.booleans())
def test_folded_constants_are_what_the_interpreter_computes(data, dtype, cmp, negate):
    """``B[0] = tree; if (not) tree2 <cmp> tree3: B[1] = 1 else B[1] = 2``: after the pass
    every operation is a constant and the branch is gone, with the same results (wrapping)."""
    B = Buffer("B", (const(2),), dtype)
    a, b, c = (data.draw(constant_trees(dtype)) for _ in range(3))
    cond = Binary(cmp, b, c, "bool")
    cond = Not(cond, "bool") if negate else cond
    body = (BufferStore(B, a, (const(0),)),
            IfThenElse(cond, BufferStore(B, IntImm(1, dtype), (const(1),)), BufferStore(B, IntImm(2, dtype), (const(1),))))
    func = PrimFunc((B,), SeqStmt(body))
    out = fold_constants(func)
    assert not any(isinstance(n, (Binary, Not, IfThenElse)) for n in pre_order_nodes(out.body))
    got, want = run(out, [np.zeros(2, dtype)]), run(func, [np.zeros(2, dtype)])
    np.testing.assert_array_equal(got[0], want[0])


def test_the_passes_run_in_the_cpu_and_gpu_pipelines():
    from mlc.passes.tir.gpu_pipeline import GPU_PIPELINE
    from mlc.backends.llvm.generate import LLVM_TIR_PASSES
    from mlc.passes.tir.horizontal import fold_horizontal
    for name, passes in (("llvm", LLVM_TIR_PASSES), ("gpu", GPU_PIPELINE)):
        assert fold_constants in passes, name
    assert fold_horizontal in LLVM_TIR_PASSES and unroll_loops in LLVM_TIR_PASSES
    llvm = list(LLVM_TIR_PASSES)  # folds before unrolling (a fold may be an unrolled loop), constants last
    assert llvm.index(fold_horizontal) < llvm.index(unroll_loops) < llvm.index(fold_constants)
