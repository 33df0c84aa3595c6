"""compute_at, reverse_compute_at and cache_read refuse moves that break a dependence.

Each refusal comes with the program where the move would compute something
else (a read of a value written later, a copy made before the last write),
and each legal neighbour of it is accepted and checked against the
reference interpreter, so the checks are neither missing nor blanket.
"""
import pytest

import mlc
from mlc import ScheduleError
from mlc.ir import const, decl_buffer
from mlc.ir.tir import BufferStore, seq
from mlc.schedules import Schedule

from .block_programs import V, assert_same_numerics, block, func, loops, module

N = 8
F32 = "float32"


def buffers(names, n=N):
    return [decl_buffer((n,), F32, x) for x in names]


def nest(*pairs):
    """One loop ``i < N`` holding the blocks of ``pairs`` (made with a shared loop var)."""
    i = V("i")
    blocks = [block(name, [("vi", N, "S")], (i,), lambda vi, o=out, v=val, s=shift: BufferStore(o, v(vi), (vi + s,)))
              for name, out, val, shift in pairs]
    return loops([(i, N)], seq(*blocks))


def alone(name, out, value, shift=0):
    return nest((name, out, value, shift))


TWO = const(2.0, F32)
ONE = const(1.0, F32)


def loop_of(sch, name):
    return sch.get_loops(sch.get_block(name))[-1]


# ------------------------------------------------------------------ compute_at

def test_compute_at_refuses_a_writer_of_its_input_on_the_way():
    A, B, C = buffers("ABC")
    f = func((A, C), (B,), alone("B", B, lambda v: A[v] * TWO), alone("Z", A, lambda v: ONE),
             alone("C", C, lambda v: B[v] + ONE))
    sch = Schedule(module(f))
    with pytest.raises(ScheduleError, match="past block 'Z' would break a dependence: it writes A which the block reads"):
        sch.compute_at(sch.get_block("B"), loop_of(sch, "C"))


def test_compute_at_refuses_a_writer_of_its_input_under_the_loop():
    """Z, after the consumer under the loop, writes A[i + 1], which B reads one iteration later."""
    A = decl_buffer((N + 1,), F32, "A")
    B, C = buffers("BC")
    under = nest(("C", C, lambda v: B[v] + ONE, 0), ("Z", A, lambda v: ONE, 1))
    f = func((A, C), (B,), alone("B", B, lambda v: A[v + 1] * TWO), under)
    sch = Schedule(module(f))
    with pytest.raises(ScheduleError, match="block 'Z' under the loop would interleave with it"):
        sch.compute_at(sch.get_block("B"), loop_of(sch, "C"))


def test_compute_at_refuses_a_consumer_outside_the_loop():
    A, B, C, D = buffers("ABCD")
    f = func((A, C, D), (B,), alone("B", B, lambda v: A[v] * TWO), alone("C", C, lambda v: B[v] + ONE),
             alone("D", D, lambda v: B[v] - ONE))
    sch = Schedule(module(f))
    with pytest.raises(ScheduleError, match="block 'D' also reads what this block writes but is not under the loop"):
        sch.compute_at(sch.get_block("B"), loop_of(sch, "C"))


def test_compute_at_lands_before_every_consumer_under_the_loop():
    A, B, C, D = buffers("ABCD")
    make = lambda: module(func((A, C, D), (B,), alone("B", B, lambda v: A[v] * TWO),  # noqa: E731
                               nest(("C", C, lambda v: B[v] + ONE, 0), ("D", D, lambda v: B[v] - ONE, 0))))
    sch = Schedule(make())
    sch.compute_at(sch.get_block("B"), loop_of(sch, "C"))
    text = sch.mod.script()
    assert text.index('T.block("B")') < text.index('T.block("C")') < text.index('T.block("D")')
    assert_same_numerics(make(), sch.mod)


