"""Sampling primitives: properties, determinism, validation, and decisions in traces."""
import json
import math
import random
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlc
from mlc import ScheduleError, te
from mlc.schedules import Schedule, Trace
from mlc.schedules.primitives.sampling import divisors, prime_factors, sample_tile

from .test_get_and_trace import course_module
from .test_loops import TARGETS, assert_same_result


def vector_module(n):
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] * 3, "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def the_loop(sch):
    (loop,) = sch.get_loops(sch.get_block("B"))
    return loop


EXTENTS = st.sampled_from([1, 2, 3, 7, 12, 13, 16, 31, 60, 64, 97, 128, 360, 1024])


@given(EXTENTS, st.integers(1, 4), st.sampled_from([1, 2, 4, 16, 64, None]), st.integers(0, 2**32))
def test_perfect_tile_properties(extent, n, max_inner, seed):
    sch = Schedule(vector_module(extent), seed=seed)
    if n == 1 and max_inner is not None and extent > max_inner:
        with pytest.raises(ScheduleError, match="ask for more tiles"):
            sch.sample_perfect_tile(the_loop(sch), n=n, max_innermost_factor=max_inner)
        return
    tiles = sch.sample_perfect_tile(the_loop(sch), n=n, max_innermost_factor=max_inner)
    assert len(tiles) == n and all(isinstance(t, mlc.ExprRV) and t >= 1 for t in tiles)
    assert math.prod(tiles) == extent
    assert max_inner is None or tiles[-1] <= max_inner
    assert sch.trace.insts[-1].inputs["decision"] == [int(t) for t in tiles]


@given(EXTENTS, st.integers(2, 4), st.integers(0, 2**32))
def test_perfect_tile_is_deterministic_under_a_seed(extent, n, seed):
    draws = []
    for _ in range(2):
        sch = Schedule(vector_module(extent), seed=seed)
        loop = the_loop(sch)
        draws.append([list(sch.sample_perfect_tile(loop, n=n)) for _ in range(3)])
    assert draws[0] == draws[1]


def test_perfect_tile_explores_the_space():
    seen = {tuple(sample_tile(random.Random(s), 64, 2, 16)) for s in range(200)}
    assert seen == {(64, 1), (32, 2), (16, 4), (8, 8), (4, 16)}
    seen3 = {tuple(sample_tile(random.Random(s), 12, 3, None)) for s in range(500)}
    assert len(seen3) == 18  # every ordered factorisation of 12 into 3 factors


def test_factor_helpers():
    assert prime_factors(1) == [] and prime_factors(360) == [2, 2, 2, 3, 3, 5]
    assert prime_factors(97) == [97]
    assert divisors(1) == [1] and divisors(36) == [1, 2, 3, 4, 6, 9, 12, 18, 36]


def test_perfect_tile_decision_is_validated_and_used():
    sch = Schedule(vector_module(64))
    loop = the_loop(sch)
    assert sch.sample_perfect_tile(loop, n=3, decision=[2, 4, 8]) == [2, 4, 8]
    bad = {(2, 4, 4): "multiply to 32, not the extent 64",
           (64,): "a list of 3 ints",
           (1, 2, 32): "innermost factor 32 exceeds max_innermost_factor=16",
           (0, 8, 8): "positive int",
           (2.0, 4, 8): "positive int"}
    for decision, why in bad.items():
        with pytest.raises(ScheduleError, match=why):
            sch.sample_perfect_tile(loop, n=len(decision) if len(decision) != 1 else 3,
                                    decision=list(decision))
    with pytest.raises(ScheduleError, match="n must be a positive int"):
        sch.sample_perfect_tile(loop, n=0)
    with pytest.raises(ScheduleError, match="max_innermost_factor must be"):
        sch.sample_perfect_tile(loop, n=2, max_innermost_factor=0)
    assert len(sch.trace) == 3  # get_block, get_loops, the one good sample
    assert math.prod(sch.sample_perfect_tile(loop, n=2, max_innermost_factor=-1)) == 64


def test_categorical_follows_probabilities_and_seed():
    sch = Schedule(vector_module(8), seed=7)
    draws = [int(sch.sample_categorical([1, 2, 4], [0.6, 0.0, 0.4])) for _ in range(400)]
    counts = Counter(draws)
    assert set(counts) == {1, 4} and 180 < counts[1] < 300
    again = Schedule(vector_module(8), seed=7)
    assert [int(again.sample_categorical([1, 2, 4], [0.6, 0.0, 0.4])) for _ in range(400)] == draws
    assert sch.trace.insts[0].inputs["decision"] in (0, 2)


