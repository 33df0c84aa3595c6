"""Fuzzing: random sequences of block primitives on small programs.

Every call either raises ScheduleError and leaves the module unchanged, or
keeps the program's results equal to the unscheduled one's (reference
interpreter, and LLVM at the end).
"""
from hypothesis import HealthCheck, given, settings, strategies as st

import mlc
from mlc import ScheduleError, te
from mlc.schedules import Schedule
from mlc.schedules.state import all_blocks

from .block_programs import assert_same_numerics, course_module


def normalize(n, m):
    A = te.placeholder((n, m), "float32", name="A")
    k = te.reduce_axis((0, m), name="k")
    S = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), name="S")
    D = te.compute((n, m), lambda i, j: A[i, j] - S[i], name="D")
    E = te.compute((n, m), lambda i, j: te.max(D[i, j], 0) * 2, name="E")
    return mlc.IRModule({"main": te.create_prim_func([A, E])})


def shifted(n, m):
    A = te.placeholder((n, m), "float32", name="A")
    B = te.compute((n, m), lambda i, j: A[i, j] * 3, name="B")
    C = te.compute((n, m), lambda i, j: B[i, j] + te.if_then_else(j + 1 < m, B[i, te.min(j + 1, m - 1)], 0.0),
                   name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, C])})


def moments(n, m):
    """Two sibling row sums (merge joins their loops) and a stage reading both."""
    A = te.placeholder((n, m), "float32", name="A")
    k = te.reduce_axis((0, m), name="k")
    S = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), name="S")
    r = te.reduce_axis((0, m), name="r")
    Q = te.compute((n,), lambda i: te.sum(A[i, r] * A[i, r], axis=r), name="Q")
    E = te.compute((n, m), lambda i, j: A[i, j] * S[i] + Q[i], name="E")
    return mlc.IRModule({"main": te.create_prim_func([A, E])})


PROGRAMS = {
    "mm_relu": lambda n, m: course_module(n, m=m, k=3),
    "normalize": normalize,
    "shifted": shifted,
    "moments": moments,
}
ACTIONS = ["compute_at", "reverse_compute_at", "compute_inline", "reverse_compute_inline", "split",
           "fuse", "decompose_reduction", "rfactor", "cache_read", "cache_write", "blockize", "storage_align",
           "merge"]


def act(sch: Schedule, data) -> None:
    func = next(iter(sch.mod.values()))
    names = [loc.node.block.name_hint for loc in all_blocks(func)]
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    block = sch.get_block(data.draw(st.sampled_from(names), label="block"))
    loops = []
    for name in names:
        loops.extend(sch.get_loops(sch.get_block(name)))
    loop = data.draw(st.sampled_from(loops), label="loop") if loops else None
    index = data.draw(st.integers(0, 2), label="index")
    if action in ("compute_at", "reverse_compute_at"):
        if loop is not None:
            getattr(sch, action)(block, loop, preserve_unit_loops=data.draw(st.booleans()))
    elif action in ("compute_inline", "reverse_compute_inline"):
        getattr(sch, action)(block)
    elif action == "split" and loop is not None:
        sch.split(loop, factors=[None, data.draw(st.sampled_from([2, 3]), label="factor")])
    elif action == "fuse" and loop is not None:
        nest = sch.get_loops(block)
        if loop in nest and nest.index(loop) + 1 < len(nest):
            sch.fuse(loop, nest[nest.index(loop) + 1])
    elif action == "decompose_reduction" and loop is not None:
        sch.decompose_reduction(block, loop)
    elif action == "rfactor" and loop is not None:
        sch.rfactor(loop, index % 2)
    elif action == "cache_read":
        sch.cache_read(block, index, "shared")
    elif action == "cache_write":
        sch.cache_write(block, index, "local")
    elif action == "blockize" and loop is not None:
        sch.blockize(loop)
    elif action == "storage_align":
        sch.storage_align(block, index, 0, 4, 1)
    elif action == "merge" and loop is not None:
        sch.merge(loop, data.draw(st.sampled_from(loops), label="other loop"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=st.sampled_from(sorted(PROGRAMS)), n=st.sampled_from([1, 3, 4]), m=st.sampled_from([2, 5]),
       data=st.data())
def test_random_block_schedules_keep_numerics(program, n, m, data):
    make = lambda: PROGRAMS[program](n, m)  # noqa: E731
    sch = Schedule(make())
    for _ in range(data.draw(st.integers(1, 7), label="steps")):
        before = sch.mod
        try:
            act(sch, data)
        except ScheduleError:
            mlc.assert_structural_equal(sch.mod, before)
            continue
        assert_same_numerics(make(), sch.mod, rtol=1e-4, targets=("reference",))
    assert_same_numerics(make(), sch.mod, rtol=1e-4, targets=("llvm",))