def test_compute_at_of_a_two_output_producer_covers_both_regions():
    """B writes P[vi] and Q[vi]; C reads P[i] and Q[i + 1]: each iteration needs vi in [i, i + 1]
    (the union of the two regions, not their overlap)."""
    A = decl_buffer((N + 1,), F32, "A")
    P, Q = decl_buffer((N + 1,), F32, "P"), decl_buffer((N + 1,), F32, "Q")
    C = decl_buffer((N,), F32, "C")

    def make():
        i, j = V("i"), V("i")
        prod = block("B", [("vi", N + 1, "S")], (i,),
                     lambda vi: seq(BufferStore(P, A[vi] * TWO, (vi,)), BufferStore(Q, A[vi] + ONE, (vi,))))
        use = block("C", [("vi", N, "S")], (j,), lambda vi: BufferStore(C, P[vi] + Q[vi + 1], (vi,)))
        return module(func((A, C), (P, Q), loops([(i, N + 1)], prod), loops([(j, N)], use)))
    sch = Schedule(make())
    sch.compute_at(sch.get_block("B"), loop_of(sch, "C"))
    assert "for ax0 in range(2):" in sch.mod.script()
    assert_same_numerics(make(), sch.mod)


# ------------------------------------------------------------------ reverse_compute_at

def test_reverse_compute_at_refuses_a_reader_of_its_output_on_the_way():
    """Z reads the old C between the producer and C; moving C up would feed Z the new values."""
    A, B, C, D = buffers("ABCD")
    f = func((A, C, D), (B,), alone("B", B, lambda v: A[v] * TWO), alone("Z", D, lambda v: C[v]),
             alone("C", C, lambda v: B[v] + ONE))
    sch = Schedule(module(f))
    with pytest.raises(ScheduleError, match="past block 'Z' would break a dependence: it reads C which the block writes"):
        sch.reverse_compute_at(sch.get_block("C"), loop_of(sch, "B"))


def test_reverse_compute_at_refuses_a_reader_of_its_output_under_the_loop():
    """Under the producer's loop, Z reads C[i] before B; C writes C[i + 1]: once C moves in
    after B, Z would read in iteration i the value C wrote in iteration i - 1."""
    A, B, D = buffers("ABD")
    C = decl_buffer((N + 1,), F32, "C")
    under = nest(("Z", D, lambda v: C[v], 0), ("B", B, lambda v: A[v] * TWO, 0))
    f = func((A, C, D), (B,), under, alone("C", C, lambda v: B[v] + ONE, shift=1))
    sch = Schedule(module(f))
    with pytest.raises(ScheduleError, match="block 'Z' under the loop would interleave with it"):
        sch.reverse_compute_at(sch.get_block("C"), loop_of(sch, "B"))


def test_reverse_compute_at_past_an_unrelated_block_is_accepted():
    A, B, C, D = buffers("ABCD")
    make = lambda: module(func((A, C, D), (B,), alone("B", B, lambda v: A[v] * TWO),  # noqa: E731
                               alone("Z", D, lambda v: A[v] - ONE), alone("C", C, lambda v: B[v] + ONE)))
    sch = Schedule(make())
    sch.reverse_compute_at(sch.get_block("C"), loop_of(sch, "B"))
    assert_same_numerics(make(), sch.mod)


# ------------------------------------------------------------------ cache_read

def test_cache_read_refuses_a_writer_in_the_first_readers_nest():
    """B reads A[i] and Z then clears it, in the same loop; R reads A afterwards. A copy made
    before the loop would hand R the values Z cleared."""
    A, B, R = buffers("ABR")
    first = nest(("B", B, lambda v: A[v] * TWO, 0), ("Z", A, lambda v: ONE, 0))
    f = func((A, B, R), (), first, alone("R", R, lambda v: A[v] + ONE))
    sch = Schedule(module(f))
    with pytest.raises(ScheduleError, match="block 'Z' writes A at or after its first read"):
        sch.cache_read(sch.get_block("B"), 0, "shared")


def test_cache_read_with_an_earlier_writer_is_accepted():
    A, B, R = buffers("ABR")
    make = lambda: module(func((A, B, R), (), alone("Z", A, lambda v: TWO),  # noqa: E731
                               alone("B", B, lambda v: A[v] + ONE), alone("R", R, lambda v: A[v] - ONE)))
    sch = Schedule(make())
    sch.cache_read(sch.get_block("B"), 0, "shared")
    text = sch.mod.script()
    assert text.index('T.block("Z")') < text.index('T.block("A_shared")') < text.index('T.block("B")')
    assert_same_numerics(make(), sch.mod)


