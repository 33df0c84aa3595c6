"""cache_write needs a block that writes all of the region it caches and reads none of it first.

The cache starts empty and the whole written region is copied back, so an in-place
update, a reduction with no T.init(), a store under an ``if`` or a predicate, and an
index with gaps are refused; complete writers (reductions with an init, a split's
guarded extra iterations, an ``if``/``else`` writing both ways) keep computing what the
unscheduled program does.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import ScheduleError
from mlc.schedules import Schedule

from .block_programs import assert_same_numerics

SIZES = st.integers(1, 12)


def _module(body: str, a_shape: str, b_shape: str):
    return mlc.parse(f'''
@I.ir_module
class M:
    @T.prim_func
    def main(A: T.Buffer({a_shape}, "float32"), B: T.Buffer({b_shape}, "float32")):
{body}
''')


def _refused(mod, words: str):
    sch = Schedule(mod)
    before = sch.mod
    with pytest.raises(ScheduleError, match=words) as info:
        sch.cache_write(sch.get_block("B"), 0, "local")
    assert "cache_write" in str(info.value) and "'B'" in str(info.value)
    mlc.assert_structural_equal(sch.mod, before)


def _cached(mod):
    sch = Schedule(mod)
    sch.cache_write(sch.get_block("B"), 0, "local")
    return sch.mod


@settings(max_examples=10, deadline=None)
@given(n=SIZES, k=SIZES)
def test_a_reduction_with_no_init_is_refused(n, k):
    mod = _module(f'''        for i, k in T.grid({n}, {k}):
            with T.block("B"):
                vi, vk = T.axis.remap("SR", [i, k])
                B[vi] = B[vi] + A[vi, vk]''', f"({n}, {k})", f"({n},)")
    _refused(mod, "in place.*T.init")


@settings(max_examples=10, deadline=None)
@given(n=SIZES)
def test_an_in_place_update_is_refused(n):
    mod = _module(f'''        for i in range({n}):
            with T.block("B"):
                vi = T.axis.spatial({n}, i)
                B[vi] = B[vi] * T.float32(2) + A[vi]''', f"({n},)", f"({n},)")
    _refused(mod, "in place")


@settings(max_examples=10, deadline=None)
@given(n=SIZES, k=SIZES)
def test_a_reduction_with_an_init_is_cached_and_computes_the_same(n, k):
    mod = _module(f'''        for i, k in T.grid({n}, {k}):
            with T.block("B"):
                vi, vk = T.axis.remap("SR", [i, k])
                with T.init():
                    B[vi] = T.float32(0)
                B[vi] = B[vi] + A[vi, vk]''', f"({n}, {k})", f"({n},)")
    assert_same_numerics(mod, _cached(mod))


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 12))
def test_a_write_under_an_if_is_refused(n):
    mod = _module(f'''        for i in range({n}):
            with T.block("B"):
                vi = T.axis.spatial({n}, i)
                if vi % 2 == 0:
                    B[vi] = A[vi]''', f"({n},)", f"({n},)")
    _refused(mod, "only where")


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 12))
def test_an_if_else_writing_both_ways_is_cached_and_computes_the_same(n):
    mod = _module(f'''        for i in range({n}):
            with T.block("B"):
                vi = T.axis.spatial({n}, i)
                if vi % 2 == 0:
                    B[vi] = A[vi]
                else:
                    B[vi] = A[vi] * T.float32(3)''', f"({n},)", f"({n},)")
    assert_same_numerics(mod, _cached(mod))


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 12), data=st.data())
def test_a_block_under_a_predicate_or_an_if_is_refused(n, data):
    m = data.draw(st.integers(1, n - 1))
    guarded = _module(f'''        for i in range({n}):
            with T.block("B"):
                vi = T.axis.spatial({n}, i)
                T.where(i < {m})
                B[vi] = A[vi]''', f"({n},)", f"({n},)")
    _refused(guarded, "runs only where")
    under_if = _module(f'''        for i in range({n}):
            if i < {m}:
                with T.block("B"):
                    vi = T.axis.spatial({n}, i)
                    B[vi] = A[vi]''', f"({n},)", f"({n},)")
    _refused(under_if, "runs only where")


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 8), stride=st.integers(2, 3))
def test_a_write_with_gaps_is_refused(n, stride):
    strided = _module(f'''        for i in range({n}):
            with T.block("B"):
                vi = T.axis.spatial({n}, i)
                B[vi * {stride}] = A[vi]''', f"({n},)", f"({n * stride},)")
    _refused(strided, "gaps")
    diagonal = _module(f'''        for i in range({n}):
            with T.block("B"):
                vi = T.axis.spatial({n}, i)
                B[vi, vi] = A[vi]''', f"({n},)", f"({n}, {n})")
    _refused(diagonal, "gaps")


@settings(max_examples=15, deadline=None)
@given(extent=st.integers(1, 13), factor=st.integers(2, 5), pad=st.integers(1, 4))
def test_a_ragged_split_copies_back_only_the_elements_the_block_writes(extent, factor, pad):
    """B is longer than the block's domain: the split's extra iterations, skipped by its
    predicate, write nothing, so the copy back stops at the domain's end."""
    mod = _module(f'''        for i in range({extent}):
            with T.block("B"):
                vi = T.axis.spatial({extent}, i)
                B[vi] = A[vi] + T.float32(1)''', f"({extent + pad},)", f"({extent + pad},)")
    sch = Schedule(mod)
    (i,) = sch.get_loops(sch.get_block("B"))
    sch.split(i, [None, factor])
    sch.cache_write(sch.get_block("B"), 0, "local")
    assert_same_numerics(mod, sch.mod)
    a, b = np.arange(extent + pad, dtype="float32"), np.full(extent + pad, 7, "float32")
    mlc.build(sch.mod, "reference")["main"](a, b)
    np.testing.assert_array_equal(b[extent:], 7)
