"""The GPU pipeline binds the values a run of stores shares (share_block_values): the
lowered kernels hold LetStmts inside their thread loops, CUDA C declares each once
(``const int v = ...;``), a vector access keeps its whole index (a ``float4`` load or store
reads its alignment there), and the emulator runs the bound values to NumPy's results
(Hypothesis-drawn shapes, size 1 and ragged ones included)."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.backends.cuda import Emulator, compile_sources, lower_for_gpu
from mlc.backends.reference.interpreter import Program
from mlc.driver import schedule_module
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Ramp, Var, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, For, IfThenElse, LetStmt, PrimFunc, seq
from mlc.passes.tir.gpu_pipeline import GPU_PIPELINE, share_block_values_for_gpu

from .conftest import TARGETS
from .programs import schedule_window_sum, window_sum


def _lets(stmt):
    return [n for n in pre_order_nodes(stmt) if isinstance(n, LetStmt)]


def _module(fn, *shapes):
    from mlc import te
    xs = [te.placeholder(s, "float32", f"X{k}") for k, s in enumerate(shapes)]
    out = te.compute(shapes[0], lambda *ix: fn(*(x[ix] for x in xs)), "Y")
    return mlc.IRModule({"main": te.create_prim_func([*xs, out])})


def test_the_gpu_pipeline_ends_with_the_pass_and_the_generator_written_out():
    from mlc.passes.tir.lower_threefry import lower_threefry
    # (then only the generator's rounds are written out, each word bound once already)
    assert GPU_PIPELINE[-2:] == [share_block_values_for_gpu, lower_threefry]


def test_a_window_fetch_binds_its_tile_offset_once_inside_the_thread_loops():
    func = lower_for_gpu(schedule_window_sum(window_sum(1 << 12)).mod["main"])
    (let,) = _lets(func.body)
    assert str(let.value) == "ax0_0 * 128"
    # bound inside the loops that bind blockIdx and threadIdx (each thread computes its own)
    threads = [n for n in pre_order_nodes(func.body) if isinstance(n, For) and n.kind == "thread_binding"]
    assert any(n is let for t in threads if t.thread_binding == "threadIdx.x" for n in pre_order_nodes(t.body))
    code, _ = compile_sources(schedule_window_sum(window_sum(1 << 12)).mod, TARGETS["sm_80"])
    assert "const int v = (ax0_0 * 128);" in code and "A_shared[(v + ax0_1)] = A[(((i_0 * 128) + v) + ax0_1)];" in code


def test_a_vector_access_keeps_its_whole_index_and_its_float4():
    """``Y[4i:4i+4] = X0[4i:4i+4] * X1[4i:4i+4]``: the Ramp's base repeats in three accesses,
    yet stays in them (a bound base would hide that it is a multiple of 4)."""
    mod = schedule_module(_module(lambda a, b: a * b + a, (1 << 12,), (1 << 12,)), "cuda -arch=sm_80")
    lowered = lower_for_gpu(mod["main"])
    ramps = [n for n in pre_order_nodes(lowered.body) if isinstance(n, Ramp)]
    assert ramps and not any(isinstance(n, Var) and n.name.startswith("v") for r in ramps for n in pre_order_nodes(r))
    code, _ = compile_sources(mod, TARGETS["sm_80"])
    assert "float4 X0_v = *(const float4*)" in code and "*(float4*)(Y + " in code


def _thread_kernel(n):
    """``C[i] = A[i] * 2; D[i] = A[i] + C[i]`` per thread, ``i = bx * 32 + tx`` guarded
    by ``i < n``: ``bx * 32 + tx`` and ``A[i]`` are shared by the two stores (``C[i]``, which
    the first one writes, is read in place)."""
    A, C, D = (decl_buffer((n,), "float32", name) for name in "ACD")
    bx, tx = Var("bx", "int32"), Var("tx", "int32")
    i = bx * 32 + tx
    body = seq(BufferStore(C, BufferLoad(A, (bx * 32 + tx,), "float32") * 2.0, (i,)),
               BufferStore(D, BufferLoad(A, (bx * 32 + tx,), "float32") + BufferLoad(C, (bx * 32 + tx,), "float32"),
                           (bx * 32 + tx,)))
    guarded = IfThenElse(bx * 32 + tx < n, body)
    loops = For(bx, const(0), const((n + 31) // 32), "thread_binding", For(tx, const(0), const(32), "thread_binding",
                                                                       guarded, thread_binding="threadIdx.x"),
                thread_binding="blockIdx.x")
    return PrimFunc((A, C, D), loops)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 200), seed=st.integers(0, 99))
def test_the_emulator_runs_bound_values_as_the_reference_interpreter(n, seed):
    func = _thread_kernel(n)
    bound = share_block_values_for_gpu(func)
    assert [str(let.value) for let in _lets(bound)] == ["bx * 32 + tx", "A[v]"]
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n).astype("float32")
    want = [a, np.zeros(n, "float32"), np.zeros(n, "float32")]
    Program(func, vectorize=False).run(want)
    got = [a.copy(), np.zeros(n, "float32"), np.zeros(n, "float32")]
    Emulator(bound).run(got)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=8, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 70))
def test_elementwise_kernels_with_bound_indices_run_on_the_emulator(rows, cols):
    """``a[i, j] * b[i, j]``: the flat index its three accesses share is bound where the
    kernel is not vectorized (more than one element; a vector's index is kept whole)."""
    rng = np.random.default_rng(rows * 100 + cols)
    a, b = (rng.standard_normal((rows, cols)).astype("float32") for _ in range(2))
    compiled = mlc.jit(target="cuda-emulator")(lambda x, y: x * y).lower(a, b).compile()
    np.testing.assert_array_equal(compiled(a, b), a * b)
    code = compiled.lib.get_source("cuda")
    assert ("const int v = " in code) == (rows * cols > 1 and "float4" not in code)
