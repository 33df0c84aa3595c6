"""Cost-model features of the lowered TIR: what they count, and that the search uses them."""
import numpy as np

import mlc
from mlc import te
from mlc.tune import EvolutionarySearch, extract, lower, space
from mlc.tune.features import FEATURE_NAMES, store_features

from ..targets import AVX2, AVX512
from .workloads import matmul


def _lowered(mod, target, schedule=None):
    scheduled = mlc.driver.schedule_module(mod, target, schedule)
    return lower(scheduled, target)["main"]


def test_reuse_and_touch_counts_of_a_plain_nest():
    A = te.placeholder((16,), "float32", "A")
    B = te.compute((8, 16), lambda i, j: A[j] * 2, "B")
    mod = mlc.IRModule({"main": te.create_prim_func([A, B])})
    (row,) = store_features(lower(mod, AVX2)["main"])       # unscheduled: two serial loops, flat buffers
    assert (row["runs"], row["lanes"], row["loops"], row["float_mul"]) == (128, 1, 2, 1)
    assert (row["load_unit"], row["store_unit"], row["load_vector"]) == (1, 1, 0)
    # A[j] is used again every 16 iterations (the j loop inside i), 8 times; B is never reused
    assert (row["reuse_distance"], row["reuse_count"]) == (16, 8)
    # the nest touches all of B (8 x 16 floats) and A (16); one step of j one element of each
    assert (row["touch_bytes"], row["touch_task_bytes"], row["touch_step_bytes"]) == (576, 576, 8)


def test_lowered_features_see_vectors_registers_and_threads():
    mod = matmul(64, 64, 64, name="main")
    with mlc.config.override(num_threads=2):
        rows = store_features(_lowered(mod, AVX512))
    update = max(rows, key=lambda r: r["runs"] * r["float_mul"] * r["lanes"])
    assert update["lanes"] == 32 and update["float_mul"] == 32 and update["vector_ops"] == 2
    assert update["load_broadcast"] == 1 and update["load_vector"] >= 1 and update["local_store"] == 1
    assert update["unroll"] > 1
    assert update["runs"] * update["lanes"] == 64 ** 3                # every multiply-add, in vectors
    plain = store_features(lower(mod, AVX512)["main"])               # not scheduled: scalar code
    assert max(r["lanes"] for r in plain) == 1


def test_features_tell_register_tiles_and_blocked_reductions_apart():
    mod = matmul(64, 64, 256, name="main")
    decisions = space.default_point(mod, AVX2)
    default = extract(_lowered(mod, AVX2))
    points = {extract(lower(space.replay(mod, space.RULES, AVX2, seed=seed).mod, AVX2)["main"]).tobytes()
              for seed in range(6)}
    assert len(default) == len(FEATURE_NAMES) and len(points) > 2
    same = extract(lower(space.replay(mod, space.RULES, AVX2, decisions).mod, AVX2)["main"])
    np.testing.assert_array_equal(same, default)


def test_search_candidates_carry_lowered_features_and_the_default_is_a_point_of_the_space():
    mod = matmul(32, 32, 32, name="main")
    search = EvolutionarySearch(mod, "llvm")
    default, point = search.default(), search.default_point()
    assert point.space == space.RULES and point.decisions and not default.decisions
    assert point.ir_hash == default.ir_hash
    scheduled = space.replay(mod, space.DEFAULT, "llvm").mod
    np.testing.assert_array_equal(default.features, extract(lower(scheduled, "llvm")["main"]))
    np.testing.assert_array_equal(point.features, default.features)
