"""Random GPU schedules of random te programs: whatever the primitives accept either runs
on the emulator (and on the reference interpreter) and equals the reference interpreter on
the unscheduled program, or is refused with a typed error (CompileError, RaceError) —
never a wrong result."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.errors import CompileError, RaceError, ScheduleError

from .programs import matmul, row_sum


def elementwise(shape):
    A = te.placeholder(shape, "float32", "A")
    B = te.compute(shape, lambda i, j: A[i, j] * 2 + 1, "B")
    C = te.compute(shape, lambda i, j: te.exp(B[i, j] - 3), "C")
    return mlc.IRModule({"main": te.create_prim_func([A, C])}), ["B", "C"]


PROGRAMS = st.one_of(
    st.tuples(st.integers(1, 40), st.integers(1, 40)).map(elementwise),
    st.tuples(st.integers(1, 9), st.integers(1, 90)).map(lambda s: (row_sum(*s), ["S"])),
    st.tuples(st.integers(1, 20), st.integers(1, 20), st.integers(1, 20)).map(lambda s: (matmul(*s), ["C"])),
)
AXES = ["blockIdx.x", "blockIdx.y", "threadIdx.x", "threadIdx.y"]


def _random_schedule(sch, blocks, data):
    for _ in range(data.draw(st.integers(0, 4), label="transforms")):
        loops = sch.get_loops(sch.get_block(data.draw(st.sampled_from(blocks))))
        op = data.draw(st.sampled_from(["split", "fuse", "reorder", "cache_read"]))
        pick = st.integers(0, len(loops) - 1)
        try:
            if op == "split":
                sch.split(loops[data.draw(pick)], [None, data.draw(st.sampled_from([1, 2, 3, 8, 32]))])
            elif op == "fuse":
                start = data.draw(pick)
                sch.fuse(*loops[start:start + data.draw(st.integers(1, 3))])
            elif op == "reorder":
                sch.reorder(*data.draw(st.permutations(loops)))
            else:
                block = sch.get_block(data.draw(st.sampled_from(blocks)))
                cache = sch.cache_read(block, 0, data.draw(st.sampled_from(["shared", "local"])))
                sch.compute_at(cache, loops[data.draw(pick)])
        except ScheduleError:
            pass
    for name in [b.name_hint for b in _blocks(sch)]:
        for loop in sch.get_loops(sch.get_block(name)):
            axis = data.draw(st.sampled_from(AXES + [None, None]))
            if axis is not None:
                try:
                    sch.bind(loop, axis)
                except ScheduleError:
                    pass


def _blocks(sch):
    from mlc.schedules.state import all_blocks
    return [loc.node.block for loc in all_blocks(sch.mod["main"])]


@settings(max_examples=600, deadline=None)  # the fuzzer of GPU schedules runs >= 500 examples in CI
@given(PROGRAMS, st.data())
def test_random_gpu_schedules_match_the_reference_or_are_refused(program, data):
    mod, blocks = program
    sch = mlc.Schedule(mod)
    _random_schedule(sch, blocks, data)
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(tuple(int(e.value) for e in p.shape)).astype(p.dtype) for p in mod["main"].params]
    want = [a.copy() for a in args]
    mlc.build(mod, "reference")["main"](*want)
    # the reference interpreter runs the GPU schedule with GPU meaning, or refuses it
    ref = [a.copy() for a in args]
    try:
        mlc.build(sch.mod, "reference")["main"](*ref)
    except mlc.MLCError:
        pass
    else:
        np.testing.assert_allclose(ref[-1], want[-1], rtol=1e-4, atol=1e-4)
    got = [a.copy() for a in args]
    try:
        lib = mlc.build(sch.mod, "cuda-emulator")  # a function left unscheduled gets the default GPU schedule
    except CompileError:
        return  # e.g. statements left outside every thread loop
    try:
        lib["main"](*got)
    except RaceError:
        return  # e.g. every thread of a block writing the same elements
    np.testing.assert_allclose(got[-1], want[-1], rtol=1e-4, atol=1e-4)
