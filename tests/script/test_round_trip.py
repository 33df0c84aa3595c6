"""``mlc.parse(mod.script())`` gives back ``mod``, for random te programs, unscheduled and scheduled.

The programs are the suite's random te programs (tests/test_random_programs.py);
schedules are the schedule fuzzer's random primitive sequences
(tests/schedules/test_fuzz.py), so every kind of TIR the schedules make
(split/fuse loops, T.where, loop kinds and annotations, decomposed and
rfactored reductions, blockized nests, cache stages, block attributes)
is printed and read back.
"""
from hypothesis import HealthCheck, given, settings, strategies as st

import mlc
from mlc import ScheduleError
from mlc.schedules import Schedule

from tests.schedules.test_fuzz import random_step
from tests.test_random_programs import build_te, programs


def assert_round_trip(mod):
    text = mod.script()
    parsed = mlc.parse(text)
    mlc.assert_structural_equal(parsed, mod)
    assert parsed.script() == text


@settings(max_examples=150, deadline=None)
@given(programs())
def test_unscheduled_programs_round_trip(program):
    assert_round_trip(mlc.IRModule({"prog": build_te(*program)}))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs(), st.data())
def test_scheduled_programs_round_trip(program, data):
    sch = Schedule(mlc.IRModule({"prog": build_te(*program)}))
    for _ in range(data.draw(st.integers(1, 6), label="steps")):
        try:
            random_step(sch, data)
        except ScheduleError:
            pass
    assert_round_trip(sch.mod)


def test_a_loop_narrower_than_its_block_domain_is_not_printed_as_remap():
    """compute_at can bind a block iterator of domain 8 to a loop of 3 iterations: the
    printer must then spell the domain out, or the parsed block would have domain 3."""
    text = '''
@T.prim_func
def f(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
    for i, j in T.grid(3, 8):
        with T.block("B"):
            vi = T.axis.spatial(8, i)
            vj = T.axis.spatial(8, j)
            T.reads(A[vi])
            T.writes(B[vi])
            B[vi] = A[vi]
'''
    func = mlc.parse(text)
    printed = func.script("f")
    assert "T.axis.remap" not in printed
    mlc.assert_structural_equal(mlc.parse(printed), func)
