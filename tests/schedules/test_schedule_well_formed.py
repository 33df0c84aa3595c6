"""A Schedule refuses a function whose blocks it could not name or trust: two blocks of
one name (``get_block`` would be ambiguous) or an iterator bound outside its domain (the
regions ``compute_at`` derives from the domain would miss iterations)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlc import ScheduleError
from mlc.ir import decl_buffer, const
from mlc.ir.tir import BufferStore
from mlc.schedules import Schedule

from .block_programs import V, block, func, loops, module


def _producer_consumer(declared: int, n: int, names=("B", "C")):
    """B[vi] = A[vi] * 2 with vi declared over ``declared`` but bound to i in [0, n);
    C[vi] = B[vi] + 1."""
    A, C = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "C")
    B = decl_buffer((n,), "float32", "B")
    i = V("i")
    produce = loops([(i, n)], block(names[0], [("vi", declared, "S")], (i,),
                                    lambda vi: BufferStore(B, A[vi] * const(2.0, "float32"), (vi,))))
    i = V("i")
    consume = loops([(i, n)], block(names[1], [("vi", n, "S")], (i,),
                                    lambda vi: BufferStore(C, B[vi] + const(1.0, "float32"), (vi,))))
    return module(func((A, C), (B,), produce, consume))


@settings(max_examples=12, deadline=None)
@given(n=st.integers(2, 16), data=st.data())
def test_an_iterator_bound_past_its_domain_is_refused(n, data):
    declared = data.draw(st.integers(1, n - 1))
    with pytest.raises(ScheduleError, match=rf"block 'B': iterator vi .* outside its domain \[0, {declared}\)"):
        Schedule(_producer_consumer(declared, n))


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 16), extra=st.integers(0, 3))
def test_an_iterator_inside_its_domain_is_scheduled(n, extra):
    sch = Schedule(_producer_consumer(n + extra, n))
    (i,) = sch.get_loops(sch.get_block("C"))
    sch.compute_at(sch.get_block("B"), i)


def test_two_blocks_of_one_name_are_refused_naming_the_block():
    with pytest.raises(ScheduleError, match="two blocks are named 'B'"):
        Schedule(_producer_consumer(8, 8, names=("B", "B")))