def test_cache_write_refuses_a_second_writer():
    A, B = buffers("AB")
    f = func((A, B), (), alone("W1", B, lambda v: A[v]), alone("W2", B, lambda v: A[v] * TWO, 0))
    sch = Schedule(module(f))
    with pytest.raises(ScheduleError, match="block 'W2' also writes B"):
        sch.cache_write(sch.get_block("W1"), 0, "local")


# ------------------------------------------------------------------ inline / decompose_reduction

def test_compute_inline_refuses_a_block_reading_its_own_output():
    A, B, C = buffers("ABC")
    f = func((A, C), (B,), alone("B0", B, lambda v: A[v]), alone("B", B, lambda v: B[v] * TWO),
             alone("C", C, lambda v: B[v] + ONE))
    sch = Schedule(module(f))
    with pytest.raises(ScheduleError, match="block 'B': it reads its own output B"):
        sch.compute_inline(sch.get_block("B"))


def test_decompose_reduction_refuses_a_loop_feeding_spatial_and_reduction_iterators():
    from .block_programs import course_module
    sch = Schedule(course_module(4))
    block_Y = sch.get_block("Y")
    _, j, k = sch.get_loops(block_Y)
    jk = sch.fuse(j, k)
    before = sch.mod
    with pytest.raises(ScheduleError, match="loop 'j_k_fused' feeds both spatial and reduction iterators"):
        sch.decompose_reduction(block_Y, jk)
    mlc.assert_structural_equal(sch.mod, before)


def test_compute_inline_refuses_a_block_that_alone_reads_its_own_output():
    """B[v] = B[v] * 2 with no other writer of B: inlining would read a buffer that is gone."""
    A, B, C = buffers("ABC")
    f = func((A, C), (B,), alone("B", B, lambda v: B[v] * TWO + A[v]), alone("C", C, lambda v: B[v] + ONE))
    sch = Schedule(module(f))
    with pytest.raises(ScheduleError, match="block 'B': it reads its own output B"):
        sch.compute_inline(sch.get_block("B"))


def _inline_with_writer(where):
    """B = A * 2 and C = B + 1, with Z writing A = 1 before B, between B and C, or after C."""
    A, B, C = buffers("ABC")
    z = alone("Z", A, lambda v: ONE)
    b, c = alone("B", B, lambda v: A[v] * TWO), alone("C", C, lambda v: B[v] + ONE)
    order = {"before": (z, b, c), "between": (b, z, c), "after": (b, c, z)}[where]
    return func((A, C), (B,), *order)


def test_compute_inline_refuses_a_writer_of_its_inputs_between_it_and_a_reader():
    """C would read A after Z overwrote it: A * 2 + 1 of the new A, not of the old."""
    sch = Schedule(module(_inline_with_writer("between")))
    with pytest.raises(ScheduleError, match="block 'B': block 'Z' writes a buffer it reads before the last "
                                            "reader of its output"):
        sch.compute_inline(sch.get_block("B"))


def test_compute_inline_refuses_a_writer_between_it_and_its_last_reader_only():
    """Two readers, Z between them: the second would read the new A."""
    A, B, C, D = buffers("ABCD")
    f = func((A, C, D), (B,), alone("B", B, lambda v: A[v] * TWO), alone("C", C, lambda v: B[v] + ONE),
             alone("Z", A, lambda v: ONE), alone("D", D, lambda v: B[v] - ONE))
    sch = Schedule(module(f))
    with pytest.raises(ScheduleError, match="block 'Z' writes a buffer it reads"):
        sch.compute_inline(sch.get_block("B"))


@pytest.mark.parametrize("where", ["before", "after"])
def test_compute_inline_past_writers_outside_its_span_is_accepted(where):
    make = lambda: module(_inline_with_writer(where))  # noqa: E731
    sch = Schedule(make())
    sch.compute_inline(sch.get_block("B"))
    assert "T.block(\"B\")" not in sch.mod.script()
    assert_same_numerics(make(), sch.mod)
