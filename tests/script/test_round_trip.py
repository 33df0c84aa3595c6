"""``mlc.parse(mod.script())`` gives back ``mod``, for random te programs, unscheduled and scheduled.

The programs are the suite's random te programs (tests/test_random_programs.py);
schedules are the schedule fuzzer's random primitive sequences
(tests/schedules/test_fuzz.py), so every kind of TIR the schedules make
(split/fuse loops, T.where, loop kinds and annotations, decomposed and
rfactored reductions, blockized nests, cache stages, block attributes)
is printed and read back.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import mlc
from mlc import DTypeError, ScheduleError, te
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import Binary, IntImm
from mlc.ir.ops import BINARY_OPS
from mlc.ir.tir import BufferStore, PrimFunc
from mlc.schedules import Schedule

from tests.schedules.test_fuzz import random_step
from tests.test_random_programs import build_te, programs


def assert_round_trip(mod):
    text = mod.script()
    parsed = mlc.parse(text)
    mlc.assert_structural_equal(parsed, mod)
    assert parsed.script() == text


@settings(max_examples=150, deadline=None)
@given(programs())
def test_unscheduled_programs_round_trip(program):
    assert_round_trip(mlc.IRModule({"prog": build_te(*program)}))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs(), st.data())
def test_scheduled_programs_round_trip(program, data):
    sch = Schedule(mlc.IRModule({"prog": build_te(*program)}))
    for _ in range(data.draw(st.integers(1, 6), label="steps")):
        try:
            random_step(sch, data)
        except ScheduleError:
            pass
    assert_round_trip(sch.mod)


def test_a_negated_int32_zero_round_trips():
    """Inlining a stage that stores 0 into one that negates it leaves ``0 - 0`` (an int32
    Binary, not folded): printed ``-0``, it was read back as the constant 0 (found by
    test_scheduled_programs_round_trip)."""
    A = te.placeholder((4,), "int32", "A")
    S0 = te.compute((4,), lambda i: te.const(0, "int32"), "S0")
    S1 = te.compute((4,), lambda i: -S0[i], "S1")
    sch = Schedule(mlc.IRModule({"prog": te.create_prim_func([A, S1])}))
    sch.compute_inline(sch.get_block("S0", "prog"))
    assert "S1[vi] = -T.int32(0)" in sch.mod.script()
    assert_round_trip(sch.mod)


def _int_operators() -> list[str]:
    ops = []
    for op, spec in sorted(BINARY_OPS.items()):
        try:
            spec.check("int32")
        except DTypeError:
            continue
        ops.append(op)
    return ops


@pytest.mark.parametrize("op", _int_operators())
@pytest.mark.parametrize("a, b", [(0, 0), (0, 5), (0, -5), (3, -2), (-3, 2)])
def test_an_operator_on_two_int32_constants_round_trips(op, a, b):
    """The parser computes ``1 + 2`` or ``-5`` on bare numbers in Python: a Binary of two
    int32 (index dtype) constants prints one of them with its dtype, and stays a Binary."""
    e = Binary(op, IntImm(a, "int32"), IntImm(b, "int32"), BINARY_OPS[op].result_dtype("int32"))
    out = decl_buffer((1,), e.dtype, "B")
    assert_round_trip(mlc.IRModule({"f": PrimFunc((out,), BufferStore(out, e, (IntImm(0, "int32"),)))}))


def test_a_loop_narrower_than_its_block_domain_is_not_printed_as_remap():
    """compute_at can bind a block iterator of domain 8 to a loop of 3 iterations: the
    printer must then spell the domain out, or the parsed block would have domain 3."""
    text = '''
@T.prim_func
def f(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
    for i, j in T.grid(3, 8):
        with T.block("B"):
            vi = T.axis.spatial(8, i)
            vj = T.axis.spatial(8, j)
            T.reads(A[vi])
            T.writes(B[vi])
            B[vi] = A[vi]
'''
    func = mlc.parse(text)
    printed = func.script("f")
    assert "T.axis.remap" not in printed
    mlc.assert_structural_equal(mlc.parse(printed), func)


EVERY_FORM = '''
@I.ir_module
class Module:
    @T.prim_func
    def f(A: T.Buffer((8, 4), "float32"), B: T.Buffer((8,), "int64"), C: T.Buffer((8,), "float32", scope="global")):
        T.func_attr({"global_symbol": "f", "tir.noalias": True})
        S = T.alloc_buffer((8,), "float64", strides=(1,), scope="local")
        for i_0 in T.parallel(3, annotations={"pragma_note": 1}):
            for i_1 in T.vectorized(3):
                with T.block("S"):
                    vi = T.axis.spatial(8, i_0 * 3 + i_1)
                    T.where(i_0 * 3 + i_1 < 8)
                    T.reads(A[vi, 0:4])
                    T.writes(S[vi])
                    T.block_attr({"note": "x", "dims": ((0, 0, 4, 1),)})
                    for k in T.unroll(4):
                        with T.block("S_update"):
                            vk = T.axis.reduce((0, 4), k)
                            T.reads(A[vi, vk])
                            T.writes(S[vi])
                            with T.init():
                                S[vi] = T.float64(-1.5)
                            if vk % 2 == 0 and not vi < 2:
                                S[vi] = T.max(S[vi], T.Cast("float64", T.exp(A[vi, vk])))
                            else:
                                S[vi] = T.min(S[vi], -T.Cast("float64", A[vi, vk]) / T.float64(2))
        for i in T.thread_binding(8, thread="threadIdx.x"):
            with T.block("B"):
                vi = T.axis.opaque(8, i)
                T.reads(S[vi])
                T.writes(B[vi], C[vi])
                B[vi] = T.if_then_else(T.isnan(S[vi]), T.int64(9223372036854775807), T.Cast("int64", S[vi])) >> T.int64(1)
                C[vi] = T.Cast("float32", S[vi]) + T.float32("inf") * T.float32(0.25)
        for j in range(2, 5):
            T.evaluate(0)
'''


def test_every_printed_form_round_trips():
    mod = mlc.parse(EVERY_FORM)
    text = mod.script()
    for form in ("T.parallel(3, annotations=", "T.vectorized(3)", "T.where(", "T.unroll(4)",
                 "T.block_attr(", "T.axis.reduce(4, k)", "T.thread_binding(8, thread=", "T.axis.opaque",
                 "if ", "else:", "T.isnan", "T.int64(9223372036854775807)", 'T.float32("inf")',
                 "range(2, 5)", "T.evaluate(0)", 'scope="local"', "strides=(1,)"):
        assert form in text, form
    assert_round_trip(mod)


def test_an_unfolded_division_by_zero_round_trips():
    """The IR keeps `0 // 0` (folding it would raise); the parser must not compute it either."""
    from mlc.ir.expr import const
    A = te.placeholder((4,), "int32", name="A")
    B = te.compute((4,), lambda i: A[i] + te.floordiv(const(0, "int32"), const(0, "int32")), name="B")
    mod = mlc.IRModule({"main": te.create_prim_func([A, B])})
    assert "T.int32(0) // 0" in mod.script()  # (one typed: the parser computes an operator on two bare numbers)
    mlc.assert_structural_equal(mlc.parse(mod.script()), mod)


def test_a_zero_dimensional_buffer_prints_as_numpy_indexes_it():
    """``S[()]``: an empty subscript ``S[]`` is no Python."""
    A = te.placeholder((8,), "float32", name="A")
    k = te.reduce_axis((0, 8), name="k")
    S = te.compute((), lambda: te.sum(A[k], axis=k), name="S")
    mod = mlc.IRModule({"main": te.create_prim_func([A, S])})
    assert "S[()] = S[()] + A[vk]" in mod.script() and "T.writes(S[()])" in mod.script()
    mlc.assert_structural_equal(mlc.parse(mod.script()), mod)
    lowered = mlc.jit(lambda x: (x * 2).sum()).lower(np.ones(8, np.float32))
    mlc.parse(lowered.as_text())
