"""The schedule fuzzer: random primitive sequences on random programs.

Hypothesis draws a random te program (tests/test_random_programs.py) and a
random sequence of schedule primitives with random arguments. Every call
either raises ScheduleError and leaves the module unchanged, or is kept; the
final schedule, built for LLVM (for the host's CPU or, on an AVX-512 machine, also
the AVX2 one), must compute what the reference interpreter computes on the
unscheduled program.
"""
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import mlc
from mlc import ScheduleError
from mlc.schedules import Schedule
from mlc.schedules.state import all_blocks

from tests.targets import RUNNABLE
from tests.test_random_programs import assert_close, build_te, programs, random_inputs

LOOP_ACTIONS = ["split", "fuse", "reorder", "parallel", "vectorize", "unroll", "annotate", "merge"]
BLOCK_ACTIONS = ["compute_at", "reverse_compute_at", "compute_inline", "reverse_compute_inline",
                 "cache_read", "cache_write", "decompose_reduction", "rfactor", "storage_align",
                 "blockize"]


def random_step(sch: Schedule, data) -> None:
    """Apply one randomly chosen primitive with random (possibly illegal) arguments.

    A block action is tried on the blocks in a random order until one accepts
    it, so legal transformations are common and every refusal is still checked.
    """
    func = next(iter(sch.mod.values()))
    names = [loc.node.block.name_hint for loc in all_blocks(func)]
    action = data.draw(st.sampled_from(LOOP_ACTIONS + BLOCK_ACTIONS), label="action")
    error = None
    for name in data.draw(st.permutations(names), label="blocks"):
        before = sch.mod
        try:
            _apply(sch, action, sch.get_block(name), data)
            return
        except ScheduleError as err:
            mlc.assert_structural_equal(sch.mod, before)
            error = err
            if action in LOOP_ACTIONS:
                break
    if error is not None:
        raise error


def _apply(sch: Schedule, action: str, block, data) -> None:
    names = [loc.node.block.name_hint for loc in all_blocks(next(iter(sch.mod.values())))]
    nest = sch.get_loops(block)
    other_loops = sch.get_loops(sch.get_block(data.draw(st.sampled_from(names), label="other block")))
    pick = lambda loops, label: data.draw(st.sampled_from(loops), label=label)  # noqa: E731
    index = data.draw(st.integers(0, 2), label="index")
    if action in LOOP_ACTIONS and not nest:
        return
    if action == "split":
        factor = data.draw(st.sampled_from([1, 2, 3, 4, 8]), label="factor")
        factors = [None, factor] if data.draw(st.booleans(), label="inner") else [factor, None]
        sch.split(pick(nest, "loop"), factors=factors)
    elif action == "fuse":
        start = data.draw(st.integers(0, len(nest) - 1), label="start")
        sch.fuse(*nest[start:start + data.draw(st.integers(1, 3), label="count")])
    elif action == "reorder":
        sch.reorder(*data.draw(st.permutations(nest), label="order"))
    elif action in ("parallel", "vectorize", "unroll"):
        getattr(sch, action)(pick(nest, "loop"))
    elif action == "annotate":
        sch.annotate(pick(nest, "loop"), "pragma_note", index)
    elif action == "merge":
        if other_loops:
            sch.merge(pick(nest, "loop"), pick(other_loops, "other loop"))
    elif action in ("compute_at", "reverse_compute_at"):
        if other_loops:
            getattr(sch, action)(block, pick(other_loops, "target loop"),
                                 preserve_unit_loops=data.draw(st.booleans(), label="unit"))
    elif action in ("compute_inline", "reverse_compute_inline"):
        getattr(sch, action)(block)
    elif action == "cache_read":
        sch.cache_read(block, index, "global")
    elif action == "cache_write":
        sch.cache_write(block, 0, "local")
    elif action == "decompose_reduction" and nest:
        sch.decompose_reduction(block, pick(nest, "loop"))
    elif action == "rfactor" and nest:
        sch.rfactor(pick(nest, "loop"), index % 2)
    elif action == "storage_align":
        sch.storage_align(block, 0, 0, 4, 1)
    elif action == "blockize" and nest:
        sch.blockize(pick(nest, "loop"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs(), st.data())
def test_random_schedules_are_refused_or_correct(program, data):
    dtype, shape, n_inputs, stages, outputs = program
    original = mlc.IRModule({"prog": build_te(dtype, shape, n_inputs, stages, outputs)})
    sch = Schedule(original)
    for _ in range(data.draw(st.integers(1, 6), label="steps")):
        before = sch.mod
        try:
            random_step(sch, data)
        except ScheduleError:
            mlc.assert_structural_equal(sch.mod, before)

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    inputs = random_inputs(rng, dtype, shape, n_inputs)
    vectors = RUNNABLE[data.draw(st.sampled_from(sorted(RUNNABLE)), label="vectors")]
    results = {}
    for name, target, mod in (("reference", "reference", original), ("llvm", vectors, sch.mod)):
        outs = [np.zeros(shape, dtype) for _ in outputs]
        with np.errstate(all="ignore"):
            mlc.build(mod, target)["prog"](*inputs, *outs)
        results[name] = outs
    for want, got in zip(results["reference"], results["llvm"]):
        # a schedule may reorder a reduction's shape[-1] terms
        assert_close(got, want, dtype, f"{sch.trace}\n{sch.mod.script()}", slack=shape[-1])
