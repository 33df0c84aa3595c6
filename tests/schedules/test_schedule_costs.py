"""What recording a schedule costs: a primitive's inputs are matched to its parameters without
``inspect.Signature.bind`` (the default rules call primitives thousands of times a build), and a
copy of a schedule (every step the rules attempt takes one) sets its generator's state without
seeding it from the system's entropy first. The trace and the draws are as before."""
import inspect
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.schedules import Schedule


def vector_module(n: int, m: int) -> mlc.IRModule:
    A = te.placeholder((n, m), "float32", "A")
    B = te.compute((n, m), lambda i, j: A[i, j] * 3 + 1, "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def _recorded_by_bind(sch: Schedule) -> list[dict]:
    """Each instruction's inputs as ``Signature.bind`` with defaults names them."""
    out = []
    for inst in sch.trace.insts:
        method = getattr(Schedule, inst.kind)
        sig = inspect.signature(getattr(method, "__wrapped__", method))
        args = {name: value for name, value in inst.inputs.items()}
        b = sig.bind(sch, **args)
        b.apply_defaults()
        out.append({name: b.arguments[name] for name in list(sig.parameters)[1:]})
    return out


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 9), m=st.integers(1, 40), factor=st.integers(1, 8), seed=st.integers(0, 99))
def test_primitives_are_recorded_without_signature_bind(n, m, factor, seed):
    binds = {"n": 0}
    bind = inspect.Signature.bind

    def counted(self, *args, **kwargs):
        binds["n"] += 1
        return bind(self, *args, **kwargs)

    inspect.Signature.bind = counted
    try:
        sch = Schedule(vector_module(n, m), seed=seed)
        block = sch.get_block("B", func_name="main")  # by keyword
        i, j = sch.get_loops(block)
        tiles = sch.sample_perfect_tile(j, 2)  # max_innermost_factor and decision: defaults
        j0, j1 = sch.split(j, factors=[None, factor])
        sch.parallel(i)
        sch.unroll(loop=j0)
    finally:
        inspect.Signature.bind = bind
    assert binds["n"] == 0
    kinds = [inst.kind for inst in sch.trace.insts]
    assert kinds == ["get_block", "get_loops", "sample_perfect_tile", "split", "parallel", "unroll"]
    assert [inst.inputs for inst in sch.trace.insts] == _recorded_by_bind(sch)
    assert list(sch.trace.insts[2].inputs) == ["loop", "n", "max_innermost_factor", "decision"]
    assert sch.trace.insts[2].inputs["max_innermost_factor"] == 16
    assert int(np.prod([int(t) for t in tiles])) == m
    a = np.random.default_rng(seed).standard_normal((n, m), "float32")
    b = np.empty((n, m), "float32")
    mlc.build(sch.mod, "llvm")["main"](a, b)
    np.testing.assert_allclose(b, a * 3 + 1, rtol=1e-6)


def test_a_call_the_signature_refuses_still_raises_its_type_error():
    sch = Schedule(vector_module(4, 8))
    block = sch.get_block("B")
    with pytest.raises(TypeError):
        sch.get_loops(block, 3)  # too many arguments
    with pytest.raises(TypeError):
        sch.get_loops(block, block=block)  # given twice
    with pytest.raises(TypeError):
        sch.get_loops(blok=block)  # no such parameter
    with pytest.raises(TypeError):
        sch.split(sch.get_loops(block)[0])  # a required parameter missing
    assert [inst.kind for inst in sch.trace.insts] == ["get_block", "get_loops"]


def test_a_copy_takes_the_generator_state_without_seeding_anew():
    seeds = {"n": 0}
    seed = random.Random.seed

    def counted(self, *args, **kwargs):
        seeds["n"] += 1
        return seed(self, *args, **kwargs)

    sch = Schedule(vector_module(6, 48), seed=3)
    (_, j) = sch.get_loops(sch.get_block("B"))
    sch.sample_perfect_tile(j, 3)
    random.Random.seed = counted
    try:
        copies = [sch.copy() for _ in range(20)]
    finally:
        random.Random.seed = seed
    assert seeds["n"] == 0
    for other in copies:  # each copy draws what the original draws next
        fresh = sch.copy()
        assert [int(t) for t in other.sample_perfect_tile(j, 3)] == [int(t) for t in fresh.sample_perfect_tile(j, 3)]
        assert [other._sample().random() for _ in range(3)] == [fresh._sample().random() for _ in range(3)]


def test_a_schedule_and_its_copies_draw_the_same_whichever_draws_first():
    """A copy shares its original's generator until one of them draws (no state copied per
    copy): the one that draws first must not move the other's numbers."""
    sch = Schedule(vector_module(6, 48), seed=5)
    first, second = sch.copy(), sch.copy()
    grandchild = first.copy()
    drawn = [sch._sample().random() for _ in range(4)]
    assert [second._sample().random() for _ in range(4)] == drawn
    assert [first._sample().random() for _ in range(4)] == drawn
    assert [grandchild._sample().random() for _ in range(4)] == drawn
    later = sch.copy()  # after the original drew: its next numbers
    assert later._sample().random() == sch._sample().random()
