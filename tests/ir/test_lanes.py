"""ir.analysis.lanes: the one lane-independence proof (vectorizer and reference interpreter).

Each condition of the proof is refused on its own; then random bodies of stores
are run both ways, one iteration after the other and as lockstep lanes (every
lane's loads of a statement before its stores), and wherever the proof says
"independent" the two must leave the same memory.
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlc.ir import expr as E
from mlc.ir.analysis import lane_stride, lanes_independent, reads_only_written_points, written_points
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import Binary, BufferLoad, FloatImm, IntImm, Var, const
from mlc.ir.tir import BufferStore

I, J = Var("i"), Var("j")
A = decl_buffer((64,), "float32", "A")
B = decl_buffer((64,), "float32", "B")
C = decl_buffer((64,), "float32", "C")
M = decl_buffer((4, 16), "float32", "M")
K = decl_buffer((64,), "int32", "K")


def store(buf, value, *indices):
    return BufferStore(buf, value, tuple(indices))


def test_each_written_buffer_one_index_moving_per_lane():
    assert lanes_independent([store(C, C[I * 16 + J] + A[J], I * 16 + J)], J)  # the matmul update
    assert lanes_independent([store(B, A[J], J * 2), store(C, B[J * 2] + 1.0, J)], J)
    assert lanes_independent([store(B, A[J], 8 - J)], J)  # a negative stride
    assert lanes_independent([store(M, M[I, J] * 2.0, I, J)], J)  # only the last index moves
    assert not lanes_independent([store(C, A[J], I * 16)], J)  # every lane writes one element
    assert not lanes_independent([store(C, A[J], E.floordiv(J, 2))], J)  # a stride that is not constant
    assert not lanes_independent([store(M, A[J], J, I)], J)  # a leading index moves
    assert not lanes_independent([store(B, A[J], J), store(B, A[J], J + 1)], J)  # two written indices
    assert not lanes_independent([store(C, C[J + 1], J)], J)  # reads the next lane's element
    assert not lanes_independent([store(B, A[J], J), store(C, B[J + 1], J)], J)  # ... written before
    assert not lanes_independent([store(K, K[K[J]], J)], J)  # a written buffer in an index
    assert not lanes_independent([store(K, K[J], J + K[0])], J)


def test_the_parts_of_the_proof():
    assert written_points([store(B, A[J], J), store(B, A[J] + 1.0, J)]) is not None
    assert written_points([store(B, A[J], J), store(B, A[J], Binary("add", J, const(0), "int32"))]) is None  # compared exactly
    assert reads_only_written_points([C[I] + A[J]], {C: (I,)})
    assert not reads_only_written_points([C[I] + C[I + 1]], {C: (I,)})
    assert lane_stride(I * 16 + J, J) == 1 and lane_stride((8 - J) * 2, J) == -2
    assert lane_stride(J * I, J) is None and lane_stride(I * 16 + 4, J) == 0


# ------------------------------------------------------------- lockstep

LANES, FIXED_I = 4, 1


def evaluate(e, env, mem):
    if isinstance(e, (IntImm, FloatImm)):
        return e.value
    if isinstance(e, Var):
        return env[e]
    if isinstance(e, BufferLoad):
        return mem[e.buffer.name][int(evaluate(e.indices[0], env, mem))]
    assert isinstance(e, Binary), e
    a, b = evaluate(e.a, env, mem), evaluate(e.b, env, mem)
    return {"add": lambda: a + b, "mul": lambda: a * b, "floordiv": lambda: a // b}[e.op]()


def run(stores, lockstep):
    mem = {b.name: np.arange(64, dtype=np.float64) * k for b, k in ((A, 1.0), (B, 3.0), (C, 7.0))}
    lanes = [{I: FIXED_I, J: j} for j in range(LANES)]
    if lockstep:
        for s in stores:
            values = [(int(evaluate(s.indices[0], env, mem)), evaluate(s.value, env, mem)) for env in lanes]
            for index, v in values:
                mem[s.buffer.name][index] = v
    else:
        for env in lanes:
            for s in stores:
                mem[s.buffer.name][int(evaluate(s.indices[0], env, mem))] = evaluate(s.value, env, mem)
    return mem


@st.composite
def indices(draw):
    stride = draw(st.sampled_from([0, 1, 1, 2, -1]))
    offset = draw(st.integers(0, 3))
    base = const(20 + offset) + I * 4 if draw(st.booleans()) else const(20 + offset)
    if draw(st.integers(0, 5)) == 0:
        return base + E.floordiv(J, 2)
    return base + J * stride if stride else base


@st.composite
def values(draw, depth=2):
    if depth == 0 or draw(st.booleans()):
        if draw(st.booleans()):
            return FloatImm(float(draw(st.integers(-3, 3))), "float32")
        return draw(st.sampled_from([A, B, C]))[draw(indices())]
    return Binary(draw(st.sampled_from(["add", "mul"])), draw(values(depth - 1)), draw(values(depth - 1)),
                  "float32")


@st.composite
def bodies(draw):
    n = draw(st.integers(1, 3))
    return [BufferStore(draw(st.sampled_from([B, C])), draw(values()), (draw(indices()),)) for _ in range(n)]


@settings(max_examples=300, deadline=None)
@given(bodies())
def test_independent_lanes_run_in_lockstep_as_in_sequence(stores):
    if lanes_independent(stores, J):
        sequential, lockstep = run(stores, False), run(stores, True)
        for name in sequential:
            np.testing.assert_array_equal(lockstep[name], sequential[name])


def test_the_property_sees_refused_bodies_that_differ():
    """The simulation above can tell: a refused body whose two runs differ."""
    stores = [store(C, C[J + 19] + 1.0, J + 20)]
    assert not lanes_independent(stores, J)
    assert not np.array_equal(run(stores, False)["C"], run(stores, True)["C"])