def test_categorical_validation():
    sch = Schedule(vector_module(8))
    assert sch.sample_categorical([5, 6], [1, 1], decision=1) == 6
    assert sch.trace.insts[-1].inputs["decision"] == 1
    for args, why in [(([], []), "non-empty list of ints"), (([1, 2], [1.0]), "one per candidate"),
                      (([1, 2], [1, -1]), "finite and >= 0"), (([1, 2], [0, 0]), "sum to 0"),
                      (([1.5], [1]), "list of ints"), (([1, 2], [1, float("nan")]), "finite")]:
        with pytest.raises(ScheduleError, match=why):
            sch.sample_categorical(*args)
    with pytest.raises(ScheduleError, match="an index into the 2 candidates"):
        sch.sample_categorical([1, 2], [1, 1], decision=2)


def tiled_schedule(sch):
    block = sch.get_block("Y", func_name="mm_relu")
    i, j, k = sch.get_loops(block)
    ti = sch.sample_perfect_tile(i, n=2, max_innermost_factor=8)
    tj = sch.sample_perfect_tile(j, n=3, max_innermost_factor=4)
    i0, i1 = sch.split(i, factors=ti)
    j0, j1, j2 = sch.split(j, factors=tj)
    sch.reorder(i0, j0, i1, j1, k, j2)
    unroll = sch.sample_categorical([0, 16, 64], [0.2, 0.3, 0.5])
    sch.annotate(block, "pragma_auto_unroll_max_step", unroll)
    sch.parallel(i0)
    return sch


def test_trace_with_decisions_round_trips():
    sch = tiled_schedule(Schedule(course_module(16), seed=3))
    text = str(sch.trace)
    assert "v4, v5 = sch.sample_perfect_tile(loop=l1, n=2, max_innermost_factor=8, decision=[" in text
    assert "sch.split(loop=l1, factors=[v4, v5])" in text
    assert "= sch.sample_categorical(candidates=[0, 16, 64], probs=[0.2, 0.3, 0.5], decision=" in text
    namespace = {}
    exec(text, namespace)
    for seed in (3, 99):  # recorded decisions win over the generator
        fresh = Schedule(course_module(16), seed=seed)
        namespace["apply_schedule"](fresh)
        mlc.assert_structural_equal(fresh.mod, sch.mod)
        assert str(fresh.trace) == text
        replayed = Trace.from_json(sch.trace.to_json()).apply(Schedule(course_module(16), seed=seed))
        mlc.assert_structural_equal(replayed.mod, sch.mod)
    assert_same_result(course_module(16), sch.mod, "mm_relu")


def test_editing_a_decision_in_json_changes_the_schedule():
    sch = tiled_schedule(Schedule(course_module(16), seed=0))
    record = json.loads(sch.trace.to_json())
    tile_j = [i for i in record["insts"] if i["kind"] == "sample_perfect_tile"][1]
    tile_j["inputs"]["decision"] = [1, 16, 1]
    replayed = Trace.from_json(record).apply(Schedule(course_module(16)))
    assert "j_0, i_1, j_1, k, j_2 in T.grid(1, " in replayed.mod.script()
    assert "16, 16, 1)" in replayed.mod.script()
    assert_same_result(course_module(16), replayed.mod, "mm_relu")
    tile_j["inputs"]["decision"] = [1, 1, 16]  # innermost 16 > max_innermost_factor 4
    with pytest.raises(ScheduleError, match="exceeds max_innermost_factor=4"):
        Trace.from_json(record).apply(Schedule(course_module(16)))


@given(st.integers(0, 2**32))
def test_random_tilings_compute_the_same(seed):
    sch = tiled_schedule(Schedule(course_module(16), seed=seed))
    rng = np.random.default_rng(seed % 1000)
    a, b = (rng.standard_normal((16, 16)).astype("float32") for _ in range(2))
    for target in TARGETS:
        c = np.zeros((16, 16), "float32")
        mlc.build(sch.mod, target)["mm_relu"](a, b, c)
        np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-4, atol=1e-4, err_msg=target)
