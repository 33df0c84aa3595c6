"""get_* primitives and the trace: printing, JSON round trip, replay."""
import pytest

import mlc
from mlc import ScheduleError, te
from mlc.schedules import Schedule, Trace
from tests.programs import mm_relu_module


def course_module(n=16):
    return mm_relu_module(n)


def test_get_block_loops_producers_consumers():
    sch = Schedule(course_module())
    y = sch.get_block("Y", func_name="mm_relu")
    c = sch.get_block("C")
    assert len(sch.get_loops(y)) == 3 and len(sch.get_loops(c)) == 2
    (p,) = sch.get_producers(c)
    (q,) = sch.get_consumers(y)
    assert sch._blocks[p][1] == "Y" and sch._blocks[q][1] == "C"
    i, _, _ = sch.get_loops(y)
    (inner,) = sch.get_child_blocks(i)
    assert sch._blocks[inner][1] == "Y"


def test_get_errors_name_what_exists():
    sch = Schedule(course_module())
    with pytest.raises(ScheduleError, match=r"no block named 'Z'.*\['Y', 'C'\]"):
        sch.get_block("Z")
    with pytest.raises(ScheduleError, match="no function 'f'"):
        sch.get_block("Y", func_name="f")
    with pytest.raises(ScheduleError, match="expected a BlockRV"):
        sch.get_loops(3)
    with pytest.raises(ScheduleError, match=r"no block named 'Z'"):
        sch.get_loops("Z")


def test_a_block_may_be_named_where_a_handle_is_taken_as_in_tvm():
    """The course writes ``sch.get_loops("matmul")``: the name stands for get_block's handle."""
    sch = Schedule(course_module())
    by_name = sch.get_loops("Y")
    i, j, k = sch.get_loops(sch.get_block("Y"))
    assert len(by_name) == 3
    sch.split(by_name[0], [None, 4])
    fresh = Schedule(course_module())
    fresh.split(fresh.get_loops(fresh.get_block("Y"))[0], [None, 4])
    mlc.assert_structural_equal(sch.mod, fresh.mod)
    namespace = {}
    exec(str(sch.trace), namespace)
    replayed = Schedule(course_module())
    namespace["apply_schedule"](replayed)
    mlc.assert_structural_equal(replayed.mod, sch.mod)


def test_failed_calls_are_not_recorded():
    sch = Schedule(course_module())
    with pytest.raises(ScheduleError):
        sch.get_block("nope")
    assert len(sch.trace) == 0


def test_trace_prints_python_and_round_trips_through_json():
    sch = Schedule(course_module())
    y = sch.get_block("Y", func_name="mm_relu")
    sch.get_loops(y)
    text = str(sch.trace)
    assert "b0 = sch.get_block(name='Y', func_name='mm_relu')" in text
    assert "l1, l2, l3 = sch.get_loops(block=b0)" in text
    replayed = Trace.from_json(sch.trace.to_json()).apply(Schedule(course_module()))
    assert len(replayed.trace) == 2
    mlc.assert_structural_equal(replayed.mod, sch.mod)
    namespace = {}
    exec(text, namespace)
    fresh = Schedule(course_module())
    namespace["apply_schedule"](fresh)
    assert str(fresh.trace) == text
