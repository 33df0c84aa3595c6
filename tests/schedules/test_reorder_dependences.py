"""reorder refuses a new order the blocks' dependences between iterations forbid.

A loop bound to an opaque iterator keeps its place; a loop whose iterations may touch
each other's data (the proof ``parallel`` asks for) keeps its order relative to the
others; reduce iterators of a block with an init move freely. Every reorder it accepts
computes what the unscheduled program does.
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import ScheduleError
from mlc.schedules import Schedule

from .block_programs import assert_same_numerics, course_module


def _running_sum(n: int, kind: str):
    return mlc.parse(f'''
@I.ir_module
class M:
    @T.prim_func
    def main(A: T.Buffer(({n},), "float32"), B: T.Buffer(({n},), "float32")):
        for i in range({n}):
            with T.block("B"):
                vi = T.axis.{kind}({n}, i)
                B[vi] = T.if_then_else(vi > 0, B[vi - 1], T.float32(0)) + A[vi]
''')


def _stencil(n: int, m: int, di: int, dj: int):
    """B[i, j] = B[i - di, j - dj] (0 outside) + A[i, j]: each iteration reads what the one
    (di, dj) before it writes."""
    return mlc.parse(f'''
@I.ir_module
class M:
    @T.prim_func
    def main(A: T.Buffer(({n}, {m}), "float32"), B: T.Buffer(({n}, {m}), "float32")):
        for i, j in T.grid({n}, {m}):
            with T.block("B"):
                vi, vj = T.axis.remap("SS", [i, j])
                B[vi, vj] = T.if_then_else(0 <= vi - {di} and vi - {di} < {n} and 0 <= vj - {dj}
                                           and vj - {dj} < {m}, B[vi - {di}, vj - {dj}],
                                           T.float32(0)) + A[vi, vj]
''')


@settings(max_examples=10, deadline=None)
@given(outer=st.integers(2, 4), inner=st.integers(2, 4), kind=st.sampled_from(["opaque", "spatial"]))
def test_a_running_sum_split_in_two_cannot_swap_its_loops(outer, inner, kind):
    mod = _running_sum(outer * inner, kind)
    sch = Schedule(mod)
    (i,) = sch.get_loops(sch.get_block("B"))
    i0, i1 = sch.split(i, [outer, inner])
    before = sch.mod
    words = "opaque iterator" if kind == "opaque" else "may depend on each other"
    with pytest.raises(ScheduleError, match=words) as info:
        sch.reorder(i1, i0)
    assert "reorder" in str(info.value)
    mlc.assert_structural_equal(sch.mod, before)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 5), m=st.integers(2, 5), di=st.integers(-1, 1), dj=st.integers(-1, 1))
def test_a_reorder_it_accepts_computes_the_same(n, m, di, dj):
    mod = _stencil(n, m, di, dj)
    sch = Schedule(mod)
    i, j = sch.get_loops(sch.get_block("B"))
    try:
        sch.reorder(j, i)
    except ScheduleError as err:
        assert (di, dj) != (0, 0), "a block with no dependence between iterations was refused"
        assert "may depend on each other" in str(err)
        return
    assert_same_numerics(mod, sch.mod)


def test_a_loop_left_in_place_between_moved_ones_counts_too():
    """Reordering (a, b, c) as (c, b, a) changes b's order relative to both: a dependence
    carried by b alone is broken although a and c are independent."""
    mod = mlc.parse('''
@I.ir_module
class M:
    @T.prim_func
    def main(A: T.Buffer((2, 4, 4), "float32"), B: T.Buffer((2, 4, 4), "float32")):
        for a, b, c in T.grid(2, 4, 4):
            with T.block("B"):
                va, vb, vc = T.axis.remap("SSS", [a, b, c])
                B[va, vb, vc] = T.if_then_else(vb > 0 and vc < 3, B[va, vb - 1, vc + 1],
                                               T.float32(0)) + A[va, vb, vc]
''')
    sch = Schedule(mod)
    a, b, c = sch.get_loops(sch.get_block("B"))
    with pytest.raises(ScheduleError, match="loop b may depend"):
        sch.reorder(c, a)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), k=st.integers(1, 6))
def test_the_reduction_loop_of_a_matmul_moves_outermost(n, m, k):
    make = lambda: course_module(n, m=m, k=k)  # noqa: E731
    sch = Schedule(make())
    i, j, kk = sch.get_loops(sch.get_block("Y"))
    sch.reorder(kk, j, i)
    assert_same_numerics(make(), sch.mod)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6))
def test_an_in_place_update_of_independent_elements_reorders(n, m):
    mod = mlc.parse(f'''
@I.ir_module
class M:
    @T.prim_func
    def main(A: T.Buffer(({n}, {m}), "float32"), B: T.Buffer(({n}, {m}), "float32")):
        for i, j in T.grid({n}, {m}):
            with T.block("B"):
                vi, vj = T.axis.remap("SS", [i, j])
                B[vi, vj] = B[vi, vj] * T.float32(2) + A[vi, vj]
''')
    sch = Schedule(mod)
    i, j = sch.get_loops(sch.get_block("B"))
    sch.reorder(j, i)
    assert_same_numerics(mod, sch.mod)
