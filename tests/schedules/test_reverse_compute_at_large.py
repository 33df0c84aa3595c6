"""reverse_compute_at on domains too large to enumerate (more than 2^16 loop points): a spatial
consumer of whole values is proven to be covered by its windows, as for symbolic domains, and
a placement that would drop iterations is still refused."""
import numpy as np
import pytest

import mlc
from mlc import te


def _two_stage(n):
    A = te.placeholder((n, n), "float32", "A")
    B = te.compute((n, n), lambda i, j: A[i, j] * 2, "B")
    C = te.compute((n, n), lambda i, j: B[i, j] + 1, "C")
    return mlc.IRModule({"main": te.create_prim_func([A, C])})


def _consumer_under_4x4_tiles(n):
    """A schedule with C moved under the producer's 4 x 4 tiles of an n x n domain."""
    sch = mlc.Schedule(_two_stage(n))
    i, j = sch.get_loops(sch.get_block("B"))
    io, ii = sch.split(i, [None, 4])
    jo, ji = sch.split(j, [None, 4])
    sch.reorder(io, jo, ii, ji)
    sch.reverse_compute_at(sch.get_block("C"), jo)
    return sch


def _check_built(sch, n, seed):
    a = np.random.default_rng(seed).standard_normal((n, n)).astype("float32")
    c = np.empty_like(a)
    mlc.build(sch.mod, "llvm")["main"](a, c)
    np.testing.assert_allclose(c, a * 2 + 1, rtol=1e-6)


def test_a_large_spatial_consumer_is_computed_under_the_producers_tiles():
    n = 2048  # 512 x 512 tiles: 2^18 loop points, past what the coverage check enumerates
    _check_built(_consumer_under_4x4_tiles(n), n, 0)


@pytest.mark.parametrize("n, why", [
    (2048, "not a tiling mlc can prove covers it"),   # past the enumeration limit: no proof, refused
    (64, "so it would never run there"),              # within it: the proof fails, enumeration refuses
])
def test_a_consumer_whose_windows_leave_gaps_is_refused(n, why):
    A = te.placeholder((n, n), "float32", "A")
    B = te.compute((n, n), lambda i, j: A[i, j] * 2, "B")
    # C reads B two rows down: C's rows n-2 and n-1 read nothing the producer's tiles write last
    C = te.compute((n, n), lambda i, j: te.if_then_else(i >= 2, B[i - 2, j], 0.0), "C")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, C])}))
    i, j = sch.get_loops(sch.get_block("B"))
    io, ii = sch.split(i, [None, 4])
    jo, ji = sch.split(j, [None, 4])
    sch.reorder(io, jo, ii, ji)
    with pytest.raises(mlc.ScheduleError, match=why):
        sch.reverse_compute_at(sch.get_block("C"), jo)


def test_a_large_consumer_under_a_two_level_tiling_is_proven_covered():
    n = 2048  # 64 x 64 x 8 x 8 loop points above the consumer
    sch = mlc.Schedule(_two_stage(n))
    i, j = sch.get_loops(sch.get_block("B"))
    i0, i1, i2 = sch.split(i, [None, 8, 4])
    j0, j1, j2 = sch.split(j, [None, 8, 4])
    sch.reorder(i0, j0, i1, j1, i2, j2)
    sch.reverse_compute_at(sch.get_block("C"), j1)
    a = np.random.default_rng(1).standard_normal((n, n)).astype("float32")
    c = np.empty_like(a)
    mlc.build(sch.mod, "llvm")["main"](a, c)
    np.testing.assert_allclose(c, a * 2 + 1, rtol=1e-6)


def test_windows_whose_steps_leave_gaps_between_tiles_are_not_a_cover():
    from mlc.ir.arith import Analyzer, IntSet
    from mlc.ir.expr import Range, Var, const
    from mlc.ir.tir import Evaluate, For
    from mlc.schedules.primitives.compute_location import _Move as M

    x0, x1 = Var("x0", "int32"), Var("x1", "int32")
    loops = [For(x0, const(0), const(16), "serial", Evaluate(const(0))),
             For(x1, const(0), const(8), "serial", Evaluate(const(0)))]
    ana = Analyzer({x0: Range(const(0), const(16)), x1: Range(const(0), const(8))})
    full = IntSet.from_range(Range(const(0), const(512)))
    lo = x0 * 32 + x1 * 4
    assert M._tiles_cover(ana, lo, lo + 3, full, loops)            # 4-wide windows, 8 of them per 32
    gap = x0 * 33 + x1 * 4                                          # 32 covered, then 1 skipped
    assert not M._tiles_cover(ana, gap, gap + 3, full, loops)
    short = x0 * 32 + x1 * 4
    assert not M._tiles_cover(ana, short, short + 2, full, loops)   # 3-wide windows every 4


def test_a_spatial_consumer_within_the_enumeration_limit_is_proven_without_enumerating(monkeypatch):
    # 64 x 64 tiles: 4096 loop points, which the check would visit one window at a time;
    # the proof for spatial consumers of whole values settles it first
    from mlc.schedules.primitives.compute_location import _Move

    def enumerated(*args):
        raise AssertionError("the coverage of a spatial consumer was enumerated")

    monkeypatch.setattr(_Move, "_window", staticmethod(enumerated))
    sch = _consumer_under_4x4_tiles(256)
    monkeypatch.undo()
    _check_built(sch, 256, 2)

