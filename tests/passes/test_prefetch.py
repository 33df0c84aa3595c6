"""prefetch_streams on its own: which loads of an annotated loop get a read hint, where it
goes, and that the hinted program computes what the program did, on LLVM and on the
reference interpreter (which drops the hint, its line past the buffer's end included)."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.backends.reference.interpreter import Program
from mlc.ir.buffer import Buffer
from mlc.ir.expr import Binary, Broadcast, BufferLoad, Ramp, Var, const
from mlc.ir.extern import PREFETCH_AHEAD, CallExtern
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, For, PrimFunc
from mlc.passes.tir.prefetch import PREFETCH_BYTES, prefetch_streams


def rows_times_vector(rows: int, steps: int, lanes: int = 8, annotate: bool = True):
    """``C[r] = sum over k of A[k*L : k*L+L] * X[r*S + k]`` written out as vector statements:
    ``for k: for r in unrolled(rows): C[r] += A[ramp] * X[r*S + k]``, k annotated."""
    A = Buffer("A", (const(steps * lanes),), "float32")
    X = Buffer("X", (const(rows * steps),), "float32")
    C = Buffer("C", (const(rows * lanes),), "float32")
    k, r = Var("k", "int32"), Var("r", "int32")
    vec = f"float32x{lanes}"
    a = BufferLoad(A, (Ramp(k * lanes, 1, lanes),), vec)  # the stream: moves with k
    c = BufferLoad(C, (Ramp(r * lanes, 1, lanes),), vec)  # moves with r only: no hint
    x = Broadcast(BufferLoad(X, (r * steps + k,), "float32"), lanes)  # a scalar: no hint
    update = BufferStore(C, Binary("add", c, Binary("mul", a, x, vec), vec), (Ramp(r * lanes, 1, lanes),))
    inner = For(r, const(0), const(rows), "unrolled", update)
    notes = ((PREFETCH_BYTES, 256),) if annotate else ()
    return PrimFunc((A, X, C), For(k, const(0), const(steps), "serial", inner, None, notes))


def hints(func):
    return [n for n in pre_order_nodes(func.body) if isinstance(n, CallExtern) and n.name == PREFETCH_AHEAD]


@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 6), steps=st.integers(1, 40), seed=st.integers(0, 99))
def test_the_stream_of_an_annotated_loop_gets_one_hint_a_step_and_computes_the_same(rows, steps, seed):
    func = rows_times_vector(rows, steps)
    hinted = prefetch_streams(func)
    found = hints(hinted)
    assert len(found) == 1 and found[0].args[0].load.buffer.name == "A" and found[0].args[1].value == 256
    first, rows_loop = hinted.body.body.seq  # the hint before the rows' loop: once a step
    assert first.value is found[0] and isinstance(rows_loop, For) and not hints(rows_loop)
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal(p.shape[0].value).astype("float32") for p in func.params]
    outs = []
    for f in (func, hinted):
        arrays = [a.copy() for a in args]
        Program(f).run(arrays)
        outs.append(arrays[-1])
    built = [a.copy() for a in args]
    mlc.build(mlc.IRModule({"main": hinted}), "llvm")["main"](*built)
    want = args[2] + (args[0].reshape(steps, 8)[None] * args[1].reshape(rows, steps)[:, :, None]).sum(1).ravel()
    for got in (*outs, built[-1]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_loop_without_the_annotation_is_left_alone():
    func = rows_times_vector(3, 5, annotate=False)
    assert prefetch_streams(func) is func
