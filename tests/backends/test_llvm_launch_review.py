"""The launch policy of parallel loops, its rules driven with made-up times and outcomes.

A parallel launch asks ``__mlc_parallel_threads(extent, site, now)`` for a team
and, after a pooled launch, ``__mlc_parallel_review(site, started, began_at,
done_at, mine, total, ended)`` whether that team paid (:mod:`mlc.backends.llvm.parallel`).
Both take their times as arguments (the kernel reads the CPU's counter), so these tests
call the compiled support functions themselves with the clock of a made-up
sequence of launches, and every rule holds on any host under any load. That
a real launch calls them is tested in ``test_llvm_parallel.py``; what the policy
gains in time is a benchmark (``python -m benchmarks.launch_review``).
"""
import ctypes

import llvmlite.binding as llvm
import pytest

from mlc.backends.llvm import jit, parallel
from mlc.backends.llvm.parallel import (LOSING_TICKS, LOSS_RATIO, LOSSES_IN_A_ROW, MANY_LOSSES,
                                        MAX_DOUBLINGS, MAX_SERIAL_TICKS, SERIAL_AFTER_LOSS)
from mlc.backends.llvm.symbols import PARALLEL_STATE
from mlc.config import MAX_THREADS
from mlc.target import Target

pytestmark = pytest.mark.skipif(not parallel.openmp_available(), reason="libgomp is not available")


class Site(ctypes.Structure):
    """A parallel loop's review state (:data:`mlc.backends.llvm.parallel.SITE_TYPE`)."""
    _fields_ = [("serial_until", ctypes.c_int64), ("losing", ctypes.c_int64),
                ("since", ctypes.c_int64), ("periods", ctypes.c_int64)]


@pytest.fixture(scope="module")
def support():
    """(threads, review): the support module's two functions, callable with any times."""
    with jit._LOCK:
        jit._support_symbols(Target.from_str("llvm"))
    threads = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64)(
        llvm.address_of_symbol("__mlc_parallel_threads"))
    review = ctypes.CFUNCTYPE(None, ctypes.c_void_p, *[ctypes.c_int64] * 6)(
        llvm.address_of_symbol("__mlc_parallel_review"))
    return threads, review


@pytest.fixture
def team_of_two():
    """The pool free, with two threads (restored after the test)."""
    saved = PARALLEL_STATE.num_threads, PARALLEL_STATE.busy
    PARALLEL_STATE.num_threads, PARALLEL_STATE.busy = 2, 0
    yield
    PARALLEL_STATE.num_threads, PARALLEL_STATE.busy = saved


class Loop:
    """One parallel loop of 100 iterations, launched over and over on a made-up clock.

    A pooled launch starts at the clock's time, its calling thread runs half the
    iterations in ``own`` ticks (so alone the loop takes ``2 * own``) and the whole launch
    takes ``team`` ticks; a serial one takes ``serial`` ticks. Between calls the clock
    moves on by ``gap``."""

    def __init__(self, support, *, team: int, own: int = 100, serial: int = 200, gap: int = 0):
        self.threads, self.review = support
        self.site, self.clock = Site(), 1_000
        self.team, self.own, self.serial, self.gap = team, own, serial, gap

    def call(self) -> bool:
        """One launch; whether it took the pool (and then was reviewed, as the kernel does)."""
        started = self.clock
        n = self.threads(100, ctypes.addressof(self.site), started)
        if n == 1:
            self.clock += self.serial + self.gap
            return False
        assert n == 2 and PARALLEL_STATE.busy == 1
        self.ended = started + self.team
        self.review(ctypes.addressof(self.site), started, started, started + self.own, 50, 100, self.ended)
        PARALLEL_STATE.busy = 0  # (the launch frees the pool)
        self.clock = self.ended + self.gap
        return True

    @property
    def loss(self) -> int:
        """The ticks a pooled launch loses to the calling thread alone."""
        return self.team - 2 * self.own


# ------------------------------------------------------------------ the team

def test_the_team_is_the_extent_or_the_thread_count_whichever_is_less(support, team_of_two):
    threads, _ = support
    site = Site()
    for extent, team in [(0, 1), (1, 1), (2, 2), (1000, 2)]:
        assert threads(extent, ctypes.addressof(site), 0) == team
        PARALLEL_STATE.busy = 0
    PARALLEL_STATE.num_threads = 1
    assert threads(1000, ctypes.addressof(site), 0) == 1 and PARALLEL_STATE.busy == 0


