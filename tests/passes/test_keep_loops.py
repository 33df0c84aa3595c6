"""keep_vector_loops on its own: which loops it marks, and that the marked program computes
what the program did (the reference interpreter runs both)."""
import numpy as np
from hypothesis import given, settings, strategies as st

from mlc.backends.reference.interpreter import Program
from mlc.ir.buffer import Buffer
from mlc.ir.expr import Binary, Broadcast, BufferLoad, Ramp, Var, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, For, PrimFunc
from mlc.passes.tir.keep_loops import KEEP_LOOP, MIN_KEPT_TRIPS, keep_vector_loops, kept


def rows_program(rows: int, lanes: int, kind: str = "serial", extent=None):
    """``B[i*L : i*L+L] = A[i*L : i*L+L] * 2`` (a vector statement; ``lanes`` 1: a scalar
    one) for ``i < rows``, in a loop of ``kind``."""
    A, B = Buffer("A", (const(rows * lanes),), "float32"), Buffer("B", (const(rows * lanes),), "float32")
    i = Var("i", "int32")
    index = Ramp(i * lanes, 1, lanes) if lanes > 1 else i
    dtype = f"float32x{lanes}" if lanes > 1 else "float32"
    two = Broadcast(const(2.0, "float32"), lanes) if lanes > 1 else const(2.0, "float32")
    store = BufferStore(B, Binary("mul", BufferLoad(A, (index,), dtype), two, dtype), (index,))
    return PrimFunc((A, B), For(i, const(0), extent if extent is not None else const(rows), kind, store))


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 20), lanes=st.sampled_from([1, 2, 4, 16]), kind=st.sampled_from(["serial", "parallel"]),
       seed=st.integers(0, 99))
def test_loops_of_vector_statements_are_kept_from_eight_iterations_and_compute_the_same(rows, lanes, kind, seed):
    func = rows_program(rows, lanes, kind)
    marked = keep_vector_loops(func)
    loops = [n for n in pre_order_nodes(marked.body) if isinstance(n, For)]
    assert [kept(n) for n in loops] == [kind == "serial" and lanes > 1 and rows >= MIN_KEPT_TRIPS]
    if not loops[0].annotations:
        assert marked is func
    a = np.random.default_rng(seed).standard_normal(rows * lanes).astype("float32")
    outs = []
    for f in (func, marked):
        arrays = [a.copy(), np.zeros_like(a)]
        Program(f).run(arrays)
        outs.append(arrays[1])
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[1], a * 2)


def test_a_loop_of_a_count_known_at_run_time_is_kept_once():
    n = Var("n", "int32")
    func = rows_program(4, 8, extent=n)
    marked = keep_vector_loops(func)
    assert marked.body.annotations == ((KEEP_LOOP, True),)
    assert keep_vector_loops(marked).body.annotations == ((KEEP_LOOP, True),)  # marked once
