"""share_vector_windows on its own: the reference interpreter runs a stencil's vector
statements and the pass's ``vector_window`` calls (shuffles of the first and last loads) to
the same result, and the plan picks only loads a window can replace safely."""
import numpy as np
from hypothesis import given, settings, strategies as st

from mlc.backends.reference.interpreter import Program
from mlc.ir.analysis import lane_of, window_source
from mlc.ir.buffer import Buffer
from mlc.ir.expr import VECTOR_WINDOW, BufferLoad, Call, Cast, Ramp, Select, Var, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, For, PrimFunc
from mlc.passes.tir.vector_windows import plan_windows, share_vector_windows


def _load(buffer: Buffer, base, lanes: int = 16) -> BufferLoad:
    return BufferLoad(buffer, (Ramp(base, 1, lanes),), f"{buffer.dtype}x{lanes}")


def stencil_program(rows: int, lanes: int, offsets, dtype: str, guarded: int | None):
    """``Y[i*L : i*L+L] = sum(X[i*L+c : i*L+c+L] * (c + 1))`` for ``i < rows``; ``guarded``:
    one more term ``X[.. + guarded]`` on a Select's side, taken in the first row only."""
    n = rows * lanes + max([*offsets, guarded or 0])
    X, Y = Buffer("X", (const(n),), dtype), Buffer("Y", (const(rows * lanes),), dtype)
    i = Var("i", "int32")
    base = i * lanes
    value = None
    for c in offsets:
        term = _load(X, base + c, lanes) * Ramp(const(c + 1, dtype), 0, lanes) if dtype.startswith("int") \
            else _load(X, base + c, lanes)
        value = term if value is None else value + term
    if guarded is not None:
        value = value + Select(Ramp(i, 0, lanes) < Ramp(const(1), 0, lanes), _load(X, base + guarded, lanes),
                               _load(X, base, lanes), value.dtype)
    store = BufferStore(Y, value, (Ramp(base, 1, lanes),))
    return PrimFunc((X, Y), For(i, const(0), const(rows), "serial", store)), n


def run(func, arrays):
    copies = [a.copy() for a in arrays]
    Program(func).run(copies)
    return copies[1]


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 3), lanes=st.sampled_from([2, 4, 8, 16]),
       offsets=st.lists(st.integers(0, 20), min_size=1, max_size=5),
       dtype=st.sampled_from(["float32", "float64", "int32"]), guarded=st.none() | st.integers(0, 20),
       seed=st.integers(0, 99))
def test_the_windowed_program_computes_what_the_loads_compute(rows, lanes, offsets, dtype, guarded, seed):
    func, n = stencil_program(rows, lanes, offsets, dtype, guarded)
    windowed = share_vector_windows(func)
    rng = np.random.default_rng(seed)
    arrays = [(rng.standard_normal(n) * 100).astype(dtype), np.zeros(rows * lanes, dtype)]
    want = run(func, arrays)
    np.testing.assert_array_equal(run(windowed, arrays), want)
    x = arrays[0]
    expect = sum((x[c:c + rows * lanes] * (c + 1 if dtype == "int32" else 1)).astype(dtype) for c in offsets)
    if guarded is not None:
        expect = expect + np.concatenate([x[guarded:guarded + lanes], x[lanes:rows * lanes]])
    np.testing.assert_allclose(want, expect, rtol=1e-12 if dtype == "float64" else 1e-5)
    windows = [c for c in pre_order_nodes(windowed.body) if isinstance(c, Call) and c.op == VECTOR_WINDOW]
    distinct = set(offsets)
    if len(distinct) >= 3 and max(distinct) - min(distinct) <= lanes:  # every load between is a window
        assert len({c.args[2].value for c in windows}) == len(distinct) - 2
    elif len(set(offsets) | {guarded} - {None}) < 3:
        assert windowed is func


def test_the_plan_shuffles_the_loads_between_the_first_and_the_last():
    x, y = Buffer("x", (const(4096),), "float32"), Buffer("y", (const(4096),), "float32")
    i = Var("i", "int32")
    base = i * 32
    three = _load(x, base) + _load(x, base + 1) + _load(x, base + 2)
    plan = plan_windows(three)
    assert [(key[-1], entry[2:]) for key, entry in plan.items()] == [(1, (1, 2))]  # offset 1 of a span of 2
    # two loads save nothing; another buffer, or a span past the lanes, is apart
    assert plan_windows(_load(x, base) + _load(x, base + 1)) == {}
    assert plan_windows(_load(x, base) + _load(y, base + 1) + _load(x, base + 2)) == {}
    assert plan_windows(_load(x, base, 8) + _load(x, base + 1, 8) + _load(x, base + 12, 8)) == {}  # past 8 lanes
    assert len(plan_windows(_load(x, base) + _load(x, base + 1) + _load(x, base + 12))) == 1  # within 16
    assert plan_windows(_load(x, base) + _load(x, base + 5) + _load(x, base + 17)) == {}
    whole = plan_windows(_load(x, base) + _load(x, base + 8) + _load(x, base + 16))  # a span of the lanes
    assert [key[-1] for key in whole] == [8]
    # bases that differ by more than a constant are apart
    j = Var("j", "int32")
    assert plan_windows(_load(x, base) + _load(x, base + j) + _load(x, base + 2)) == {}


def test_loads_on_a_select_side_neither_plan_nor_count():
    """A Select with loads runs only its taken side, so a load there may be out of bounds
    when not taken: it must not be the first or last of a window."""
    x = Buffer("x", (const(4096),), "float32")
    i = Var("i", "int32")
    base = i * 16
    cond = i < 100
    guarded = Select(cond, _load(x, base + 2), _load(x, base), "float32x16")
    assert plan_windows(_load(x, base) + _load(x, base + 1) + guarded) == {}
    kept = plan_windows(_load(x, base) + _load(x, base + 1) + _load(x, base + 3) + guarded)
    assert [key[-1] for key in kept] == [1]


def test_a_window_lane_by_lane_is_the_load_it_replaced():
    """A backend computing a window lane by lane (inside a gather index, a cast it has no
    vector form of) reads the element the replaced load read."""
    x, y = Buffer("x", (const(64),), "int32"), Buffer("y", (const(64),), "float32")
    i = Var("i", "int32")
    windowed = share_vector_windows(PrimFunc((x, y), BufferStore(
        y, Cast("float32x8", _load(x, i, 8) + _load(x, i + 3, 8) + _load(x, i + 5, 8)), (Ramp(i, 1, 8),))))
    window = next(c for c in pre_order_nodes(windowed.body) if isinstance(c, Call) and c.op == VECTOR_WINDOW)
    assert [window_source(3, 5, 8, k) for k in (0, 4, 5, 7)] == [(0, 3), (0, 7), (1, 3), (1, 5)]
    for k in range(8):
        lane = lane_of(window, k)
        source, at = window_source(3, 5, 8, k)
        assert str(lane) == str(lane_of(window.args[source], at))