def test_a_team_never_has_more_than_max_threads(support, team_of_two):
    """The static table of home counters has MAX_THREADS lines, whatever the state says."""
    PARALLEL_STATE.num_threads = MAX_THREADS + 5_000
    assert support[0](1 << 20, ctypes.addressof(Site()), 0) == MAX_THREADS


def test_a_launch_while_another_holds_the_pool_runs_alone(support, team_of_two):
    threads, _ = support
    PARALLEL_STATE.busy = 1
    assert threads(1000, ctypes.addressof(Site()), 0) == 1
    assert PARALLEL_STATE.busy == 1  # (still the other launch's)


def test_a_loop_in_its_serial_period_runs_alone_until_the_period_ends(support, team_of_two):
    threads, _ = support
    site = Site(serial_until=5_000)
    assert threads(1000, ctypes.addressof(site), 4_999) == 1 and PARALLEL_STATE.busy == 0
    assert threads(1000, ctypes.addressof(site), 5_000) == 2 and PARALLEL_STATE.busy == 1


# ------------------------------------------------------------------ the review

@pytest.mark.parametrize("ended, lost", [(200, False), (249, False), (251, True), (10_000, True)])
def test_a_launch_loses_where_its_team_took_more_than_loss_ratio_times_the_estimate(support, ended, lost):
    """The calling thread ran 50 of 100 iterations in 100 ticks: alone, the loop would have
    taken 200. A launch of at most LOSS_RATIO (1.25) times that, 250 ticks, did not lose: the
    estimate extrapolates the caller's chunks. One of more did (one of 10,000 ticks: a worker
    that waited for its core)."""
    assert LOSS_RATIO == 1.25
    site = Site()
    support[1](ctypes.addressof(site), 0, 0, 100, 50, 100, ended)
    assert site.losing == (1 if lost else 0) and site.serial_until == 0


def test_a_launch_whose_caller_ran_no_iteration_lost_all_of_it(support):
    site = Site(losing=MANY_LOSSES - 1, since=0)
    support[1](ctypes.addressof(site), 0, 10, 10, 0, 100, 1_000)
    assert site.serial_until == 1_000 + SERIAL_AFTER_LOSS * 1_000


@pytest.mark.parametrize("started, began_at, done_at, ended", [(10, 5, 20, 30), (10, 20, 15, 30), (10, 15, 40, 30)])
def test_no_verdict_when_the_counter_went_backwards(support, started, began_at, done_at, ended):
    """The calling thread read its times on different CPUs' counters: nothing is known."""
    site = Site(losing=3, since=7, periods=1)
    support[1](ctypes.addressof(site), started, began_at, done_at, 50, 100, ended)
    assert (site.serial_until, site.losing, site.since, site.periods) == (0, 3, 7, 1)


def test_a_short_young_run_of_losses_starts_no_serial_period(support, team_of_two):
    """Starting a team costs far more than a few cheap iterations, so every launch of a
    tiny loop loses. Fewer than MANY_LOSSES losses in a row, begun less than LOSING_TICKS
    ago (a team waking up after a pause), start no serial period; the MANY_LOSSES-th does
    (a loop too small for any team), of SERIAL_AFTER_LOSS times its loss, and a new run
    of losses begins."""
    loop = Loop(support, team=1_000)
    for n in range(1, MANY_LOSSES):
        assert loop.call()
        assert loop.site.losing == n and loop.site.serial_until == 0
    assert loop.clock < LOSING_TICKS  # (the run is young)
    assert loop.call()
    assert loop.site.serial_until == loop.ended + SERIAL_AFTER_LOSS * loop.loss
    assert loop.site.periods == 1 and loop.site.losing == 0


