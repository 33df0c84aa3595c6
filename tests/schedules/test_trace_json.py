"""Trace.from_json on malformed records: every defect is a ScheduleError that names it."""
import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlc import ScheduleError
from mlc.schedules import Schedule, Trace
from tests.programs import mm_relu_module


def _module():
    return mm_relu_module(16)


def _valid_record() -> dict:
    sch = Schedule(_module())
    y = sch.get_block("Y")
    i, j, k = sch.get_loops(y)
    tiles = sch.sample_perfect_tile(j, 2)
    sch.split(j, tiles)
    sch.decompose_reduction(y, k)
    return json.loads(sch.trace.to_json())


def test_a_valid_record_still_replays():
    record = _valid_record()
    replayed = Trace.from_json(json.dumps(record)).apply(Schedule(_module()))
    assert len(replayed.trace) == len(record["insts"])


@pytest.mark.parametrize("mutate, message", [
    (lambda r: "{not json", "not valid JSON"),
    (lambda r: [], "must be an object with an 'insts' list"),
    (lambda r: {"insts": 3}, "must be an object with an 'insts' list"),
    (lambda r: {"insts": [7]}, r"instruction 0 must be an object"),
    (lambda r: r["insts"][1].pop("inputs") and r, r"instruction 1 must have exactly.*missing \['inputs'\]"),
    (lambda r: r["insts"][0].update(kind=3) or r, r"instruction 0: 'kind' must name a schedule primitive"),
    (lambda r: r["insts"][1].update(inputs=[1]) or r, r"instruction 1 \(get_loops\): 'inputs' must be"),
    (lambda r: r["insts"][1]["inputs"].update(block={"rv": 9, "kind": "b"}) or r,
     r"instruction 1 \(get_loops\), input 'block': RV 9 is used before"),
    (lambda r: r["insts"][1]["inputs"].update(block={"rv": "0"}) or r, r"is not an RV"),
    (lambda r: r["insts"][1]["inputs"].update(block={"rv": 0, "kind": "l"}) or r,
     r"RV 0 is used as a LoopRV but was produced as a BlockRV"),
    (lambda r: r["insts"][1].update(outputs=[{"rv": 0, "kind": "l"}]) or r, r"RV 0 was already produced"),
    (lambda r: r["insts"][1]["inputs"].update(block={"set": 1}) or r, r"is not an RV"),
])
def test_malformed_records_raise_schedule_errors_naming_the_defect(mutate, message):
    record = mutate(_valid_record())
    data = record if isinstance(record, str) else json.dumps(record)
    with pytest.raises(ScheduleError, match=message):
        Trace.from_json(data)


def test_inputs_that_do_not_fit_the_primitive_are_schedule_errors_at_replay():
    record = _valid_record()
    record["insts"][1]["inputs"]["loop"] = 3  # get_loops has no parameter 'loop'
    with pytest.raises(ScheduleError, match=r"get_loops instruction's inputs \['block', 'loop'\]"):
        Trace.from_json(record).apply(Schedule(_module()))
    record = _valid_record()
    record["insts"][0]["kind"] = "no_such_primitive"
    with pytest.raises(ScheduleError, match="unknown schedule primitive 'no_such_primitive'"):
        Trace.from_json(record).apply(Schedule(_module()))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 12) | st.floats(allow_nan=False) | st.text(max_size=4)
    | st.sampled_from(["b", "l", "v", "rv", "kind", "inputs", "insts", "outputs"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["rv", "kind", "inputs", "outputs", "insts", "x"]), inner, max_size=3),
    max_leaves=8)


def _paths(value, prefix=()):
    """Every (container, key) position in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield value, key
            yield from _paths(item)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield value, n
            yield from _paths(item)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fuzzed_records_raise_only_schedule_errors(data):
    """Mutated valid records and random JSON: from_json accepts or raises ScheduleError, nothing else."""
    record = copy.deepcopy(_VALID)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        positions = list(_paths(record))
        if not positions:
            break
        container, key = data.draw(st.sampled_from(positions), label="position")
        if data.draw(st.booleans(), label="delete") and isinstance(container, dict):
            del container[key]
        else:
            container[key] = data.draw(json_values, label="value")
    candidates = [record, data.draw(json_values, label="random"), json.dumps(record),
                  json.dumps(record)[: data.draw(st.integers(0, 40), label="cut")]]
    for candidate in candidates:
        try:
            Trace.from_json(candidate)
        except ScheduleError:
            pass


_VALID = _valid_record()