def test_an_old_run_of_losses_stands_down_at_losses_in_a_row_and_again_after_the_period(support, team_of_two):
    """A run of losses begun LOSING_TICKS ago (neighbours holding the cores: each launch
    loses a time slice) stands the loop down at its LOSSES_IN_A_ROW-th launch, not before.
    The launches after the period start a new run, which must grow as old again (the first
    of them only wakes the workers); its period is twice as long."""
    loop = Loop(support, team=LOSING_TICKS // 2, serial=LOSING_TICKS // 8)  # two launches make the run old
    assert loop.call() and loop.site.losing == 1
    until = 0
    for row in (1, 2):
        for n in range(2, LOSSES_IN_A_ROW):
            assert loop.call()
            assert loop.site.losing == n and loop.site.serial_until == until  # no (new) period
        assert loop.call()
        period = SERIAL_AFTER_LOSS * 2 ** (row - 1) * loop.loss
        assert loop.site.serial_until == loop.ended + period
        assert loop.site.periods == row and loop.site.losing == 0
        until, calls = loop.site.serial_until, 0
        while not loop.call():  # the period: on the calling thread
            calls += 1
        assert calls == -(-period // loop.serial)
        assert loop.site.losing == 1 and loop.site.serial_until == until  # a new run, no period


def test_periods_double_at_most_max_doublings_times_and_stay_under_max_serial_ticks(support):
    review = support[1]
    site, tick = Site(), 0
    for period in range(MAX_DOUBLINGS + 3):
        for _ in range(MANY_LOSSES):
            review(ctypes.addressof(site), tick, tick, tick + 100, 50, 100, tick + 1_000)
            tick += 1_000
        assert site.serial_until - tick == SERIAL_AFTER_LOSS * 800 << min(period, MAX_DOUBLINGS)
    site = Site(losing=MANY_LOSSES - 1)
    review(ctypes.addressof(site), 0, 0, 1, 1, 1, 1 << 40)  # a loss of a quarter of an hour
    assert site.serial_until == (1 << 40) + MAX_SERIAL_TICKS


def test_a_launch_that_pays_ends_the_run_of_losses_and_its_periods(support):
    site = Site(losing=LOSSES_IN_A_ROW - 1, since=0, periods=2)
    support[1](ctypes.addressof(site), 0, 0, 100, 50, 100, 210)
    assert (site.losing, site.periods, site.serial_until) == (0, 0, 0)
    support[1](ctypes.addressof(site), 300, 300, 400, 50, 100, 5_000)  # a loss starts a new run
    assert (site.losing, site.since) == (1, 300)


def test_a_run_of_losses_shorter_than_losses_in_a_row_starts_no_period_however_old(support):
    """The first launches of a new kernel of milliseconds may each lose (its fresh outputs'
    pages fault in, its workers wake): a run of them, old as it is, starts no serial period
    before LOSSES_IN_A_ROW losses; that many do."""
    site, review = Site(), support[1]
    tick = 0
    for n in range(1, LOSSES_IN_A_ROW + 1):
        review(ctypes.addressof(site), tick, tick, tick + 100, 50, 100, tick + LOSING_TICKS)
        tick += LOSING_TICKS
        if n < LOSSES_IN_A_ROW:
            assert site.losing == n and site.serial_until == 0
    assert site.serial_until > 0 and site.periods == 1 and site.losing == 0


# ------------------------------------------------------------------ what the rules add up to

def test_a_tiny_parallel_loop_stops_waking_the_pool(support, team_of_two):
    """Called over and over, a loop too small for a team (a launch of 5,000 ticks where the
    calling thread alone takes 200) runs almost always on the calling thread: of 300 calls,
    the first MANY_LOSSES try the team, and the period they start outlasts the rest."""
    loop = Loop(support, team=5_000, gap=50)
    pooled = [loop.call() for _ in range(300)]
    assert pooled[:MANY_LOSSES] == [True] * MANY_LOSSES and not any(pooled[MANY_LOSSES:])


def test_a_loop_that_pays_stays_on_the_pool(support, team_of_two):
    loop = Loop(support, team=150, gap=50)
    assert all(loop.call() for _ in range(300))


@pytest.mark.parametrize("slice_ticks", [LOSING_TICKS // 8, LOSING_TICKS])
def test_while_neighbours_hold_the_cores_the_launches_that_try_the_team_cost_a_few_percent(
        support, team_of_two, slice_ticks):
    """Each pooled launch of a loop of 2^21 ticks (about a millisecond) loses a time slice
    of the neighbour that holds the other core: the time lost in them is a few percent of
    the whole, and less the longer it lasts (the periods double)."""
    alone = 1 << 21
    loop = Loop(support, team=alone + slice_ticks, own=alone // 2, serial=alone)
    lost, share = 0, {}  # serial periods -> the share of the time lost by the end of the last
    while loop.site.periods <= MAX_DOUBLINGS + 1:
        periods = loop.site.periods
        if loop.call():
            lost += loop.loss
        if loop.site.periods > periods:
            share[loop.site.periods] = lost / loop.site.serial_until
    assert loop.loss == slice_ticks
    assert share[1] < 0.03
    assert share[MAX_DOUBLINGS + 1] < share[1] / 2
